"""The data that flows on the reader side: search hits, citations, answers and conversation turns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date

from ingest.types import Passage, StoredArticle


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result with its article's metadata at hand; `score` is the fused score."""

    passage: Passage
    article: StoredArticle
    score: float
    rank: int
    dense: float = 0.0  # cosine similarity of query and passage
    lexical: float = 0.0  # BM25 score
    copies: tuple[StoredArticle, ...] = ()  # the same text published elsewhere (syndication)
    parts: tuple[Passage, ...] = ()  # the stored passages `passage` joins, when neighbours were merged

    def stored_passage(self, start: int, end: int) -> Passage | None:
        """The stored passage that holds characters start:end of this hit's text (None: they run across two)."""
        if not self.parts:
            return self.passage
        base = self.passage.start
        return next((p for p in self.parts if p.start - base <= start and end <= p.end - base), None)


@dataclass(frozen=True, slots=True)
class Citation:
    """A numbered source of an answer; `quote` is a verbatim span of the passage."""

    n: int
    article_id: str
    passage_id: str
    title: str | None
    url: str | None
    date: date | None
    source: str | None
    quote: str
    seen: date | None = None  # when the article was last found at its source (ingest or feed poll)
    also: tuple[str, ...] = ()  # other outlets that published the same text, "outlet <url>"

    def as_dict(self) -> dict:
        d = asdict(self)
        d["date"] = self.date.isoformat() if self.date else None
        d["seen"] = self.seen.isoformat() if self.seen else None
        d["also"] = list(self.also)
        return d


@dataclass(frozen=True)
class Answer:
    """What every front end renders: text with [n] markers, its citations, and what was searched."""

    question: str
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    retrieved: tuple[Hit, ...] = ()
    as_of: date | None = None
    confidence: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    answerer: str = "extractive"  # which answerer wrote `text`
    note: str | None = None  # e.g. why the LLM's answer was replaced by the extractive one
    short: str | None = None  # the phrase that answers ("September 2022"), where the answer sentence has exactly one

    @property
    def latency_ms(self) -> float:
        return round(sum(self.timings.values()), 1)

    def as_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "short_answer": self.short,
            "abstained": self.abstained,
            "answerer": self.answerer,
            "note": self.note,
            "confidence": round(self.confidence, 4),
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "citations": [c.as_dict() for c in self.citations],
            "retrieved": [
                {
                    "passage_id": h.passage.id,
                    "article_id": h.article.id,
                    "score": round(h.score, 5),
                    **({"merged": [p.id for p in h.parts]} if h.parts else {}),
                }
                for h in self.retrieved
            ],
            "timings": {k: round(v, 1) for k, v in self.timings.items()},
            "latency_ms": self.latency_ms,
        }


@dataclass(frozen=True)
class Turn:
    """One exchange of a conversation, kept so a follow-up can be understood."""

    question: str
    answer: str = ""
