"""Answerers turn ranked passages into an Answer; the extractive one quotes the best sentence, offline."""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import numpy as np

from ingest.embed import Embedder
from ingest.lexical import LexicalIndex
from ingest.sentences import sentence_spans
from bot.dates import MONTHS, WEEKDAYS, explain_dates
from bot.types import Answer, Citation, Hit

ABSTAIN_TEXT = "The ingested articles do not answer this question."


class Answerer(Protocol):
    """Anything that answers a question from ranked hits (extractive default, LLM option)."""

    name: str

    def answer(self, question: str, hits: Sequence[Hit], *, as_of: date | None = None) -> Answer: ...


@dataclass(frozen=True)
class Candidate:
    hit: Hit
    start: int  # offsets into the passage text
    end: int
    score: float
    overlap: float
    semantic: float

    @property
    def text(self) -> str:
        return self.hit.passage.text[self.start:self.end]


_QTYPE_PATTERNS = [
    ("when", re.compile(r"^\s*(when|what (year|month|day|date|time)|in what (year|month)|on what (day|date)|how long ago)\b", re.I)),
    ("number", re.compile(r"^\s*(how (many|much|old|long|far|big|large|tall|high|often)|what (percentage|percent|number|amount|share))\b|\bhow many\b", re.I)),
    ("who", re.compile(r"^\s*(who|whom|whose)\b|\bwhich (person|man|woman|player|actor|singer|leader|president|minister|official|celebrity|company|team)\b", re.I)),
    ("where", re.compile(r"^\s*where\b|\bwhich (country|city|state|nation|region|place|island)\b|\bin which\b", re.I)),
]
_DATE_WORDS = re.compile(
    r"\b(" + "|".join(MONTHS + WEEKDAYS) + r"|\d{4}|yesterday|today|tomorrow|decade|century|(last|next|this|following) (week|month|year))\b", re.I
)
_NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|hundred|thousand|million|billion|trillion|half|percent)\b", re.I)
_NAME = re.compile(r"\b[A-Z][a-z'’\-]+(?:\s+[A-Z][a-z'’\-]+)+\b|\b[A-Z][a-z]{2,}\b")


def question_type(question: str) -> str | None:
    for name, pattern in _QTYPE_PATTERNS:
        if pattern.search(question):
            return name
    return None


def _type_match(qtype: str | None, sentence: str, question: str) -> float:
    """1.0 when the sentence holds the kind of thing the question asks for (a date, a number, a new name)."""
    if qtype == "when":
        return 1.0 if _DATE_WORDS.search(sentence) else 0.0
    if qtype == "number":
        return 1.0 if _NUMBER.search(sentence) else 0.0
    if qtype in ("who", "where"):
        q = question.lower()
        return 1.0 if any(m.group(0).lower() not in q for m in _NAME.finditer(sentence[1:])) else 0.0
    return 0.0


@dataclass(frozen=True)
class ExtractiveSettings:
    """Weights of the sentence score and the abstention threshold (tuned on ../shared/eval/dev)."""

    semantic: float = 0.45
    overlap: float = 0.35
    type_match: float = 0.12
    rank: float = 0.08
    min_confidence: float = 0.35
    max_sentences_per_hit: int = 12


class ExtractiveAnswerer:
    """Quote the sentence that best answers the question, cite it, make its dates explicit; no LLM."""

    name = "extractive"

    def __init__(self, embedder: Embedder, settings: ExtractiveSettings = ExtractiveSettings()):
        self.embedder = embedder
        self.settings = settings

    def answer(self, question: str, hits: Sequence[Hit], *, as_of: date | None = None) -> Answer:
        candidates = self.candidates(question, hits)
        if not candidates:
            return abstain(question, hits, as_of=as_of, confidence=0.0)
        best = max(candidates, key=lambda c: c.score)
        confidence = self.confidence(best)
        if confidence < self.settings.min_confidence:
            return abstain(question, hits, as_of=as_of, confidence=confidence)
        passage = best.hit.passage
        before = passage.text[: best.start]
        shown = explain_dates(best.text, best.hit.article.date, before)
        citation = _citation(1, best.hit, best.text)
        return Answer(question=question, text=f"{shown} [1]", citations=(citation,), abstained=False, as_of=as_of, confidence=confidence)

    def candidates(self, question: str, hits: Sequence[Hit]) -> list[Candidate]:
        s = self.settings
        q_terms = set(LexicalIndex.tokenize([question])[0])
        qtype = question_type(question)
        spans: list[tuple[Hit, int, int]] = []
        for hit in hits:
            text = hit.passage.text
            for a, b in list(sentence_spans(text))[: s.max_sentences_per_hit]:
                spans.append((hit, a, b))
        if not spans:
            return []
        texts = [h.passage.text[a:b] for h, a, b in spans]
        vecs = self.embedder.embed([question, *texts])
        sims = vecs[1:] @ vecs[0]
        terms = LexicalIndex.tokenize(texts)
        out = []
        for (hit, a, b), text, sim, toks in zip(spans, texts, sims, terms):
            t = set(toks)
            overlap = len(q_terms & t) / len(q_terms) if q_terms else 0.0
            novel = 1.0 if t - q_terms else 0.0
            score = (
                s.semantic * float(sim)
                + s.overlap * overlap
                + s.type_match * _type_match(qtype, text, question)
                + s.rank / hit.rank
            ) * (0.5 + 0.5 * novel)
            out.append(Candidate(hit, a, b, score, overlap, float(sim)))
        return out

    def confidence(self, best: Candidate) -> float:
        return 0.5 * best.semantic + 0.5 * best.overlap


def _citation(n: int, hit: Hit, quote: str) -> Citation:
    a = hit.article
    return Citation(n=n, article_id=a.id, passage_id=hit.passage.id, title=a.title, url=a.url, date=a.date, source=a.source, quote=quote)


def abstain(question: str, hits: Sequence[Hit], *, as_of: date | None, confidence: float) -> Answer:
    """The plain 'not in the articles' answer; the hits stay attached as closest matches."""
    return Answer(question=question, text=ABSTAIN_TEXT, citations=(), abstained=True, as_of=as_of, confidence=confidence)


def closest_matches(answer: Answer, n: int = 3) -> list[Hit]:
    return list(answer.retrieved[:n])
