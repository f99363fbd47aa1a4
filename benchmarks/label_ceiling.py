"""How far a `newsbot eval` run's retrieval and citation numbers sit from what the set's labels let them reach.

    python benchmarks/label_ceiling.py ../shared/eval/holdout runs/holdout [--json]

A question's `gold_ids` are the articles RealTimeQA's web search returned for *that* question whose text holds the
answer (../shared/eval/README.md). Another article of the corpus that reports the answer (a story retrieved for
another question, a distractor) is not gold, and an old page of the search results that mentions the answer in
passing is. So, from the run's own predictions (nothing is answered again):

- article recall@5 / MRR@10 as the eval counts them, and again counting any retrieved article whose text holds an
  accepted answer: the part of a miss that is the labels', not the search's;
- of the questions with no gold article in the top 5, how many have every gold article a year or more older than
  the question (the story itself was not among the search's results), and how many only later than the question
  (RealTimeQA searched after the quiz; the bot reads nothing published after its as_of);
- cite_gold as counted, and what it would be if every right answer also cited a gold article whenever one was
  among the retrieved passages: the most that better citations of today's answers can give;
- how many of the second sources cited with right answers quote a sentence that holds an accepted answer: what more
  citations cost in precision.

Measurement only: it reads a run folder and the set; nothing is fitted.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.evaluation.metrics import answer_hit, said  # noqa: E402
from bot.evaluation.sets import EvalSet  # noqa: E402

OLD_DAYS = 365  # a gold article this much older than its question is background, not the week's story


def first_rank(ids: list[str], good: set[str]) -> int | None:
    """1-based rank of the first of `ids` in `good`."""
    return next((i for i, a in enumerate(ids, 1) if a in good), None)


def ceilings(set_dir: Path, run_dir: Path) -> dict:
    eval_set = EvalSet.load(set_dir)
    questions = {q["id"]: q for q in eval_set.questions}
    with gzip.open(eval_set.articles, "rt", encoding="utf-8") as f:
        articles = {a["id"]: a for a in map(json.loads, f)}
    rows = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if questions[r["id"]]["answerable"]]
    n = len(rows)
    gold5 = bearing5 = rr_gold = rr_bearing = 0.0
    missed = missed_old = missed_later = cited = cited_best = hits = seconds = seconds_holding = 0
    for r in rows:
        q = questions[r["id"]]
        gold = set(q["gold_ids"])
        ids = [h["article_id"] for h in r["retrieved"]]
        g = first_rank(ids, gold)
        b = first_rank(ids, gold | {a for a in ids if answer_hit(articles[a]["text"], q["answers"])})
        gold5 += bool(g and g <= 5)
        bearing5 += bool(b and b <= 5)
        rr_gold += 1 / g if g and g <= 10 else 0.0
        rr_bearing += 1 / b if b and b <= 10 else 0.0
        if not (g and g <= 5):
            missed += 1
            asked = date.fromisoformat(q["date"])
            ages = [(asked - date.fromisoformat(articles[a]["date"])).days for a in gold if articles[a]["date"]]
            missed_old += bool(ages) and min(ages) >= OLD_DAYS
            missed_later += bool(ages) and max(ages) < 0
        if r["abstained"]:
            continue
        right = answer_hit(said(r["answer"]), q["answers"])
        hits += right
        cites_gold = bool({c["article_id"] for c in r["citations"]} & gold)
        cited += cites_gold
        cited_best += cites_gold or (right and g is not None)
        if right:
            seconds += len(r["citations"]) - 1
            seconds_holding += sum(answer_hit(c["quote"], q["answers"]) for c in r["citations"][1:])
    return {
        "answerable": n,
        "article_recall@5": round(gold5 / n, 3),
        "article_recall@5, any answer-bearing article": round(bearing5 / n, 3),
        "article_mrr@10": round(rr_gold / n, 3),
        "article_mrr@10, any answer-bearing article": round(rr_bearing / n, 3),
        "no gold article in the top 5": missed,
        f"... every gold article {OLD_DAYS}+ days older than the question": missed_old,
        "... every gold article published after the question (as_of hides it)": missed_later,
        "answer_hit": round(hits / n, 3),
        "cite_gold": round(cited / n, 3),
        "cite_gold if every right answer cited a retrieved gold article": round(cited_best / n, 3),
        "second sources cited with right answers": seconds,
        "... of them quoting a sentence that holds an accepted answer": seconds_holding,
    }


def main(argv: list[str]) -> None:
    a = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    a.add_argument("set_dir", type=Path)
    a.add_argument("run_dir", type=Path)
    a.add_argument("--json", action="store_true")
    args = a.parse_args(argv)
    out = ceilings(args.set_dir, args.run_dir)
    if args.json:
        print(json.dumps(out, indent=1))
        return
    for k, v in out.items():
        print(f"{k:70s} {v}")


if __name__ == "__main__":
    main(sys.argv[1:])
