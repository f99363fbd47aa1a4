"""Check an LLM's draft against the passages it was given: only verbatim, on-topic quotes survive.

A citation is kept when its passage exists and its quote occurs in that passage (after folding
whitespace, quote marks and dashes) and is not an instruction planted in an article. Markers of
dropped citations are removed, the rest renumbered in order of appearance; a sentence whose words
are not found in the kept quotes or the question, or that gives a number found neither there nor in
the cited articles' dates, is dropped as unsupported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from bot.answer import citation_of
from bot.dates import MONTHS, WEEKDAYS
from bot.types import Citation, Hit
from ingest.lexical import LexicalIndex
from ingest.sentences import sentence_spans

MIN_QUOTE_WORDS = 3
MIN_SUPPORT = 0.5  # share of a sentence's words that the quotes and the question must contain
_FOLD = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "′": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "″": '"',
        "–": "-",
        "—": "-",
        "‐": "-",
        "\u00a0": " ",
    }
)
NOT_ANSWERED = re.compile(r"^\W*(not in the articles|the articles do not answer)", re.I)
_MARKERS = re.compile(r"\s?\[(\d+(?:\s*,\s*\d+)*)\]")
INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|prompts?|rules|guidelines)\b"
    r"|\byou are (now|no longer)\b|\bsystem prompt\b|\b(reply|respond|answer) (only )?with\b|\bas an ai\b",
    re.I | re.S,
)


@dataclass(frozen=True)
class DraftCitation:
    marker: int
    passage: int  # 1-based number of the passage in the prompt
    quote: str


@dataclass(frozen=True)
class Draft:
    """What the model said, before any check."""

    answerable: bool
    text: str
    citations: tuple[DraftCitation, ...] = ()


class MalformedOutput(ValueError):
    """The model's reply does not follow the requested format."""


@dataclass
class Verified:
    text: str
    citations: list[Citation]
    dropped: list[str] = field(default_factory=list)  # why each dropped citation or sentence went


def fold(text: str) -> tuple[str, list[int]]:
    """Text with whitespace runs collapsed and quote marks/dashes unified, and each folded char's source index."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text.translate(_FOLD)):
        if ch.isspace():
            if out and out[-1] == " ":
                continue
            ch = " "
        out.append(ch)
        where.append(i)
    return "".join(out), where


def find_quote(quote: str, passage: str) -> tuple[int, int] | None:
    """The span of `passage` that `quote` copies (modulo folding), or None."""
    q = fold(quote)[0].strip().strip('"').strip()
    if not q:
        return None
    p, where = fold(passage)
    i = p.find(q)
    if i < 0:
        i = p.lower().find(q.lower())
    if i < 0:
        return None
    return where[i], where[i + len(q) - 1] + 1


# Dates the model works out from a passage's own date ("the following month" -> "September 2022").
_TIME_WORDS = frozenset(LexicalIndex.tokenize([" ".join(MONTHS + WEEKDAYS)])[0])


def verify(draft: Draft, hits: Sequence[Hit], question: str) -> Verified:
    dropped: list[str] = []
    good: dict[int, tuple[Hit, str, int]] = {}  # the model's marker -> (hit, verbatim quote, its offset)
    for c in draft.citations:
        if not 1 <= c.passage <= len(hits):
            dropped.append(f"[{c.marker}] cites passage {c.passage}, but there are {len(hits)}")
            continue
        hit = hits[c.passage - 1]
        span = find_quote(c.quote, hit.passage.text)
        if span is None:
            dropped.append(f"[{c.marker}] quote not found in passage {c.passage}: {c.quote[:80]!r}")
            continue
        quote = hit.passage.text[span[0] : span[1]]
        if hit.stored_passage(*span) is None:
            dropped.append(f"[{c.marker}] quote runs across two passages of the article: {quote[:80]!r}")
        elif len(quote.split()) < MIN_QUOTE_WORDS:
            dropped.append(f"[{c.marker}] quote too short to check: {quote!r}")
        elif INSTRUCTION.search(quote):
            dropped.append(f"[{c.marker}] quote is an instruction planted in an article, not news: {quote[:80]!r}")
        elif c.marker not in good:
            good[c.marker] = (hit, quote, span[0])
    text, order = _renumber(draft.text, good)
    kept = {new: good[old] for old, new in order.items()}
    text = _supported(text, [(hit, q) for hit, q, _ in kept.values()], question, dropped)
    citations = [citation_of(n, hit, quote, at) for n, (hit, quote, at) in sorted(kept.items()) if f"[{n}]" in text]
    return Verified(" ".join(text.split()), citations, dropped)


def _renumber(text: str, good: dict[int, tuple[Hit, str, int]]) -> tuple[str, dict[int, int]]:
    """Drop markers of unverified citations; verified ones become [1], [2], … in order of appearance."""
    order: dict[int, int] = {}

    def sub(m: re.Match) -> str:
        out = []
        for n in (int(x) for x in m.group(1).split(",")):
            if n in good:
                order.setdefault(n, len(order) + 1)
                out.append(f"[{order[n]}]")
        return (" " + "".join(dict.fromkeys(out))) if out else ""

    text = _MARKERS.sub(sub, text)
    unmarked = [n for n in good if n not in order]
    if unmarked and not order and text.strip():  # quotes given but no markers written: cite at the end
        for n in unmarked:
            order[n] = len(order) + 1
        text = text.rstrip() + " " + "".join(f"[{order[n]}]" for n in unmarked)
    return text, order


def _date_numbers(dates) -> set[str]:
    """Year, month and day numbers of each date and the week before it ("on Wednesday" in its article)."""
    out = set()
    for d in filter(None, dates):
        for x in (d - timedelta(days=i) for i in range(8)):
            out |= {str(x.year), str(x.month), f"{x.month:02d}", str(x.day), f"{x.day:02d}"}
    return out


def _supported(text: str, kept: list[tuple[Hit, str]], question: str, dropped: list[str]) -> str:
    """The sentences of `text` the quotes support: half their words in the quotes or the question, and
    every number in the quotes, the question or the cited articles' dates."""
    if not kept:
        return ""
    known = set(LexicalIndex.tokenize([" ".join(q for _, q in kept) + " " + question])[0])
    numbers = {w for w in known if w.isdigit()} | _date_numbers(hit.article.date for hit, _ in kept)
    keep = []
    for s, e in sentence_spans(text):
        sentence = text[s:e]
        tokens = [w for w in LexicalIndex.tokenize([_MARKERS.sub("", sentence)])[0] if w not in _TIME_WORDS]
        words = [w for w in tokens if not w.isdigit()]
        if any(w.isdigit() and w not in numbers for w in tokens):
            dropped.append(f"sentence with a number the quotes do not give: {sentence[:80]!r}")
        elif words and sum(w in known for w in words) / len(words) < MIN_SUPPORT:
            dropped.append(f"unsupported sentence: {sentence[:80]!r}")
        else:
            keep.append(sentence)
    text = " ".join(keep)
    return text if _MARKERS.sub("", text).strip() else ""  # markers alone say nothing
