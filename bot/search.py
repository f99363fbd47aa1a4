"""Hybrid search: dense (Chroma) and lexical (BM25) rankings fused by reciprocal rank, date-aware, diverse."""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from bot.query import Query
from bot.types import Hit
from ingest.index import Index
from ingest.lexical import LexicalIndex
from ingest.types import Passage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchSettings:
    """Fusion and date weights: set by hand on ../shared/eval/dev (docs/evaluation.md); `newsbot train` refits the
    learned reader's own copy on train (`search` in models/reader/reader.json)."""

    candidates: int = 50  # taken from each ranking before fusion
    rrf_k: int = 20  # with lexical_weight 1.5: dev recall@5 0.785 -> 0.803 against the usual k=60, weights 1:1
    dense_weight: float = 1.0
    lexical_weight: float = 1.5  # BM25 alone beat dense alone on dev (recall@5 0.781 vs 0.725)
    per_article: int = 2  # passages of one story among the hits: the other slots go to other stories
    recency_weight: float = 1.0  # fused score x (1 + w * exp(-age / recency_days)) for articles before as_of
    recency_days: float = 14.0
    window_weight: float = 0.5  # fused score x (1 + w) for articles published in the window the question names
    merge_within: int = 30  # a hit's neighbouring passage that ranks this high joins it (0: never)
    set_aside_factor: float = 0.5  # fused score x this for a passage holding what the question sets aside ...
    set_aside_depth: int = 100  # ... among this many of the best (further down, demotion changes no hit)


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
        text += "\n" * (nxt.start - end) + nxt.text[max(0, end - nxt.start) :]
        end = max(end, nxt.end)
    return Passage(first.id, first.article_id, first.n, text, first.start, end)


class Searcher:
    """Searches one Index; built once and passed in. It reads the index only through its reading API."""

    def __init__(self, index: Index, settings: SearchSettings = SearchSettings()):
        self.index = index
        self.settings = settings

    def search(self, query: Query, *, k: int = 5, settings: SearchSettings | None = None) -> list[Hit]:
        """The k best passages for `query` among articles published on or before its as-of date.

        Passages with any of the index terms the question sets aside lose part of their score (set_aside).
        """
        s = settings or self.settings
        return self.rank(query, self.candidates(query, s.candidates), k=k, settings=s)

    def rank(self, query: Query, cands: Candidates, *, k: int, settings: SearchSettings | None = None) -> list[Hit]:
        """search() after the two rankings are fetched: fusion, dates, diversity, merging. `newsbot train` fits the
        settings through this same code on rankings fetched once."""
        s = settings or self.settings
        order, fused = self.fuse(cands, query, s)
        if query.avoid:
            order, fused = self.set_aside(order, fused, query.avoid, s)
        chosen, articles, copies = self.diversify(order, 4 * k if s.merge_within else k, s.per_article)
        groups = self.merge_neighbours(chosen, order[: s.merge_within], k)
        dense_sim, lex_score = dict(cands.dense), dict(cands.lexical)
        missing = [parts[0].id for parts in groups if parts[0].id not in dense_sim]
        if missing:
            dense_sim.update(self.index.similarities(query.vector, missing))
        hits = []
        for rank, parts in enumerate(groups):
            p = parts[0]  # the passage that ranked; its neighbours only came along
            ordered = tuple(sorted(parts, key=lambda x: x.n)) if len(parts) > 1 else ()
            hits.append(
                Hit(
                    merge(ordered) if ordered else p,
                    articles[p.article_id],
                    fused[p.id],
                    rank + 1,
                    dense_sim.get(p.id, 0.0),
                    lex_score.get(p.id, 0.0),
                    copies=tuple(copies.get(p.id, ())),
                    parts=ordered,
                )
            )
        return hits

    def candidates(self, query: Query, n: int) -> Candidates:
        """The n nearest passages and the n best BM25 matches published on or before the query's date."""
        return Candidates(
            self.index.nearest(query.vector, n, on_or_before=query.as_of),
            self.index.lexical_search(query.text, n, on_or_before=query.as_of),
        )

    def fuse(self, c: Candidates, query: Query, s: SearchSettings) -> tuple[list[str], dict[str, float]]:
        """Reciprocal-rank fusion of both rankings, times a recency prior and the question's time window; best first.
        A question about the past ("in 2018", "last March") gets neither: nothing pulls it towards today."""
        fused: dict[str, float] = defaultdict(float)
        for rank, (pid, _) in enumerate(c.dense):
            fused[pid] += s.dense_weight / (s.rrf_k + rank + 1)
        for rank, (pid, _) in enumerate(c.lexical):
            fused[pid] += s.lexical_weight / (s.rrf_k + rank + 1)
        if query.about_past:
            return sorted(fused, key=lambda p: -fused[p]), fused
        days = self.index.published()
        if s.recency_weight:
            now = query.as_of.toordinal()
            for pid in fused:
                if day := days.get(pid, 0):
                    fused[pid] *= 1.0 + s.recency_weight * math.exp(-max(0, now - day) / s.recency_days)
        if query.window and s.window_weight:
            lo, hi = query.window[0].toordinal(), query.window[1].toordinal()
            for pid in fused:
                if lo <= days.get(pid, 0) <= hi:
                    fused[pid] *= 1.0 + s.window_weight
        return sorted(fused, key=lambda p: -fused[p]), fused

    def set_aside(self, order: list[str], fused: dict[str, float], avoid: frozenset[str], s: SearchSettings):
        """Demote passages that hold what the question sets aside (\"besides the thaw\"): they restate the premise."""
        texts = self.index.passages(order[: s.set_aside_depth])
        terms = dict(zip(texts, LexicalIndex.tokenize([p.text for p in texts.values()])))
        fused = {
            pid: score * (s.set_aside_factor if avoid & set(terms.get(pid, ())) else 1.0)
            for pid, score in fused.items()
        }
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
