"""Hybrid search: dense (Chroma) and lexical (BM25) rankings fused by reciprocal rank, date-aware, diverse."""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import numpy as np

from ingest.embed import Embedder
from ingest.index import Index, date_int
from bot.types import Hit

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchSettings:
    candidates: int = 50  # taken from each ranking before fusion
    rrf_k: int = 60
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    per_article: int = 2


class Searcher:
    """Searches one Index with one embedder; both are built once and passed in."""

    def __init__(self, index: Index, embedder: Embedder, settings: SearchSettings = SearchSettings()):
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self._dates: tuple[int, np.ndarray] | None = None

    def embed_query(self, query: str) -> np.ndarray:
        return self.embedder.embed([query])[0]

    def search(self, query: str, *, k: int = 5, as_of: date | None = None, vector: np.ndarray | None = None) -> list[Hit]:
        """The k best passages for `query` among articles published on or before `as_of`."""
        s = self.settings
        vector = self.embed_query(query) if vector is None else vector
        dense = self._dense(vector, as_of, s.candidates)
        lexical = self._lexical(query, as_of, s.candidates)
        fused: dict[str, float] = defaultdict(float)
        for rank, (pid, _) in enumerate(dense):
            fused[pid] += s.dense_weight / (s.rrf_k + rank + 1)
        for rank, (pid, _) in enumerate(lexical):
            fused[pid] += s.lexical_weight / (s.rrf_k + rank + 1)
        order = sorted(fused, key=lambda p: -fused[p])
        dense_sim, lex_score = dict(dense), dict(lexical)
        passages = self.index.passages(order[: max(4 * k, 40)])
        per_article: dict[str, int] = defaultdict(int)
        chosen = []
        for pid in order:
            p = passages.get(pid)
            if p is None:
                continue
            if per_article[p.article_id] >= s.per_article:
                continue
            per_article[p.article_id] += 1
            chosen.append(p)
            if len(chosen) == k:
                break
        missing = [p.id for p in chosen if p.id not in dense_sim]
        if missing:
            dense_sim.update(self._similarities(vector, missing))
        articles = self.index.articles(p.article_id for p in chosen)
        return [
            Hit(p, articles[p.article_id], fused[p.id], rank + 1, dense_sim.get(p.id, 0.0), lex_score.get(p.id, 0.0))
            for rank, p in enumerate(chosen)
        ]

    def _dense(self, vector: np.ndarray, as_of: date | None, n: int) -> list[tuple[str, float]]:
        where = {"date_int": {"$lte": date_int(as_of)}} if as_of else None
        res = self.index.collection.query(query_embeddings=[vector], n_results=n, where=where, include=["distances"])
        return [(pid, 1.0 - dist) for pid, dist in zip(res["ids"][0], res["distances"][0])]

    def _similarities(self, vector: np.ndarray, ids: list[str]) -> dict[str, float]:
        res = self.index.collection.get(ids=ids, include=["embeddings"])
        return {pid: float(np.dot(vector, emb)) for pid, emb in zip(res["ids"], res["embeddings"])}

    def _lexical(self, query: str, as_of: date | None, n: int) -> list[tuple[str, float]]:
        lex = self.index.lexical()
        scores = lex.scores(query)
        if as_of is not None:
            dates = self._passage_dates(lex.ids)
            scores = np.where(dates <= date_int(as_of), scores, 0.0)
        n = min(n, int(np.count_nonzero(scores)))
        if n <= 0:
            return []
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(lex.ids[i], float(scores[i])) for i in top]

    def _passage_dates(self, ids: list[str]) -> np.ndarray:
        gen = self.index.generation
        if self._dates is None or self._dates[0] != gen:
            self._dates = (gen, self.index.passage_dates(ids))
        return self._dates[1]
