"""Loaders: every format in, every kind of bad input reported with where it is, nothing else lost."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import pytest

from ingest.errors import BadArticle
from ingest.loaders import load_path
from ingest.pipeline import load_sources
from tests.conftest import SEED_ARTICLE, SMOKE


def load_one(path: Path):
    items = list(load_path(path, path.parent))
    assert len(items) == 1
    return items[0]


def test_seed_plain_text_has_date_and_id():
    """The seed's `date YYYY-MM-DD <body>` format gives the date, the body and the eval's article id."""
    a = load_one(SEED_ARTICLE)
    assert a.id == "israel-turkey-security-ties"
    assert a.date == date(2022, 10, 26)
    assert a.text.startswith("Israel and Turkey are expected")


@pytest.mark.parametrize(
    "content, expected_date, expected_text",
    [
        ("date 2021-03-04\nBody on next line.", date(2021, 3, 4), "Body on next line."),
        ("   date 2021-03-04 Body on same line.", date(2021, 3, 4), "Body on same line."),
        ("No date line here.", None, "No date line here."),
    ],
)
def test_plain_text_date_line(tmp_path, content, expected_date, expected_text):
    """The date line is optional and may be indented; without it the date is unknown."""
    f = tmp_path / "a.txt"
    f.write_text(content)
    a = load_one(f)
    assert (a.date, a.text) == (expected_date, expected_text)


def test_markdown_front_matter(tmp_path):
    """Front matter gives title, date and url; the body keeps its text."""
    f = tmp_path / "news" / "story.md"
    f.parent.mkdir()
    f.write_text("---\ntitle: Big news\ndate: 2022-05-01\nurl: https://example.com/x\n---\n\nThe body.\n")
    a = next(load_path(f, tmp_path))
    assert (a.id, a.title, a.date, a.url, a.text) == (
        "news/story",
        "Big news",
        date(2022, 5, 1),
        "https://example.com/x",
        "The body.",
    )


def test_markdown_heading_is_title_without_front_matter(tmp_path):
    f = tmp_path / "s.md"
    f.write_text("# The headline\n\nSome text of the story.")
    assert load_one(f).title == "The headline"


def test_html_article_text_and_metadata(tmp_path):
    """HTML pages give their main text (not navigation), title and publication date."""
    para = "The council approved the new budget on Tuesday after a long debate about schools and roads. " * 3
    f = tmp_path / "page.html"
    f.write_text(f"""<html><head><title>Budget passes</title>
        <meta property="article:published_time" content="2022-08-09T10:00:00Z"></head>
        <body><nav>Home | Sports | Weather</nav><article><h1>Budget passes</h1><p>{para}</p><p>{para}</p></article>
        <footer>Copyright</footer></body></html>""")
    a = load_one(f)
    assert "council approved the new budget" in a.text
    assert "Sports" not in a.text
    assert a.title == "Budget passes"
    assert a.date == date(2022, 8, 9)


def test_jsonl_rows_as_in_shared_eval():
    """The smoke corpus loads completely: 295 articles, all with ids and text."""
    items = list(load_sources([SMOKE / "articles.jsonl.gz"]))
    assert len(items) == 295
    assert not [i for i in items if isinstance(i, BadArticle)]
    assert any(i.id == "israel-turkey-security-ties" for i in items)


def _bad(tmp_path: Path, name: str, content: bytes) -> list:
    f = tmp_path / name
    f.write_bytes(content)
    return list(load_path(f, tmp_path))


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("bad.txt", b"date 2022-01-01 caf\xe9 au lait", "not valid UTF-8"),
        ("binary.txt", b"\x7fELF\x00\x00\x01\x02" * 100, "binary"),
        ("empty.txt", b"date 2022-01-01   \n\n  ", "no text"),
        ("baddate.md", b"---\ndate: yesterday-ish\n---\nText.", "not YYYY-MM-DD"),
        ("data.csv", b"a,b\n1,2", "unsupported file type"),
    ],
)
def test_bad_files_are_reported(tmp_path, name, content, reason):
    """Each bad file comes back as a BadArticle naming the file and the reason."""
    (item,) = _bad(tmp_path, name, content)
    assert isinstance(item, BadArticle)
    assert name in str(item) and reason in str(item)


def test_huge_file_is_refused_without_reading_it(tmp_path):
    """A 50 MB 'article' is reported, not loaded."""
    f = tmp_path / "huge.txt"
    with f.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    (item,) = list(load_path(f, tmp_path))
    assert isinstance(item, BadArticle) and "MB" in item.reason


def test_malformed_jsonl_lines_name_file_and_line(tmp_path):
    """Bad rows are reported with their line number; good rows around them still load."""
    good = {"id": "a1", "url": None, "title": "T", "date": "2022-01-02", "source": "x.com", "text": "Some text."}
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({**good, "id": "a2", "extra": 1}),
        json.dumps({**good, "id": "a3", "date": "02/01/2022"}),
        json.dumps([1, 2]),
        json.dumps({**good, "id": "a4", "text": 5}),
        json.dumps({**good, "id": "a5"}),
    ]
    f = tmp_path / "rows.jsonl.gz"
    f.write_bytes(gzip.compress("\n".join(lines).encode()))
    items = list(load_path(f, tmp_path))
    ok = [i.id for i in items if not isinstance(i, BadArticle)]
    bad = [str(i) for i in items if isinstance(i, BadArticle)]
    assert ok == ["a1", "a5"]
    assert [b.split(":")[1] for b in bad] == ["2", "3", "4", "5", "6"]
    assert "extra" in bad[1]


def test_truncated_gzip_keeps_rows_before_the_damage(tmp_path):
    rows = "\n".join(json.dumps({"id": f"r{i}", "text": f"Row {i} text " * 20}) for i in range(200)).encode()
    data = gzip.compress(rows)
    f = tmp_path / "cut.jsonl.gz"
    f.write_bytes(data[: len(data) // 2])
    items = list(load_path(f, tmp_path))
    assert isinstance(items[-1], BadArticle)
    assert len([i for i in items if not isinstance(i, BadArticle)]) > 10


def test_a_corrupt_gzip_block_keeps_rows_before_the_damage(tmp_path):
    """zlib.error is no OSError: a damaged deflate block (found by the fuzz test) escaped the loader."""
    good = gzip.compress(b'{"id": "r1", "text": "Row one text."}\n')
    f = tmp_path / "damaged.jsonl.gz"
    f.write_bytes(good + b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x00\x06")  # a second member with a bad block
    items = list(load_path(f, tmp_path))
    assert [i.id for i in items if not isinstance(i, BadArticle)] == ["r1"]
    assert isinstance(items[-1], BadArticle) and "cannot read further" in items[-1].reason


def test_missing_path_is_reported(tmp_path):
    (item,) = list(load_sources([tmp_path / "nope.txt"]))
    assert isinstance(item, BadArticle) and "no such file" in item.reason


def test_folder_is_walked_recursively_and_hidden_files_ignored(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "one.txt").write_text("date 2022-01-01 One.")
    (tmp_path / "two.md").write_text("Two.")
    (tmp_path / ".hidden.txt").write_text("Hidden.")
    ids = sorted(i.id for i in load_sources([tmp_path]))
    assert ids == ["a/b/one", "two"]
