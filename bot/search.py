"""Hybrid search: dense (Chroma) and lexical (BM25) rankings fused by reciprocal rank, date-aware, diverse."""
from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from ingest.embed import Embedder
from ingest.index import Index, date_int
from ingest.lexical import LexicalIndex
from ingest.types import Passage
from bot.dates import is_past, question_window
from bot.types import Hit

logger = logging.getLogger(__name__)

DENSE_OVERFETCH = 4


@dataclass(frozen=True)
class SearchSettings:
    """Fusion and date weights (tuned on ../shared/eval/dev with benchmarks/tune_retrieval.py)."""

    candidates: int = 50  # taken from each ranking before fusion
    rrf_k: int = 20
    dense_weight: float = 1.0
    lexical_weight: float = 1.5
    per_article: int = 2
    recency_weight: float = 1.0  # fused score x (1 + w * exp(-age / recency_days)) for articles before as_of
    recency_days: float = 14.0
    window_weight: float = 0.5  # fused score x (1 + w) for articles published in the window the question names
    merge_within: int = 30  # a hit's neighbouring passage that ranks this high joins it (0: never)


@dataclass(frozen=True)
class Candidates:
    """The two rankings of one query, before fusion: (passage id, similarity or BM25 score)."""

    dense: list[tuple[str, float]]
    lexical: list[tuple[str, float]]


def merge(parts: Sequence[Passage]) -> Passage:
    """One passage spanning consecutive passages of an article; the whitespace between them becomes
    newlines, so offsets stay offsets into the article and no sentence runs across two parts."""
    parts = sorted(parts, key=lambda p: p.n)
    first = parts[0]
    text, end = first.text, first.end
    for nxt in parts[1:]:  # passages may overlap (SplitSettings.overlap): add only what is new
        text += "\n" * (nxt.start - end) + nxt.text[max(0, end - nxt.start):]
        end = max(end, nxt.end)
    return Passage(first.id, first.article_id, first.n, text, first.start, end)


