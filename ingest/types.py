"""The data that flows through ingest: articles, the passages cut from them, and what the index holds of them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class Article:
    """One news article as loaded from a source; `id` is stable across runs."""

    id: str
    text: str
    title: str | None = None
    url: str | None = None
    date: date | None = None
    source: str | None = None

    @property
    def content_hash(self) -> str:
        """Hash of everything that ends up in the index, so a metadata fix re-indexes too."""
        h = hashlib.sha256()
        for part in (
            self.text,
            self.title or "",
            self.url or "",
            self.date.isoformat() if self.date else "",
            self.source or "",
        ):
            h.update(part.encode("utf-8", "surrogatepass"))
            h.update(b"\x00")
        return h.hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Passage:
    """A span of an article's text; `start`/`end` are character offsets into `Article.text`."""

    id: str
    article_id: str
    n: int
    text: str
    start: int
    end: int

    @staticmethod
    def make_id(article_id: str, n: int) -> str:
        return f"{article_id}#{n}"


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """An article's metadata as the index holds it (the text lives in its passages)."""

    id: str
    hash: str
    title: str | None
    url: str | None
    date: date | None
    source: str | None
    n_passages: int
    seen_at: float | None = None  # when an ingest or a feed poll last found the article at its source

    @property
    def content_hash(self) -> str:  # as Article names it
        return self.hash


@dataclass(frozen=True, slots=True)
class IndexStats:
    articles: int
    passages: int
    oldest: date | None
    newest: date | None
    last_ingest: float | None
    model: str | None
