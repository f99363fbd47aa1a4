"""The traced embedding model against sentence-transformers' encode, on what newsbot embeds.

    python benchmarks/embed_trace.py ../shared/eval/dev

Three workloads, each a list of calls to `embed`: one question (search), six sentences of a passage
cut to SIMILARITY_CHARS (the extractive answerer), and 32 passages (ingest). The two paths run the
same calls alternately, round after round, so a machine that slows down slows both; the table gives
each path's median ms per call, the ratio, and the lowest cosine between their vectors.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.embed_device import set_texts  # noqa: E402
from bot.answer import SIMILARITY_CHARS  # noqa: E402
from ingest.embed import SentenceTransformerEmbedder  # noqa: E402
from ingest.sentences import sentence_spans  # noqa: E402


def workloads(set_dir: Path, n: int) -> dict[str, list[list[str]]]:
    questions = [json.loads(line)["question"] for line in (set_dir / "questions.jsonl").read_text().splitlines()[:n]]
    passages = set_texts(set_dir, 32 * n)
    sentences = [[p[a:b][:SIMILARITY_CHARS] for a, b in sentence_spans(p)][:6] for p in passages[:n]]
    return {
        "question": [[q] for q in questions],
        "6 sentences": [s for s in sentences if s],
        "32 passages": [passages[i : i + 32] for i in range(0, len(passages), 32)][: max(1, n // 8)],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("set_dir", type=Path)
    ap.add_argument("--calls", type=int, default=60, help="calls per workload and round [60]")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("runs/embed-trace.json"))
    args = ap.parse_args()

    embedder = SentenceTransformerEmbedder()
    embedder.model  # noqa: B018 - load (and trace) before timing
    traced = embedder._traced
    if traced is None:
        sys.exit("the model was not traced here (see the log); nothing to compare")

    def use(trace: bool) -> None:
        embedder._traced = traced if trace else None

    results = {}
    for name, calls in workloads(args.set_dir, args.calls).items():
        times: dict[bool, list[float]] = {True: [], False: []}
        for trace in (True, False):  # warm-up
            use(trace)
            embedder._embed(calls[0])
        for _ in range(args.rounds):
            for batch in calls:
                for trace in (True, False):
                    use(trace)
                    t0 = time.perf_counter()
                    embedder._embed(batch)
                    times[trace].append((time.perf_counter() - t0) * 1000)
        use(True)
        a = np.vstack([embedder._embed(b) for b in calls[:8]])
        use(False)
        b = np.vstack([embedder._embed(b) for b in calls[:8]])
        traced_ms, encode_ms = statistics.median(times[True]), statistics.median(times[False])
        results[name] = {
            "traced_ms": round(traced_ms, 2),
            "encode_ms": round(encode_ms, 2),
            "ratio": round(traced_ms / encode_ms, 3),
            "min_cosine": round(float((a * b).sum(1).min()), 6),
        }
    use(True)

    print(f"{'workload':<12} {'traced ms':>10} {'encode ms':>10} {'ratio':>6} {'min cos':>9}")
    for name, r in results.items():
        print(f"{name:<12} {r['traced_ms']:>10.2f} {r['encode_ms']:>10.2f} {r['ratio']:>6.3f} {r['min_cosine']:>9.6f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"precision": embedder.precision, "rounds": args.rounds, "results": results}, indent=2)
    )


if __name__ == "__main__":
    main()