def _ordinal(d: int) -> int:
    return date(d // 10000, d // 100 % 100, d % 100).toordinal() if d else 0


class Searcher:
    """Searches one Index with one embedder; both are built once and passed in."""

    def __init__(self, index: Index, embedder: Embedder, settings: SearchSettings = SearchSettings()):
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self._dates: tuple[object, np.ndarray, dict[str, int]] | None = None

    def search(self, query: str, *, k: int = 5, as_of: date | None = None, settings: SearchSettings | None = None,
               avoid: frozenset[str] = frozenset()) -> list[Hit]:
        """The k best passages for `query` among articles published on or before `as_of`.

        Passages with any of the index terms in `avoid` (what the question set aside) lose half their score.
        """
        s = settings or self.settings
        vector = self.embedder.embed([query])[0]
        return self.rank(query, vector, self.candidates(query, vector, as_of, s.candidates), k=k, as_of=as_of, settings=s,
                         avoid=avoid)

    def rank(self, query: str, vector: np.ndarray, cands: Candidates, *, k: int, as_of: date | None,
             settings: SearchSettings | None = None, avoid: frozenset[str] = frozenset()) -> list[Hit]:
        """search() after the two rankings are fetched: fusion, dates, diversity, merging. `newsbot train` fits the
        settings through this same code on rankings fetched once."""
        s = settings or self.settings
        order, fused = self.fuse(cands, as_of, s, question_window(query, as_of) if as_of else None)
        if avoid:
            order, fused = self.set_aside(order, fused, avoid)
        chosen, articles, copies = self.diversify(order, 4 * k if s.merge_within else k, s.per_article)
        groups = self.merge_neighbours(chosen, order[: s.merge_within], k)
        dense_sim, lex_score = dict(cands.dense), dict(cands.lexical)
        missing = [parts[0].id for parts in groups if parts[0].id not in dense_sim]
        if missing:
            dense_sim.update(self._similarities(vector, missing))
        hits = []
        for rank, parts in enumerate(groups):
            p = parts[0]  # the passage that ranked; its neighbours only came along
            ordered = tuple(sorted(parts, key=lambda x: x.n)) if len(parts) > 1 else ()
            hits.append(Hit(merge(ordered) if ordered else p, articles[p.article_id], fused[p.id], rank + 1,
                            dense_sim.get(p.id, 0.0), lex_score.get(p.id, 0.0), copies=tuple(copies.get(p.id, ())),
                            parts=ordered))
        return hits

    def candidates(self, query: str, vector: np.ndarray, as_of: date | None, n: int) -> Candidates:
        return Candidates(self._dense(vector, as_of, n), self._lexical(query, as_of, n))

    def fuse(self, c: Candidates, as_of: date | None, s: SearchSettings,
             window: tuple[date, date] | None = None) -> tuple[list[str], dict[str, float]]:
        """Reciprocal-rank fusion of both rankings, times a recency prior and the question's time window; best first."""
        fused: dict[str, float] = defaultdict(float)
        for rank, (pid, _) in enumerate(c.dense):
            fused[pid] += s.dense_weight / (s.rrf_k + rank + 1)
        for rank, (pid, _) in enumerate(c.lexical):
            fused[pid] += s.lexical_weight / (s.rrf_k + rank + 1)
        about_the_past = is_past(window, as_of)
        if s.recency_weight and as_of is not None and not about_the_past:  # "in 2018": no pull towards today
            dates = self._date_lookup()
            now = as_of.toordinal()
            for pid in fused:
                d = dates.get(pid, 0)
                if d:
                    age = max(0, now - _ordinal(d))
                    fused[pid] *= 1.0 + s.recency_weight * math.exp(-age / s.recency_days)
        if window and s.window_weight and not about_the_past:  # a past month or year: no pull towards either
            dates = self._date_lookup()
            lo, hi = date_int(window[0]), date_int(window[1])
            for pid in fused:
                if lo <= dates.get(pid, 0) <= hi:
                    fused[pid] *= 1.0 + s.window_weight
        return sorted(fused, key=lambda p: -fused[p]), fused

    def set_aside(self, order: list[str], fused: dict[str, float], avoid: frozenset[str]):
        texts = self.index.passages(order[:100])
        terms = dict(zip(texts, LexicalIndex.tokenize([p.text for p in texts.values()])))
        fused = {pid: score * (0.5 if avoid & set(terms.get(pid, ())) else 1.0) for pid, score in fused.items()}
        return sorted(fused, key=lambda p: -fused[p]), fused

    def diversify(self, order: list[str], k: int, per_article: int):
        """The first k passages of `order`, at most `per_article` from any one story.

        Syndicated copies (the same text under several ids, e.g. one wire story on many sites) are
        one story: the best-ranked copy is kept, the others come back as its `copies` to mention.
        Returns (passages, their articles by id, passage id -> copies).
        """
        passages = self.index.passages(order[: max(6 * k, 60)])
        articles = self.index.articles({p.article_id for p in passages.values()})
        per: dict[str, int] = defaultdict(int)
        shown: dict[tuple[str, int], str] = {}  # (article text hash, passage number) -> chosen passage id
        copies: dict[str, list] = defaultdict(list)
        chosen = []
        for pid in order:
            p = passages.get(pid)
            if p is None:
                continue
            story = articles[p.article_id].hash
            first = shown.get((story, p.n))
            if first is not None:
                if all(c.id != p.article_id for c in copies[first]):
                    copies[first].append(articles[p.article_id])
                continue
            if per[story] >= per_article or len(chosen) == k:
                continue
            per[story] += 1
            shown[(story, p.n)] = pid
            chosen.append(p)
        return chosen, articles, copies

    def merge_neighbours(self, chosen: list[Passage], near: list[str], k: int) -> list[list[Passage]]:
        """The first k hits of `chosen`, each with the passages just before and after it in its article
        when those rank among `near` too: a story told across two passages comes back whole, and
        the slot its second half would have taken goes to another story."""
        near_ids = set(near)
        wanted = {Passage.make_id(p.article_id, p.n + d) for p in chosen for d in (-1, 1)} & near_ids
        found = {p.id: p for p in chosen} | self.index.passages(sorted(wanted - {p.id for p in chosen}))
        used: set[str] = set()
        groups = []
        for p in chosen:
            if p.id in used:
                continue
            used.add(p.id)
            group = [p]
            for d in (-1, 1):
                nid = Passage.make_id(p.article_id, p.n + d)
                if nid in near_ids and nid not in used and nid in found:
                    used.add(nid)
                    group.append(found[nid])
            groups.append(group)
            if len(groups) == k:
                break
        return groups

    def _dense(self, vector: np.ndarray, as_of: date | None, n: int) -> list[tuple[str, float]]:
        """Nearest passages published on or before `as_of`.

        Chroma's filtered HNSW query is ~30x slower than a plain one, so ask for a few times more
        neighbours unfiltered and filter here; only when too few survive (an as-of date far back in
        the corpus) fall back to Chroma's `where` filter.
        """
        col = self.index.collection
        if as_of is None:
            res = col.query(query_embeddings=[vector], n_results=n, include=["distances"])
            return [(pid, 1.0 - dist) for pid, dist in zip(res["ids"][0], res["distances"][0])]
        limit, dates = date_int(as_of), self._date_lookup()
        res = col.query(query_embeddings=[vector], n_results=n * DENSE_OVERFETCH, include=["distances"])
        kept = [(pid, 1.0 - dist) for pid, dist in zip(res["ids"][0], res["distances"][0]) if dates.get(pid, 0) <= limit]
        if len(kept) >= n or len(res["ids"][0]) < n * DENSE_OVERFETCH:
            return kept[:n]
        res = col.query(query_embeddings=[vector], n_results=n, where={"date_int": {"$lte": limit}}, include=["distances"])
        return [(pid, 1.0 - dist) for pid, dist in zip(res["ids"][0], res["distances"][0])]

    def _similarities(self, vector: np.ndarray, ids: list[str]) -> dict[str, float]:
        res = self.index.collection.get(ids=ids, include=["embeddings"])
        return {pid: float(np.dot(vector, emb)) for pid, emb in zip(res["ids"], res["embeddings"])}

    def _lexical(self, query: str, as_of: date | None, n: int) -> list[tuple[str, float]]:
        lex = self.index.lexical()
        scores = lex.scores(query)
        if as_of is not None:
            scores = np.where(self._dates_of(lex)[1] <= date_int(as_of), scores, 0.0)
        n = min(n, int(np.count_nonzero(scores)))
        if n <= 0:
            return []
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(lex.ids[i], float(scores[i])) for i in top]

    def _dates_of(self, lex) -> tuple[object, np.ndarray, dict[str, int]]:
        """date_int of every passage of `lex`, aligned with its ids (array) and by id (dict), cached per index."""
        cached = self._dates
        if cached is None or cached[0] is not lex:
            arr = self.index.passage_dates(lex.ids)
            cached = self._dates = (lex, arr, dict(zip(lex.ids, arr.tolist())))
        return cached

    def _date_lookup(self) -> dict[str, int]:
        return self._dates_of(self.index.lexical())[2]
