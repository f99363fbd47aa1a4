"""Where the learned reader loses answers on train's late questions, from one cached pass over the bot's candidates.

    python benchmarks/reader_pools.py ../shared/eval/train --cache runs/train-pools.pkl

Collects every train question's whole candidate pool as `newsbot train` splits and asks it (early, late and the
two kinds of null questions), embeds and cross-encodes all of it once with the shipped reader, and caches that. Then
prints, per part, pool and shortlist recall and the pick for several shortlist sizes, served exactly as
`Reader.rank` serves (features of `bot.reader.features`). Variants of the shortlist, combiner or abstainer are
then numpy over the cache instead of a retrain. Train only: never point it at holdout or dev to choose a variant.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.evaluation.run import ingested_index  # noqa: E402
from bot.evaluation.sets import EvalSet  # noqa: E402
from bot.reader.features import cheap_features, full_rows  # noqa: E402
from bot.reader.fit import FitSettings, collect, old_news_nulls, split_by_date  # noqa: E402
from bot.reader.model import lag_of  # noqa: E402
from bot.service import assemble, build_embedder  # noqa: E402
from bot.settings import Settings  # noqa: E402


def collect_pools(set_dir: Path) -> list[dict]:
    from tqdm import tqdm

    settings = Settings.load(None)
    settings = settings.model_copy(update={"core": settings.core.model_copy(update={"reader": "learned"})})
    embedder = build_embedder(settings)
    eval_set = EvalSet.load(set_dir)
    index, _ = ingested_index(settings, eval_set, embedder, True)
    bot = assemble(settings, index, embedder, llm=False)
    s = FitSettings()
    first, last, old = split_by_date([q for q in eval_set.questions if q["answerable"]], s)
    parts = {
        "early": collect(bot, first, s, progress=True),
        "late": collect(bot, last, s, progress=True),
        "null_before": collect(bot, last, s, kind="before", progress=True),
        "null_old": old_news_nulls(bot, old, last, s, True),
    }
    rows = [(part, ex) for part, exs in parts.items() for ex in exs]
    out = []
    for i in tqdm(range(0, len(rows), 32), desc="embedding and cross-encoding pools", unit=" chunk"):
        block = rows[i : i + 32]
        for (part, ex), pool in zip(block, bot.answerer.compared_many([(ex.asked, ex.pool) for _, ex in block])):
            cross = bot.answerer.reader.cross_scores(ex.question, pool)
            out.append(
                {
                    "part": part,
                    "qtype": ex.qtype,
                    "labels": ex.labels,
                    "cheap": cheap_features(pool, ex.qtype),
                    "semantic": np.array([c.semantic for c in pool], np.float32),
                    "dense": np.array([c.hit.dense for c in pool], np.float32),
                    "coverage": np.array([c.coverage for c in pool], np.float32),
                    "lag": lag_of(ex.asked),
                    "cross": np.asarray(cross, np.float32),
                }
            )
    return out


def full_of(d: dict, idx: np.ndarray) -> np.ndarray:
    """FULL rows of the candidates `idx`, as full_features computes them over that compared set."""
    return full_rows(d["cheap"][idx], d["semantic"][idx], d["dense"][idx], d["cross"][idx])


def serve(d: dict, reader, n: int) -> tuple[bool, bool, float]:
    """(shortlist holds the answer, pick holds it, probability it answers) with a shortlist of n."""
    if not len(d["labels"]):
        return False, False, 0.0
    idx = reader.shortlist_order(d["cheap"], n)
    logits, p = reader.judge(full_of(d, idx), d["qtype"], float(d["coverage"][idx].max()), d.get("lag", 0.0))
    return bool(d["labels"][idx].any()), bool(d["labels"][idx[int(np.argmax(logits))]]), p


def main() -> None:
    from bot.reader.model import Reader

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("set_dir", type=Path)
    ap.add_argument("--cache", type=Path, default=Path("runs/train-pools.pkl"))
    ap.add_argument("--shortlists", type=int, nargs="+", default=[12, 24, 1000])
    args = ap.parse_args()
    if args.cache.exists():
        data = pickle.loads(args.cache.read_bytes())
    else:
        data = collect_pools(args.set_dir)
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        args.cache.write_bytes(pickle.dumps(data))
    reader = Reader.load()
    print("| shortlist | part | questions | pool recall | shortlist recall | pick | abstained |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for n in args.shortlists:
        for part in ("early", "late", "null_before", "null_old"):
            rows = [d for d in data if d["part"] == part]
            served = np.array([serve(d, reader, n) for d in rows])
            pool = np.mean([d["labels"].any() for d in rows])
            short, pick, abst = served[:, 0].mean(), served[:, 1].mean(), (served[:, 2] < reader.threshold).mean()
            print(f"| {n} | {part} | {len(rows)} | {pool:.3f} | {short:.3f} | {pick:.3f} | {abst:.3f} |")


if __name__ == "__main__":
    main()
