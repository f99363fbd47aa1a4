"""Hostile input, fuzzed: every loader gets random and half-valid files and must report, never crash;
bombs and pathological markup stay within bounded memory.

NEWSBOT_FUZZ_EXAMPLES sets the examples per loader (default 10,000, the floor of the scale issue).
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest.errors import BadArticle
from ingest.loaders import load_path
from ingest.types import Article

EXAMPLES = int(os.environ.get("NEWSBOT_FUZZ_EXAMPLES", "10000"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
WORK = Path(tempfile.mkdtemp(prefix="newsbot-fuzz-"))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=200),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
row_keys = st.sampled_from(["id", "url", "title", "date", "source", "text", "extra", ""])
rows = st.dictionaries(row_keys, json_values | st.sampled_from(["2022-10-26", "not a date", "", "a" * 50]), max_size=7)
jsonl = st.lists(rows.map(json.dumps) | st.text(max_size=100), max_size=6).map(lambda ls: "\n".join(ls).encode())
tags = st.sampled_from(
    [
        "<html>",
        "<body>",
        "<article>",
        "</article>",
        "<p>",
        "</p>",
        "<div>",
        "</div>",
        "<script>",
        "<title>",
        "</title>",
        "<meta property='article:published_time' content='2022-13-45'>",
        "<!--",
        "-->",
        "<![CDATA[",
        "&amp;",
        "&#0;",
        "<h1>",
        "\x00",
        "<",
    ]
)
html = st.lists(tags | st.text(max_size=40), max_size=60).map(
    lambda parts: "".join(parts).encode("utf-8", "surrogatepass")
)
front = st.tuples(st.text(max_size=80), st.text(max_size=200)).map(
    lambda t: f"---\n{t[0]}\n---\n{t[1]}".encode("utf-8", "surrogatepass")
)
seed_like = st.tuples(
    st.sampled_from(["date 2022-10-26 ", "  date 2022-02-30\n", "date x ", ""]), st.text(max_size=300)
).map(lambda t: (t[0] + t[1]).encode("utf-8", "surrogatepass"))
garbage = st.binary(max_size=2048)
# lone surrogates, as a JSON "\ud800" escape gives them, among ordinary text
surrogates = st.text(alphabet=st.characters(whitelist_categories=["Cs"]) | st.sampled_from("ab .\n"), max_size=40)
surrogate_rows = st.tuples(surrogates, surrogates, surrogates).map(
    lambda t: json.dumps({"id": "s" + t[0], "title": t[1] or None, "text": "Text " + t[2]}).encode()
)
# YAML anchors and aliases, nested, in front matter
aliases = st.lists(
    st.sampled_from(
        [
            "a: &a [x, x]",
            "b: &b [*a, *a, *a]",
            "c: [*b, *b, *b]",
            "title: *a",
            "title: *b",
            "d: &d {k: *a}",
            "e: *d",
            "<<: *d",
            "f: *missing",
        ]
    ),
    max_size=6,
).map(lambda lines: ("---\n" + "\n".join(lines) + "\n---\nThe body.\n").encode())
escapes = st.lists(
    st.sampled_from(
        [
            "\x1b",
            "[",
            "]",
            "0",
            ";",
            "2J",
            "8m",
            "\x07",
            "\x9b",
            "\x9d",
            "\x9c",
            "\\",
            "a",
            " ",
            "\n",
            "\x00",
            "\x85",
            "\t",
        ]
    )
    | st.text(max_size=3),
    max_size=40,
).map("".join)


def load_bytes(data: bytes, name: str) -> list:
    path = WORK / name
    path.write_bytes(data)
    items = list(load_path(path, WORK))
    for item in items:
        assert isinstance(item, (Article, BadArticle)), item
        if isinstance(item, Article):
            assert item.id and item.text.strip()
            for value in (item.id, item.text, item.title or "", item.url or "", item.source or ""):
                value.encode("utf-8")  # storable: no lone surrogate
                assert "\x00" not in value
        str(item).encode("utf-8")  # a report can be printed
    return items


@pytest.mark.slow
@FUZZ
@given(garbage | seed_like)
def test_plain_text_loader(data):
    load_bytes(data, "a.txt")


@pytest.mark.slow
@FUZZ
@given(garbage | front | seed_like | aliases)
def test_markdown_loader(data):
    load_bytes(data, "a.md")


@pytest.mark.slow
@FUZZ
@given(garbage | html)
def test_html_loader(data):
    load_bytes(data, "a.html")


@pytest.mark.slow
@FUZZ
@given(garbage | jsonl | surrogate_rows)
def test_jsonl_loader(data):
    load_bytes(data, "a.jsonl")


@pytest.mark.slow
@FUZZ
@given(garbage | jsonl | st.binary(max_size=64).map(lambda b: b"\x1f\x8b" + b))
@example(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x00\x06")  # a corrupt deflate block: zlib.error, once uncaught
def test_jsonl_gz_loader(data):
    if data[:2] != b"\x1f\x8b" and data and data[0] % 2:
        data = gzip.compress(data)  # half of them valid gzip around hostile content
    load_bytes(data, "a.jsonl.gz")


@pytest.mark.slow
@FUZZ
@given(escapes)
def test_printable_text_holds_no_escape_or_control(text):
    from bot.render import printable

    shown = printable(text)
    assert not any(ord(ch) < 32 and ch not in "\n\t" or 0x7F <= ord(ch) <= 0x9F for ch in shown), repr(shown)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_gzip_bomb_is_skipped_in_bounded_memory(tmp_path):
    """200 MB of zeros in one 'line', compressed to ~200 KB."""
    bomb = tmp_path / "bomb.jsonl.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as f:
        for _ in range(200):
            f.write(b"\0" * 1_000_000)
        f.write(b'\n{"id": "ok", "text": "A real article after the bomb."}\n')
    before = peak_rss_mb()
    items = list(load_path(bomb, tmp_path))
    assert isinstance(items[0], BadArticle) and "longer than" in items[0].reason
    assert isinstance(items[-1], Article) and items[-1].id == "ok"
    assert peak_rss_mb() - before < 100


def test_pathological_html_is_reported_not_fatal(tmp_path):
    for name, data in {
        "deep.html": "<div>" * 200_000 + "text" + "</div>" * 200_000,
        "wide.html": "<p>x</p>" * 500_000,
        "entities.html": "&amp;" * 1_000_000,
    }.items():
        (tmp_path / name).write_text(data)
        before = peak_rss_mb()
        items = list(load_path(tmp_path / name, tmp_path))
        assert len(items) == 1 and isinstance(items[0], (Article, BadArticle))
        assert peak_rss_mb() - before < 1500, name


def test_huge_and_binary_files_are_refused_before_reading(tmp_path):
    big = tmp_path / "big.txt"
    with big.open("wb") as f:
        f.truncate(11 * 1024 * 1024)  # sparse: 11 MB of zeros without using the disk
    (item,) = load_path(big, tmp_path)
    assert isinstance(item, BadArticle) and "limit" in item.reason


@pytest.mark.parametrize(
    "question, refusal",
    [
        ("", "empty"),
        (" \t\n", "empty"),
        ("\x00\x07\x1b", "empty"),
        ("a" * 10_000, "10,000 characters"),
        ("\x00\x07\x1b[31mred", None),
        ("@everyone <@&123> **bold** `x`", None),
        ("||spoiler|| <#1> :emoji: https://x.y", None),
        ("\ud800", None),
        ("؟" * 50, None),
    ],
)
def test_hostile_questions_get_a_clear_refusal_or_an_answer(question, refusal, tmp_path, hash_embedder):
    """Empty (once control characters are gone) or overlong questions are refused with a message saying why; the
    others get an Answer (often an abstention) whose question holds no control character."""
    from bot.service import NewsBot
    from ingest.errors import NewsbotError
    from ingest.pipeline import ingest, load_sources
    from tests.conftest import SEED_ARTICLE, make_index

    index = make_index(tmp_path / "index", hash_embedder)
    ingest(load_sources([SEED_ARTICLE]), index, hash_embedder, progress=False)
    bot = NewsBot(index, hash_embedder)
    if refusal:
        with pytest.raises(NewsbotError, match=refusal):
            bot.ask(question)
        return
    answer = bot.ask(question)
    assert answer.text and answer.question.strip()
    assert not any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in answer.question)
    answer.question.encode("utf-8")
