"""Print the README's results table from `newsbot eval` runs: one column per run folder (its metrics.json).

python benchmarks/results_table.py "holdout rules=runs/holdout-rules" "holdout learned=runs/train-holdout" ...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROWS = [
    ("answer_hit", ("answers", "answer_hit")),
    ("choice accuracy", ("answers", "choice_accuracy")),
    ("cite_gold", ("answers", "cite_gold")),
    ("median answer words", ("answers", "median_answer_words")),
    ("false abstentions", ("abstention", "false_abstention")),
    ("null questions abstained", ("abstention", "null_abstained")),
    ("article recall@5", ("retrieval", "article_recall@5")),
    ("article MRR@10", ("retrieval", "article_mrr@10")),
    ("passage recall@5", ("retrieval", "recall@5")),
    ("short answer shown", ("answers", "short_answer_shown")),
    ("short answer holds an answer", ("answers", "short_answer_hit")),
    ("ask p50 / p95 ms", None),
]


def cell(m: dict, path) -> str:
    if path is None:
        return f"{m['speed']['ask_p50_ms']:.0f} / {m['speed']['ask_p95_ms']:.0f}"
    v = m[path[0]].get(path[1])
    return "–" if v is None else f"{v:.3f}" if isinstance(v, float) and v < 1.5 else f"{v:g}"


def main() -> None:
    runs = [arg.split("=", 1) for arg in sys.argv[1:]]
    metrics = [json.loads((Path(folder) / "metrics.json").read_text()) for _, folder in runs]
    print("| metric | " + " | ".join(name for name, _ in runs) + " |")
    print("|---|" + "---:|" * len(runs))
    for label, path in ROWS:
        print(f"| {label} | " + " | ".join(cell(m, path) for m in metrics) + " |")


if __name__ == "__main__":
    main()
