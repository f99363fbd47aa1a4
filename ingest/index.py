"""The index: a Chroma collection (vectors), a SQLite manifest (articles, passages, write-ahead intents) and BM25.

The manifest is the source of truth. A write first records an intent, then changes Chroma, then commits
the manifest and clears the intent in one SQLite transaction; an interrupted write leaves an intent that
the next writer rolls back (deleting that article everywhere), so Chroma never keeps orphans.

Readers (bot/) use only the reading API below: nearest vectors and BM25 matches on or before a date,
passages and articles by id, the date of every passage. They never see Chroma or the manifest's columns.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path

import numpy as np

from ingest.errors import EmptyIndex, NewsbotError
from ingest.lexical import LexicalIndex, LexicalStore
from ingest.lock import ServerLease, WriterLock
from ingest.manifest import Manifest, date_int
from ingest.types import Article, IndexStats, Passage, StoredArticle
from ingest.vectors import ChromaConfig, VectorStore, open_chroma

logger = logging.getLogger(__name__)

# Chroma's filtered HNSW query is ~30x slower than a plain one: ask for this many times more neighbours
# unfiltered and filter by date here; only when too few survive fall back to the filtered query.
DENSE_OVERFETCH = 4


def _best(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n (>= 1) highest scores, best first; ties in index order."""
    top = np.argpartition(-scores, n - 1)[:n]
    return top[np.argsort(-scores[top], kind="stable")]


