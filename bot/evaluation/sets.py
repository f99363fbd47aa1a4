"""An eval set on disk (../shared/eval/<set>: articles.jsonl.gz + questions.jsonl) and the name of its index."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import NewsbotError


@dataclass(frozen=True)
class EvalSet:
    """An eval set: its folder, its articles file and its questions (in file order)."""

    folder: Path
    articles: Path
    questions: list[dict]

    @classmethod
    def load(cls, folder: Path) -> EvalSet:
        articles, questions = folder / "articles.jsonl.gz", folder / "questions.jsonl"
        for f in (articles, questions):
            if not f.exists():
                raise NewsbotError(f"{folder} is not an eval set: {f.name} is missing (see ../shared/eval/README.md)")
        rows = [json.loads(line) for line in questions.read_text(encoding="utf-8").splitlines() if line.strip()]
        return cls(folder, articles, rows)

    def corpus_hash(self) -> str:
        from bot.reader.model import sha256

        return sha256(self.articles)


def index_name(eval_set: EvalSet, *parts: str) -> str:
    """One index per corpus + model + splitting settings, so unchanged settings reuse it."""
    key = hashlib.sha256("|".join((eval_set.corpus_hash(), *parts)).encode()).hexdigest()[:12]
    return f"eval-{eval_set.folder.name}-{key}"
