"""The `newsbot` command as a user runs it: help, ingest, ask, stats, exit codes and clean errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.reader.fit import FitSettings
from tests.conftest import REPO, SEED_ARTICLE

NEWSBOT = [sys.executable, "-m", "bot.cli"]


@pytest.fixture
def run(monkeypatch):
    """Invoke the CLI in-process with the fast hashing embedder and the rules reader (the real model and the learned
    reader, whose features mean nothing over hashed vectors, are tested elsewhere)."""
    monkeypatch.setenv("NEWSBOT_EMBEDDING_MODEL", "hash-64")
    monkeypatch.setenv("NEWSBOT_READER", "rules")
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_every_command_has_help_text():
    """A command without a docstring would show an empty --help."""
    for name, command in cli.commands.items():
        assert command.help and len(command.help) > 20, name
        for sub in getattr(command, "commands", {None: command}):
            args = [name, sub, "--help"] if sub else [name, "--help"]
            result = CliRunner().invoke(cli, args)
            assert result.exit_code == 0 and "--data-dir" in result.output, args


def test_help_is_instant_and_imports_no_torch():
    """`newsbot --help` must not pay for torch / sentence-transformers."""
    code = "import sys; from bot.cli import cli; print('torch' in sys.modules, 'chromadb' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True).stdout
    assert out.split() == ["False", "False"]


def test_ingest_then_ask_with_json(run, tmp_path):
    """Ingest the seed, ask with --as-of and --json: the Answer object with a citation of the seed."""
    r = run("ingest", str(SEED_ARTICLE.parent), "--json", "--data-dir", str(tmp_path / "d"))
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["new"] == 1 and report["passages"] >= 1
    r = run(
        "ask",
        "Which Israeli newspaper reported on Hamas officials?",
        "--as-of",
        "2022-10-26",
        "--json",
        "--data-dir",
        str(tmp_path / "d"),
    )
    answer = json.loads(r.output)
    assert set(answer) >= {"question", "answer", "abstained", "citations", "retrieved", "timings", "latency_ms"}
    assert answer["retrieved"][0]["article_id"] == "israel-turkey-security-ties"
    assert not answer["abstained"] and answer["citations"][0]["article_id"] == "israel-turkey-security-ties"
    assert "Haaretz" in answer["answer"] and answer["citations"][0]["quote"] in SEED_ARTICLE.read_text()


def test_ask_before_ingest_says_what_to_do(run):
    r = run("ask", "Anything?")
    assert r.exit_code == 1 and "newsbot ingest" in r.output and "Traceback" not in r.output


def test_empty_question_is_a_clear_error(run):
    run("ingest", str(SEED_ARTICLE))
    r = run("ask", "  ")
    assert r.exit_code == 1 and "question is empty" in r.output


def test_bad_as_of_is_a_usage_error(run):
    r = run("ask", "x", "--as-of", "26/10/2022")
    assert r.exit_code == 2 and "not a date" in r.output


def test_train_refuses_an_unknown_or_mistyped_setting_before_any_work(tmp_path):
    """`newsbot train --set` names the fields it knows and the value a field takes, and trains nothing."""
    runner = CliRunner()
    example = f"fold_nulls takes a value like {FitSettings().fold_nulls}"  # its default, as an example of the type
    for bad, says in (("nulls=true", "fold_nulls"), ("fold_nulls=maybe", example)):
        result = runner.invoke(cli, ["train", str(tmp_path), "--out", str(tmp_path / "r"), "--set", bad])
        assert result.exit_code == 2 and says in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def test_skipped_input_gives_exit_code_3_and_keeps_the_rest(run, tmp_path):
    """A bad file is reported, the good ones are ingested, and the exit code tells a script."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "good.txt").write_text("date 2022-01-01 A good article about the harbour.")
    (src / "bad.txt").write_bytes(b"\xff\xfe\x00garbage")
    r = run("ingest", str(src))
    assert r.exit_code == 3
    assert "bad.txt" in r.output and "1 new" in r.output
    assert json.loads(run("stats", "--json").output)["articles"] == 1


