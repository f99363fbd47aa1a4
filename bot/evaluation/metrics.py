"""Scoring exactly as ../shared/eval/README.md defines it, from prediction rows alone."""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

_ARTICLES = {"a", "an", "the"}
_MARKERS = re.compile(r"\[\d{1,2}\]")  # "[1][2][3]" would otherwise "hit" an answer of 3; "[2022]" explains a date


def said(answer: str) -> str:
    """An answer's words without its citation markers: what is scored."""
    return " ".join(_MARKERS.sub(" ", answer).split())


def normalise(s: str) -> str:
    """NFKC, lower case, Unicode punctuation to spaces, drop a/an/the, fold whitespace (SQuAD-style)."""
    s = unicodedata.normalize("NFKC", s or "").lower()
    s = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in s)
    return " ".join(w for w in s.split() if w not in _ARTICLES)


def contains(text: str, answer: str) -> bool:
    """True when normalise(answer) occurs in normalise(text) as whole words."""
    a = normalise(answer)
    return bool(a) and f" {a} " in f" {normalise(text)} "


def answer_hit(text: str, answers: Sequence[str]) -> bool:
    return any(contains(text, a) for a in answers)


def token_f1(prediction: str, truth: str) -> float:
    p, t = normalise(prediction).split(), normalise(truth).split()
    common = sum((Counter(p) & Counter(t)).values())
    if not common:
        return 0.0
    precision, recall = common / len(p), common / len(t)
    return 2 * precision * recall / (precision + recall)


def choice_credit(text: str, choices: Sequence[str], correct: str, abstained: bool = False) -> float:
    """1 for the right pick, 1/k when k choices tie at the top with it, 0 otherwise.

    A choice occurring verbatim, alone among the choices, is the pick; else the highest token-F1.
    """
    if abstained or not choices:
        return 0.0
    verbatim = [c for c in choices if contains(text, c)]
    if len(verbatim) == 1:
        return float(verbatim[0] == correct)
    scores = [token_f1(text, c) for c in choices]
    best = max(scores)
    if best <= 0:
        return 0.0
    top = [c for c, s in zip(choices, scores) if s == best]
    return 1.0 / len(top) if correct in top else 0.0


def first_relevant_rank(retrieved: Sequence[dict], gold_ids: Iterable[str], answers: Sequence[str]) -> int | None:
    """1-based rank of the first retrieved passage of a gold article whose text contains an accepted answer."""
    gold = set(gold_ids)
    for rank, r in enumerate(retrieved, 1):
        if r["article_id"] in gold and answer_hit(r.get("text", ""), answers):
            return rank
    return None


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    v = sorted(values)
    i = (len(v) - 1) * q
    lo, hi = int(i), min(int(i) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (i - lo)


def score(rows: Sequence[dict], questions: dict[str, dict]) -> dict:
    """All headline metrics from prediction rows and the questions they answer."""
    answerable = [r for r in rows if questions[r["id"]]["answerable"]]
    null = [r for r in rows if not questions[r["id"]]["answerable"]]
    ranks = [
        first_relevant_rank(r["retrieved"], questions[r["id"]]["gold_ids"], questions[r["id"]]["answers"])
        for r in answerable
    ]

    def recall(k: int) -> float:
        return _mean(1.0 if rk is not None and rk <= k else 0.0 for rk in ranks)

    # article level, as ../shared/eval counts retrieval: the rank of the first passage of any gold article
    article_ranks = [
        next(
            (i for i, h in enumerate(r["retrieved"], 1) if h["article_id"] in set(questions[r["id"]]["gold_ids"])), None
        )
        for r in answerable
    ]

    text = {r["id"]: said(r["answer"]) for r in rows}
    hits = [not r["abstained"] and answer_hit(text[r["id"]], questions[r["id"]]["answers"]) for r in answerable]
    strict = [
        not r["abstained"]
        and answer_hit(text[r["id"]], questions[r["id"]].get("strict_answers") or questions[r["id"]]["answers"])
        for r in answerable
    ]
    with_choices = [r for r in answerable if questions[r["id"]].get("choices")]
    choice = [
        choice_credit(text[r["id"]], questions[r["id"]]["choices"], questions[r["id"]]["answers"][0], r["abstained"])
        for r in with_choices
    ]
    cite_gold = [
        not r["abstained"] and bool({c["article_id"] for c in r["citations"]} & set(questions[r["id"]]["gold_ids"]))
        for r in answerable
    ]
    answered = [r for r in answerable if not r["abstained"]]
    lengths = [len(text[r["id"]].split()) for r in answered]
    # the phrase shown before the answer sentence ("September 2022 — …"): how often one is offered, and how often an
    # offered one holds an accepted answer by itself
    shorts = [(r["short_answer"], questions[r["id"]]["answers"]) for r in answered if r.get("short_answer")]
    latencies = [r["latency_ms"] for r in rows]
    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "null": len(null),
        # which answerer gave each answer: an LLM run counts its extractive fallbacks here
        "answered_by": dict(Counter(r.get("answerer", "?") for r in rows).most_common()),
        "retrieval": {
            "recall@1": recall(1),
            "recall@4": recall(4),
            "recall@5": recall(5),
            "recall@10": recall(10),
            "mrr@10": _mean(1.0 / rk if rk is not None and rk <= 10 else 0.0 for rk in ranks),
            "recall_curve": {str(k): recall(k) for k in range(1, 11)},
            "article_recall@5": _mean(1.0 if rk is not None and rk <= 5 else 0.0 for rk in article_ranks),
            "article_mrr@10": _mean(1.0 / rk if rk is not None and rk <= 10 else 0.0 for rk in article_ranks),
        },
        "answers": {
            "answer_hit": _mean(hits),
            "strict_answer_hit": _mean(strict),
            "choice_accuracy": _mean(choice),
            "median_answer_words": statistics.median(lengths) if lengths else 0,
            "cite_gold": _mean(cite_gold),
            "short_answer_shown": _mean(bool(r.get("short_answer")) for r in answered),
            "short_answer_hit": _mean(answer_hit(short, answers) for short, answers in shorts),
        },
        "abstention": {
            "null_abstained": _mean(r["abstained"] for r in null),
            "false_abstention": _mean(r["abstained"] for r in answerable),
        },
        "speed": {
            "ask_p50_ms": percentile(latencies, 0.5),
            "ask_p95_ms": percentile(latencies, 0.95),
            "search_p50_ms": percentile([r.get("timings", {}).get("search_ms", 0.0) for r in rows], 0.5),
            "answer_p50_ms": percentile([r.get("timings", {}).get("answer_ms", 0.0) for r in rows], 0.5),
        },
    }


def _mean(values: Iterable) -> float:
    v = [float(x) for x in values]
    return round(sum(v) / len(v), 4) if v else 0.0
