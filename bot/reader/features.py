"""The numbers the learned reader sees of a candidate sentence and of a question: one function each, used by
training and serving alike, so what was measured is what is served."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import date

import numpy as np

QTYPES = ("when", "number", "who", "where", "title")

# Cheap features: known before any embedding, they pick the sentences worth embedding (the prefilter).
CHEAP = (
    "overlap",
    "context",
    "type_match",
    "novel",
    "inv_rank",
    "headline",
    "fresh",
    "announced",
    "first_passage",
    "position",
    "log_words",
    "overlap_gap",
    "log_lexical",
    "stale",
    *(f"type_match_{t}" for t in QTYPES),
)
# Every feature of a compared candidate: the cheap ones, the embedding's and the cross-encoder's.
FULL = (*CHEAP, "semantic", "semantic_gap", "dense", "cross", "cross_gap")
# What says whether the question is answered at all, from its best candidates. Nothing in it changes with when the
# question is asked or with the index's size (SITUATIONAL): quiz questions always ask about their week, so evidence
# older than the question meant "no answer" in training, and the bundled one-article sample's word-match scores are
# tiny; the reader then abstained on the sample asked today (docs/reader.md, v16 and v17). How much newer news the
# index holds than the evidence ("stale") stays: that is how holdout's null questions look. So does "coverage", the
# most of the question's words one compared passage holds: a null question's evidence is mostly a related story.
# And "behind": a question about its own time ("this week", "latest") asked of news that stops well before it.
QUESTION = (
    "best",
    "margin",
    "cross",
    "semantic",
    "overlap",
    "type_match",
    "dense",
    "stale",
    "rule_confidence",
    "coverage",
    "behind",
    *(f"is_{t}" for t in QTYPES),
    "untyped",
)

_FULL_COLUMN = {name: i for i, name in enumerate(FULL)}

# A question that says it is about its own time: "this week", "last month", "latest", "recently", "on Tuesday", "new"
# (lower-case: "New York" is a name). Quiz questions mostly are, and so are users' "what's the latest on …?"
ABOUT_NOW = re.compile(
    r"(?i:\b(?:this|last|past) (?:week|weekend|month)\b|\b(?:latest|recently)\b"
    r"|\bon (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b)|\b(?:new|newly)\b"
)
# news whose newest article is this much older than such a question counts as fully behind it: every answerable
# question of dev, holdout and smoke comes at most 6 days after an article (0.1), train's "behind" null questions 180
# days (1.0); 30, 60, 90 or 180 gave the same abstentions when refitted on v28's rows (docs/reader.md, v31)
BEHIND_DAYS = 60.0
FRESH_DAYS = 30.0  # the age at which a sentence's article counts as fully old (fresh = exp(-age / FRESH_DAYS))
# evidence this much older than the newest article counts as fully stale (stale = min(1, days / STALE_DAYS))
STALE_DAYS = 90.0


def _cheap_row(c, qtype: str | None) -> list[float]:
    text = c.text
    return [
        c.overlap,
        c.context,
        c.type_match,
        c.novel,
        1.0 / c.hit.rank,
        float(c.headline is not None),
        math.exp(-c.age / FRESH_DAYS),
        c.announced,
        float(c.hit.passage.n == 0),
        min(1.0, c.start / 1000.0),
        math.log1p(len(text.split())),
        0.0,
        math.log1p(max(0.0, c.hit.lexical)),
        min(1.0, c.stale / STALE_DAYS),
        *(c.type_match * (qtype == t) for t in QTYPES),
    ]


def cheap_features(candidates: Sequence, qtype: str | None) -> np.ndarray:
    """One row of CHEAP per candidate (before any embedding)."""
    if not candidates:
        return np.zeros((0, len(CHEAP)), dtype=np.float32)
    x = np.array([_cheap_row(c, qtype) for c in candidates], dtype=np.float32)
    x[:, CHEAP.index("overlap_gap")] = x[:, 0] - x[:, 0].max()
    return x


def full_features(candidates: Sequence, qtype: str | None, cross: np.ndarray) -> np.ndarray:
    """One row of FULL per compared candidate; `cross` holds the cross-encoder's logits (zeros without one)."""
    return full_rows(
        cheap_features(candidates, qtype),
        np.array([c.semantic for c in candidates], dtype=np.float32),
        np.array([c.hit.dense for c in candidates], dtype=np.float32),
        cross,
    )


