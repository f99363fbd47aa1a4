"""Concurrent ask() the way the Discord app runs it, against an eval set's index (built by `newsbot eval`).

    python benchmarks/load.py ../shared/eval/dev [--requests 200] [--cap 4] [--out runs/load.json]

`c` clients on one asyncio event loop each send questions one after another; every answer runs in a
worker pool capped at `--cap` threads (DISCORD_MAX_CONCURRENT), exactly as `NewsbotApp.answer` does.
A ticker on the same loop measures event-loop lag (how late a 10 ms sleep wakes up): what a Discord
gateway heartbeat would suffer. Reports q/s and p50/p95/p99 latency per concurrency, then the same
at the highest concurrency while an ingest writes into the index, then a profile of one ask().
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.evaluation.run import open_eval_index  # noqa: E402
from bot.evaluation.sets import EvalSet  # noqa: E402
from bot.service import NewsBot, assemble, build_embedder  # noqa: E402
from bot.settings import Settings  # noqa: E402
from ingest.pipeline import ingest  # noqa: E402
from ingest.types import Article  # noqa: E402


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


async def run_load(bot: NewsBot, questions: list[dict], clients: int, requests: int, pool: ThreadPoolExecutor) -> dict:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    errors: list[str] = []
    lags: list[float] = []
    todo = iter(range(requests))
    stop = asyncio.Event()

    async def ticker():
        while not stop.is_set():
            t = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append((time.perf_counter() - t - 0.01) * 1000)

    async def client():
        for i in todo:
            q = questions[i % len(questions)]
            t = time.perf_counter()
            try:
                await loop.run_in_executor(pool, partial(bot.ask, q["question"], as_of=date.fromisoformat(q["date"])))
            except Exception as e:  # counted, not raised: the benchmark reports failures
                errors.append(f"{type(e).__name__}: {e}")
            latencies.append((time.perf_counter() - t) * 1000)

    tick = asyncio.create_task(ticker())
    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    wall = time.perf_counter() - t0
    stop.set()
    await tick
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "qps": round(len(latencies) / wall, 2),
        "p50_ms": round(pct(latencies, 50), 1),
        "p95_ms": round(pct(latencies, 95), 1),
        "p99_ms": round(pct(latencies, 99), 1),
        "loop_lag_p99_ms": round(pct(lags, 99), 1),
        "loop_lag_max_ms": round(max(lags), 1),
    }


def ingest_meanwhile(bot: NewsBot, n: int, done: threading.Event) -> dict:
    """Write n synthetic articles into the index while queries run (removed again afterwards)."""
    articles = [
        Article(
            id=f"load-test/{i}",
            text=f"Load test article {i}. The harbour of Eastport reopened on day {i}. " * 20,
            title=f"Load test {i}",
            date=date(2022, 1, 1),
        )
        for i in range(n)
    ]
    t0 = time.perf_counter()
    report = ingest(articles, bot.index, bot.embedder, progress=False, batch_passages=64)
    seconds = time.perf_counter() - t0
    bot.index.delete([a.id for a in articles])
    done.set()
    return {"articles": n, "passages": report.passages, "seconds": round(seconds, 1)}


def profile(bot: NewsBot, questions: list[dict], n: int = 50) -> str:
    prof = cProfile.Profile()
    prof.enable()
    for q in questions[:n]:
        bot.ask(q["question"], as_of=date.fromisoformat(q["date"]))
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(r"(bot|ingest)/", 18)
    return out.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("set_dir", type=Path)
    ap.add_argument("--data-dir", type=Path, default=Path(".newsbot"))
    ap.add_argument("--requests", type=int, default=200, help="questions per concurrency level")
    ap.add_argument("--cap", type=int, default=4, help="worker threads, as DISCORD_MAX_CONCURRENT")
    ap.add_argument("--levels", default="1,4,16")
    ap.add_argument("--out", type=Path, default=Path("runs/load.json"))
    args = ap.parse_args()
    settings = Settings.load(None, data_dir=args.data_dir)
    embedder = build_embedder(settings)
    eval_set = EvalSet.load(args.set_dir)
    index = open_eval_index(settings, eval_set, embedder)
    index.require_content()
    bot = assemble(settings, index, embedder, llm=False)
    questions = eval_set.questions
    for q in questions[:5]:  # warm-up: model, BM25, date tables
        bot.ask(q["question"], as_of=date.fromisoformat(q["date"]))
    results = {"set": str(args.set_dir), "passages": index.stats().passages, "cap": args.cap, "levels": []}
    with ThreadPoolExecutor(max_workers=args.cap, thread_name_prefix="answer") as pool:
        for clients in (int(x) for x in args.levels.split(",")):
            r = asyncio.run(run_load(bot, questions, clients, args.requests, pool))
            results["levels"].append(r)
            print(json.dumps(r), flush=True)
        done = threading.Event()
        box: dict = {}
        writer = threading.Thread(target=lambda: box.update(ingest_meanwhile(bot, 200, done)))
        writer.start()
        clients = max(int(x) for x in args.levels.split(","))
        r = asyncio.run(run_load(bot, questions, clients, args.requests, pool))
        writer.join()
        r["ingest_meanwhile"] = box
        results["with_ingest"] = r
        print(json.dumps(r), flush=True)
    results["profile"] = profile(bot, questions)
    print(results["profile"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
