"""Ingest runs: incremental by content, replace on change, prune, refuse another model, recover from crashes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ingest.embed import HashEmbedder
from ingest.errors import BadArticle, IndexMismatch
from ingest.pipeline import ingest
from ingest.types import Article
from tests.conftest import make_index


def articles(n: int, version: str = "") -> list[Article]:
    return [
        Article(id=f"a{i}", text=f"Story {i}{version}. " + "Sentence about the news of the day. " * (5 + i))
        for i in range(n)
    ]


def chroma_ids(index) -> set[str]:
    return set(index.collection.get(include=[])["ids"])


def manifest_passage_ids(index) -> set[str]:
    return {r[0] for r in index.db.execute("SELECT id FROM passages")}


def test_second_ingest_embeds_nothing(tmp_path, hash_embedder):
    """Unchanged articles are skipped by hash: the second run writes no passage."""
    index = make_index(tmp_path, hash_embedder)
    first = ingest(articles(5), index, hash_embedder, progress=False)
    second = ingest(articles(5), index, hash_embedder, progress=False)
    assert (first.new, first.unchanged) == (5, 0)
    assert (second.new, second.changed, second.unchanged, second.passages) == (0, 0, 5, 0)
    assert chroma_ids(index) == manifest_passage_ids(index)


def test_changed_article_replaces_its_passages(tmp_path, hash_embedder):
    """A shorter new version leaves no stale passages behind in Chroma or the manifest."""
    index = make_index(tmp_path, hash_embedder)
    long = Article(id="x", text="One thing happened. " * 200)
    ingest([long], index, hash_embedder, progress=False)
    before = len(chroma_ids(index))
    report = ingest([dataclasses.replace(long, text="Now a short story.")], index, hash_embedder, progress=False)
    assert report.changed == 1 and before > 1
    assert chroma_ids(index) == manifest_passage_ids(index) == {"x#0"}
    assert index.collection.get(ids=["x#0"])["documents"] == ["Now a short story."]


def test_prune_deletes_articles_gone_from_the_sources(tmp_path, hash_embedder):
    index = make_index(tmp_path, hash_embedder)
    ingest(articles(4), index, hash_embedder, progress=False)
    report = ingest(articles(2), index, hash_embedder, prune=True, progress=False)
    assert report.pruned == 2
    assert set(index.listing()) == {"a0", "a1"}
    assert {i.split("#")[0] for i in chroma_ids(index)} == {"a0", "a1"}


def test_prune_is_refused_when_input_was_skipped(tmp_path, hash_embedder):
    """A file that failed to load must not cost the user its already indexed articles."""
    index = make_index(tmp_path, hash_embedder)
    ingest(articles(3), index, hash_embedder, progress=False)
    report = ingest([*articles(1), BadArticle("b.txt", "unreadable")], index, hash_embedder, prune=True, progress=False)
    assert report.pruned == 0 and len(index.listing()) == 3


def test_duplicate_id_with_other_text_is_skipped(tmp_path, hash_embedder):
    index = make_index(tmp_path, hash_embedder)
    a = Article(id="dup", text="First version.")
    report = ingest([a, dataclasses.replace(a, text="Other text."), a], index, hash_embedder, progress=False)
    assert report.new == 1 and len(report.skipped) == 1 and "duplicate id" in report.skipped[0]
    assert index.collection.get(ids=["dup#0"])["documents"] == ["First version."]


def test_other_model_is_refused(tmp_path, hash_embedder):
    """Opening an index with another embedding model fails with a message naming both models."""
    make_index(tmp_path, hash_embedder)
    with pytest.raises(IndexMismatch, match="hash-64.*hash-32"):
        make_index(tmp_path, HashEmbedder(32))


def test_interrupted_write_is_rolled_back_and_completed(tmp_path, hash_embedder, monkeypatch):
    """A crash between Chroma's upsert and the manifest commit leaves no orphan after the next run."""
    index = make_index(tmp_path, hash_embedder)
    ingest(articles(2), index, hash_embedder, progress=False)
    real_execute = index.db.execute

    def crash_on_commit_of_articles(sql, *args):
        if sql.startswith("INSERT OR REPLACE INTO articles"):
            raise KeyboardInterrupt
        return real_execute(sql, *args)

    monkeypatch.setattr(index.manifest, "db", _Proxy(index.db, crash_on_commit_of_articles))
    with pytest.raises(KeyboardInterrupt):
        ingest(articles(4, version=" v2"), index, hash_embedder, progress=False)
    index.db.raw.rollback() if index.db.raw.in_transaction else None
    monkeypatch.undo()
    index = make_index(tmp_path, hash_embedder)
    report = ingest(articles(4, version=" v2"), index, hash_embedder, progress=False)
    assert report.recovered == 4
    assert chroma_ids(index) == manifest_passage_ids(index)
    assert set(index.listing()) == {"a0", "a1", "a2", "a3"}
    assert not index.db.execute("SELECT * FROM pending").fetchall()


class _Proxy:
    def __init__(self, raw, execute):
        self.raw = raw
        self.execute = execute

    def __getattr__(self, name):
        return getattr(self.raw, name)


def test_lexical_index_follows_the_manifest(tmp_path, hash_embedder):
    """BM25 is rebuilt after a change and finds words of the new text only."""
    index = make_index(tmp_path, hash_embedder)
    ingest([Article(id="z", text="Zebras escaped from the zoo.")], index, hash_embedder, progress=False)
    assert index.lexical().scores("zebras").max() > 0
    ingest([Article(id="z", text="Giraffes escaped from the zoo.")], index, hash_embedder, progress=False)
    lex = index.lexical()
    assert lex.scores("zebras").max() == 0 and lex.scores("giraffes").max() > 0
    assert np.all(np.isfinite(lex.scores("zoo")))
