"""End-to-end ask() latency of the two readers (hand-weighted rules, learned), interleaved in one process so both see
the same machine state: each round asks every question once per reader, alternating; the table gives the median over
rounds of each round's p50 and p95, and the learned reader's time as a ratio of the rules'.

    python benchmarks/ask.py ../shared/eval/dev [--rounds 3] [--questions 150]

The set's index must exist (`newsbot eval SET` builds it).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("set_dir", type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--questions", type=int, default=150)
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
    questions = eval_set.questions[: args.questions]
    for bot in bots.values():  # warm: model loads, BM25, caches
        for q in questions[:5]:
            bot.ask(q["question"], as_of=date.fromisoformat(q["date"]))
    rounds = {name: [] for name in bots}
    for _ in range(args.rounds):
        times = {name: [] for name in bots}
        for q in questions:
            for name, bot in bots.items():
                t0 = time.perf_counter()
                bot.ask(q["question"], as_of=date.fromisoformat(q["date"]))
                times[name].append((time.perf_counter() - t0) * 1000)
        for name in bots:
            rounds[name].append((pct(times[name], 50), pct(times[name], 95)))
    print(f"{args.set_dir.name}: {len(questions)} questions x {args.rounds} rounds, {cpu()}")
    print("| reader | ask p50 | ask p95 |\n|---|---:|---:|")
    med = {}
    for name, r in rounds.items():
        med[name] = (statistics.median(p for p, _ in r), statistics.median(p for _, p in r))
        print(f"| {name} | {med[name][0]:.0f} ms | {med[name][1]:.0f} ms |")
    print(
        f"learned / rules: p50 x{med['learned'][0] / med['rules'][0]:.2f}, p95 "
        f"x{med['learned'][1] / med['rules'][1]:.2f}"
    )


if __name__ == "__main__":
    main()
