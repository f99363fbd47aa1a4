"""End-to-end ask() latency of the two readers (hand-weighted rules, learned), interleaved in one process so both see
the same machine state: each round asks every question once per reader, alternating; the table gives the median over
rounds of each round's p50 and p95, and the learned reader's time as a ratio of the rules'.

    python benchmarks/ask.py ../shared/eval/dev [--rounds 3] [--questions 150] [--unbatched]

`--unbatched` adds both readers with each question's sentences embedded and cross-encoded in one padded batch (as
before `ingest.embed.length_batches`), interleaved with the others, and gives the ratios to them.

The set's index must exist (`newsbot eval SET` builds it).
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ingest.embed  # noqa: E402
from bot.evaluation.run import open_eval_index  # noqa: E402
from bot.evaluation.sets import EvalSet  # noqa: E402
from bot.service import assemble, build_embedder  # noqa: E402
from bot.settings import Settings  # noqa: E402


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        return platform.processor() or "unknown CPU"


@contextlib.contextmanager
def one_batch(on: bool):
    """Within it (if `on`), texts are never cut into batches by length: one padded batch up to the batch size."""
    saved = ingest.embed.BATCH_OVERHEAD_TOKENS
    if on:
        ingest.embed.BATCH_OVERHEAD_TOKENS = 10**9
    try:
        yield
    finally:
        ingest.embed.BATCH_OVERHEAD_TOKENS = saved


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("set_dir", type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--questions", type=int, default=150)
    ap.add_argument("--unbatched", action="store_true", help="add both readers without length batching")
    args = ap.parse_args()
    settings = Settings.load(None)
    embedder = build_embedder(settings)
    eval_set = EvalSet.load(args.set_dir)
    index = open_eval_index(settings, eval_set, embedder)
    index.require_content()
    bots = {}
    for reader in ("rules", "learned"):
        s = settings.model_copy(update={"core": settings.core.model_copy(update={"reader": reader})})
        bots[reader] = assemble(s, index, embedder, llm=False)
    variants = [(name, name, False) for name in bots]
    if args.unbatched:
        variants += [(f"{name}, one batch", name, True) for name in bots]
    questions = eval_set.questions[: args.questions]
    for bot in bots.values():  # warm: model loads, BM25, caches
        for q in questions[:5]:
            bot.ask(q["question"], as_of=date.fromisoformat(q["date"]))
    rounds = {name: [] for name, _, _ in variants}
    for _ in range(args.rounds):
        times = {name: [] for name in rounds}
        for q in questions:
            for name, reader, unbatched in variants:
                with one_batch(unbatched):
                    t0 = time.perf_counter()
                    bots[reader].ask(q["question"], as_of=date.fromisoformat(q["date"]))
                    times[name].append((time.perf_counter() - t0) * 1000)
        for name in rounds:
            rounds[name].append((pct(times[name], 50), pct(times[name], 95)))
    print(f"{args.set_dir.name}: {len(questions)} questions x {args.rounds} rounds, {cpu()}")
    print("| reader | ask p50 | ask p95 |\n|---|---:|---:|")
    med = {}
    for name, r in rounds.items():
        med[name] = (statistics.median(p for p, _ in r), statistics.median(p for _, p in r))
        print(f"| {name} | {med[name][0]:.0f} ms | {med[name][1]:.0f} ms |")
    ratios = [("learned", "rules")] + [(name, f"{name}, one batch") for name in bots if args.unbatched]
    for a, b in ratios:
        print(f"{a} / {b}: p50 x{med[a][0] / med[b][0]:.2f}, p95 x{med[a][1] / med[b][1]:.2f}")


if __name__ == "__main__":
    main()
