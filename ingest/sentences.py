"""Sentence boundaries with character offsets, tuned for English news text (no model, no downloads)."""

from __future__ import annotations

import re
from collections.abc import Iterator

# Words that end in a period without ending a sentence ("Mr. Gantz", "Jan. 6", "U.S. troops").
# fmt: off
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "ft", "gen", "gov", "sen", "rep", "lt", "col",
    "sgt", "capt", "cmdr", "adm", "maj", "rev", "pres", "supt", "det", "insp", "hon", "messrs",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "mon", "tue", "tues", "wed", "thu", "thurs", "fri", "sat", "sun",
    "no", "nos", "vs", "etc", "inc", "corp", "co", "ltd", "llc", "dept", "univ", "approx", "est", "fig", "vol",
    "al", "ave", "blvd", "rd", "e.g", "i.e", "a.m", "p.m", "u.s", "u.k", "u.n", "e.u", "d.c", "n.y", "l.a",
}
# fmt: on
# A candidate boundary: terminal punctuation, optional closing quotes/brackets, then whitespace. It starts only where
# a run of punctuation starts and never backtracks into it (possessive quantifiers), so a run of 60,000 dots is read
# once, not once per dot: time stays linear in the text.
_BOUNDARY = re.compile(r"(?<![.!?…])[.!?…]++[\"'”’)\]]*+(?=\s)")
_PARAGRAPH = re.compile(r"\n\s*\n|\n")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)\.$")


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the '.' at `dot` ends an abbreviation or an initial rather than a sentence."""
    m = _WORD_BEFORE.search(text, max(0, dot - 12), dot + 1)
    if not m:
        return False
    word = m.group(1).lower()
    return word in _ABBREVIATIONS or len(word) == 1 or ("." in word and len(word) <= 5)


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """Yield (start, end) of each sentence in text[start:end], whitespace trimmed, in order."""
    end = len(text) if end is None else end
    for p_start, p_end in _paragraph_spans(text, start, end):
        s = p_start
        for m in _BOUNDARY.finditer(text, p_start, p_end):
            stop = m.end()
            nxt = _next_non_space(text, stop, p_end)
            if nxt >= p_end:
                break
            if text[m.start()] == "." and m.end() - m.start() == 1 and _is_abbreviation(text, m.start()):
                continue
            if text[nxt].islower():
                continue  # "e.g. the" or a quote ending mid-sentence
            if text[nxt] in "-–—":
                continue  # a dateline's "NASHVILLE, Tenn. – Loretta …", an aside "– Trevor Lawrence? –", "— Dan Reiner"
            yield s, stop
            s = nxt
        if s < p_end:
            yield s, p_end


def _paragraph_spans(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    pos = start
    for m in _PARAGRAPH.finditer(text, start, end):
        yield from _trimmed(text, pos, m.start())
        pos = m.end()
    yield from _trimmed(text, pos, end)


def _trimmed(text: str, a: int, b: int) -> Iterator[tuple[int, int]]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    if a < b:
        yield a, b


def _next_non_space(text: str, i: int, end: int) -> int:
    while i < end and text[i].isspace():
        i += 1
    return i


def split_sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]
