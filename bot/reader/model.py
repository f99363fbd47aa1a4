"""The learned reader: which sentences to compare, which one answers, and whether any does, from models/reader/.

Three small linear models over the features of `bot.reader.features` (a prefilter over the cheap ones, a combiner
over all of them, and an abstention model over the question's best candidates) and an optional cross-encoder
fine-tuned from the packaged MiniLM. `newsbot train` writes them; every file is checked against its SHA-256.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from bot.reader import MODEL_DIR
from bot.reader.features import (
    CHEAP,
    FULL,
    QUESTION,
    SITUATIONAL,
    behind,
    cheap_features,
    coverage,
    full_features,
    question_features,
)
from ingest.errors import NewsbotError

logger = logging.getLogger(__name__)

CONFIG = "reader.json"
MANIFEST = "manifest.json"
T = TypeVar("T")


def lag_of(asked) -> float:
    """`behind` for the answerer's Asked: its question, the date it is asked as of, the newest article by then."""
    return behind(asked.question, asked.query.as_of, asked.newest)


class ReaderError(NewsbotError):
    """The reader's files are missing, damaged or of another version."""


@dataclass(frozen=True)
class Linear:
    """w · (x - mean) / scale + bias over named features."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float = 0.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.weights + self.bias

    def without(self, names: Sequence[str]) -> Linear:
        """The same model with these features' weights at 0: their part of the score left out."""
        return dataclasses.replace(
            self, weights=np.where(np.isin(self.names, names), 0, self.weights).astype(np.float32)
        )

    @classmethod
    def zeros(cls, names: Sequence[str]) -> Linear:
        """A model that scores everything 0 (a part not fitted yet)."""
        n = len(names)
        return cls(tuple(names), np.zeros(n, np.float32), np.ones(n, np.float32), np.zeros(n, np.float32))

    def as_dict(self) -> dict:
        return {
            "names": list(self.names),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "weights": self.weights.tolist(),
            "bias": self.bias,
        }

    @classmethod
    def from_dict(cls, d: dict, expected: Sequence[str]) -> Linear:
        if tuple(d["names"]) != tuple(expected):
            raise ReaderError(
                f"the reader's features {d['names']} are not this code's {list(expected)}: retrain with `newsbot train`"
            )
        return cls(
            tuple(d["names"]),
            np.array(d["mean"], np.float32),
            np.array(d["scale"], np.float32),
            np.array(d["weights"], np.float32),
            float(d["bias"]),
        )


@dataclass(frozen=True)
class Ranked:
    """The reader's verdict on one question's compared candidates."""

    candidates: list  # best first
    answered: float  # probability that the best candidate answers the question
    threshold: float  # below it, abstain

    @property
    def abstain(self) -> bool:
        return self.answered < self.threshold


