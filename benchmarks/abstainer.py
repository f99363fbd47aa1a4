"""Which null questions the learned reader's abstainer should be fitted on, measured on train alone, in seconds.

`newsbot train` leaves the rows its combiner and abstainer were fitted on in `<data dir>/train-fit-rows.pkl` (every
train question's shortlist with out-of-fold cross-encoder logits, and the null questions it made, by kind). This
refits the abstainer on chosen kinds of null questions with the same code as `newsbot train` and measures it out of
time: fitted on one date block's questions (and the null questions made of them), its threshold set there at the
allowed false abstentions, then read on the other block's; `--drop NAME` leaves a QUESTION feature out. Nothing here
reads holdout or dev.

    python benchmarks/abstainer.py [--rows .newsbot/train-fit-rows.pkl] [--reader models/reader] [--drop NAME] [--json]
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.reader.features import QUESTION  # noqa: E402
from bot.reader.fit import NULL_KINDS, FitSettings, fit_logistic, threshold_at  # noqa: E402
from bot.reader.model import Reader  # noqa: E402

ANSWERABLE = ("answerable", "later")  # as asked, and asked again after their date
# which null questions the abstainer is fitted on (answerable ones always)
VARIANTS = {
    "all kinds": {"before", "behind", "old", "fold", "absent"},
    "all but absent (v31)": {"before", "behind", "old", "fold"},
    "all but absent and behind (v12)": {"before", "old", "fold"},
    "before + old (v11)": {"before", "old"},
    "old + fold (holdout's kind)": {"old", "fold"},
    "before + fold": {"before", "fold"},
}


def question_rows(rows: list[dict], reader: Reader) -> tuple[np.ndarray, np.ndarray]:
    """QUESTION features of each row under the reader's combiner, and whether its pick holds the answer."""
    x, hit = [], []
    for r in rows:
        logits = reader.combiner(r["full"])
        x.append(reader.question(r["full"], logits, r["qtype"], r["coverage"], r.get("lag", 0.0)))
        hit.append(bool(r["labels"][int(np.argmax(logits))]))
    return np.array(x), np.array(hit)


def measure(
    fit_rows: list[dict], test_rows: list[dict], kinds: set[str], reader: Reader, s: FitSettings, drop: set[str]
) -> dict:
    """Fit on `fit_rows` (answerable + the `kinds` of null) without the `drop` features, threshold at
    s.false_abstention there; read `test_rows`."""
    keep = [i for i, name in enumerate(QUESTION) if name not in drop]
    used = [r for r in fit_rows if r["kind"] in ANSWERABLE or r["kind"] in kinds]
    x, _ = question_rows(used, reader)
    x = x[:, keep]
    y = np.array([r["kind"] in ANSWERABLE for r in used], dtype=float)
    abstainer = fit_logistic(x, y, [QUESTION[i] for i in keep], s.l2)
    as_asked = np.array([r["kind"] == "answerable" for r in used])
    threshold = threshold_at(1 / (1 + np.exp(-abstainer(x[as_asked]))), s.false_abstention)
    xt, hit = question_rows(test_rows, reader)
    xt = xt[:, keep]
    p = 1 / (1 + np.exp(-abstainer(xt)))
    kind = np.array([r["kind"] for r in test_rows])
    real = kind == "answerable"
    out = {
        "false_abstentions": round(float((p[real] < threshold).mean()), 3),
        "answer_hit": round(float((hit[real] & (p[real] >= threshold)).mean()), 3),
    }
    if (kind == "later").any():  # answerable, asked after their date: abstaining on them is a false abstention too
        out["later_abstained"] = round(float((p[kind == "later"] < threshold).mean()), 3)
    for k in NULL_KINDS:
        if (kind == k).any():
            out[f"{k}_abstained"] = round(float((p[kind == k] < threshold).mean()), 3)
    return out


def main(argv: list[str]) -> None:
    a = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    a.add_argument("--rows", type=Path, default=Path(".newsbot/train-fit-rows.pkl"))
    a.add_argument("--reader", type=Path, default=None, help="the reader those rows were fitted for [their own]")
    a.add_argument("--drop", action="append", default=[], choices=QUESTION, help="leave this feature out (repeatable)")
    a.add_argument("--json", action="store_true")
    args = a.parse_args(argv)
    with args.rows.open("rb") as f:
        saved = pickle.load(f)
    reader = Reader.load(args.reader or Path(saved["reader"]))
    s = FitSettings(**{k: v for k, v in saved["settings"].items() if k in FitSettings.__dataclass_fields__})
    rows = saved["rows"]
    # two date blocks of answerable questions; a null question goes with the block of the question it was made of
    days = sorted(r["day"] for r in rows if r["kind"] == "answerable")
    cut = days[len(days) // 2]
    early = [r for r in rows if r["day"] < cut]
    late = [r for r in rows if r["day"] >= cut]
    result = {}
    for name, kinds in VARIANTS.items():
        result[name] = {
            "fit early, read late": measure(early, late, kinds, reader, s, set(args.drop)),
            "fit late, read early": measure(late, early, kinds, reader, s, set(args.drop)),
        }
    if args.json:
        print(json.dumps(result, indent=1))
        return
    counts = {k: sum(r["kind"] == k for r in rows) for k in ("answerable", "later", *NULL_KINDS)}
    print(f"rows: {counts}; blocks cut at {cut}")
    for name, by in result.items():
        for direction, m in by.items():
            print(f"{name:30s} {direction:20s} " + "  ".join(f"{k} {v}" for k, v in m.items()))


if __name__ == "__main__":
    main(sys.argv[1:])
