"""The BM25 index beside Chroma: built from the manifest's passages, cached on disk per index generation."""

from __future__ import annotations

import functools
import json
import logging
import re
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ingest.manifest import Manifest

logger = logging.getLogger(__name__)

_TOKEN = r"(?u)\b\w+\b"
_SPLIT = re.compile(_TOKEN).findall
TOKENIZER = "lemma+snowball-1"  # stored beside a saved index: another tokenizer means a rebuild


@functools.lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@functools.lru_cache(maxsize=1_000_000)
def term(word: str) -> str:
    """Lemmatise, then stem: "withdrew" meets "withdraw", "met" meets "meeting", "children" "child"."""
    import simplemma

    return _stemmer().stemWord(simplemma.lemmatize(word, lang="en"))


@functools.cache
def _stopwords() -> frozenset[str]:
    """bm25s's English stopwords (what `stopwords="en"` selects there)."""
    _bm25s()  # imported through it, so that its logger is set right
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


@functools.cache
def _bm25s():
    """Import bm25s, undoing its import-time `logger.setLevel(DEBUG)` so it follows the app's logging.

    Once: `setLevel` clears the level cache of every logger in the process (transformers and chromadb
    register hundreds), which cost 0.4 ms per call, ~3 ms of each answer that tokenizes six times."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.NOTSET)
    return bm25s


class LexicalIndex:
    """BM25 (bm25s, English stopwords, simplemma lemmas + Snowball stems) over passage texts, aligned with `ids`."""

    def __init__(self, retriever, ids: list[str]):
        self.retriever = retriever
        self.ids = ids
        self._vocab = retriever.vocab_dict

    @staticmethod
    def tokenize(texts: Sequence[str]) -> list[list[str]]:
        """Each text's terms: lower-cased words (`_TOKEN`) but English stopwords, each lemmatised and stemmed (`term`).
        Token for token what `bm25s.tokenize(texts, token_pattern=_TOKEN, stopwords="en", stemmer=…, return_ids=False)`
        gave, in a fraction of the time: bm25s builds a vocabulary and three progress bars per call, and an answer
        tokenizes its question and every candidate sentence (8 ms of a learned ask on dev)."""
        stop, split = _stopwords(), _SPLIT
        return [[term(w) for w in split(text.lower()) if w not in stop] for text in texts]

    @classmethod
    def build(cls, ids: list[str], texts: Sequence[str]) -> LexicalIndex:
        retriever = _bm25s().BM25()
        retriever.index(cls.tokenize(texts) if texts else [[]], show_progress=False)
        return cls(retriever, ids)

    def save(self, folder: Path, stamp: dict | None = None) -> None:
        """Write to a fresh folder, then swap it in; `stamp` goes to generation.json inside it."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", suffix=".tmp", dir=folder.parent))  # one per writer
        self.retriever.save(str(tmp), show_progress=False)
        (tmp / "ids.json").write_text(json.dumps(self.ids))
        if stamp is not None:
            (tmp / "generation.json").write_text(json.dumps(stamp))
        old = folder.with_name(f"{folder.name}.old-{tmp.name}")
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)  # a reader sees the old folder or the whole new one
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        retriever = _bm25s().BM25.load(str(folder), show_progress=False, mmap=False)
        return cls(retriever, json.loads((folder / "ids.json").read_text()))

    def idf(self, tokens: Sequence[str]) -> dict[str, float]:
        """BM25 inverse document frequency of each token; unseen tokens get the highest value."""
        indptr = self.retriever.scores["indptr"]
        n = max(1, len(self.ids))
        out = {}
        for t in tokens:
            i = self._vocab.get(t)
            df = int(indptr[i + 1] - indptr[i]) if i is not None else 0
            out[t] = float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
        return out

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage (aligned with `ids`); zeros when no query word is indexed."""
        tokens = [t for t in self.tokenize([query])[0] if t in self._vocab]
        if not tokens or not self.ids:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self.retriever.get_scores(tokens), dtype=np.float32)


class LexicalStore:
    """The BM25 index of a manifest's current generation: cached in memory, saved under `folder`, rebuilt when stale.

    Writers (ingest, delete, sync) rebuild it when they finish. Until then askers keep the previous one,
    which lacks only the newest passages for a few seconds; an asker rebuilds only when it has none at
    all (the first question after start-up with a stale or missing file).
    """

    def __init__(self, folder: Path, manifest: Manifest):
        self.folder = folder
        self.manifest = manifest
        self._cached: tuple[int, LexicalIndex] | None = None
        self._lock = threading.Lock()  # one rebuild at a time; concurrent askers wait for it

    def current(self) -> LexicalIndex:
        gen = self.manifest.generation
        cached = self._cached
        if cached and cached[0] == gen:
            return cached[1]
        if not self._lock.acquire(blocking=cached is None):
            return cached[1]  # a writer is rebuilding it right now
        try:
            if self._cached and self._cached[0] == gen:
                return self._cached[1]
            lex = self._load_saved(gen)
            if lex is None and self._cached:
                return self._cached[1]
            if lex is None:
                return self._build(gen)
            self._cached = (gen, lex)
            return lex
        finally:
            self._lock.release()

    def rebuild(self) -> LexicalIndex:
        """Rebuild for the current generation (writers call this when they finish)."""
        with self._lock:
            return self._build(self.manifest.generation)

    def _load_saved(self, gen: int) -> LexicalIndex | None:
        try:
            saved = json.loads((self.folder / "generation.json").read_text())
            if saved["generation"] == gen and saved.get("tokenizer") == TOKENIZER:
                return LexicalIndex.load(self.folder)
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError) as e:
            logger.warning("lexical index unreadable (%s); rebuilding", e)
        return None

    def _build(self, gen: int) -> LexicalIndex:
        """Build, save and cache BM25 over the manifest's passages; the caller holds `_lock`."""
        lex = LexicalIndex.build(*self.manifest.passage_texts())
        lex.save(self.folder, {"generation": gen, "tokenizer": TOKENIZER})
        self._cached = (gen, lex)
        return lex