class Reader:
    """Serves what `newsbot train` fitted. `cross` scores (question, texts) pairs, or is None (its feature is 0)."""

    def __init__(
        self,
        prefilter: Linear,
        combiner: Linear,
        abstainer: Linear,
        threshold: float,
        *,
        shortlist: int = 12,
        cross=None,
        search=None,
    ):
        self.prefilter = prefilter
        self.combiner = combiner
        self.abstainer = abstainer
        self.threshold = threshold
        self.shortlist_size = shortlist
        self.cross = cross
        self.search = search  # the SearchSettings fitted with it (None: the hand-set defaults)

    def shortlist(self, candidates: Sequence, qtype: str | None) -> list:
        """The `shortlist` candidates the prefilter ranks first: the ones worth embedding and cross-encoding."""
        if not candidates:
            return []
        return [candidates[i] for i in self.shortlist_order(cheap_features(candidates, qtype))]

    def shortlist_order(self, cheap: np.ndarray, n: int | None = None) -> np.ndarray:
        """Indices of the `n` (default: the shortlist's size) candidates of these CHEAP rows the prefilter ranks
        first."""
        return np.argsort(-self.prefilter(cheap), kind="stable")[: self.shortlist_size if n is None else n]

    def cross_scores(self, question: str, candidates: Sequence) -> np.ndarray:
        if self.cross is None or not candidates:
            return np.zeros(len(candidates), dtype=np.float32)
        return self.cross.score(question, [c.text for c in candidates])

    def cross_scores_beside(self, question: str, candidates: Sequence, work: Callable[[], T]) -> tuple[np.ndarray, T]:
        """`cross_scores(question, candidates)` and `work()`, side by side where there is a cross-encoder."""
        if self.cross is None:
            return self.cross_scores(question, candidates), work()
        return self.cross.score_beside(question, [c.text for c in candidates], work)

    def rank(self, asked, candidates: Sequence, cross: np.ndarray) -> Ranked:
        """Order compared candidates (their `semantic` set) by the combiner; say how likely the best one answers.
        `asked` is the answerer's Asked (the question and its type); `cross` the candidates' cross_scores."""
        x = full_features(candidates, asked.qtype, cross)
        logits, answered = self.judge(x, asked.qtype, coverage(candidates), lag_of(asked))
        order = np.argsort(-logits, kind="stable")
        return Ranked([candidates[i] for i in order], answered, self.threshold)

    def judge(self, full: np.ndarray, qtype: str | None, covered: float, lag: float) -> tuple[np.ndarray, float]:
        """The combiner's logit for each compared candidate (FULL rows) and the probability that the best answers;
        `covered` is the candidates' `coverage`, `lag` the question's `behind` (lag_of)."""
        logits = self.combiner(full)
        q = self.question(full, logits, qtype, covered, lag)
        return logits, 1.0 / (1.0 + math.exp(-float(self.abstainer(q))))

    def question(
        self, full: np.ndarray, logits: np.ndarray, qtype: str | None, covered: float, lag: float
    ) -> np.ndarray:
        """The abstainer's QUESTION row for compared candidates' FULL rows, the combiner's `logits` for them, their
        `coverage` and the question's `behind`."""
        return question_features(full, logits, self.combiner.without(SITUATIONAL)(full), qtype, covered, lag)

    def config(self) -> dict:
        return {
            "version": 1,
            "shortlist": self.shortlist_size,
            "threshold": self.threshold,
            "prefilter": self.prefilter.as_dict(),
            "combiner": self.combiner.as_dict(),
            "abstainer": self.abstainer.as_dict(),
            "cross": None if self.cross is None else self.cross.config(),
            "search": None if self.search is None else dataclasses.asdict(self.search),
        }

    def save(self, folder: Path, card: str | None = None) -> None:
        """Write reader.json (and the cross-encoder's files), the model card, and the SHA-256 manifest of them all."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / CONFIG).write_text(json.dumps(self.config(), indent=1) + "\n")
        if self.cross is not None:
            self.cross.save(folder / "cross")
        if card is not None:
            (folder / "README.md").write_text(card)
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in (MANIFEST, "README.md"))
        manifest = {str(p.relative_to(folder)): sha256(p) for p in files}
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")

    @classmethod
    def load(cls, folder: Path = MODEL_DIR, *, threads: int | None = None) -> Reader:
        """The reader in `folder`, every file checked against the manifest first."""
        verify(folder)
        cfg = json.loads((folder / CONFIG).read_text())
        if cfg.get("version") != 1:
            raise ReaderError(
                f"{folder / CONFIG} is of version {cfg.get('version')}, this code reads 1: retrain with `newsbot train`"
            )
        cross = None
        if cfg.get("cross"):
            from bot.reader.cross import CrossEncoder

            cross = CrossEncoder.load(folder / "cross", cfg["cross"], threads=threads)
        search = None
        if cfg.get("search"):
            from bot.search import SearchSettings

            search = SearchSettings(**cfg["search"])
        return cls(
            Linear.from_dict(cfg["prefilter"], CHEAP),
            Linear.from_dict(cfg["combiner"], FULL),
            Linear.from_dict(cfg["abstainer"], QUESTION),
            float(cfg["threshold"]),
            shortlist=int(cfg["shortlist"]),
            cross=cross,
            search=search,
        )


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(folder: Path) -> None:
    """Refuse a reader folder whose files are missing or differ from its manifest."""
    manifest_file = folder / MANIFEST
    if not manifest_file.exists():
        raise ReaderError(
            f"no trained reader in {folder} ({MANIFEST} is missing): restore models/ from git or run `newsbot train`"
        )
    try:
        manifest = json.loads(manifest_file.read_text())
    except json.JSONDecodeError as e:
        raise ReaderError(
            f"{manifest_file} is not valid JSON ({e}): restore it from git or run `newsbot train`"
        ) from None
    for name, digest in manifest.items():
        path = folder / name
        if not path.exists():
            raise ReaderError(f"the reader file {path} is missing: restore models/ from git or run `newsbot train`")
        if (actual := sha256(path)) != digest:
            raise ReaderError(
                f"the reader file {path} is damaged (sha256 {actual[:12]}…, expected {digest[:12]}…): "
                "restore it with `git checkout models/` or retrain with `newsbot train`"
            )
