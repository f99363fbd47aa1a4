"""Cut an article into passages of whole sentences, sized for the embedding model, with exact offsets."""

from __future__ import annotations

from ingest.sentences import sentence_spans
from ingest.types import Article, Passage


def split_article(article: Article, max_chars: int = 1000, overlap: int = 0) -> list[Passage]:
    """Group consecutive sentences into passages of at most `max_chars` characters.

    A sentence longer than `max_chars` is cut at whitespace. `overlap` repeats that many trailing
    sentences of a passage at the start of the next, so a fact split across a boundary is still whole
    somewhere. `text[start:end] == passage.text` always holds.
    """
    text = article.text
    units = [piece for a, b in sentence_spans(text) for piece in _cut_long(text, a, b, max_chars)]
    groups: list[tuple[int, int]] = []  # [i, j) ranges of units
    i = 0
    while i < len(units):
        j = i + 1
        while j < len(units) and units[j][1] - units[i][0] <= max_chars:
            j += 1
        groups.append((i, j))
        i = max(j - overlap, i + 1) if j < len(units) else j
    if overlap == 0 and len(groups) >= 2:
        groups[-2:] = _balance(units, groups[-2][0], groups[-1][1], max_chars)
    passages = []
    for n, (i, j) in enumerate(groups):
        start, end = units[i][0], units[j - 1][1]
        passages.append(Passage(Passage.make_id(article.id, n), article.id, n, text[start:end], start, end))
    return passages


def _balance(units: list[tuple[int, int]], i: int, j: int, max_chars: int) -> list[tuple[int, int]]:
    """Split units[i:j] into two passages as equal as possible.

    Greedy filling leaves a runt last passage (one short sentence) that wins BM25 on word density
    alone; moving the cut evens the last two out.
    """
    best, best_k = None, None
    for k in range(i + 1, j):
        a, b = units[k - 1][1] - units[i][0], units[j - 1][1] - units[k][0]
        if a <= max_chars and b <= max_chars and (best is None or max(a, b) < best):
            best, best_k = max(a, b), k
    return [(i, best_k), (best_k, j)] if best_k is not None else [(i, j)]


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
