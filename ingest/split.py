"""Cut an article into passages of whole sentences, sized for the embedding model, with exact offsets."""
from __future__ import annotations

import re

from ingest.sentences import sentence_spans
from ingest.types import Article, Passage

_SPACE = re.compile(r"\s+")


def split_article(article: Article, max_chars: int = 600, overlap: int = 0) -> list[Passage]:
    """Group consecutive sentences into passages of at most `max_chars` characters.

    A sentence longer than `max_chars` is cut at whitespace. `overlap` repeats that many trailing
    sentences of a passage at the start of the next, so a fact split across a boundary is still whole
    somewhere. `text[start:end] == passage.text` always holds.
    """
    text = article.text
    units = [piece for a, b in sentence_spans(text) for piece in _cut_long(text, a, b, max_chars)]
    passages: list[Passage] = []
    i = 0
    while i < len(units):
        j = i + 1
        while j < len(units) and units[j][1] - units[i][0] <= max_chars:
            j += 1
        start, end = units[i][0], units[j - 1][1]
        n = len(passages)
        passages.append(Passage(Passage.make_id(article.id, n), article.id, n, text[start:end], start, end))
        i = max(j - overlap, i + 1) if j < len(units) else j
    return passages


def _cut_long(text: str, a: int, b: int, max_chars: int) -> list[tuple[int, int]]:
    """Split the span [a, b) at whitespace into pieces of at most max_chars (hard cut if no space)."""
    pieces = []
    while b - a > max_chars:
        cut = a + max_chars
        space = text.rfind(" ", a + max_chars // 2, cut)
        cut = space if space > a else cut
        pieces.append((a, cut))
        a = cut
        while a < b and text[a].isspace():
            a += 1
    if a < b:
        pieces.append((a, b))
    return pieces
