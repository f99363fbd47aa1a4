"""The ingest run: load -> split -> embed -> write, incremental by content hash, with a summary."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ingest.embed import Embedder
from ingest.errors import BadArticle
from ingest.fetch import FetchLimits, is_url
from ingest.index import Index
from ingest.loaders import Loaded, iter_source_files, load_path, load_url
from ingest.split import split_article
from ingest.types import Article, Passage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SplitSettings:
    """How articles become passages and what text each passage is embedded with."""

    max_chars: int = 1000
    overlap: int = 0
    context: bool = True  # embed "title (date)" before the passage text

    @property
    def key(self) -> str:
        return f"split=balanced;chars={self.max_chars};overlap={self.overlap};context={int(self.context)}"


@dataclass
class IngestReport:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    pruned: int = 0
    recovered: int = 0
    repaired: int = 0  # passages embedded again because Chroma's vector index was unreadable
    passages: int = 0
    chars: int = 0
    seconds: float = 0.0
    model_load_seconds: float = 0.0  # one-time cost inside `seconds`, left out of the rates
    skipped: list[str] = field(default_factory=list)

    @property
    def passages_per_s(self) -> float:
        busy = self.seconds - self.model_load_seconds
        return self.passages / busy if busy > 0 else 0.0

    @property
    def chars_per_s(self) -> float:
        busy = self.seconds - self.model_load_seconds
        return self.chars / busy if busy > 0 else 0.0

    def as_dict(self) -> dict:
        d = asdict(self)
        d["passages_per_s"] = round(self.passages_per_s, 1)
        d["chars_per_s"] = round(self.chars_per_s, 1)
        d["seconds"] = round(self.seconds, 2)
        d["model_load_seconds"] = round(self.model_load_seconds, 2)
        return d

    def summary(self) -> str:
        return (
            f"articles: {self.new} new, {self.changed} changed, {self.unchanged} unchanged, "
            f"{len(self.skipped)} skipped{f', {self.pruned} pruned' if self.pruned else ''}; "
            f"{self.passages} passages in {self.seconds:.1f} s ({self.passages_per_s:.0f} passages/s)"
        )


def embedding_text(article: Article, passage: Passage, context: bool) -> str:
    """What the model sees for a passage: with context, the article's title and date lead the text."""
    if not context:
        return passage.text
    head = " ".join(x for x in (article.title, f"({article.date.isoformat()})" if article.date else None) if x)
    return f"{head}\n{passage.text}" if head else passage.text


def embed_again(
    index: Index, embedder: Embedder, split: SplitSettings, batch_passages: int = 1024, progress: bool = True
) -> int:
    """Rebuild an unreadable Chroma collection from the manifest's passages; returns how many."""
    from tqdm import tqdm

    items = index.drop_vectors()
    logger.warning("re-embedding the %d articles of the index into a fresh Chroma collection", len(items))
    rows = [(a, [p]) for a, ps in items for p in ps]
    total = len(rows)
    with tqdm(desc="repair", unit=" passages", total=total, disable=not progress, dynamic_ncols=True) as bar:
        for i in range(0, total, batch_passages):
            batch = rows[i : i + batch_passages]
            index.upsert_vectors(batch, embedder.embed([embedding_text(a, ps[0], split.context) for a, ps in batch]))
            bar.update(len(batch))
    return total


def load_sources(sources: Iterable[Path | str], limits: FetchLimits = FetchLimits()) -> Iterator[Loaded]:
    """Articles from files, folders (recursive) and http(s) URLs, in the order given."""
    for source in sources:
        if isinstance(source, str) and is_url(source):
            yield load_url(source, limits)
            continue
        for file, root in iter_source_files([Path(source)]):
            if not file.exists():
                yield BadArticle(str(file), "no such file or folder")
                continue
            yield from load_path(file, root)


def ingest(
    sources: Iterable[Loaded],
    index: Index,
    embedder: Embedder,
    *,
    split: SplitSettings = SplitSettings(),
    prune: bool = False,
    batch_passages: int = 1024,
    progress: bool = True,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
) -> IngestReport:
    """Bring the index in line with `sources`; unchanged articles cost a hash comparison only. The index's writer lock
    is held throughout: a second writer waits for it (telling `on_wait`), or with wait=False raises IndexBusy."""
    with index.writing(wait=wait, on_wait=on_wait):
        return _ingest(
            sources, index, embedder, split=split, prune=prune, batch_passages=batch_passages, progress=progress
        )


def _ingest(
    sources: Iterable[Loaded],
    index: Index,
    embedder: Embedder,
    *,
    split: SplitSettings,
    prune: bool,
    batch_passages: int,
    progress: bool,
) -> IngestReport:
    from tqdm import tqdm

    t0 = time.perf_counter()
    report = IngestReport()
    if not index.vectors_readable():
        report.repaired = embed_again(index, embedder, split, batch_passages, progress)
    try:
        report.recovered = len(index.recover())
    except Exception as e:
        if report.repaired or not type(e).__module__.startswith("chromadb"):
            raise
        logger.warning("Chroma cannot roll back an interrupted write (%s)", e)
        report.repaired = embed_again(index, embedder, split, batch_passages, progress)  # rolls it back too
    index.sync(force=True)  # with a shared Chroma server: start from what other machines wrote
    manifest = index.listing()
    seen: dict[str, str] = {}
    batch: list[tuple[Article, list[Passage]]] = []
    n_batch = 0
    unchanged: list[str] = []
    bar = tqdm(desc="ingest", unit=" passages", disable=not progress, dynamic_ncols=True, smoothing=0.1)

    def flush() -> None:
        nonlocal batch, n_batch
        if not batch:
            return
        texts = [embedding_text(a, p, split.context) for a, ps in batch for p in ps]
        vectors = embedder.embed(texts) if texts else np.zeros((0, embedder.dim), dtype=np.float32)
        index.write(batch, vectors)
        bar.update(len(texts))
        batch, n_batch = [], 0

    try:
        for item in sources:
            if isinstance(item, BadArticle):
                report.skipped.append(str(item))
                logger.warning("skipped %s", item)
                continue
            digest = item.content_hash
            if item.id in seen:
                if seen[item.id] != digest:
                    msg = f"{item.id}: duplicate id with different text; the first copy was kept"
                    report.skipped.append(msg)
                    logger.warning("skipped %s", msg)
                continue
            seen[item.id] = digest
            if item.id in manifest and manifest[item.id][0] == digest:
                report.unchanged += 1
                unchanged.append(item.id)
                continue
            if item.id in manifest:
                report.changed += 1
            else:
                report.new += 1
            passages = split_article(item, split.max_chars, split.overlap)
            batch.append((item, passages))
            n_batch += len(passages)
            report.passages += len(passages)
            report.chars += len(item.text)
            if n_batch >= batch_passages:
                flush()
        flush()
        index.touch(unchanged)
        if prune and report.skipped:
            logger.warning(
                "not pruning: %d inputs were skipped, and their articles must not be deleted", len(report.skipped)
            )
        elif prune:
            gone = sorted(set(manifest) - set(seen))
            index.delete(gone)
            report.pruned = len(gone)
    finally:
        bar.close()
        report.seconds = time.perf_counter() - t0
    if (
        report.new or report.changed or report.recovered or report.repaired
    ) and not report.pruned:  # delete() rebuilt it already
        index.rebuild_lexical()
    report.seconds = time.perf_counter() - t0
    report.model_load_seconds = round(getattr(embedder, "load_seconds", 0.0), 2)
    return report