def test_ingest_an_article_url_then_ask(run, monkeypatch):
    """`newsbot ingest URL` extracts the page; a local server needs NEWSBOT_ALLOW_PRIVATE_URLS=1."""
    from tests.ingest.test_fetch import ARTICLE_HTML
    from tests.webserver import LocalWeb, Route

    with LocalWeb() as web:
        web.routes["/port.html"] = Route(ARTICLE_HTML)
        refused = run("ingest", web.url("/port.html"))
        assert refused.exit_code == 3 and "NEWSBOT_ALLOW_PRIVATE_URLS" in refused.output
        monkeypatch.setenv("NEWSBOT_ALLOW_PRIVATE_URLS", "1")
        assert run("ingest", web.url("/port.html")).exit_code == 0
    answer = json.loads(run("ask", "How many ships waited offshore?", "--json", "--as-of", "2023-03-20").output)
    assert answer["retrieved"][0]["article_id"] == web.url("/port.html")


def test_follow_a_feed_and_watch_once(run, monkeypatch):
    from tests.ingest.test_feeds import TRAM, page, rss
    from tests.webserver import LocalWeb

    assert "nothing to watch" in run("watch", "--once").output
    monkeypatch.setenv("NEWSBOT_ALLOW_PRIVATE_URLS", "1")
    monkeypatch.setenv("NEWSBOT_FETCH_DELAY", "0")
    with LocalWeb() as web:
        web.routes["/tram.html"] = page("Council approves tram line", TRAM)
        web.routes["/rss.xml"] = rss(web, [("/tram.html", "Tram", "Tue, 14 Mar 2023 08:00:00 GMT")])
        assert run("feeds", "add", web.url("/rss.xml"), "--name", "harbour").exit_code == 0
        assert "already followed" in run("feeds", "add", web.url("/rss.xml")).output
        r = run("watch", "--once", "--json")
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)["new_items"] == 1
    (row,) = json.loads(run("feeds", "list", "--json").output)
    assert row["name"] == "harbour" and row["last_error"] is None and row["last_ok"]
    assert run("feeds", "remove", "harbour").exit_code == 0
    assert "no feeds" in run("feeds", "list").output


def test_serve_without_a_token_names_the_variable(run):
    r = run("serve")
    assert r.exit_code == 1 and "DISCORD_TOKEN is not set" in r.output and "Traceback" not in r.output


def test_stats_on_a_new_data_dir(run, tmp_path):
    r = run("stats", "--json", "--data-dir", str(tmp_path / "new"))
    assert json.loads(r.output)["articles"] == 0


KILL_ENV = {"NEWSBOT_EMBEDDING_MODEL": "hash-64", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}


