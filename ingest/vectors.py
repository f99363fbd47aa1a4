"""The passage vectors in a Chroma collection (embedded folder or server); the only module that speaks Chroma."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.errors import IndexMismatch, NewsbotError
from ingest.manifest import date_int
from ingest.types import Article, Passage, StoredArticle

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChromaConfig:
    """Where Chroma lives: an embedded folder (default) or a server."""

    path: Path | None = None
    host: str | None = None
    port: int = 8000
    ssl: bool = False
    headers: tuple[tuple[str, str], ...] = ()


def open_chroma(config: ChromaConfig):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False)
    if config.host:
        try:
            return chromadb.HttpClient(
                host=config.host, port=config.port, ssl=config.ssl, headers=dict(config.headers), settings=settings
            )
        except Exception as e:  # chromadb raises ValueError for a server it cannot reach, others for TLS or auth
            where = f"{'https' if config.ssl else 'http'}://{config.host}:{config.port}"
            raise NewsbotError(
                f"cannot use the Chroma server at {where} ({type(e).__name__}): is `chroma run` "
                f"running there? Check CHROMA_HOST, CHROMA_PORT, CHROMA_SSL and CHROMA_TOKEN"
            ) from None
    assert config.path is not None
    config.path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(config.path.resolve()), settings=settings)


def _metadata(article: Article | StoredArticle, p: Passage) -> dict:
    meta = {
        "article_id": article.id,
        "n": p.n,
        "start": p.start,
        "end": p.end,
        "date_int": date_int(article.date),
        "hash": article.content_hash,
    }
    for key, value in (
        ("title", article.title),
        ("url", article.url),
        ("source", article.source),
        ("date", article.date.isoformat() if article.date else None),
    ):
        if value:
            meta[key] = value
    return meta


class VectorStore:
    """The collection `newsbot-{name}`: one row per passage (its embedding, text and article metadata), cosine space.
    Never given an embedding function: Chroma's default one would download a model."""

    def __init__(self, client, name: str, model: str, dim: int):
        self.client = client
        self.model = model
        self.dim = dim
        self.name = f"newsbot-{name}"
        self.collection = self._open()
        got = (self.collection.metadata or {}).get("model")
        if got and got != model:
            raise IndexMismatch(f"the Chroma collection {self.name} was built with model {got!r}, not {model!r}")
        self.max_batch = client.get_max_batch_size() if hasattr(client, "get_max_batch_size") else 5000

    def _open(self):
        return self.client.get_or_create_collection(
            self.name,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"model": self.model, "dim": self.dim},
        )

    def recreate(self) -> None:
        """Drop the collection and start an empty one."""
        self.client.delete_collection(self.name)
        self.collection = self._open()

    def readable(self) -> bool:
        """False when Chroma cannot load the collection's vector index.

        A process killed while Chroma flushes its HNSW files leaves them truncated, and later queries
        or writes fail (chroma-core/chroma#7238). Some damage shows only on the next write.
        """
        probe = np.zeros(self.dim, dtype=np.float32)
        probe[0] = 1.0
        try:
            self.collection.query(query_embeddings=[probe], n_results=1, include=[])
        except Exception as e:  # chromadb raises InternalError; older versions other types
            logger.warning("the Chroma collection %s is unreadable (%s)", self.name, e)
            return False
        return True

    def upsert(self, items: Sequence[tuple[Article | StoredArticle, list[Passage]]], embeddings: np.ndarray) -> None:
        """Passages with their embeddings (one row each, in order)."""
        ids, docs, metas = [], [], []
        for article, passages in items:
            for p in passages:
                ids.append(p.id)
                docs.append(p.text)
                metas.append(_metadata(article, p))
        for i in range(0, len(ids), self.max_batch):
            j = i + self.max_batch
            self.collection.upsert(ids=ids[i:j], embeddings=embeddings[i:j], documents=docs[i:j], metadatas=metas[i:j])

    def delete_passages(self, ids: Sequence[str]) -> None:
        self.collection.delete(ids=list(ids))

    def delete_articles(self, article_ids: Sequence[str]) -> None:
        self.collection.delete(where={"article_id": {"$in": list(article_ids)}})

    # --- reading --------------------------------------------------------------------------------

    def nearest(self, vector: np.ndarray, n: int, *, up_to: int | None = None) -> list[tuple[str, float]]:
        """The n passages most similar to `vector` (cosine), best first; with `up_to`, only those whose article's
        date_int is at most it (Chroma's filtered search: exact, but ~30x slower than a plain one)."""
        where = {"date_int": {"$lte": up_to}} if up_to is not None else None
        res = self.collection.query(query_embeddings=[vector], n_results=n, where=where, include=["distances"])
        return [(pid, 1.0 - dist) for pid, dist in zip(res["ids"][0], res["distances"][0])]

    def embeddings(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        res = self.collection.get(ids=list(ids), include=["embeddings"])
        return dict(zip(res["ids"], res["embeddings"]))

    def _pages(self, include: list[str]) -> Iterator[dict]:
        """Every row, `include`d fields, as Chroma's get() pages in storage order."""
        page = min(self.max_batch, 5000)
        for offset in itertools.count(0, page):
            got = self.collection.get(include=include, limit=page, offset=offset)
            yield got
            if len(got["ids"]) < page:
                return

    def every_vector(self) -> tuple[list[str], np.ndarray]:
        """Every row's id and its embedding (float32, one row each)."""
        ids: list[str] = []
        blocks = []
        for got in self._pages(["embeddings"]):
            ids += got["ids"]
            blocks.append(np.asarray(got["embeddings"], dtype=np.float32).reshape(len(got["ids"]), self.dim))
        return ids, np.concatenate(blocks)

    def rows(self) -> Iterator[tuple[str, str, dict]]:
        """Every row as (passage id, text, metadata)."""
        for got in self._pages(["documents", "metadatas"]):
            yield from zip(got["ids"], got["documents"], got["metadatas"])

    def manifest_rows(self) -> tuple[list[tuple], list[tuple]]:
        """What a manifest holds, read back from the rows' metadata (`Manifest.replace_all`'s arguments):
        articles (id, hash, title, url, date, date_int, source, n_passages, chars) and passages."""
        articles: dict[str, list] = {}
        passages = []
        for pid, text, m in self.rows():
            passages.append((pid, m["article_id"], m["n"], m["start"], m["end"], text))
            a = articles.setdefault(
                m["article_id"],
                [m["article_id"], m["hash"], m.get("title"), m.get("url"), m.get("date"), m["date_int"],
                 m.get("source"), 0, 0],
            )  # fmt: skip
            a[7] += 1
            a[8] = max(a[8], m["end"])
        return [tuple(a) for a in articles.values()], passages

    def count(self) -> int:
        return self.collection.count()

    # --- sharing through a Chroma server --------------------------------------------------------

    def publish(self, stamp: str | None) -> None:
        """Stamp the collection so that processes on other machines see the corpus changed."""
        self.collection.modify(metadata={"model": self.model, "dim": self.dim, "stamp": stamp})

    def remote_stamp(self) -> str | None:
        return (self.client.get_collection(self.name).metadata or {}).get("stamp")
