"""report.md and report.png of an eval run: pictures first, then the tables."""

from __future__ import annotations

import json
from pathlib import Path

HEADLINE = [
    ("retrieval", "recall@1"),
    ("retrieval", "recall@5"),
    ("retrieval", "recall@10"),
    ("retrieval", "mrr@10"),
    ("retrieval", "article_recall@5"),
    ("retrieval", "article_mrr@10"),
    ("answers", "answer_hit"),
    ("answers", "choice_accuracy"),
    ("answers", "median_answer_words"),
    ("answers", "cite_gold"),
    ("answers", "short_answer_shown"),
    ("answers", "short_answer_hit"),
    ("abstention", "null_abstained"),
    ("abstention", "false_abstention"),
    ("speed", "ask_p50_ms"),
    ("speed", "ask_p95_ms"),
    ("speed", "search_p50_ms"),
    ("speed", "answer_p50_ms"),
    ("speed", "ingest_passages_per_s"),
    ("speed", "peak_rss_mb"),
]


def _get(metrics: dict, section: str, key: str):
    return (metrics.get(section) or {}).get(key)


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:,.1f}"
    return str(v)


def compare_table(a: dict, b: dict, a_name: str = "this run", b_name: str = "other") -> str:
    """Markdown table of the headline metrics side by side, with deltas."""
    lines = [f"| metric | {a_name} | {b_name} | Δ |", "|---|---:|---:|---:|"]
    for section, key in HEADLINE:
        x, y = _get(a, section, key), _get(b, section, key)
        delta = f"{x - y:+.3f}" if isinstance(x, (int, float)) and isinstance(y, (int, float)) else ""
        lines.append(f"| {key} | {_fmt(x)} | {_fmt(y)} | {delta} |")
    return "\n".join(lines)


def answered_by_line(metrics: dict) -> str | None:
    """'Answered by: llm 18, extractive 32' when some answers came from a fallback, else None."""
    by = metrics.get("answered_by") or {}
    if len(by) < 2:
        return None
    return (
        "Answered by: "
        + ", ".join(f"{name} {n}" for name, n in by.items())
        + " (extractive answers of an LLM run are its fallbacks: the model failed or no citation checked out)"
    )


def write_report(out: Path, metrics: dict, rows: list[dict], questions: dict[str, dict]) -> None:
    _plot(out / "report.png", metrics, rows)
    lines = [
        f"# Eval: {metrics['config']['system']} on {metrics['config']['set']}",
        "",
        "![recall@k and latency](report.png)",
        "",
        f"{metrics['questions']} questions ({metrics['answerable']} answerable, {metrics['null']} null); "
        f"index `{metrics['config']['index']}`, split `{metrics['config']['split']}`, top-k "
        f"{metrics['config']['top_k']}.",
        "",
        "| metric | value |",
        "|---|---:|",
    ]
    lines += [f"| {key} | {_fmt(_get(metrics, section, key))} |" for section, key in HEADLINE]
    if by := answered_by_line(metrics):
        lines += ["", by]
    misses = [r for r in rows if questions[r["id"]]["answerable"] and r["abstained"]][:10]
    if misses:
        lines += ["", "## Some false abstentions", ""]
        lines += [
            f"- `{r['id']}` {questions[r['id']]['question']} (gold: {', '.join(questions[r['id']]['answers'][:1])})"
            for r in misses
        ]
    lines += ["", "Recompute: `newsbot eval SET --out OUT --recompute` reads predictions.jsonl only.", ""]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")


def _plot(path: Path, metrics: dict, rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    curve = metrics["retrieval"]["recall_curve"]
    ks = [int(k) for k in curve]
    left.plot(ks, [curve[str(k)] for k in ks], marker="o", label=metrics["config"]["system"])
    left.set(title="recall@k (answerable questions)", xlabel="k", ylabel="recall", ylim=(0, 1), xticks=ks)
    left.grid(alpha=0.3)
    left.legend(loc="lower right")
    lat = [r["latency_ms"] for r in rows]
    right.hist(lat, bins=30, color="tab:orange")
    right.axvline(
        metrics["speed"]["ask_p50_ms"], color="k", linestyle="--", label=f"p50 {metrics['speed']['ask_p50_ms']:.0f} ms"
    )
    right.axvline(
        metrics["speed"]["ask_p95_ms"], color="r", linestyle=":", label=f"p95 {metrics['speed']['ask_p95_ms']:.0f} ms"
    )
    right.set(title="ask latency", xlabel="ms", ylabel="questions")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def load_metrics(path: Path) -> dict:
    return json.loads(path.read_text())