@pytest.fixture(scope="module")
def clean_ingest(tmp_path_factory):
    """A clean ingest of the smoke set, its snapshot and how long it took."""
    from tests.conftest import SMOKE

    clean = tmp_path_factory.mktemp("clean")
    t0 = time.monotonic()
    subprocess.run(
        [*NEWSBOT, "ingest", str(SMOKE / "articles.jsonl.gz"), "--data-dir", str(clean)],
        env=KILL_ENV,
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    return _snapshot(clean), time.monotonic() - t0


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10))
def test_killed_ingest_resumes_to_the_same_index(tmp_path, clean_ingest, seed):
    """kill -9 at a random moment of an ingest (seeded), then a rerun: the index equals a clean ingest."""
    import random

    from tests.conftest import SMOKE

    snapshot, seconds = clean_ingest
    src = str(SMOKE / "articles.jsonl.gz")
    crashed = tmp_path / "crashed"
    p = subprocess.Popen(
        [*NEWSBOT, "ingest", src, "--data-dir", str(crashed)],
        env=KILL_ENV,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        p.wait(timeout=random.Random(seed).uniform(0.2, seconds))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    rerun = subprocess.run(
        [*NEWSBOT, "ingest", src, "--data-dir", str(crashed)], env=KILL_ENV, cwd=REPO, capture_output=True, text=True
    )
    assert rerun.returncode == 0, f"the rerun after kill -9 failed:\n{rerun.stderr[-3000:]}"
    assert _snapshot(crashed) == snapshot


@pytest.mark.slow
def test_an_unreadable_chroma_vector_index_is_rebuilt_from_the_manifest(tmp_path, clean_ingest):
    """A kill -9 while Chroma flushes its HNSW files leaves them truncated (chroma-core/chroma#7238):
    the next ingest re-embeds the manifest's passages into a fresh collection instead of failing."""
    import sqlite3

    from tests.conftest import SMOKE

    snapshot, _ = clean_ingest
    src, data = str(SMOKE / "articles.jsonl.gz"), tmp_path / "data"
    subprocess.run(
        [*NEWSBOT, "ingest", src, "--data-dir", str(data)], env=KILL_ENV, cwd=REPO, check=True, capture_output=True
    )
    segments = list((data / "indexes" / "default" / "chroma").glob("*/data_level0.bin"))
    assert segments
    for f in segments:
        f.write_bytes(f.read_bytes()[:1000])
    with sqlite3.connect(data / "indexes" / "default" / "manifest.sqlite") as db:  # and a write left half done
        db.execute("INSERT INTO pending(article_id) SELECT id FROM articles LIMIT 3")

    rerun = subprocess.run(
        [*NEWSBOT, "ingest", src, "--data-dir", str(data), "--json"],
        env=KILL_ENV,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "re-embedding" in rerun.stderr and json.loads(rerun.stdout)["repaired"] > 2000
    assert _snapshot(data) == snapshot


def _snapshot(data_dir):
    from ingest.embed import HashEmbedder
    from tests.conftest import make_index

    index = make_index(data_dir / "indexes" / "default", HashEmbedder(64))
    chroma = sorted(index.collection.get(include=[])["ids"])
    manifest = sorted(r[0] for r in index.db.execute("SELECT id FROM passages"))
    assert chroma == manifest  # no orphans in Chroma, nothing missing from it
    assert index.db.execute("SELECT COUNT(*) FROM pending").fetchone()[0] == 0
    assert all(n == len([p for p in manifest if p.rsplit("#", 1)[0] == a]) for a, (_, n) in index.listing().items())
    return chroma, sorted(index.listing().items()), sorted(index.lexical().ids)


def _split_smoke(tmp_path):
    """The smoke corpus as two JSONL files of disjoint articles, and the ids of each."""
    import gzip

    from tests.conftest import SMOKE

    rows = gzip.decompress((SMOKE / "articles.jsonl.gz").read_bytes()).decode().splitlines()
    halves = rows[::2], rows[1::2]
    files = []
    for i, half in enumerate(halves):
        f = tmp_path / f"half{i}.jsonl"
        f.write_text("\n".join(half) + "\n")
        files.append(f)
    return files, [{json.loads(r)["id"] for r in half} for half in halves]


@pytest.mark.slow
@pytest.mark.parametrize("offset", [0.05, 0.15, 0.25, 0.35])
def test_two_writers_at_once_lose_nothing(tmp_path, clean_ingest, offset):
    """Two real `newsbot ingest` processes into one data dir, the second started at OFFSET of the first's run time:
    the second waits for the first's writer lock, and the index holds every article of both, consistently."""
    _, seconds = clean_ingest
    (a, b), (ids_a, ids_b) = _split_smoke(tmp_path)
    data = tmp_path / "data"
    first = subprocess.Popen(
        [*NEWSBOT, "ingest", str(a), "--data-dir", str(data), "--json"],
        env=KILL_ENV,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(offset * seconds)
    second = subprocess.run(
        [*NEWSBOT, "ingest", str(b), "--data-dir", str(data), "--json"],
        env=KILL_ENV,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0 and second.returncode == 0, err[-2000:] + second.stderr[-2000:]
    assert json.loads(out)["recovered"] == 0 and json.loads(second.stdout)["recovered"] == 0  # nobody rolled back
    _, manifest, _ = _snapshot(data)  # which also checks Chroma, the manifest and BM25 agree
    assert {a for a, _ in manifest} == ids_a | ids_b


def test_a_second_writer_waits_or_refuses_with_no_wait(tmp_path, run):
    """While another writer holds the index, `ingest --no-wait` exits 4 saying who holds it; plain `ingest` says it
    waits, and goes on once the lock is released."""
    import threading

    from ingest.lock import WriterLock

    data = tmp_path / "d"
    assert run("ingest", str(SEED_ARTICLE), "--data-dir", str(data)).exit_code == 0
    lock = WriterLock(data / "indexes" / "default" / "writer.lock")
    with lock.held():
        busy = subprocess.run(
            [*NEWSBOT, "ingest", str(SEED_ARTICLE), "--data-dir", str(data), "--no-wait"],
            env=KILL_ENV,
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        assert busy.returncode == 4 and "is writing to the index" in busy.stderr and f"pid {os.getpid()}" in busy.stderr
        assert "Traceback" not in busy.stderr
        waiting = subprocess.Popen(
            [*NEWSBOT, "ingest", str(SEED_ARTICLE), "--data-dir", str(data)],
            env=KILL_ENV,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Event().wait(3.0)
        assert waiting.poll() is None  # still waiting for the lock
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0 and "waiting for it to finish" in err and "1 unchanged" in out
