"""Fit the rules reader's abstention threshold (`ExtractiveSettings.min_confidence`) on a `newsbot eval` run
of ../shared/eval/train: the highest confidence at which at most RATE of the answerable questions go unanswered
(issue 23: "choose the threshold for <= 5 % false abstentions"). Then show what any threshold would do on other
runs, which are read, never fitted on.

    NEWSBOT_READER=rules newsbot eval ../shared/eval/train --out runs/train-rules
    python benchmarks/abstention_threshold.py runs/train-rules [--rate 0.05] [--show runs/dev-rules ...] [--json]

Each prediction row carries the answer's confidence (the best body sentence's, as `ExtractiveAnswerer` computes
it): a question abstains at threshold t when its confidence is below t. Questions abstained on before any
sentence was scored (no candidate; no news of the time the question names) have confidence 0 and abstain at
every threshold.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.evaluation.sets import EvalSet  # noqa: E402
from bot.reader.fit import threshold_at  # noqa: E402


def rows(run: Path) -> list[tuple[bool, float]]:
    """(answerable, confidence) of every question of a run."""
    config = json.loads((run / "run.json").read_text(encoding="utf-8"))
    questions = {q["id"]: q for q in EvalSet.load(Path(config["set"])).questions}
    out = []
    for line in (run / "predictions.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if "confidence" not in r:
            raise SystemExit(f"{run}: predictions carry no confidence; rerun `newsbot eval` with this version")
        out.append((questions[r["id"]]["answerable"], r["confidence"]))
    return out


def effect(run_rows: list[tuple[bool, float]], threshold: float) -> dict:
    answerable = [c for a, c in run_rows if a]
    null = [c for a, c in run_rows if not a]
    return {
        "false_abstention": round(sum(c < threshold for c in answerable) / len(answerable), 4),
        "null_abstained": round(sum(c < threshold for c in null) / len(null), 4) if null else None,
    }


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("train_run", type=Path)
    p.add_argument("--rate", type=float, default=0.05, help="false abstentions allowed on the train run")
    p.add_argument("--show", type=Path, nargs="*", default=[], help="other runs to read at that threshold")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    train = rows(a.train_run)
    threshold = threshold_at([c for answerable, c in train if answerable], a.rate)
    result = {
        "threshold": round(threshold, 4),
        "runs": {str(r): effect(rows(r), threshold) for r in [a.train_run, *a.show]},
    }
    if a.json:
        print(json.dumps(result, indent=1))
        return
    print(f"min_confidence = {threshold:.4f} (at most {a.rate:.0%} of {a.train_run}'s answerable questions below)")
    for run, e in result["runs"].items():
        print(f"  {run}: false abstentions {e['false_abstention']}, null abstained {e['null_abstained']}")


if __name__ == "__main__":
    main(sys.argv[1:])
