"""Tune the extractive answerer's sentence weights and abstention threshold on an eval set.

    python benchmarks/tune_answerer.py ../shared/eval/dev [--data-dir .newsbot]

Retrieval and sentence features are computed once per question; each weight setting then only
re-scores them. Prints answer_hit, median words and abstention rates for the best settings.
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import statistics
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.answer import ExtractiveAnswerer, ExtractiveSettings  # noqa: E402
from bot.evaluation.metrics import answer_hit  # noqa: E402
from bot.evaluation.run import open_eval_index  # noqa: E402
from bot.evaluation.sets import EvalSet  # noqa: E402
from bot.service import NewsBot, build_embedder  # noqa: E402
from bot.settings import Settings  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("set_dir", type=Path)
    ap.add_argument("--data-dir", type=Path, default=Path(".newsbot"))
    ap.add_argument("--max-false-abstention", type=float, default=0.1)
    args = ap.parse_args()
    settings = Settings.load(None, data_dir=args.data_dir)
    embedder = build_embedder(settings)
    eval_set = EvalSet.load(args.set_dir)
    index = open_eval_index(settings, eval_set, embedder)
    bot = NewsBot(index, embedder, top_k=settings.core.top_k)
    answerer: ExtractiveAnswerer = bot.answerer  # type: ignore[assignment]
    data = []
    for q in eval_set.questions:
        as_of = date.fromisoformat(q["date"])
        hits = bot.searcher.search(q["question"], k=settings.core.top_k, as_of=as_of)
        newest = index.newest(as_of)
        data.append((q, answerer.candidates(q["question"], hits, newest), newest))
    print(f"{len(data)} questions\n")

    results = []
    grid = itertools.product([0.2, 0.4, 0.6], [0.2, 0.35, 0.5], [0.0, 0.1, 0.2], [0.0, 0.15, 0.3], [0.0, 0.1, 0.2])
    for sem, ov, ctx, tm, rank in grid:
        answerer.settings = ExtractiveSettings(semantic=sem, overlap=ov, context=ctx, type_match=tm, rank=rank)
        picks = [(q, max(c, key=answerer.score) if c else None, newest) for q, c, newest in data]
        hits = [bool(b) and answer_hit(b.text, q["answers"]) for q, b, _ in picks if q["answerable"]]
        results.append((sum(hits) / len(hits), answerer.settings, picks))
    results.sort(key=lambda r: -r[0])
    for hit, s, _ in results[:5]:
        print(f"answer_hit (no abstention) {hit:.3f}  sem={s.semantic} overlap={s.overlap} context={s.context} type={s.type_match} rank={s.rank}")
    best_hit, best, picks = results[0]
    answerer.settings = best
    answerable = [(q, b, n) for q, b, n in picks if q["answerable"]]
    null = [(q, b, n) for q, b, n in picks if not q["answerable"]]
    print("\nthreshold  answer_hit  false_abst  null_abst  median_words")
    for weight, days in ((0.0, 90.0), (0.1, 90.0), (0.2, 90.0), (0.1, 30.0), (0.2, 30.0), (0.3, 180.0)):
        staleness = f"{weight}/{days:.0f}"
        answerer.settings = dataclasses.replace(best, staleness_weight=weight, staleness_days=days)
        conf = {q["id"]: answerer.confidence(b, n) if b else 0.0 for q, b, n in picks}
        for t in [x / 100 for x in range(20, 70, 2)]:
            fa = sum(conf[q["id"]] < t for q, _, _ in answerable) / len(answerable)
            if fa > args.max_false_abstention:
                break
            na = sum(conf[q["id"]] < t for q, _, _ in null) / len(null)
            hit = sum(conf[q["id"]] >= t and answer_hit(b.text, q["answers"]) for q, b, _ in answerable) / len(answerable)
            words = statistics.median(len(b.text.split()) for q, b, _ in answerable if conf[q["id"]] >= t)
            print(f"stale={staleness:<7} t={t:.2f}  {hit:.3f}       {fa:.3f}       {na:.3f}      {words}")


if __name__ == "__main__":
    main()
