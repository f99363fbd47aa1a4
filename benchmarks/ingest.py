"""Ingest speed and memory: raw model throughput vs the full pipeline, re-ingest, and the LangChain tutorial.

    python benchmarks/ingest.py ../shared/eval/smoke [--vs-tutorial] [--json]

Each pipeline runs in its own process (peak RSS is that process's own); the raw model figure is the
median of several timed passes over a sample of the same passages, in this process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TUTORIAL = r"""
import json, sys, time
from pathlib import Path
from bot.evaluation.baseline import tutorial_pipeline
from bot.evaluation.sets import EvalSet
from bot.settings import Settings
s = Settings.load(None, data_dir=Path(sys.argv[2]))
t = time.perf_counter()
_, speed, _ = tutorial_pipeline(s, EvalSet.load(Path(sys.argv[1])), progress=False)
print(json.dumps(speed))
"""


def run_measured(cmd: list[str], env: dict) -> tuple[str, float, float]:
    """Run a command; return (stdout, wall seconds, peak RSS in MB of that process)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=REPO, text=True)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {p.returncode}")
    return out, time.perf_counter() - t0, usage.ru_maxrss / 1024


def raw_model_throughput(set_dir: Path, sample: int, repeats: int) -> tuple[float, int]:
    from bot.settings import Settings
    from ingest.embed import make_embedder
    from ingest.pipeline import embedding_text, load_sources
    from ingest.split import split_article

    s = Settings.load(None).core
    texts = []
    for a in load_sources([set_dir / "articles.jsonl.gz"]):
        if hasattr(a, "text"):
            texts += [
                embedding_text(a, p, s.embed_context) for p in split_article(a, s.passage_chars, s.passage_overlap)
            ]
        if len(texts) >= sample:
            break
    texts = texts[:sample]
    embedder = make_embedder(s.embedding_model, device=s.device, batch_size=s.batch_size, precision=s.precision)
    embedder.embed(texts[:64])  # warm-up
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        embedder.embed(texts)
        rates.append(len(texts) / (time.perf_counter() - t0))
    return statistics.median(rates), len(texts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("set_dir", type=Path)
    ap.add_argument(
        "--vs-tutorial", action="store_true", help="also time the LangChain tutorial pipeline on the same set"
    )
    ap.add_argument("--sample", type=int, default=2048, help="passages in the raw model sample")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    for k in [k for k in env if k.startswith(("NEWSBOT_", "CHROMA_"))]:
        del env[k]
    results: dict = {"set": str(args.set_dir)}
    raw, n = raw_model_throughput(args.set_dir, args.sample, args.repeats)
    results["raw_model_passages_per_s"] = round(raw, 1)
    results["raw_model_sample"] = n
    newsbot = [sys.executable, "-m", "bot.cli", "ingest", str(args.set_dir / "articles.jsonl.gz"), "--json"]
    with tempfile.TemporaryDirectory() as tmp:
        out, wall, rss = run_measured([*newsbot, "--data-dir", f"{tmp}/nb"], env)
        first = json.loads(out)
        results.update(
            ingest_passages=first["passages"],
            ingest_seconds=round(wall, 1),
            ingest_pipeline_seconds=first["seconds"],
            model_load_seconds=first["model_load_seconds"],
            ingest_passages_per_s=first["passages_per_s"],
            ingest_chars_per_s=first["chars_per_s"],
            ingest_vs_raw=round(first["passages_per_s"] / raw, 3),
            ingest_peak_rss_mb=round(rss, 1),
        )
        _, rewall, _ = run_measured([*newsbot, "--data-dir", f"{tmp}/nb"], env)
        results["reingest_seconds"] = round(rewall, 2)
        results["reingest_speedup"] = round(wall / rewall, 1)
        if args.vs_tutorial:
            out, twall, trss = run_measured([sys.executable, "-c", TUTORIAL, str(args.set_dir), f"{tmp}/tut"], env)
            tut = json.loads(out.strip().splitlines()[-1])
            # Both rates leave out loading the model (each pipeline times its own ingest loop);
            # the wall-clock ratio of the two whole processes is printed beside it.
            results.update(
                tutorial_seconds=round(twall, 1),
                tutorial_chars_per_s=tut["ingest_chars_per_s"],
                tutorial_peak_rss_mb=round(trss, 1),
            )
            results["speedup_vs_tutorial"] = round(results["ingest_chars_per_s"] / results["tutorial_chars_per_s"], 2)
            results["speedup_vs_tutorial_wall_clock"] = round(twall / wall, 2)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        width = max(map(len, results))
        for k, v in results.items():
            print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
