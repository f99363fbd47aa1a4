"""The BM25 index beside Chroma: built from the manifest's passages, cached on disk per index generation."""
from __future__ import annotations

import functools
import json
import logging
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

_TOKEN = r"(?u)\b\w+\b"
TOKENIZER = "lemma+snowball-1"  # stored beside a saved index: another tokenizer means a rebuild


@functools.lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@functools.lru_cache(maxsize=1_000_000)
def _lemma(word: str) -> str:
    import simplemma

    return simplemma.lemmatize(word, lang="en")


def normalize(words: list[str]) -> list[str]:
    """Lemmatise, then stem: "withdrew" meets "withdraw", "met" meets "meeting", "children" "child"."""
    return _stemmer().stemWords([_lemma(w) for w in words])


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
        return _bm25s().tokenize(list(texts), token_pattern=_TOKEN, stopwords="en", stemmer=normalize,
                                 return_ids=False, show_progress=False)

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

