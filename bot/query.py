"""Reading a question once per ask(): what it asks for, when, what it sets aside, and its embedding.

Search and the answerer both read the `Query`; nothing else parses the question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from bot.dates import FUTURE, is_past, question_window
from bot.types import Turn
from ingest.embed import Embedder
from ingest.errors import NewsbotError
from ingest.lexical import LexicalIndex
from ingest.sentences import sentence_spans
from ingest.text import repaired

MAX_QUESTION_CHARS = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 and C1 control characters
_FOLLOW_UP = re.compile(
    r"\b(he|she|it|they|him|her|them|his|hers|its|their|theirs|this|that|these|those|there|then)\b|^\s*(and"
    r"|what about|how about)\b",
    re.I,
)


def clean_question(question: str) -> str:
    q = " ".join(_CONTROL.sub(" ", repaired(question or "")).split())
    if not q:
        raise NewsbotError(
            'the question is empty: ask something, e.g. newsbot ask "When was the ambassador appointed?"'
        )
    if len(q) > MAX_QUESTION_CHARS:
        raise NewsbotError(f"the question is {len(q):,} characters long; keep it under {MAX_QUESTION_CHARS:,}")
    return q


def standalone_query(question: str, history: Sequence[Turn]) -> str:
    """A search query for a follow-up: pronouns and ellipsis borrow the previous turn's words."""
    if not history:
        return question
    if _FOLLOW_UP.search(question) or len(question.split()) <= 4:
        return f"{question} {history[-1].question}"
    return question


_QTYPE_PATTERNS = [
    (
        "when",
        re.compile(
            r"^\s*(when|what (year|month|day|date|time)|in what (year|month)|on what (day|date)|how long ago"
            r"|by when)\b",
            re.I,
        ),
    ),
    (
        "number",
        re.compile(
            r"\bhow (many|much|old|long|far|big|large|tall|high|often)\b|\bwhat (percentage|percent|number"
            r"|amount|share|age)\b",
            re.I,
        ),
    ),
    (
        "who",
        re.compile(
            r"^\s*(who|whom|whose)\b|\b(which|what) (person|man|woman|player|actor|actress|singer|rapper|star"
            r"|leader|president|minister|official|celebrity|author|artist|musician|comedian|athlete|senator|governor|judge|ceo|billionaire)\b",
            re.I,
        ),
    ),
    (
        "where",
        re.compile(
            r"^\s*where\b|\b(which|what) (country|city|state|nation|region|place|island|area|county|continent"
            r"|capital)\b|\bin which\b",
            re.I,
        ),
    ),
    # a work's title, which news text puts in quotes: "Which show …", "What is it titled?"
    (
        "title",
        re.compile(
            r"\b(which|what)\b(\s+[\w’'-]+){0,2}\s+(show|film|movie|song|book|album|series|play|novel|single|musical"
            r"|documentary|docuseries|podcast|sitcom|drama)s?\b|\btitled\b",
            re.I,
        ),
    ),
]
# "besides the thaw", "other than Iran": what follows is what the answer is not about.
_EXCLUDED = re.compile(
    r"\b(?:besides|apart from|aside from|other than|except(?: for)?)\s+(?:the\s+|a\s+|an\s+)?[\w'’-]+", re.I
)
# Evidence that only announces (FUTURE: "will be held") cannot answer a question about what already happened.
_PAST_QUESTION = re.compile(r"\b(did|was|were|won|lost|happened|ended|beat|defeated|died|killed|announced)\b", re.I)


def question_type(question: str) -> str | None:
    """What kind of answer is asked for; a question that first sets the scene ("Queen Elizabeth II died
    Thursday. When did she ascend to the throne?") is read from its last sentence first."""
    spans = list(sentence_spans(question))
    for text in [question[slice(*spans[-1])], question] if len(spans) > 1 else [question]:
        for name, pattern in _QTYPE_PATTERNS:
            if pattern.search(text):
                return name
    return None


def without_exclusions(question: str) -> str:
    """The question minus its "besides X" / "other than X" phrases, for searching and word overlap."""
    return " ".join(_EXCLUDED.sub(" ", question).split()) or question


def excluded_terms(question: str) -> frozenset[str]:
    """Index terms of what a question sets aside ("besides the thaw" -> {"thaw"}): not the answer."""
    phrases = " ".join(m.group(0).split(None, 1)[1] for m in _EXCLUDED.finditer(question))
    return frozenset(LexicalIndex.tokenize([phrases])[0]) if phrases else frozenset()


@dataclass(frozen=True)
class Query:
    """One question as search and the answerer read it, built once per ask() by `read_question`."""

    question: str  # as asked, cleaned
    text: str  # what is searched: the standalone form of a follow-up, without what the question sets aside
    as_of: date  # only articles published on or before it count
    qtype: str | None  # the kind of answer asked for (question_type)
    window: tuple[date, date] | None  # the publication dates its time words point at ("in March")
    about_past: bool  # that window lies wholly in the past: no pull towards the newest news
    past_tense: bool  # asks what already happened: evidence that only announces it is weaker
    terms: frozenset[str]  # index terms of the question's own words, without what it sets aside
    avoid: frozenset[str]  # index terms of what it sets aside ("besides the thaw" -> {"thaw"}): not the answer
    vector: np.ndarray = field(repr=False, compare=False)  # embedding of `text`


def read_question(
    question: str, *, as_of: date, embedder: Embedder, history: Sequence[Turn] = (), rewritten: str | None = None
) -> Query:
    """The Query of `question` (cleaned here) asked on `as_of`; a follow-up in `history` is searched as
    `rewritten` (an LLM's standalone rewrite) or, without one, by standalone_query's heuristic."""
    question = clean_question(question)
    text = without_exclusions(rewritten or standalone_query(question, history))
    window = question_window(text, as_of)
    return Query(
        question=question,
        text=text,
        as_of=as_of,
        qtype=question_type(question),
        window=window,
        about_past=is_past(window, as_of),
        past_tense=bool(_PAST_QUESTION.search(question)) and not FUTURE.search(question),
        terms=frozenset(LexicalIndex.tokenize([without_exclusions(question)])[0]),
        avoid=excluded_terms(question),
        vector=embedder.embed([text])[0],
    )
