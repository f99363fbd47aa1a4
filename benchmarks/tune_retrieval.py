"""Try fusion / date / diversity variants on an eval set's index and print recall@5 and MRR@10 for each.

    python benchmarks/tune_retrieval.py ../shared/eval/dev [--data-dir .newsbot]

Candidates are fetched once per question (dense top-N from Chroma, BM25 top-N), then every variant
re-ranks them in memory, so a table of variants takes seconds. Run `newsbot eval SET` first: it
builds the index this script reads.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.dates import question_window  # noqa: E402
from bot.evaluation.metrics import first_relevant_rank  # noqa: E402
from bot.evaluation.run import open_eval_index  # noqa: E402
from bot.evaluation.sets import EvalSet  # noqa: E402
from bot.search import Candidates, Searcher, SearchSettings, merge  # noqa: E402
from bot.service import build_embedder  # noqa: E402
from bot.settings import Settings  # noqa: E402

VARIANTS = {
    "dense only": SearchSettings(lexical_weight=0.0, recency_weight=0.0),
    "bm25 only": SearchSettings(dense_weight=0.0, recency_weight=0.0),
    "rrf": SearchSettings(recency_weight=0.0),
    "rrf lex 1.5": SearchSettings(lexical_weight=1.5, recency_weight=0.0),
    "rrf lex 1.5 k=20": SearchSettings(lexical_weight=1.5, rrf_k=20, recency_weight=0.0),
    "rrf per_article=1": SearchSettings(per_article=1, recency_weight=0.0),
    "rrf per_article=3": SearchSettings(per_article=3, recency_weight=0.0),
    "rrf recency 0.5/30d": SearchSettings(recency_weight=0.5, recency_days=30),
    "rrf recency 1/30d": SearchSettings(recency_weight=1.0, recency_days=30),
    "rrf recency 1/14d": SearchSettings(recency_weight=1.0, recency_days=14),
    "rrf recency 0.3/14d": SearchSettings(recency_weight=0.3, recency_days=14),
    "rrf lex 1.5 k=20 rec 0.3/30d": SearchSettings(lexical_weight=1.5, rrf_k=20, recency_weight=0.3, recency_days=30),
    "rrf lex 1.5 k=20 rec 0.5/30d": SearchSettings(lexical_weight=1.5, rrf_k=20, recency_weight=0.5, recency_days=30),
    "rrf lex 1.5 k=20 rec 1/30d": SearchSettings(lexical_weight=1.5, rrf_k=20, recency_weight=1.0, recency_days=30),
    "rrf lex 1.5 k=20 rec 0.5/60d": SearchSettings(lexical_weight=1.5, rrf_k=20, recency_weight=0.5, recency_days=60),
    "rrf lex 2 k=20 rec 0.5/30d": SearchSettings(lexical_weight=2.0, rrf_k=20, recency_weight=0.5, recency_days=30),
    "rrf lex 1.5 k=10 rec 0.5/30d": SearchSettings(lexical_weight=1.5, rrf_k=10, recency_weight=0.5, recency_days=30),
}


VARIANTS = {name: dataclasses.replace(s, window_weight=0.0) for name, s in VARIANTS.items()}  # as measured before windows
VARIANTS.update({
    "window 0.5": SearchSettings(window_weight=0.5),
    "window 2": SearchSettings(window_weight=2.0),
    "window 1 rec 0.5/30d": SearchSettings(window_weight=1.0, recency_weight=0.5),
    "window 2 rec 0.5/30d": SearchSettings(window_weight=2.0, recency_weight=0.5),
    "window 3 rec 0.3/30d": SearchSettings(window_weight=3.0, recency_weight=0.3),
    "window 1 rec 1/14d": SearchSettings(window_weight=1.0, recency_days=14),
    "window 0.5 rec 1/14d": SearchSettings(window_weight=0.5, recency_days=14),
    "window 0.5 rec 1.5/14d": SearchSettings(window_weight=0.5, recency_weight=1.5, recency_days=14),
    "window 1 rec 1.5/21d": SearchSettings(window_weight=1.0, recency_weight=1.5, recency_days=21),
    "window 0.5 rec 1/21d": SearchSettings(window_weight=0.5, recency_days=21),
    "window 0.5 rec 1/14d per_article=3": SearchSettings(window_weight=0.5, recency_days=14, per_article=3),
    "window 0.5 rec 1/14d lex 2": SearchSettings(window_weight=0.5, recency_days=14, lexical_weight=2.0),
})
VARIANTS = {name: dataclasses.replace(s, merge_within=0) for name, s in VARIANTS.items()}  # as measured before merging
VARIANTS.update({
    "default": SearchSettings(),
    "merge neighbours in top 10": SearchSettings(merge_within=10),
    "merge neighbours in top 30": SearchSettings(merge_within=30),
    "merge neighbours in top 50": SearchSettings(merge_within=50),
})


def evaluate(searcher: Searcher, data: list[tuple[dict, Candidates]], s: SearchSettings) -> dict:
    r1 = r5 = mrr = 0.0
    for q, cands in data:
        as_of = date.fromisoformat(q["date"])
        order, _ = searcher.fuse(cands, as_of, s, question_window(q["question"], as_of))
        chosen, _, _ = searcher.diversify(order, 40 if s.merge_within else 10, s.per_article)
        groups = searcher.merge_neighbours(chosen, order[: s.merge_within], 10)
        rank = first_relevant_rank([{"article_id": g[0].article_id, "text": merge(g).text} for g in groups], q["gold_ids"], q["answers"])
        if rank:
            r1 += rank == 1
            r5 += rank <= 5
            mrr += 1 / rank
    n = len(data)
    return {"recall@1": r1 / n, "recall@5": r5 / n, "mrr@10": mrr / n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("set_dir", type=Path)
    ap.add_argument("--data-dir", type=Path, default=Path(".newsbot"))
    ap.add_argument("--candidates", type=int, default=100)
    args = ap.parse_args()
    settings = Settings.load(None, data_dir=args.data_dir)
    embedder = build_embedder(settings)
    eval_set = EvalSet.load(args.set_dir)
    index = open_eval_index(settings, eval_set, embedder)
    searcher = Searcher(index, embedder)
    questions = [q for q in eval_set.questions if q["answerable"]]
    vectors = embedder.embed([q["question"] for q in questions])
    data = [(q, searcher.candidates(q["question"], v, date.fromisoformat(q["date"]), args.candidates))
            for q, v in zip(questions, vectors)]
    print(f"{len(data)} answerable questions, {args.candidates} candidates per ranking\n")
    print(f"{'variant':<24} recall@1 recall@5 mrr@10")
    for name, s in VARIANTS.items():
        m = evaluate(searcher, data, dataclasses.replace(s, candidates=args.candidates))
        print(f"{name:<24} {m['recall@1']:.3f}    {m['recall@5']:.3f}    {m['mrr@10']:.3f}")


if __name__ == "__main__":
    main()
