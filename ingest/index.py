"""The index: Chroma (vectors) + a SQLite manifest (articles, passages, write-ahead intents) + BM25.

The manifest is the source of truth. A write first records an intent, then changes Chroma, then commits
the manifest and clears the intent in one SQLite transaction; an interrupted write leaves an intent that
the next writer rolls back (deleting that article everywhere), so Chroma never keeps orphans.
"""
from __future__ import annotations

import itertools
import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from ingest.errors import EmptyIndex, IndexMismatch, NewsbotError
from ingest.lexical import TOKENIZER, LexicalIndex
from ingest.lock import ServerLease, WriterLock
from ingest.types import Article, Passage

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, hash TEXT NOT NULL, title TEXT, url TEXT, date TEXT, date_int INTEGER NOT NULL,
    source TEXT, n_passages INTEGER NOT NULL, chars INTEGER NOT NULL, ingested_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS passages (
    id TEXT PRIMARY KEY, article_id TEXT NOT NULL, n INTEGER NOT NULL, start INTEGER NOT NULL,
    "end" INTEGER NOT NULL, text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_article ON passages(article_id);
CREATE INDEX IF NOT EXISTS articles_date ON articles(date);
CREATE TABLE IF NOT EXISTS pending (article_id TEXT PRIMARY KEY);
"""


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """An article's metadata as the index holds it (the text lives in its passages)."""

    id: str
    hash: str
    title: str | None
    url: str | None
    date: date | None
    source: str | None
    n_passages: int
    seen_at: float | None = None  # when an ingest or a feed poll last found the article at its source

    @property
    def content_hash(self) -> str:  # as Article names it
        return self.hash

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> StoredArticle:
        return cls(row["id"], row["hash"], row["title"], row["url"],
                   date.fromisoformat(row["date"]) if row["date"] else None, row["source"], row["n_passages"],
                   row["seen_at"])


@dataclass(frozen=True, slots=True)
class IndexStats:
    articles: int
    passages: int
    oldest: date | None
    newest: date | None
    last_ingest: float | None
    model: str | None


def read_stats(db: sqlite3.Connection) -> IndexStats:
    row = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(n_passages), 0), MIN(NULLIF(date, '')), MAX(NULLIF(date, '')) FROM articles"
    ).fetchone()
    meta = dict(db.execute("SELECT key, value FROM meta WHERE key IN ('last_ingest', 'model')").fetchall())
    return IndexStats(row[0], row[1], date.fromisoformat(row[2]) if row[2] else None,
                      date.fromisoformat(row[3]) if row[3] else None,
                      float(meta["last_ingest"]) if "last_ingest" in meta else None, meta.get("model"))


def stats_of(folder: Path) -> IndexStats:
    """Statistics of the index in `folder` from its manifest alone (no model, no Chroma); empty if none."""
    path = folder / "manifest.sqlite"
    if not path.exists():
        return IndexStats(0, 0, None, None, None, None)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return read_stats(db)
    finally:
        db.close()


def date_int(d: date | None) -> int:
    """yyyymmdd as an integer for Chroma range filters; 0 for an unknown date (never filtered out)."""
    return d.year * 10000 + d.month * 100 + d.day if d else 0


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
            return chromadb.HttpClient(host=config.host, port=config.port, ssl=config.ssl, headers=dict(config.headers),
                                       settings=settings)
        except Exception as e:  # chromadb raises ValueError for a server it cannot reach, others for TLS or auth
            where = f"{'https' if config.ssl else 'http'}://{config.host}:{config.port}"
            raise NewsbotError(f"cannot use the Chroma server at {where} ({type(e).__name__}): is `chroma run` "
                               f"running there? Check CHROMA_HOST, CHROMA_PORT, CHROMA_SSL and CHROMA_TOKEN") from None
    assert config.path is not None
    config.path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(config.path.resolve()), settings=settings)


