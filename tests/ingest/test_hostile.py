"""Hostile input found by attacking the CLI (issue 21): each case failed before its fix. The concurrent writers are
in tests/test_cli.py (real processes); the fuzzers in test_fuzz.py."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.embed import HashEmbedder
from ingest.errors import BadArticle
from ingest.fetch import FetchLimits
from ingest.loaders import load_path, load_url
from ingest.pipeline import ingest, load_sources
from ingest.sentences import split_sentences
from ingest.types import Article
from tests.conftest import REPO, SEED_ARTICLE, make_index


def test_a_lone_surrogate_costs_one_character_not_the_batch(tmp_path, embedder):
    """A JSONL row holding the escape \\ud800 used to end in the tokenizer's TypeError and lose its whole batch."""
    f = tmp_path / "s.jsonl"
    f.write_text('{"id":"ok","text":"The Hollin tunnel opened."}\n{"id":"s","text":"The bridge \\ud800 opened."}\n')
    index = make_index(tmp_path / "index", embedder)
    report = ingest(load_sources([f]), index, embedder, progress=False)
    assert report.new == 2 and not report.skipped
    stored = index.article_passages(["s"])[0].text
    assert stored == "The bridge \ufffd opened."


def test_a_file_name_that_is_not_utf8_is_ingested_and_reported_readably(tmp_path, hash_embedder):
    folder = tmp_path / "in"
    folder.mkdir()
    name = os.fsdecode(b"caf\xe9.txt")  # as Python sees a Latin-1 file name: a lone surrogate
    (folder / name).write_text("date 2023-03-01 The café on the square reopened.")
    (folder / (os.fsdecode(b"bad\xff") + ".txt")).write_bytes(b"\x00binary")
    index = make_index(tmp_path / "index", hash_embedder)
    report = ingest(load_sources([folder]), index, hash_embedder, progress=False)
    assert report.new == 1
    (article_id,) = index.listing()
    assert article_id == "caf\ufffd"
    (problem,) = report.skipped
    problem.encode("utf-8")  # printable: no surrogate left in the report


