"""The same ingest and answers against a real Chroma server (`chroma run`) as against the embedded store."""

from __future__ import annotations

import os
import uuid
from datetime import date

import pytest

from bot.service import NewsBot
from ingest.embed import HashEmbedder
from ingest.index import Index
from ingest.pipeline import ingest, load_sources
from ingest.vectors import ChromaConfig, open_chroma
from tests.conftest import SMOKE, load_questions, make_index

SERVER = os.environ.get("NEWSBOT_TEST_CHROMA")
pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(not SERVER, reason="no Chroma server: run via `make test` (NEWSBOT_TEST_CHROMA=host:port)"),
]


def server_index(folder, embedder, name: str | None = None) -> Index:
    host, port = SERVER.rsplit(":", 1)
    client = open_chroma(ChromaConfig(host=host, port=int(port)))
    return Index(
        folder, client, name=name or f"test-{uuid.uuid4().hex[:8]}", model=embedder.name, dim=embedder.dim, shared=True
    )


def test_server_gives_the_same_answers_as_embedded(tmp_path):
    embedder = HashEmbedder(64)
    local = make_index(tmp_path / "local", embedder)
    remote = server_index(tmp_path / "remote", embedder)
    for index in (local, remote):
        report = ingest(load_sources([SMOKE / "articles.jsonl.gz"]), index, embedder, progress=False)
        assert report.new == 295
    assert remote.collection.count() == local.collection.count() == sum(n for _, n in local.listing().values())
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


def test_two_machines_see_the_same_corpus_through_the_server(tmp_path):
    """Each process keeps its own manifest and BM25 under its own data dir; the collection is the truth."""
    embedder = HashEmbedder(64)
    name = f"test-{uuid.uuid4().hex[:8]}"
    writer = server_index(tmp_path / "machine-a", embedder, name)
    src = tmp_path / "src"
    src.mkdir()
    (src / "port.txt").write_text("date 2023-03-14 The harbour of Eastport reopened on Tuesday after the storm.")
    ingest(load_sources([src]), writer, embedder, progress=False)

    reader = server_index(tmp_path / "machine-b", embedder, name)  # another machine: empty local manifest
    bot = NewsBot(reader, embedder)
    answer = bot.ask("When did the harbour of Eastport reopen?", as_of=date(2023, 3, 20))
    assert answer.retrieved[0].article.id == "port" and reader.count_articles() == 1

    (src / "tram.txt").write_text("date 2023-03-15 The council of Eastport approved a new tram line on Wednesday.")
    ingest(load_sources([src]), writer, embedder, progress=False)
    assert reader.sync(force=True)  # the writer's stamp changed
    answer = bot.ask("Which tram line did the council approve?", as_of=date(2023, 3, 20))
    assert answer.retrieved[0].article.id == "tram"
    assert reader.listing() == writer.listing()
    assert sorted(reader.lexical().ids) == sorted(writer.lexical().ids)

    # a write from the second machine reaches the first one the same way
    (src / "bridge.txt").write_text("date 2023-03-16 The old bridge over the Ost river will close in June.")
    ingest(load_sources([src]), reader, embedder, progress=False)
    assert writer.sync(force=True) and set(writer.listing()) == {"port", "tram", "bridge"}


def test_writers_on_two_machines_exclude_each_other(tmp_path):
    """Two machines (two data dirs) writing one index on the server: the second waits or, told not to, is refused;
    a lease left by a writer that died is taken over once it has expired."""
    from ingest.lock import IndexBusy

    embedder = HashEmbedder(64)
    name = f"test-{uuid.uuid4().hex[:8]}"
    first, second = server_index(tmp_path / "a", embedder, name), server_index(tmp_path / "b", embedder, name)
    with first.writing():
        with pytest.raises(IndexBusy, match="another machine"):
            with second.writing(wait=False):
                pass
    with second.writing(wait=False):  # released: free again
        assert ingest(load_sources([SMOKE / "articles.jsonl.gz"]), second, embedder, progress=False).new == 295
    second.client.create_collection(
        f"newsbot-{name}-writer", metadata={"holder": "a dead writer", "expires": 0.0}, embedding_function=None
    )
    with first.writing(wait=False):
        pass
