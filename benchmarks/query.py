"""Query latency: newsbot's search (embed + dense + BM25 + fusion + diversity, no answering) next to the
LangChain tutorial's `similarity_search(k=4)` on the same eval set, interleaved in one process.

    python benchmarks/query.py ../shared/eval/dev [--rounds 3]

Both indexes must exist (`newsbot eval SET` and `newsbot eval SET --baseline langchain-tutorial`
build them). Each round times every question once per system, alternating, so both see the same
machine state; the table gives the median over rounds of each round's p50 and p95.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.evaluation.baseline import tutorial_pipeline  # noqa: E402
from bot.evaluation.run import open_eval_index  # noqa: E402
from bot.evaluation.sets import EvalSet  # noqa: E402
from bot.service import assemble, build_embedder  # noqa: E402
from bot.settings import Settings  # noqa: E402


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("set_dir", type=Path)
    ap.add_argument("--data-dir", type=Path, default=Path(".newsbot"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("runs/query.json"))
    args = ap.parse_args()
    settings = Settings.load(None, data_dir=args.data_dir)
    eval_set = EvalSet.load(args.set_dir)
    embedder = build_embedder(settings)
    index = open_eval_index(settings, eval_set, embedder)
    index.require_content()
    bot = assemble(settings, index, embedder, llm=False)
    tutorial, _, _ = tutorial_pipeline(settings, eval_set, progress=False)
    questions = eval_set.questions
    for q in questions[:5]:  # warm-up both
        bot.searcher.search(bot.query(q["question"], as_of=date.fromisoformat(q["date"])), k=10)
        tutorial(q)
    rounds = []
    for r in range(args.rounds):
        ours, theirs = [], []
        for q in questions:
            t0 = time.perf_counter()
            bot.searcher.search(bot.query(q["question"], as_of=date.fromisoformat(q["date"])), k=10)
            ours.append((time.perf_counter() - t0) * 1000)
            theirs.append(tutorial(q).timings["search_ms"])
        rounds.append({"newsbot": (pct(ours, 50), pct(ours, 95)), "tutorial": (pct(theirs, 50), pct(theirs, 95))})
        print(
            f"round {r + 1}: newsbot p50 {pct(ours, 50):.1f} p95 {pct(ours, 95):.1f} ms; "
            f"tutorial p50 {pct(theirs, 50):.1f} p95 {pct(theirs, 95):.1f} ms",
            flush=True,
        )
    result = {
        name: {
            "p50_ms": round(statistics.median(x[name][0] for x in rounds), 1),
            "p95_ms": round(statistics.median(x[name][1] for x in rounds), 1),
        }
        for name in ("newsbot", "tutorial")
    }
    result["questions"], result["rounds"] = len(questions), args.rounds
    print(
        f"\n| system | p50 | p95 |\n|---|---:|---:|\n"
        f"| newsbot search (embed, dense, BM25, fusion, as-of, diversity) | {result['newsbot']['p50_ms']} ms | "
        f"{result['newsbot']['p95_ms']} ms |\n"
        f"| LangChain tutorial similarity_search(k=4) | {result['tutorial']['p50_ms']} ms | "
        f"{result['tutorial']['p95_ms']} ms |"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
