"""The manifest: the index's source of truth in SQLite (articles, passages, write-ahead intents, meta)."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

from ingest.errors import IndexMismatch
from ingest.types import Article, IndexStats, Passage, StoredArticle

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

_SELECT_PASSAGES = 'SELECT id, article_id, n, text, start, "end" FROM passages'


def date_int(d: date | None) -> int:
    """yyyymmdd as an integer for range filters; 0 for an unknown date (never filtered out)."""
    return d.year * 10000 + d.month * 100 + d.day if d else 0


def read_stats(db: sqlite3.Connection) -> IndexStats:
    row = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(n_passages), 0), MIN(NULLIF(date, '')), MAX(NULLIF(date, '')) FROM articles"
    ).fetchone()
    meta = dict(db.execute("SELECT key, value FROM meta WHERE key IN ('last_ingest', 'model')").fetchall())
    return IndexStats(
        row[0],
        row[1],
        date.fromisoformat(row[2]) if row[2] else None,
        date.fromisoformat(row[3]) if row[3] else None,
        float(meta["last_ingest"]) if "last_ingest" in meta else None,
        meta.get("model"),
    )


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


def _stored(row: sqlite3.Row) -> StoredArticle:
    return StoredArticle(
        row["id"],
        row["hash"],
        row["title"],
        row["url"],
        date.fromisoformat(row["date"]) if row["date"] else None,
        row["source"],
        row["n_passages"],
        row["seen_at"],
    )


class Manifest:
    """`manifest.sqlite` in an index folder. Every write is one transaction; the intent log (`pending`) names the
    articles whose Chroma rows may not match the manifest yet."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(folder / "manifest.sqlite", timeout=30, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        if "seen_at" not in {r[1] for r in self.db.execute("PRAGMA table_info(articles)")}:  # indexes made before it
            self.db.execute("ALTER TABLE articles ADD COLUMN seen_at REAL")

    # --- meta -----------------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        upsert = "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value"
        self.db.execute(upsert, (key, value))

    def check(self, model: str, dim: int, settings_key: str) -> None:
        """Stamp a new manifest with the model and splitting settings; refuse an old one made with others."""
        stored = self.meta("model")
        if stored is None:
            self.db.execute("BEGIN IMMEDIATE")
            self._set_meta("schema", str(SCHEMA_VERSION))
            self._set_meta("model", model)
            self._set_meta("dim", str(dim))
            self._set_meta("settings", settings_key)
            self._set_meta("generation", "0")
            self.db.execute("COMMIT")
            return
        if stored != model or int(self.meta("dim") or 0) != dim:
            raise IndexMismatch(
                f"the index in {self.folder} was built with embedding model {stored!r} "
                f"(dimension {self.meta('dim')}), but {model!r} (dimension {dim}) is configured. "
                f"Use the same NEWSBOT_EMBEDDING_MODEL, or another --data-dir to build a new index."
            )
        if settings_key and (self.meta("settings") or "") != settings_key and self.count_articles():
            raise IndexMismatch(
                f"the index in {self.folder} was built with other splitting settings ({self.meta('settings')}); "
                f"now {settings_key}. Re-ingest into another --data-dir, or restore the settings."
            )
        self._set_meta("settings", settings_key)

    @property
    def generation(self) -> int:
        """Bumped by every committed change: what the BM25 cache is keyed on."""
        return int(self.meta("generation") or 0)

    @property
    def stamp(self) -> str | None:
        """A random id of the last committed change, shared through a Chroma server."""
        return self.meta("stamp")

    def _bump(self) -> None:
        self._set_meta("generation", str(self.generation + 1))
        self._set_meta("stamp", uuid.uuid4().hex)

    # --- reading --------------------------------------------------------------------------------

    def listing(self) -> dict[str, tuple[str, int]]:
        """article id -> (content hash, passage count)."""
        return {r[0]: (r[1], r[2]) for r in self.db.execute("SELECT id, hash, n_passages FROM articles")}

    def count_articles(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]

    def stats(self) -> IndexStats:
        return read_stats(self.db)

    def newest(self, as_of: date | None = None) -> date | None:
        q = "SELECT MAX(date) FROM articles" + (" WHERE date <= ?" if as_of else "")
        row = self.db.execute(q, (as_of.isoformat(),) if as_of else ()).fetchone()
        return date.fromisoformat(row[0]) if row and row[0] else None

    def articles(self, ids: Iterable[str]) -> dict[str, StoredArticle]:
        return {r["id"]: _stored(r) for r in self._rows_by_id("SELECT * FROM articles", ids)}

    def passages(self, ids: Iterable[str]) -> dict[str, Passage]:
        return {r[0]: Passage(*r) for r in self._rows_by_id(_SELECT_PASSAGES, ids)}

    def article_passages(self, article_ids: Iterable[str]) -> list[Passage]:
        rows = self._rows_by_id(_SELECT_PASSAGES, article_ids, column="article_id")
        return sorted((Passage(*r) for r in rows), key=lambda p: (p.article_id, p.n))

    def everything(self) -> list[tuple[StoredArticle, list[Passage]]]:
        """Every article with its passages in order (to embed them all again)."""
        articles = {r["id"]: _stored(r) for r in self.db.execute("SELECT * FROM articles")}
        by_article: dict[str, list[Passage]] = {a: [] for a in articles}
        for r in self.db.execute(_SELECT_PASSAGES + " ORDER BY article_id, n"):
            by_article[r[1]].append(Passage(*r))
        return [(articles[a], ps) for a, ps in by_article.items()]

    def passage_texts(self) -> tuple[list[str], list[str]]:
        """(ids, texts) of every passage in insertion order (what BM25 is built over)."""
        rows = self.db.execute("SELECT id, text FROM passages ORDER BY rowid").fetchall()
        return [r[0] for r in rows], [r[1] for r in rows]

    def passage_dates(self) -> dict[str, int]:
        """date_int of each passage's article, by passage id."""
        return dict(self.db.execute("SELECT p.id, a.date_int FROM passages p JOIN articles a ON a.id = p.article_id"))

    def passage_counts(self, article_ids: Iterable[str]) -> dict[str, int]:
        return {r[0]: r[1] for r in self._rows_by_id("SELECT id, n_passages FROM articles", article_ids)}

    def _rows_by_id(self, select: str, ids: Iterable[str], column: str = "id") -> list[sqlite3.Row]:
        """`select ... WHERE <column> IN (...)` in chunks under SQLite's variable limit."""
        ids = list(dict.fromkeys(ids))
        rows: list[sqlite3.Row] = []
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            rows += self.db.execute(f"{select} WHERE {column} IN ({','.join('?' * len(chunk))})", chunk).fetchall()
        return rows

    # --- writing --------------------------------------------------------------------------------

    def pending(self) -> list[str]:
        """Articles whose write began and never committed."""
        return [r[0] for r in self.db.execute("SELECT article_id FROM pending")]

    def intend(self, article_ids: Iterable[str]) -> None:
        """Record, before Chroma changes, that these articles are being written or deleted."""
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany("INSERT OR IGNORE INTO pending(article_id) VALUES(?)", [(a,) for a in article_ids])
        self.db.execute("COMMIT")

    def commit_write(self, items: Sequence[tuple[Article, list[Passage]]]) -> None:
        """The articles and their passages, replacing what was there, and their intents cleared: one transaction."""
        now = time.time()
        self.db.execute("BEGIN IMMEDIATE")
        for article, passages in items:
            self.db.execute("DELETE FROM passages WHERE article_id=?", (article.id,))
            self.db.execute(
                "INSERT OR REPLACE INTO articles(id, hash, title, url, date, date_int, source, n_passages, chars, "
                "ingested_at, seen_at) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                (
                    article.id,
                    article.content_hash,
                    article.title,
                    article.url,
                    article.date.isoformat() if article.date else None,
                    date_int(article.date),
                    article.source,
                    len(passages),
                    len(article.text),
                    now,
                    now,
                ),
            )
            self.db.executemany(
                'INSERT INTO passages(id, article_id, n, start, "end", text) VALUES(?,?,?,?,?,?)',
                [(p.id, p.article_id, p.n, p.start, p.end, p.text) for p in passages],
            )
        self.db.executemany("DELETE FROM pending WHERE article_id=?", [(a.id,) for a, _ in items])
        self._bump()
        self._set_meta("last_ingest", str(now))
        self.db.execute("COMMIT")

    def commit_drop(self, article_ids: Sequence[str]) -> None:
        """Delete these articles, their passages and intents: one transaction."""
        marks = ",".join("?" * len(article_ids))
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute(f"DELETE FROM passages WHERE article_id IN ({marks})", article_ids)
        self.db.execute(f"DELETE FROM articles WHERE id IN ({marks})", article_ids)
        self.db.execute(f"DELETE FROM pending WHERE article_id IN ({marks})", article_ids)
        self._bump()
        self.db.execute("COMMIT")

    def touch(self, article_ids: Sequence[str]) -> None:
        """Record that these unchanged articles were just found at their source again."""
        now = time.time()
        self.db.execute("BEGIN IMMEDIATE")
        for i in range(0, len(article_ids), 500):
            chunk = list(article_ids[i : i + 500])
            self.db.execute(f"UPDATE articles SET seen_at=? WHERE id IN ({','.join('?' * len(chunk))})", [now, *chunk])
        self.db.execute("COMMIT")

    def replace_all(self, articles: Iterable[tuple], passages: Iterable[tuple], stamp: str) -> None:
        """Everything replaced by rows read from a shared collection, which carries `stamp`: one transaction.
        `articles` rows: (id, hash, title, url, date, date_int, source, n_passages, chars)."""
        now = time.time()
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("DELETE FROM passages")
        self.db.execute("DELETE FROM articles")
        self.db.executemany(
            "INSERT INTO articles(id, hash, title, url, date, date_int, source, n_passages, chars, ingested_at) "
            "VALUES(?,?,?,?,?,?,?,?,?,?)",
            [(*a, now) for a in articles],
        )
        self.db.executemany('INSERT INTO passages(id, article_id, n, start, "end", text) VALUES(?,?,?,?,?,?)', passages)
        self._set_meta("generation", str(self.generation + 1))
        self._set_meta("stamp", stamp)
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()
