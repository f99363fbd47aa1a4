"""Run an eval set through ask() (or the LangChain tutorial baseline), resumable, and write its results."""

from __future__ import annotations

import json
import logging
import resource
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from bot.evaluation.metrics import answer_hit, said, score
from bot.evaluation.sets import EvalSet, index_name
from bot.settings import Settings
from bot.types import Answer
from ingest.errors import NewsbotError
from ingest.pipeline import ingest, load_sources

logger = logging.getLogger(__name__)


def prediction_row(q: dict, answer: Answer) -> dict:
    return {
        "id": q["id"],
        "answer": answer.text,
        "short_answer": answer.short,  # the phrase shown first, where the answerer offers one
        "abstained": answer.abstained,
        "answerer": answer.answerer,
        "confidence": round(answer.confidence, 4),  # what an abstention threshold is fitted on
        "citations": [
            {k: c.as_dict()[k] for k in ("n", "article_id", "passage_id", "url", "date", "quote")}
            for c in answer.citations
        ],
        "retrieved": [
            {"passage_id": h.passage.id, "article_id": h.article.id, "text": h.passage.text}
            for h in answer.retrieved[:10]
        ],
        "latency_ms": answer.latency_ms,
        "timings": {k: round(v, 2) for k, v in answer.timings.items()},
    }


ANSWERERS = ("extractive", "llm")


def open_eval_index(settings: Settings, eval_set: EvalSet, embedder):
    """The index of this set for this model, precision and splitting (created empty if new)."""
    from bot.service import open_index

    precision = getattr(embedder, "precision", "")
    return open_index(settings, embedder, index_name(eval_set, embedder.name, precision, settings.core.split.key))


def ingested_index(settings: Settings, eval_set: EvalSet, embedder, progress: bool):
    """The set's index, its articles ingested (a cached index only checked); returns (index, ingest speed dict)."""
    index = open_eval_index(settings, eval_set, embedder)
    report = ingest(load_sources([eval_set.articles]), index, embedder, split=settings.core.split, progress=progress)
    stats_file = index.folder / "ingest.json"
    if report.new or report.changed:
        stats_file.write_text(json.dumps(report.as_dict()))
    first = json.loads(stats_file.read_text()) if stats_file.exists() else report.as_dict()
    return index, {
        "ingest_passages_per_s": first["passages_per_s"],
        "ingest_chars_per_s": first["chars_per_s"],
        "ingest_seconds": first["seconds"],
        "reingest_seconds": report.seconds if not report.new else None,
    }


def newsbot_pipeline(settings: Settings, eval_set: EvalSet, answerer: str, progress: bool, embedder=None):
    """Build (or reuse) the eval index and return (ask function, ingest report dict, index name)."""
    from bot.service import assemble, build_embedder

    embedder = embedder or build_embedder(settings)
    index, speed = ingested_index(settings, eval_set, embedder, progress)
    name = index.name
    bot = assemble(settings, index, embedder, llm=answerer == "llm")

    def ask(q: dict) -> Answer:
        return bot.ask(q["question"], as_of=date.fromisoformat(q["date"]))

    return ask, speed, name


def run_eval(
    set_dir: Path,
    out: Path,
    settings: Settings,
    *,
    limit: int | None = None,
    answerer: str = "extractive",
    baseline: str | None = None,
    progress: bool = True,
    embedder=None,
    on_row: Callable[[dict, dict], None] | None = None,
) -> dict:
    """Answer every question of the set, appending to OUT/predictions.jsonl; returns the metrics."""
    from tqdm import tqdm

    if answerer not in ANSWERERS:  # before the ingest, which can take minutes
        raise NewsbotError(f"unknown answerer {answerer!r}; available: {', '.join(ANSWERERS)}")
    if answerer == "llm":
        from bot.llm.model import build_chat_model

        build_chat_model(settings.llm)  # a missing LLM setting is reported now, not after the ingest
    if not baseline and settings.core.reader == "learned":
        from bot.reader.model import verify

        verify(settings.core.reader_dir)  # a missing or damaged reader is reported now, not after the ingest
    eval_set = EvalSet.load(set_dir)
    questions = eval_set.questions[:limit] if limit else eval_set.questions
    if baseline:
        from bot.evaluation.baseline import tutorial_pipeline

        if baseline != "langchain-tutorial":
            raise NewsbotError(f"unknown baseline {baseline!r}; available: langchain-tutorial")
        ask, speed, name = tutorial_pipeline(settings, eval_set, progress)
        system = "langchain-tutorial"
    else:
        ask, speed, name = newsbot_pipeline(settings, eval_set, answerer, progress, embedder)
        system = f"newsbot/{answerer}" + (
            f" ({settings.llm.llm_provider}:{settings.llm.llm_model})" if answerer == "llm" else ""
        )
    if not baseline and answerer == "extractive":
        system += f" ({settings.core.reader} reader)"
    from bot.reader.model import sha256

    reader_manifest = settings.core.reader_dir / "manifest.json"
    config = {
        "set": str(set_dir),
        "system": system,
        "index": name,
        "top_k": settings.core.top_k,
        "split": settings.core.split.key,
        "model": settings.core.embedding_model,
        # a retrained reader answers afresh instead of resuming the old one's rows
        "reader": sha256(reader_manifest)[:12]
        if settings.core.reader == "learned" and reader_manifest.exists()
        else None,
    }

    out.mkdir(parents=True, exist_ok=True)
    done = _resume(out, config)
    by_id = {q["id"]: q for q in eval_set.questions}
    todo = [q for q in questions if q["id"] not in done]
    hits = sum(answer_hit(said(r["answer"]), by_id[r["id"]]["answers"]) and not r["abstained"] for r in done.values())
    bar = tqdm(total=len(questions), initial=len(questions) - len(todo), desc="eval", unit=" q", disable=not progress)
    try:
        with (out / "predictions.jsonl").open("a", encoding="utf-8") as f:
            for q in todo:
                row = prediction_row(q, ask(q))
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                f.flush()
                done[q["id"]] = row
                hits += bool(q["answerable"] and not row["abstained"] and answer_hit(said(row["answer"]), q["answers"]))
                bar.update(1)
                bar.set_postfix(answer_hit=f"{hits / max(1, sum(by_id[i]['answerable'] for i in done)):.3f}")
                if on_row:
                    on_row(q, row)
    finally:
        bar.close()
    rows = [done[q["id"]] for q in questions if q["id"] in done]
    metrics = score(rows, by_id)
    metrics["speed"].update(speed)
    metrics["speed"]["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    metrics["config"] = config
    metrics["created"] = time.strftime("%Y-%m-%d %H:%M:%S")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    from bot.evaluation.report import write_report

    write_report(out, metrics, rows, by_id)
    return metrics


def _resume(out: Path, config: dict) -> dict[str, dict]:
    """Rows already answered under the same configuration; a changed configuration starts afresh."""
    stamp, preds = out / "run.json", out / "predictions.jsonl"
    if stamp.exists() and preds.exists() and json.loads(stamp.read_text()) == config:
        rows = {}
        for line in preds.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by Ctrl-C is answered again
            rows[row["id"]] = row
        preds.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows.values()), encoding="utf-8")
        return rows
    preds.unlink(missing_ok=True)
    stamp.write_text(json.dumps(config))
    return {}


def recompute(out: Path, set_dir: Path) -> dict:
    """Metrics from OUT/predictions.jsonl and the set's questions alone (anyone can check metrics.json)."""
    by_id = {q["id"]: q for q in EvalSet.load(set_dir).questions}
    rows = [
        json.loads(line)
        for line in (out / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return score(rows, by_id)
