"""How many questions of each eval set name a recent time that the set's articles hold no news of: the questions
`NewsBot.ask` abstains on before reading (`missing_news`), counted from the article dates alone, no index needed.

    python benchmarks/recent_windows.py ../shared/eval/train ../shared/eval/holdout ../shared/eval/dev [--json]

An answerable question counted here would be a false abstention; a null one, an abstention no reader had to make.
"""

from __future__ import annotations

import bisect
import gzip
import json
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.dates import is_past, question_window  # noqa: E402
from bot.evaluation.sets import EvalSet  # noqa: E402


def counts(folder: Path) -> dict:
    s = EvalSet.load(folder)
    with gzip.open(s.articles, "rt", encoding="utf-8") as f:
        dates = sorted(date.fromisoformat(a["date"]) for a in map(json.loads, f) if a.get("date"))
    out = {}
    for kind, answerable in (("answerable", True), ("null", False)):
        questions = recent = empty = 0
        for q in (q for q in s.questions if q["answerable"] == answerable):
            questions += 1
            as_of = date.fromisoformat(q["date"])
            window = question_window(q["question"], as_of)
            if window is None or is_past(window, as_of):
                continue
            recent += 1
            empty += bisect.bisect_right(dates, min(window[1], as_of)) == bisect.bisect_left(dates, window[0])
        out[kind] = {"questions": questions, "naming_recent_time": recent, "no_news_then": empty}
    return out


def main(argv: list[str]) -> None:
    as_json = "--json" in argv
    result = {Path(a).name: counts(Path(a)) for a in argv if a != "--json"}
    if as_json:
        print(json.dumps(result, indent=1))
        return
    print("| set | answerable: naming a recent time / no news then | null: naming a recent time / no news then |")
    print("|---|---:|---:|")
    for name, c in result.items():
        a, n = c["answerable"], c["null"]
        print(
            f"| {name} | {a['naming_recent_time']} of {a['questions']} / {a['no_news_then']} "
            f"| {n['naming_recent_time']} of {n['questions']} / {n['no_news_then']} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
