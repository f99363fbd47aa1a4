"""The phrase shown before the answer sentence ("**Salt Lake City** — …"): which words of the sentence answer the
question. Candidates are the sentence's names (capitalised runs and their parts), numbers with their unit, quoted
titles and content words; a linear score over PHRASE, fitted by `newsbot train` on the phrases of train's answer
sentences (softmax over one sentence's candidates), picks one, shown when its share of the softmax is high enough.
Besides where a phrase stands and what kind it is, the score reads how close its embedding is to what the question
asks for ("which *retailer*"): the packaged MiniLM knows that Target is a retailer and Scotland a country."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bot.answer import NOT_KEYS, QUOTED_TITLE, says
from bot.evaluation.metrics import contains, normalise

KINDS = ("name", "number", "title", "word")
# what the question asks for: its type (query.question_type), "which" for an untyped "which / what <noun>" question
ASKED = ("who", "where", "number", "title", "which", "other")
PHRASE = (
    *(f"is_{k}" for k in KINDS),
    *(f"{k}_for_{a}" for k in KINDS for a in ASKED),
    "words",
    "one_word",
    "opens_sentence",
    "position",
    "distance",
    "next_to_question_word",
    "near_question_word",
    "log_support",
    "supported",
    "after_place_word",
    "after_agent_word",
    "after_of",
    "possessive",
    "whole_run",
    "holds_asked_noun",
    "has_digit",
    "similarity",
    "similarity_gap",
)

_WORD = re.compile(r"[A-Za-z0-9$£€][\w$£€%'’.,\-]*")
_WHICH = re.compile(r"(?i)\b(?:which|what)\s+([a-z\-]+)")
_UNITS = frozenset(("million", "billion", "trillion", "percent", "%"))
_MAX_WORDS = 5  # longest name part offered: "Former Vice President Mike Pence"
# words that are no answer of their own (and never start a content-word phrase)
_STOP = frozenset(
    """a an the of in on at to for from by with and or but as is are was were be been being has have had do does did
    this that these those it its he she they them his her their we our you your i not no than then so such which who
    whom whose what when where why how will would could should can may might must said says say about after before
    over under into out up down more most less least very also just only new one two""".split()
)


@dataclass(frozen=True)
class Phrase:
    """One candidate: its place in the sentence, its kind (KINDS) and its text, trimmed of quotes and punctuation."""

    start: int
    end: int
    kind: str
    text: str


def _words(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group(0).rstrip(".,")) for m in _WORD.finditer(text)]


def candidates(sentence: str, question: str) -> list[Phrase]:
    """The phrases of `sentence` that could answer `question`, none of which it already says."""
    ws = _words(sentence)
    found: dict[tuple[int, int], str] = {}
    i = 0
    while i < len(ws):
        word = ws[i][2]
        if word[:1].isupper() or word[:1].isdigit() or word[:1] in "$£€":
            kind = "name" if word[:1].isupper() else "number"
            j = i
            while j + 1 < len(ws) and ws[j + 1][0] - ws[j][1] <= 1:
                nxt = ws[j + 1][2]
                if not (nxt[:1].isupper() if kind == "name" else nxt.lower() in _UNITS):
                    break
                j += 1
            for a in range(i, j + 1):  # a name's parts too: "New Zealand" of "New Zealand Prime Minister Ardern"
                for b in range(a, min(j, a + _MAX_WORDS - 1) + 1):
                    found[(ws[a][0], ws[b][1])] = kind
            if kind == "number" and j + 1 < len(ws) and ws[j + 1][2][:1].islower() and ws[j + 1][2] not in _STOP:
                found[(ws[i][0], ws[j + 1][1])] = kind  # "71 points", "16 years"
            i = j + 1
            continue
        if word.lower() not in _STOP and len(word) > 2:
            found[(ws[i][0], ws[i][1])] = "word"
            if i + 1 < len(ws) and ws[i + 1][0] - ws[i][1] <= 1:
                nxt = ws[i + 1][2]
                if nxt[:1].islower() and nxt.lower() not in _STOP:
                    found[(ws[i][0], ws[i + 1][1])] = "word"  # "vinyl chloride"
        i += 1
    for m in QUOTED_TITLE.finditer(sentence):
        found[(m.start(1), m.end(1))] = "title"
    out = []
    for (a, b), kind in sorted(found.items()):
        text = sentence[a:b].strip(" ,.'’\"“”")
        key = re.sub(r"['’]s?$", "", text.lower())
        if text and key not in _STOP and key not in NOT_KEYS and not says(question, text.lower()):
            out.append(Phrase(a, b, kind, text))
    return out


def asked_for(question: str, qtype: str | None) -> str:
    if qtype in ASKED:
        return qtype
    return "which" if qtype is None and _WHICH.search(question) else "other"


def similarities(question: str, phrases: Sequence[Phrase], embed: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """Cosine of each phrase's embedding with what the question asks for: the word after "which" / "what", or the
    whole question where it has none."""
    asked = _WHICH.search(question)
    vectors = embed([asked.group(1) if asked else question, *(p.text for p in phrases)])
    return vectors[1:] @ vectors[0]


def features(
    sentence: str,
    question: str,
    qtype: str | None,
    phrases: Sequence[Phrase],
    evidence: Sequence[str],
    similarity: np.ndarray,
) -> np.ndarray:
    """One PHRASE row per candidate; `evidence` are the texts the answer was chosen among (support: how many of them
    say the phrase too), `similarity` the phrases' `similarities`."""
    asked = asked_for(question, qtype)
    q_words = {w.lower() for _, _, w in _words(question) if w.lower() not in _STOP}
    ws = _words(sentence)
    at_question = [k for k, (_, _, w) in enumerate(ws) if w.lower() in q_words]
    noun = _WHICH.search(question)
    noun = noun.group(1).lower() if noun else ""
    rows = []
    for p in phrases:
        inside = [n for n, (a, b, _) in enumerate(ws) if a >= p.start and b <= p.end + 1] or [0]
        distance = min((min(abs(k - inside[0]), abs(k - inside[-1])) for k in at_question), default=20)
        n_words = len(p.text.split())
        support = sum(1 for t in evidence if says(t, p.text.lower()))
        before = sentence[: p.start].split()
        before = before[-1].lower() if before else ""
        after = sentence[p.end : p.end + 2]
        run_before = bool(before) and before[:1].isupper() and sentence[p.start - 1 : p.start] == " "
        run_after = sentence[p.end : p.end + 1] == " " and sentence[p.end + 1 : p.end + 2].isupper()
        rows.append(
            [
                *(float(p.kind == k) for k in KINDS),
                *(float(p.kind == k and asked == a) for k in KINDS for a in ASKED),
                min(n_words, _MAX_WORDS) / _MAX_WORDS,
                float(n_words == 1),
                float(p.start == 0),
                p.start / max(1, len(sentence)),
                min(distance, 20) / 20,
                float(distance <= 1),
                float(distance <= 3),
                math.log1p(support),
                float(support >= 2),
                float(before in ("in", "at", "from", "to")),
                float(before in ("by", "with")),
                float(before == "of"),
                float(after in ("'s", "’s")),
                float(not run_before and not run_after),
                float(bool(noun) and noun in p.text.lower()),
                float(any(ch.isdigit() for ch in p.text)),
                float(similarity[len(rows)]),
                float(similarity[len(rows)] - similarity.max()),
            ]
        )
    return np.array(rows, dtype=np.float32).reshape(len(rows), len(PHRASE))


def is_answer(phrase: str, answers: Sequence[str]) -> bool:
    """A phrase answers when it holds an accepted answer with at most one word more ("Pharrell Williams" for
    "Pharrell", not "Vice President Mike Pence" for "Former Vice President Mike Pence")."""
    n = len(normalise(phrase).split())
    return any(contains(phrase, a) and n <= len(normalise(a).split()) + 1 for a in answers)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()
