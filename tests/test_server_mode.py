"""The same ingest and answers against a real Chroma server (`chroma run`) as against the embedded store."""
from __future__ import annotations

import os
import uuid
from datetime import date

import pytest

from ingest.embed import HashEmbedder
from ingest.index import ChromaConfig, Index, open_chroma
from ingest.pipeline import ingest, load_sources
from bot.service import NewsBot
from tests.conftest import SMOKE, load_questions, make_index

SERVER = os.environ.get("NEWSBOT_TEST_CHROMA")
pytestmark = [pytest.mark.server, pytest.mark.skipif(not SERVER, reason="no Chroma server: run via `make test` (NEWSBOT_TEST_CHROMA=host:port)")]


def server_index(folder, embedder) -> Index:
    host, port = SERVER.rsplit(":", 1)
    client = open_chroma(ChromaConfig(host=host, port=int(port)))
    return Index(folder, client, name=f"test-{uuid.uuid4().hex[:8]}", model=embedder.name, dim=embedder.dim)


def test_server_gives_the_same_answers_as_embedded(tmp_path):
    embedder = HashEmbedder(64)
    local = make_index(tmp_path / "local", embedder)
    remote = server_index(tmp_path / "remote", embedder)
    for index in (local, remote):
        report = ingest(load_sources([SMOKE / "articles.jsonl.gz"]), index, embedder, progress=False)
        assert report.new == 295
    assert remote.collection.count() == local.collection.count() == sum(n for _, n in local.manifest().values())
    bots = [NewsBot(i, embedder) for i in (local, remote)]
    same_answer, overlap = 0, []
    questions = load_questions(SMOKE / "questions.jsonl")
    for q in questions:
        a, b = (bot.ask(q["question"], as_of=date.fromisoformat(q["date"])) for bot in bots)
        same_answer += a.text == b.text
        ids_a, ids_b = {h.passage.id for h in a.retrieved}, {h.passage.id for h in b.retrieved}
        overlap.append(len(ids_a & ids_b) / max(1, len(ids_a)))
    # HNSW is approximate and each store builds its own graph, so a tie may break differently.
    assert same_answer >= 0.9 * len(questions)
    assert sum(overlap) / len(overlap) >= 0.9


def test_server_reingest_is_incremental_and_prune_deletes(tmp_path):
    embedder = HashEmbedder(64)
    index = server_index(tmp_path, embedder)
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        (src / f"a{i}.txt").write_text(f"date 2022-01-0{i + 1} Story number {i} about the harbour and the ships.")
    ingest(load_sources([src]), index, embedder, progress=False)
    (src / "a2.txt").unlink()
    report = ingest(load_sources([src]), index, embedder, prune=True, progress=False)
    assert (report.unchanged, report.pruned) == (2, 1)
    assert sorted(index.collection.get(include=[])["ids"]) == ["a0#0", "a1#0"]