class Index:
    """One named corpus: its Chroma collection, manifest and lexical index under `folder`.

    With a shared Chroma server (`shared=True`) the collection is the truth that every machine sees:
    each committed write stamps the collection's metadata, and a process whose local manifest carries
    another stamp rebuilds manifest and BM25 from the collection (at most every SYNC_EVERY_S seconds).
    """

    SYNC_EVERY_S = 10.0

    def __init__(self, folder: Path, client, *, name: str = "default", model: str, dim: int, settings_key: str = "",
                 shared: bool = False):
        self.folder = folder
        self.name = name
        self.model = model
        self.dim = dim
        self.client = client
        self.shared = shared
        self._synced_at = -1e9
        folder.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(folder / "manifest.sqlite", timeout=30, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        if "seen_at" not in {r[1] for r in self.db.execute("PRAGMA table_info(articles)")}:  # indexes made before it
            self.db.execute("ALTER TABLE articles ADD COLUMN seen_at REAL")
        self._check_meta(model, dim, settings_key)
        self.collection = self._open_collection()
        got = (self.collection.metadata or {}).get("model")
        if got and got != model:
            raise IndexMismatch(f"the Chroma collection newsbot-{name} was built with model {got!r}, not {model!r}")
        self.max_batch = client.get_max_batch_size() if hasattr(client, "get_max_batch_size") else 5000
        self._lexical: tuple[int, LexicalIndex] | None = None
        self._lexical_lock = threading.Lock()  # one rebuild at a time; concurrent askers wait for it
        self.writer = WriterLock(folder / "writer.lock", ServerLease(client, f"newsbot-{name}-writer") if shared else None)

    def writing(self, *, wait: bool = True, on_wait: Callable[[str], None] | None = None):
        """A context in which this process is the index's only writer (ingest(), the watcher's deletions)."""
        return self.writer.held(wait=wait, on_wait=on_wait)

    def _open_collection(self):
        return self.client.get_or_create_collection(
            f"newsbot-{self.name}", embedding_function=None, configuration={"hnsw": {"space": "cosine"}},
            metadata={"model": self.model, "dim": self.dim},
        )

    # --- manifest -------------------------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value))

    def _check_meta(self, model: str, dim: int, settings_key: str) -> None:
        stored = self._meta("model")
        if stored is None:
            self.db.execute("BEGIN IMMEDIATE")
            self._set_meta("schema", str(SCHEMA_VERSION))
            self._set_meta("model", model)
            self._set_meta("dim", str(dim))
            self._set_meta("settings", settings_key)
            self._set_meta("generation", "0")
            self.db.execute("COMMIT")
            return
        if stored != model or int(self._meta("dim") or 0) != dim:
            raise IndexMismatch(
                f"the index in {self.folder} was built with embedding model {stored!r} "
                f"(dimension {self._meta('dim')}), but {model!r} (dimension {dim}) is configured. "
                f"Use the same NEWSBOT_EMBEDDING_MODEL, or another --data-dir to build a new index."
            )
        if settings_key and (self._meta("settings") or "") != settings_key and self.count_articles():
            raise IndexMismatch(
                f"the index in {self.folder} was built with other splitting settings ({self._meta('settings')}); "
                f"now {settings_key}. Re-ingest into another --data-dir, or restore the settings."
            )
        self._set_meta("settings", settings_key)

    @property
    def generation(self) -> int:
        return int(self._meta("generation") or 0)

    def manifest(self) -> dict[str, tuple[str, int]]:
        """article id -> (content hash, passage count)."""
        return {r[0]: (r[1], r[2]) for r in self.db.execute("SELECT id, hash, n_passages FROM articles")}

    def count_articles(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]

    def stats(self) -> IndexStats:
        return read_stats(self.db)

    def newest(self, as_of: date | None = None) -> date | None:
        """Date of the newest article published on or before `as_of`."""
        q = "SELECT MAX(date) FROM articles" + (" WHERE date <= ?" if as_of else "")
        row = self.db.execute(q, (as_of.isoformat(),) if as_of else ()).fetchone()
        return date.fromisoformat(row[0]) if row and row[0] else None

    def articles(self, ids: Iterable[str]) -> dict[str, StoredArticle]:
        return {r["id"]: StoredArticle.from_row(r) for r in self._rows_by_id("SELECT * FROM articles", ids)}

    _SELECT_PASSAGES = 'SELECT id, article_id, n, text, start, "end" FROM passages'

    def passages(self, ids: Iterable[str]) -> dict[str, Passage]:
        return {r[0]: Passage(*r) for r in self._rows_by_id(self._SELECT_PASSAGES, ids)}

    def article_passages(self, article_ids: Iterable[str]) -> list[Passage]:
        """Every passage of these articles, in article order."""
        rows = self._rows_by_id(self._SELECT_PASSAGES, article_ids, column="article_id")
        return sorted((Passage(*r) for r in rows), key=lambda p: (p.article_id, p.n))

    def _rows_by_id(self, select: str, ids: Iterable[str], column: str = "id") -> list[sqlite3.Row]:
        """`select ... WHERE <column> IN (...)` in chunks under SQLite's variable limit."""
        ids = list(dict.fromkeys(ids))
        rows: list[sqlite3.Row] = []
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            rows += self.db.execute(f"{select} WHERE {column} IN ({','.join('?' * len(chunk))})", chunk).fetchall()
        return rows

    # --- writing --------------------------------------------------------------------------------

    def vectors_readable(self) -> bool:
        """False when Chroma cannot load this collection's vector index.

        A process killed while Chroma flushes its HNSW files leaves them truncated, and later queries
        or writes fail (chroma-core/chroma#7238); the manifest in SQLite is intact. Some damage shows
        only on the next write: `recover()` then raises a chromadb error.
        """
        if not self.count_articles():
            return True
        probe = np.zeros(self.dim, dtype=np.float32)
        probe[0] = 1.0
        try:
            self.collection.query(query_embeddings=[probe], n_results=1, include=[])
        except Exception as e:  # chromadb raises InternalError; older versions other types
            logger.warning("the Chroma vector index in %s is unreadable (%s)", self.folder, e)
            return False
        return True

    def drop_vectors(self) -> list[tuple[StoredArticle, list[Passage]]]:
        """Recreate an empty Chroma collection; roll back unfinished writes in the manifest; return
        what the manifest holds, for the caller to embed again and `upsert_vectors`."""
        if self.shared:
            raise NewsbotError(f"the shared Chroma collection {self.collection.name} is unreadable; "
                               "rebuild it on the server (newsbot ingest --data-dir on a fresh folder)")
        self.client.delete_collection(self.collection.name)
        self.collection = self._open_collection()
        pending = [r[0] for r in self.db.execute("SELECT article_id FROM pending")]
        self._drop(pending)
        articles = {r["id"]: StoredArticle.from_row(r) for r in self.db.execute("SELECT * FROM articles")}
        by_article: dict[str, list[Passage]] = {a: [] for a in articles}
        for r in self.db.execute('SELECT id, article_id, n, text, start, "end" FROM passages ORDER BY article_id, n'):
            by_article[r[1]].append(Passage(*r))
        return [(articles[a], ps) for a, ps in by_article.items()]

    def upsert_vectors(self, items: Sequence[tuple[Article | StoredArticle, list[Passage]]], embeddings: np.ndarray) -> None:
        """Passages with their embeddings (one row each, in order) into Chroma; the manifest is the caller's."""
        ids, docs, metas = [], [], []
        for article, passages in items:
            for p in passages:
                ids.append(p.id)
                docs.append(p.text)
                metas.append(self._metadata(article, p))
        for i in range(0, len(ids), self.max_batch):
            j = i + self.max_batch
            self.collection.upsert(ids=ids[i:j], embeddings=embeddings[i:j], documents=docs[i:j], metadatas=metas[i:j])

    def recover(self) -> list[str]:
        """Roll back writes that an earlier process began and never committed; returns the article ids."""
        pending = [r[0] for r in self.db.execute("SELECT article_id FROM pending")]
        for article_id in pending:
            logger.warning("rolling back an interrupted write of %s", article_id)
        self._drop(pending)
        return pending

    def _drop(self, article_ids: Sequence[str]) -> None:
        """Delete articles whose ids are in the intent log from Chroma, then from the manifest."""
        for i in range(0, len(article_ids), 100):
            chunk = list(article_ids[i:i + 100])
            self.collection.delete(where={"article_id": {"$in": chunk}})
            marks = ",".join("?" * len(chunk))
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute(f"DELETE FROM passages WHERE article_id IN ({marks})", chunk)
            self.db.execute(f"DELETE FROM articles WHERE id IN ({marks})", chunk)
            self.db.execute(f"DELETE FROM pending WHERE article_id IN ({marks})", chunk)
            self._bump()
            self.db.execute("COMMIT")
        if article_ids:
            self._publish()

    def write(self, items: Sequence[tuple[Article, list[Passage]]], embeddings: np.ndarray) -> None:
        """Add or replace articles with their passages and one embedding row per passage, in order."""
        if not items:
            return
        old = {r["id"]: r["n_passages"] for r in self._rows_by_id("SELECT id, n_passages FROM articles", [a.id for a, _ in items])}
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany("INSERT OR IGNORE INTO pending(article_id) VALUES(?)", [(a.id,) for a, _ in items])
        self.db.execute("COMMIT")

        stale = [Passage.make_id(a.id, n) for a, ps in items if a.id in old for n in range(len(ps), old[a.id])]
        if stale:
            self.collection.delete(ids=stale)
        self.upsert_vectors(items, embeddings)

        now = time.time()
        self.db.execute("BEGIN IMMEDIATE")
        for article, passages in items:
            self.db.execute("DELETE FROM passages WHERE article_id=?", (article.id,))
            self.db.execute(
                "INSERT OR REPLACE INTO articles(id, hash, title, url, date, date_int, source, n_passages, chars, ingested_at, seen_at)"
                " VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                (article.id, article.content_hash, article.title, article.url, article.date.isoformat() if article.date else None,
                 date_int(article.date), article.source, len(passages), len(article.text), now, now),
            )
            self.db.executemany(
                'INSERT INTO passages(id, article_id, n, start, "end", text) VALUES(?,?,?,?,?,?)',
                [(p.id, p.article_id, p.n, p.start, p.end, p.text) for p in passages],
            )
        self.db.executemany("DELETE FROM pending WHERE article_id=?", [(a.id,) for a, _ in items])
        self._bump()
        self._set_meta("last_ingest", str(now))
        self.db.execute("COMMIT")
        self._publish()

    def touch(self, article_ids: Sequence[str]) -> None:
        """Record that these unchanged articles were just found at their source again."""
        if not article_ids:
            return
        now = time.time()
        self.db.execute("BEGIN IMMEDIATE")
        for i in range(0, len(article_ids), 500):
            chunk = list(article_ids[i:i + 500])
            self.db.execute(f"UPDATE articles SET seen_at=? WHERE id IN ({','.join('?' * len(chunk))})", [now, *chunk])
        self.db.execute("COMMIT")

    def delete(self, article_ids: Sequence[str]) -> None:
        """Remove articles everywhere (used by --prune)."""
        if not article_ids:
            return
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany("INSERT OR IGNORE INTO pending(article_id) VALUES(?)", [(a,) for a in article_ids])
        self.db.execute("COMMIT")
        self._drop(list(article_ids))  # an interruption here leaves intents that the next recover() completes
        self.rebuild_lexical()

    def _bump(self) -> None:
        self._set_meta("generation", str(self.generation + 1))
        self._set_meta("stamp", uuid.uuid4().hex)

    # --- sharing through a Chroma server -----------------------------------------------------

    def _publish(self) -> None:
        """Tell other processes on other machines that the corpus changed."""
        if self.shared:
            self.collection.modify(metadata={"model": self.model, "dim": self.dim, "stamp": self._meta("stamp")})

    def sync(self, force: bool = False) -> bool:
        """Bring the local manifest and BM25 in line with the shared collection; True when it changed."""
        if not self.shared or (not force and time.monotonic() - self._synced_at < self.SYNC_EVERY_S):
            return False
        self._synced_at = time.monotonic()
        remote = (self.client.get_collection(self.collection.name).metadata or {}).get("stamp")
        if remote is None or remote == self._meta("stamp") or self.db.execute("SELECT 1 FROM pending").fetchone():
            return False
        logger.info("the shared index changed (stamp %s): reloading the manifest from Chroma", remote)
        articles: dict[str, list] = {}
        passages = []
        page = min(self.max_batch, 5000)
        for offset in itertools.count(0, page):
            got = self.collection.get(include=["documents", "metadatas"], limit=page, offset=offset)
            for pid, text, m in zip(got["ids"], got["documents"], got["metadatas"]):
                passages.append((pid, m["article_id"], m["n"], m["start"], m["end"], text))
                a = articles.setdefault(m["article_id"], [m["article_id"], m["hash"], m.get("title"), m.get("url"),
                                                          m.get("date"), m["date_int"], m.get("source"), 0, 0])
                a[7] += 1
                a[8] = max(a[8], m["end"])
            if len(got["ids"]) < page:
                break
        now = time.time()
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("DELETE FROM passages")
        self.db.execute("DELETE FROM articles")
        self.db.executemany("INSERT INTO articles(id, hash, title, url, date, date_int, source, n_passages, chars, ingested_at) "
                            "VALUES(?,?,?,?,?,?,?,?,?,?)", [(*a, now) for a in articles.values()])
        self.db.executemany('INSERT INTO passages(id, article_id, n, start, "end", text) VALUES(?,?,?,?,?,?)', passages)
        self._set_meta("generation", str(self.generation + 1))
        self._set_meta("stamp", remote)
        self.db.execute("COMMIT")
        self.rebuild_lexical()
        return True

    @staticmethod
    def _metadata(article: Article, p: Passage) -> dict:
        meta = {"article_id": article.id, "n": p.n, "start": p.start, "end": p.end, "date_int": date_int(article.date),
                "hash": article.content_hash}
        for key, value in (("title", article.title), ("url", article.url), ("source", article.source),
                           ("date", article.date.isoformat() if article.date else None)):
            if value:
                meta[key] = value
        return meta

    # --- reading --------------------------------------------------------------------------------

    def require_content(self) -> None:
        self.sync()
        if not self.count_articles():
            raise EmptyIndex(f"the index in {self.folder} is empty: run `newsbot ingest PATH` first")

    def lexical(self) -> LexicalIndex:
        """The BM25 index of the current generation: cached, else loaded from disk, else rebuilt.

        Writers (ingest, delete, sync) rebuild it when they finish. Until then askers keep the
        previous one, which lacks only the newest passages for a few seconds; an asker rebuilds only
        when it has none at all (the first question after start-up with a stale or missing file).
        """
        gen = self.generation
        cached = self._lexical
        if cached and cached[0] == gen:
            return cached[1]
        if not self._lexical_lock.acquire(blocking=cached is None):
            return cached[1]  # a writer is rebuilding it right now
        try:
            if self._lexical and self._lexical[0] == gen:
                return self._lexical[1]
            lex = self._load_saved(gen)
            if lex is None and self._lexical:
                return self._lexical[1]
            if lex is None:
                return self._build_lexical(gen)
            self._lexical = (gen, lex)
            return lex
        finally:
            self._lexical_lock.release()

    def _load_saved(self, gen: int) -> LexicalIndex | None:
        folder = self.folder / "bm25"
        try:
            saved = json.loads((folder / "generation.json").read_text())
            if saved["generation"] == gen and saved.get("tokenizer") == TOKENIZER:
                return LexicalIndex.load(folder)
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError) as e:
            logger.warning("lexical index unreadable (%s); rebuilding", e)
        return None

    def rebuild_lexical(self) -> LexicalIndex:
        """Rebuild BM25 for the current generation (writers call this when they finish)."""
        with self._lexical_lock:
            return self._build_lexical(self.generation)

    def _build_lexical(self, gen: int) -> LexicalIndex:
        """Build, save and cache BM25 over the manifest's passages; the caller holds `_lexical_lock`."""
        rows = self.db.execute("SELECT id, text FROM passages ORDER BY rowid").fetchall()
        lex = LexicalIndex.build([r[0] for r in rows], [r[1] for r in rows])
        lex.save(self.folder / "bm25", {"generation": gen, "tokenizer": TOKENIZER})
        self._lexical = (gen, lex)
        return lex

    def passage_dates(self, ids: Sequence[str]) -> np.ndarray:
        """date_int of each passage's article, aligned with `ids` (for lexical date filters)."""
        rows = dict(self.db.execute("SELECT p.id, a.date_int FROM passages p JOIN articles a ON a.id = p.article_id"))
        return np.array([rows.get(i, 0) for i in ids], dtype=np.int64)

    def close(self) -> None:
        self.db.close()