def full_rows(cheap: np.ndarray, semantic: np.ndarray, dense: np.ndarray, cross: np.ndarray) -> np.ndarray:
    """FULL rows of a compared set from its CHEAP rows, bi-encoder similarities, passages' dense scores and
    cross-encoder logits; every gap is taken within this set (as served)."""
    cheap = cheap.copy()
    gap = CHEAP.index("overlap_gap")
    cheap[:, gap] = cheap[:, 0] - cheap[:, 0].max()
    semantic, dense, cross = (np.asarray(a, dtype=np.float32) for a in (semantic, dense, cross))
    rest = np.stack([semantic, semantic - semantic.max(), dense, cross, cross - cross.max()], axis=1)
    return np.concatenate([cheap, rest], axis=1)


# FULL features that change with when the question is asked (fresh) or the index's size (BM25's idf): they may rank a
# question's candidates, but not say whether any answers
SITUATIONAL = ("fresh", "log_lexical")


def coverage(candidates: Sequence) -> float:
    """The most of the question's terms (idf-weighted share) that one of the candidates' passages holds."""
    return max((c.coverage for c in candidates), default=0.0)


def behind(question: str, as_of: date | None, newest: date | None) -> float:
    """How far the news stops before a question about its own time (ABOUT_NOW): the days from the newest article to
    the question's date, as a share of BEHIND_DAYS (at most 1). 0 for any other question, whose answer may be old
    news: the bundled sample's questions are asked years after its one article."""
    if as_of is None or newest is None or not ABOUT_NOW.search(question):
        return 0.0
    return min(1.0, max(0, (as_of - newest).days) / BEHIND_DAYS)


def question_features(
    full: np.ndarray,
    logits: np.ndarray,
    general_logits: np.ndarray,
    qtype: str | None,
    covered: float,
    lag: float,
) -> np.ndarray:
    """QUESTION for one question from its candidates' FULL rows and the combiner's logits for them: as ranked
    (`logits`, which choose the best candidate) and without the SITUATIONAL features' part (`general_logits`, which
    say how good it is); `covered` is their `coverage`, `lag` the question's `behind`."""
    order = np.argsort(-logits)
    top = full[order[0]]
    margin = float(logits[order[0]] - logits[order[1]]) if len(order) > 1 else 5.0
    col = _FULL_COLUMN
    # the confidence the hand rules computed (similarity, overlap, type, stale and future-tense evidence), as one
    # feature among others: its weights here are fitted
    sentences = full[:, col["headline"]] == 0
    rules = (
        0.45 * full[:, col["semantic"]]
        + 0.45 * full[:, col["overlap"]]
        + 0.1 * full[:, col["type_match"]]
        - 0.1 * full[:, col["announced"]]
        - 0.2 * full[:, col["stale"]]
    )
    rule_confidence = float(rules[sentences].max()) if sentences.any() else 0.0
    return np.array(
        [
            float(general_logits[order[0]]),
            min(margin, 5.0),
            float(full[:, col["cross"]].max()),
            float(full[:, col["semantic"]].max()),
            float(full[:, col["overlap"]].max()),
            top[col["type_match"]],
            top[col["dense"]],
            top[col["stale"]],
            rule_confidence,
            covered,
            lag,
            *(float(qtype == t) for t in QTYPES),
            float(qtype is None),
        ],
        dtype=np.float32,
    )