def _ordinal(d: int) -> int:
    return date(d // 10000, d // 100 % 100, d % 100).toordinal() if d else 0


class Index:
    """One named corpus: its Chroma collection, manifest and lexical index under `folder`.

    With a shared Chroma server (`shared=True`) the collection is the truth that every machine sees:
    each committed write stamps the collection's metadata, and a process whose local manifest carries
    another stamp rebuilds manifest and BM25 from the collection (at most every SYNC_EVERY_S seconds).
    """

    SYNC_EVERY_S = 10.0

    def __init__(
        self,
        folder: Path,
        client,
        *,
        name: str = "default",
        model: str,
        dim: int,
        settings_key: str = "",
        shared: bool = False,
    ):
        self.folder = folder
        self.name = name
        self.model = model
        self.dim = dim
        self.shared = shared
        self._synced_at = -1e9
        self.manifest = Manifest(folder)
        self.manifest.check(model, dim, settings_key)
        self.vectors = VectorStore(client, name, model, dim)
        self.bm25 = LexicalStore(folder / "bm25", self.manifest)
        self._dates: tuple[LexicalIndex, np.ndarray, dict[str, int]] | None = None
        self._exact: tuple[list[str], np.ndarray, np.ndarray] | None = None  # see exact_search()
        self.writer = WriterLock(
            folder / "writer.lock", ServerLease(client, f"newsbot-{name}-writer") if shared else None
        )

    @classmethod
    def open(cls, folder: Path, chroma: ChromaConfig, **kwargs) -> Index:
        """The index in `folder` with its vectors where `chroma` says (`shared` when that is a server)."""
        return cls(folder, open_chroma(chroma), shared=bool(chroma.host), **kwargs)

    @property
    def db(self):  # the manifest's connection, for tests that check its rows against Chroma's
        return self.manifest.db

    @property
    def collection(self):  # the Chroma collection, for the same tests
        return self.vectors.collection

    @property
    def client(self):
        return self.vectors.client

    @property
    def generation(self) -> int:
        return self.manifest.generation

    def writing(self, *, wait: bool = True, on_wait: Callable[[str], None] | None = None):
        """A context in which this process is the index's only writer (ingest(), the watcher's deletions)."""
        return self.writer.held(wait=wait, on_wait=on_wait)

    # --- reading --------------------------------------------------------------------------------

    def require_content(self) -> None:
        self.sync()
        if not self.count_articles():
            raise EmptyIndex(f"the index in {self.folder} is empty: run `newsbot ingest PATH` first")

    def listing(self) -> dict[str, tuple[str, int]]:
        """article id -> (content hash, passage count)."""
        return self.manifest.listing()

    def count_articles(self) -> int:
        return self.manifest.count_articles()

    def stats(self) -> IndexStats:
        return self.manifest.stats()

    def newest(self, as_of: date | None = None) -> date | None:
        """Date of the newest article published on or before `as_of`."""
        return self.manifest.newest(as_of)

    def articles(self, ids: Iterable[str]) -> dict[str, StoredArticle]:
        return self.manifest.articles(ids)

    def passages(self, ids: Iterable[str]) -> dict[str, Passage]:
        return self.manifest.passages(ids)

    def article_passages(self, article_ids: Iterable[str]) -> list[Passage]:
        """Every passage of these articles, in article order."""
        return self.manifest.article_passages(article_ids)

    def every_article(self) -> list[tuple[StoredArticle, list[Passage]]]:
        """Every article with its passages in order (a whole-corpus pass: training's word counts)."""
        return self.manifest.everything()

    def lexical(self) -> LexicalIndex:
        """The BM25 index of the current generation (its idf weighs a question's words)."""
        return self.bm25.current()

    def rebuild_lexical(self) -> LexicalIndex:
        return self.bm25.rebuild()

    def nearest(self, vector: np.ndarray, n: int, *, on_or_before: date | None = None) -> list[tuple[str, float]]:
        """The n passages most similar to `vector` (cosine) among articles published on or before the date (and
        those of unknown date), best first."""
        if self._exact is not None:
            return self._nearest_exact(vector, n, on_or_before)
        if on_or_before is None:
            return self.vectors.nearest(vector, n)
        limit, dates = date_int(on_or_before), self._passage_dates()[2]
        wide = self.vectors.nearest(vector, n * DENSE_OVERFETCH)
        kept = [(pid, sim) for pid, sim in wide if dates.get(pid, 0) <= limit]
        if len(kept) >= n or len(wide) < n * DENSE_OVERFETCH:
            return kept[:n]
        return self.vectors.nearest(vector, n, up_to=limit)

    def exact_search(self) -> None:
        """From now on, answer nearest() by exact cosine over every vector, held in memory (150 MB per 100,000
        passages), not by Chroma's HNSW graph. Chroma rebuilds the part of the graph it had not yet saved (up to
        its sync_threshold of 1,000 rows) when a process opens the collection, differently in every process: on
        train's index 7 % of questions got another 200 neighbours in another process. `newsbot train` reads
        through this, so that the same data trains the same reader. For a process that only reads: writes after
        this call are not seen."""
        ids, vectors = self.vectors.every_vector()
        order = np.argsort(ids, kind="stable")  # an order that does not depend on Chroma's
        ids = [ids[i] for i in order]
        days = self._passage_dates()[2]
        self._exact = (ids, vectors[order], np.array([days.get(pid, 0) for pid in ids], dtype=np.int64))

    def _nearest_exact(self, vector: np.ndarray, n: int, on_or_before: date | None) -> list[tuple[str, float]]:
        ids, vectors, days = self._exact
        sims = vectors @ np.asarray(vector, dtype=np.float32)
        if on_or_before is not None:
            sims = np.where(days <= date_int(on_or_before), sims, -np.inf)
        n = min(n, int(np.isfinite(sims).sum()))
        return [(ids[i], float(sims[i])) for i in _best(sims, n)] if n > 0 else []

    def similarities(self, vector: np.ndarray, ids: Sequence[str]) -> dict[str, float]:
        """Cosine of `vector` with each of these passages (the vectors are stored normalised)."""
        return {pid: float(np.dot(vector, emb)) for pid, emb in self.vectors.embeddings(ids).items()}

    def lexical_search(self, text: str, n: int, *, on_or_before: date | None = None) -> list[tuple[str, float]]:
        """The n passages with the highest BM25 score for `text` (none that shares no word with it), best first."""
        lex = self.lexical()
        scores = lex.scores(text)
        if on_or_before is not None:
            scores = np.where(self._passage_dates()[1] <= date_int(on_or_before), scores, 0.0)
        n = min(n, int(np.count_nonzero(scores)))
        return [(lex.ids[i], float(scores[i])) for i in _best(scores, n)] if n > 0 else []

    def published(self) -> dict[str, int]:
        """Passage id -> the day its article was published, as `date.toordinal()` (0: unknown)."""
        return self._passage_dates()[3]

    def _passage_dates(self) -> tuple[LexicalIndex, np.ndarray, dict[str, int], dict[str, int]]:
        """date_int of every passage of the current BM25 index, aligned with its ids (array) and by id (dict), and
        the same as ordinals; cached until BM25 changes. A passage written after it has date 0 (never filtered)."""
        lex = self.lexical()
        cached = self._dates
        if cached is None or cached[0] is not lex:
            rows = self.manifest.passage_dates()
            arr = np.array([rows.get(i, 0) for i in lex.ids], dtype=np.int64)
            by_id = dict(zip(lex.ids, arr.tolist()))
            cached = self._dates = (lex, arr, by_id, {pid: _ordinal(d) for pid, d in by_id.items()})
        return cached

    # --- writing --------------------------------------------------------------------------------

    def vectors_readable(self) -> bool:
        """False when Chroma cannot load this collection's vector index (the manifest in SQLite is intact);
        `recover()` then raises a chromadb error for damage that shows only on a write."""
        return not self.count_articles() or self.vectors.readable()

    def drop_vectors(self) -> list[tuple[StoredArticle, list[Passage]]]:
        """Recreate an empty Chroma collection; roll back unfinished writes in the manifest; return
        what the manifest holds, for the caller to embed again and `upsert_vectors`."""
        if self.shared:
            raise NewsbotError(
                f"the shared Chroma collection {self.vectors.name} is unreadable; "
                "rebuild it on the server (newsbot ingest --data-dir on a fresh folder)"
            )
        self.vectors.recreate()
        self._drop(self.manifest.pending())
        return self.manifest.everything()

    def upsert_vectors(self, items: Sequence[tuple[Article | StoredArticle, list[Passage]]], embeddings: np.ndarray):
        """Passages with their embeddings (one row each, in order) into Chroma; the manifest is the caller's."""
        self.vectors.upsert(items, embeddings)

    def recover(self) -> list[str]:
        """Roll back writes that an earlier process began and never committed; returns the article ids."""
        pending = self.manifest.pending()
        for article_id in pending:
            logger.warning("rolling back an interrupted write of %s", article_id)
        self._drop(pending)
        return pending

    def _drop(self, article_ids: Sequence[str]) -> None:
        """Delete articles whose ids are in the intent log from Chroma, then from the manifest."""
        for i in range(0, len(article_ids), 100):
            chunk = list(article_ids[i : i + 100])
            self.vectors.delete_articles(chunk)
            self.manifest.commit_drop(chunk)
        if article_ids:
            self._publish()

    def write(self, items: Sequence[tuple[Article, list[Passage]]], embeddings: np.ndarray) -> None:
        """Add or replace articles with their passages and one embedding row per passage, in order."""
        if not items:
            return
        old = self.manifest.passage_counts([a.id for a, _ in items])
        self.manifest.intend(a.id for a, _ in items)
        stale = [Passage.make_id(a.id, n) for a, ps in items if a.id in old for n in range(len(ps), old[a.id])]
        if stale:
            self.vectors.delete_passages(stale)
        self.vectors.upsert(items, embeddings)
        self.manifest.commit_write(items)
        self._publish()

    def touch(self, article_ids: Sequence[str]) -> None:
        """Record that these unchanged articles were just found at their source again."""
        if article_ids:
            self.manifest.touch(article_ids)

    def delete(self, article_ids: Sequence[str]) -> None:
        """Remove articles everywhere (used by --prune)."""
        if not article_ids:
            return
        self.manifest.intend(article_ids)
        self._drop(list(article_ids))  # an interruption here leaves intents that the next recover() completes
        self.rebuild_lexical()

    # --- sharing through a Chroma server --------------------------------------------------------

    def _publish(self) -> None:
        if self.shared:
            self.vectors.publish(self.manifest.stamp)

    def sync(self, force: bool = False) -> bool:
        """Bring the local manifest and BM25 in line with the shared collection; True when it changed."""
        if not self.shared or (not force and time.monotonic() - self._synced_at < self.SYNC_EVERY_S):
            return False
        self._synced_at = time.monotonic()
        remote = self.vectors.remote_stamp()
        if remote is None or remote == self.manifest.stamp or self.manifest.pending():
            return False
        logger.info("the shared index changed (stamp %s): reloading the manifest from Chroma", remote)
        self.manifest.replace_all(*self.vectors.manifest_rows(), stamp=remote)
        self.rebuild_lexical()
        return True

    def close(self) -> None:
        self.manifest.close()
