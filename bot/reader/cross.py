"""A cross-encoder that reads a question and a sentence together: the packaged MiniLM's first layers, fine-tuned."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ingest.embed import PACKAGED_MODEL, bf16_supported, length_batches, resolve_model_path

BATCH = 32  # pairs per forward pass when scoring many (training's evaluation); a question has fewer


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


WEIGHTS = "model.safetensors"


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
        if not texts:
            return np.zeros(0, dtype=np.float32)
        torch = self._torch
        pairs = self.tokenizer(list(questions), list(texts), truncation="longest_first", max_length=self.max_length)
        out = np.zeros(len(texts), dtype=np.float32)
        with torch.inference_mode():
            for chunk in length_batches([len(ids) for ids in pairs["input_ids"]], BATCH):
                out[chunk] = self.logits(self.encode([questions[j] for j in chunk], [texts[j] for j in chunk])).numpy()
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