def test_a_question_with_an_invalid_byte_or_c1_controls_is_answered(tmp_path):
    env = {"NEWSBOT_EMBEDDING_MODEL": "hash-64", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    newsbot = [sys.executable, "-m", "bot.cli"]
    data = str(tmp_path / "d")
    subprocess.run(
        [*newsbot, "ingest", str(SEED_ARTICLE), "--data-dir", data], env=env, cwd=REPO, check=True, capture_output=True
    )
    r = subprocess.run(
        [
            *newsbot,
            "ask",
            b"When was the ambassador \xff\xc2\x85\xc2\x9b appointed?",
            "--as-of",
            "2022-10-26",
            "--json",
            "--data-dir",
            data,
        ],
        env=env,
        cwd=REPO,
        capture_output=True,
    )
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    question = json.loads(r.stdout)["question"]
    assert question == "When was the ambassador \ufffd appointed?"


def _best_seconds(f, text: str) -> float:
    """CPU seconds of the fastest of five runs: time spent waiting for a core on a loaded machine is not counted (the
    wall-clock median of three once turned a linear 8x into 77x on a busy 2-core machine)."""
    times = []
    for _ in range(5):
        t0 = time.process_time()
        f(text)
        times.append(time.process_time() - t0)
    return min(times)


@settings(max_examples=15, deadline=None, database=None)
@given(st.text(alphabet=".!?…\"'”’)] a\n", min_size=1, max_size=6))
def test_sentence_splitting_time_stays_linear_on_adversarial_text(unit):
    """Runs of terminal punctuation without whitespace made the boundary regex quadratic: 60 KB of dots took 59 s.
    Eight times the text must take about eight times as long (a quadratic splitter takes 64 times)."""
    small = "Word " + unit * (40_000 // len(unit))
    large = "Word " + unit * (320_000 // len(unit))
    ratio = _best_seconds(split_sentences, large) / max(_best_seconds(split_sentences, small), 1e-4)
    assert ratio < 24, f"{unit!r}: 8x the text took {ratio:.0f}x the time"


def test_sentences_are_still_split_where_news_text_ends_them():
    assert split_sentences(
        'He left... Then came back! Really?! "Yes." Mr. Smith went to Washington. U.S. troops left.'
    ) == ["He left...", "Then came back!", "Really?!", '"Yes."', "Mr. Smith went to Washington.", "U.S. troops left."]


ALIAS_BOMB = (
    "---\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "title: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n---\nThe body of the article is here.\n"
)


def test_a_yaml_alias_bomb_in_front_matter_is_refused(tmp_path):
    f = tmp_path / "bomb.md"
    f.write_text(ALIAS_BOMB)
    (item,) = load_path(f, tmp_path)
    assert isinstance(item, BadArticle) and "aliases" in item.reason


@pytest.mark.parametrize("field", ["title", "id", "source", "url"])
def test_metadata_has_length_limits(tmp_path, field):
    f = tmp_path / "a.jsonl"
    f.write_text(json.dumps({"id": "a", "text": "Some text of the article.", field: "x" * 5_000}) + "\n")
    (item,) = load_path(f, tmp_path)
    assert isinstance(item, BadArticle) and f"the article's {field} has 5,000 characters" in item.reason


def test_escape_sequences_in_articles_never_reach_the_terminal(tmp_path, monkeypatch):
    """An article with "clear screen", a window-title OSC and hidden text: `newsbot ask` prints the text without
    them; the index keeps the article as it was."""
    from bot.cli import cli

    monkeypatch.setenv("NEWSBOT_EMBEDDING_MODEL", "hash-64")
    text = (
        "The Hollin tunnel \x1b[2J\x1b[Hopened on 3 March 2023\x1b]0;pwned\x07 after \x1b[8mten\x1b[0m years \x9b31m."
    )
    (tmp_path / "a.jsonl").write_text(
        json.dumps({"id": "t", "date": "2023-03-04", "title": "Tunnel\x1b[5m", "text": text}) + "\n"
    )
    runner = CliRunner()
    data = str(tmp_path / "d")
    assert runner.invoke(cli, ["ingest", str(tmp_path / "a.jsonl"), "--data-dir", data]).exit_code == 0
    for question in ("When did the Hollin tunnel open?", "What did the Hollin bakery sell?"):
        out = runner.invoke(cli, ["ask", question, "--data-dir", data, "--as-of", "2023-03-05"]).output
        assert "Hollin tunnel" in out
        assert not any(ch in out for ch in "\x1b\x07\x9b") and "pwned" not in out
    index = make_index(Path(data) / "indexes" / "default", HashEmbedder(64))
    assert "\x1b[2J" in index.article_passages(["t"])[0].text


def test_gzip_of_blank_lines_is_stopped_and_reported(tmp_path):
    """1 GB of newlines in a 1 MB .jsonl.gz kept the loader busy for 19 minutes."""
    f = tmp_path / "blank.jsonl.gz"
    f.write_bytes(gzip.compress(b'{"id": "ok", "text": "A real article first."}\n' + b"\n" * 5_000_000))
    t0 = time.perf_counter()
    items = list(load_path(f, tmp_path))
    assert isinstance(items[0], Article) and isinstance(items[-1], BadArticle) and "blank lines" in items[-1].reason
    assert time.perf_counter() - t0 < 60  # not a timing claim: without the cap it reads all 5 million lines


def test_gzip_that_inflates_past_the_cap_is_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr("ingest.loaders.MAX_DECOMPRESSED_BYTES", 100_000)
    row = json.dumps({"id": "x", "text": "y" * 1000})
    f = tmp_path / "big.jsonl.gz"
    f.write_bytes(gzip.compress("\n".join(row.replace('"x"', f'"x{i}"') for i in range(500)).encode()))
    items = list(load_path(f, tmp_path))
    assert isinstance(items[-1], BadArticle) and "inflates" in items[-1].reason
    assert 50 < sum(isinstance(i, Article) for i in items) < 120


def test_url_credentials_are_refused_and_never_shown():
    item = load_url("http://reader:hunter2@127.0.0.1:9/story.html", FetchLimits(allow_private=True))
    assert isinstance(item, BadArticle) and "user name or password" in item.reason
    assert "hunter2" not in str(item) and "reader" not in str(item)


def test_credentials_in_a_rows_url_are_dropped_before_storing(tmp_path):
    f = tmp_path / "a.jsonl"
    url = "https://reader:hunter2@news.example/story"
    f.write_text(json.dumps({"id": url, "url": url, "text": "Some text of the article."}) + "\n")
    (item,) = load_path(f, tmp_path)
    assert item.url == item.id == "https://news.example/story"


def test_a_feed_url_with_credentials_is_not_followed(tmp_path):
    from ingest.errors import NewsbotError
    from ingest.feeds import SourceStore

    with pytest.raises(NewsbotError, match="user name or password") as e:
        SourceStore(tmp_path / "feeds.sqlite").add("https://me:secret@news.example/rss")
    assert "secret" not in str(e.value)


def test_a_feed_on_a_private_address_says_so_not_robots(tmp_path, hash_embedder):
    from ingest.feeds import Politeness, SourceStore, Watcher

    store = SourceStore(tmp_path / "feeds.sqlite")
    store.add("http://127.0.0.1:9/rss.xml")
    watcher = Watcher(
        store, make_index(tmp_path / "index", hash_embedder), hash_embedder, politeness=Politeness(delay_s=0)
    )
    (problem,) = watcher.poll(force=True).problems
    assert "private address" in problem and "does not allow" not in problem


def test_nul_bytes_after_the_first_8_kb_are_not_stored(tmp_path):
    f = tmp_path / "a.txt"
    f.write_bytes(b"Word. " * 2000 + b"The end\x00 of it.")
    (item,) = load_path(f, tmp_path)
    assert "\x00" not in item.text and item.text.endswith("The end of it.")


def test_a_contradicting_planted_sentence_is_not_cited_as_corroboration(tmp_path, embedder):
    """A newer article that shares the answer's words but not its date ("appointed on HACKED day") is no second
    source; the answer stays the seed's, cited once."""
    from bot.service import NewsBot

    planted = tmp_path / "planted.txt"
    planted.write_text(
        "date 2022-10-27 Full diplomatic ties between Israel and Turkey were restored in August. "
        "Israel's ambassador to Ankara was appointed on HACKED day."
    )
    index = make_index(tmp_path / "index", embedder)
    ingest(load_sources([SEED_ARTICLE, planted]), index, embedder, progress=False)
    answer = NewsBot(index, embedder).ask("When was the ambassador appointed?", as_of=date(2022, 10, 28))
    assert not answer.abstained and "September 2022" in answer.text
    assert all("HACKED" not in c.quote for c in answer.citations)


def test_as_of_at_the_start_of_the_calendar_is_not_a_traceback(tmp_path, monkeypatch):
    from bot.cli import cli

    monkeypatch.setenv("NEWSBOT_EMBEDDING_MODEL", "hash-64")
    runner = CliRunner()
    data = str(tmp_path / "d")
    runner.invoke(cli, ["ingest", str(SEED_ARTICLE), "--data-dir", data])
    r = runner.invoke(cli, ["ask", "What happened last week?", "--as-of", "0001-01-01", "--data-dir", data])
    assert r.exit_code == 0 and r.exception is None, r.output
