"""A cross-encoder that reads a question and a sentence together: the packaged MiniLM's first layers, fine-tuned."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import TypeVar

import numpy as np

from ingest.embed import PACKAGED_MODEL, bf16_supported, length_batches, padded, resolve_model_path

BATCH = 32  # pairs per forward pass when scoring many (training's evaluation); a question has fewer
# share of a question's pairs scored beside the caller's embedding of its sentences (score_beside): embedding twelve
# sentences takes about two thirds of cross-encoding twelve pairs, so the caller scores the last quarter after it
BESIDE_SHARE = 0.75


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


WEIGHTS = "model.safetensors"
T = TypeVar("T")
Batches = list[tuple[list[int], Mapping]]  # tokenized pairs in padded batches, each with its pairs' indices


def _pooled_scorer(encoder):
    """The encoder's token states mean-pooled (as the MiniLM was trained to be read) and a one-logit linear head: read
    through its CLS token instead, the same model did not learn in 100 steps (listwise loss stayed at chance)."""
    import torch

    class PooledScorer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = encoder
            self.head = torch.nn.Linear(encoder.config.hidden_size, 1)

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            states = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            return self.head((states * mask).sum(1) / mask.sum(1).clamp(min=1)).squeeze(-1)

    return PooledScorer()


class CrossEncoder:
    """Scores (question, text) pairs with one logit each; bf16 where the CPU computes it natively."""

    def __init__(self, model, tokenizer, *, max_length: int, layers: int, base: str = PACKAGED_MODEL):
        import torch

        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.layers = layers
        self.base = base
        self.bf16 = bf16_supported()
        self._torch = torch
        self._beside: ThreadPoolExecutor | None = None  # the thread that scores while the caller works (score_beside)
        self._tokenizing = threading.Lock()
        self._starting = threading.Lock()  # two first questions at once start one scoring thread, not two

    @classmethod
    def from_base(cls, layers: int, max_length: int, base: str = PACKAGED_MODEL) -> CrossEncoder:
        """The base model's first `layers` layers with a new one-logit head, to be trained."""
        _offline()
        import transformers
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        path = resolve_model_path(base)
        config = AutoConfig.from_pretrained(path, num_hidden_layers=layers)
        encoder = AutoModel.from_pretrained(path, config=config, add_pooling_layer=False)
        return cls(
            _pooled_scorer(encoder),
            AutoTokenizer.from_pretrained(path),
            max_length=max_length,
            layers=layers,
            base=base,
        )

    @classmethod
    def load(cls, folder: Path, cfg: dict, *, threads: int | None = None) -> CrossEncoder:
        _offline()
        import torch
        import transformers
        from safetensors.torch import load_file
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        transformers.utils.logging.set_verbosity_error()
        if threads:
            torch.set_num_threads(threads)
        encoder = AutoModel.from_config(AutoConfig.from_pretrained(str(folder)), add_pooling_layer=False)
        model = _pooled_scorer(encoder)
        state = {k: v.float() for k, v in load_file(str(folder / WEIGHTS)).items()}
        model.load_state_dict(state)
        model.eval()
        if bf16_supported():  # bf16 weights: 16 ms for a question's twelve pairs where autocast took 22 and fp32 35
            model.to(torch.bfloat16)
        return cls(
            model,
            AutoTokenizer.from_pretrained(str(folder)),
            max_length=int(cfg["max_length"]),
            layers=int(cfg["layers"]),
            base=cfg.get("base", PACKAGED_MODEL),
        )

    def config(self) -> dict:
        return {"base": self.base, "layers": self.layers, "max_length": self.max_length}

    def encode(self, questions: Sequence[str], texts: Sequence[str]):
        return self.tokenizer(
            list(questions),
            list(texts),
            truncation="longest_first",
            max_length=self.max_length,
            padding=True,
            return_tensors="pt",
        )

    def logits(self, batch):
        """Training runs under bf16 autocast over fp32 weights; a loaded model already holds bf16 weights."""
        torch = self._torch
        with torch.autocast(
            "cpu", dtype=torch.bfloat16, enabled=self.bf16 and self.model.head.weight.dtype == torch.float32
        ):
            return self.model(**batch).float()

    def score(self, question: str, texts: Sequence[str]) -> np.ndarray:
        return self.score_pairs([question] * len(texts), texts)

    def score_pairs(self, questions: Sequence[str], texts: Sequence[str]) -> np.ndarray:
        """One logit per (question, text) pair, in their order; pairs of similar length are batched together."""
        return self._forward(self._batches(questions, texts), len(texts))

    def score_beside(self, question: str, texts: Sequence[str], work: Callable[[], T]) -> tuple[np.ndarray, T]:
        """`score(question, texts)` and `work()` (the answerer's embedding of the same sentences) at once, each on half
        of torch's threads: a thread of its own tokenizes and scores the first BESIDE_SHARE of the pairs while the
        caller works, then the caller tokenizes and scores the rest. A question's few short pairs keep two threads busy
        only part of the time, so two such jobs side by side finish sooner than one after the other
        (docs/performance.md). With one thread, one after the other."""
        torch = self._torch
        threads = torch.get_num_threads()  # the caller's (OpenMP's count is per thread)
        if threads < 2 or not texts:
            return self.score(question, texts), work()
        with self._starting:
            if self._beside is None:
                self._beside = ThreadPoolExecutor(
                    1, thread_name_prefix="cross-encoder", initializer=torch.set_num_threads, initargs=(threads // 2,)
                )
        first = round(len(texts) * BESIDE_SHARE)
        theirs, mine = texts[:first], texts[first:]
        torch.set_num_threads(threads - threads // 2)
        scored = self._beside.submit(lambda: self._forward(self._batches([question] * first, theirs), first))
        try:
            done = work()
            rest = self._forward(self._batches([question] * len(mine), mine), len(mine))
        finally:
            wait([scored])  # before the count is restored: it is also the default of threads started later
            torch.set_num_threads(threads)
        return np.concatenate([scored.result(), rest]), done

    def _batches(self, questions: Sequence[str], texts: Sequence[str]) -> Batches:
        """The pairs tokenized in padded batches of similar length. One thread at a time: a fast tokenizer keeps its
        truncation and padding as state, which calls from two threads mix up (8 threads calling one with and without
        padding: 67 of 2,000 calls failed), and the Discord bot answers several questions at once."""
        if not texts:
            return []
        with self._tokenizing:
            pairs = self.tokenizer(list(questions), list(texts), truncation="longest_first", max_length=self.max_length)
        lengths = [len(ids) for ids in pairs["input_ids"]]
        return [(chunk, padded(pairs, chunk, self.tokenizer.pad_token_id)) for chunk in length_batches(lengths, BATCH)]

    def _forward(self, batches: Batches, n: int) -> np.ndarray:
        out = np.zeros(n, dtype=np.float32)
        with self._torch.inference_mode():
            for chunk, batch in batches:
                out[chunk] = self.logits(batch).numpy()
        return out

    def save(self, folder: Path) -> None:
        """Weights as fp16 safetensors (half the size; scores agree with fp32 to ~1e-3), the encoder's config and the
        tokenizer files."""
        from safetensors.torch import save_file

        torch = self._torch
        folder.mkdir(parents=True, exist_ok=True)
        save_file(
            {k: v.detach().to(torch.float16).contiguous() for k, v in self.model.state_dict().items()},
            str(folder / WEIGHTS),
        )
        self.model.encoder.config.save_pretrained(str(folder))
        self.tokenizer.save_pretrained(str(folder))
