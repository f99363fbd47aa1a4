"""The BM25 index beside Chroma: built from the manifest's passages, cached on disk per index generation."""
from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

_TOKEN = r"(?u)\b\w+\b"


def _bm25s():
    """Import bm25s, undoing its import-time `logger.setLevel(DEBUG)` so it follows the app's logging."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.NOTSET)
    return bm25s


class LexicalIndex:
    """BM25 (bm25s, English stopwords, Snowball stemming) over passage texts, aligned with `ids`."""

    def __init__(self, retriever, ids: list[str]):
        self.retriever = retriever
        self.ids = ids
        self._vocab = retriever.vocab_dict

    @staticmethod
    def tokenize(texts: Sequence[str]) -> list[list[str]]:
        import Stemmer

        return _bm25s().tokenize(
            list(texts), token_pattern=_TOKEN, stopwords="en", stemmer=Stemmer.Stemmer("english").stemWords,
            return_ids=False, show_progress=False,
        )

    @classmethod
    def build(cls, ids: list[str], texts: Sequence[str]) -> LexicalIndex:
        retriever = _bm25s().BM25()
        retriever.index(cls.tokenize(texts) if texts else [[]], show_progress=False)
        return cls(retriever, ids)

    def save(self, folder: Path) -> None:
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self.retriever.save(str(tmp), show_progress=False)
        (tmp / "ids.json").write_text(json.dumps(self.ids))
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)  # atomic: a reader sees the old folder or the whole new one

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

