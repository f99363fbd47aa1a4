"""The packaged MiniLM in bf16 (the default where the CPU has native bf16) must embed like fp32."""
from pathlib import Path

import numpy as np
import pytest

from ingest.embed import SentenceTransformerEmbedder, bf16_supported
from ingest.loaders import load_path
from ingest.split import split_article

SEED = Path(__file__).resolve().parents[2] / "examples" / "articles" / "israel-turkey-security-ties.txt"


@pytest.mark.skipif(not bf16_supported(), reason="this CPU has no native bf16; auto precision runs fp32 here")
def test_bf16_vectors_are_unit_length_and_rank_the_seed_passages_like_fp32(embedder):
    assert embedder.precision == "bf16"  # "auto" picked it
    article = next(load_path(SEED, SEED.parent))
    passages = [p.text for p in split_article(article)]
    questions = ["When was the ambassador appointed?", "Who visited Ankara in March?"]
    fp32 = SentenceTransformerEmbedder(precision="fp32")

    for texts in (passages, questions[:1]):  # a batch (ingest) and a single question (search)
        a, b = embedder.embed(texts), fp32.embed(texts)
        assert a.dtype == np.float32
        assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
        assert (a * b).sum(axis=1).min() > 0.999

    for q in questions:
        bf, fp = embedder.embed(passages) @ embedder.embed([q])[0], fp32.embed(passages) @ fp32.embed([q])[0]
        assert list(np.argsort(-bf)[:3]) == list(np.argsort(-fp)[:3])
