"""The scoring functions on hand-made cases, as ../shared/eval/README.md defines them."""

from __future__ import annotations

import pytest

from bot.evaluation.metrics import answer_hit, choice_credit, first_relevant_rank, normalise, score, token_f1
from bot.evaluation.report import answered_by_line


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("The “Squid Game”!", "squid game"),
        ("An apple a day", "apple day"),
        ("U.S.-Mexico  border", "u s mexico border"),
        ("Ｆｕｌｌ－ｗｉｄｔｈ", "full width"),
        ("café", "café"),
    ],
)
def test_normalise(raw, expected):
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    "text, answers, hit",
    [
        ("It was Japan’s former leader.", ["Japan"], True),
        ("Iranian officials said", ["Iran"], False),  # not glued to letters
        ("13 people", ["3"], False),
        ("Appointed the following month [September 2022]. [1]", ["September 2022"], True),
        ("The “Squid Game” star", ["“Squid Game”", "Squid Game"], True),
        ("anything", ["", "a"], False),  # empty after normalising never hits
    ],
)
def test_answer_hit(text, answers, hit):
    assert answer_hit(text, answers) is hit


def test_token_f1():
    assert token_f1("Benny Gantz", "Gantz") == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert token_f1("", "x") == 0.0


def test_choice_verbatim_alone_wins():
    """One choice named verbatim is the pick even when another has a higher F1."""
    choices = ["Japan", "South Korea", "Greece", "Turkey"]
    assert choice_credit("A former leader of Japan was shot", choices, "Japan") == 1.0
    assert choice_credit("A former leader of Japan was shot", choices, "Greece") == 0.0


def test_choice_ties_share_the_credit():
    choices = ["New York City", "New Jersey City", "Boston", "Miami"]
    # no verbatim choice; "new" and "city" overlap both New-choices equally
    assert choice_credit("a new city", choices, "New York City") == pytest.approx(0.5)


def test_choice_abstention_and_zero_f1_are_wrong():
    choices = ["Japan", "Greece", "Peru", "Chile"]
    assert choice_credit("Japan", choices, "Japan", abstained=True) == 0.0
    assert choice_credit("nothing relevant", choices, "Japan") == 0.0


def test_first_relevant_rank_needs_gold_article_and_answer_text():
    retrieved = [
        {"article_id": "x", "text": "Japan is mentioned"},  # not gold
        {"article_id": "g", "text": "no answer here"},  # gold, no answer
        {"article_id": "g", "text": "the leader of Japan"},
    ]
    assert first_relevant_rank(retrieved, ["g"], ["Japan"]) == 3
    assert first_relevant_rank(retrieved[:2], ["g"], ["Japan"]) is None


def test_score_on_a_tiny_run():
    questions = {
        "q1": {
            "answerable": True,
            "answers": ["Japan"],
            "gold_ids": ["g"],
            "choices": ["Japan", "Peru", "Chile", "Mali"],
        },
        "q2": {"answerable": True, "answers": ["Peru"], "gold_ids": ["h"], "choices": None},
        "n1": {"answerable": False, "answers": [], "gold_ids": []},
    }
    rows = [
        {
            "id": "q1",
            "answer": "Japan [1]",
            "abstained": False,
            "citations": [{"article_id": "g"}],
            "retrieved": [{"article_id": "g", "text": "Japan"}],
            "latency_ms": 10,
        },
        {
            "id": "q2",
            "answer": "not in the articles",
            "abstained": True,
            "citations": [],
            "retrieved": [{"article_id": "x", "text": "Peru"}, {"article_id": "h", "text": "Peru"}],
            "latency_ms": 30,
        },
        {
            "id": "n1",
            "answer": "not in the articles",
            "abstained": True,
            "citations": [],
            "retrieved": [],
            "latency_ms": 20,
        },
    ]
    m = score(rows, questions)
    assert m["retrieval"]["recall@1"] == 0.5 and m["retrieval"]["recall@5"] == 1.0
    assert m["retrieval"]["mrr@10"] == 0.75
    assert m["answers"]["answer_hit"] == 0.5 and m["answers"]["choice_accuracy"] == 1.0
    assert m["answers"]["cite_gold"] == 0.5
    assert m["abstention"] == {"null_abstained": 1.0, "false_abstention": 0.5}
    assert m["speed"]["ask_p50_ms"] == 20
    assert answered_by_line(m) is None  # one answerer: nothing to say


def test_citation_markers_are_not_part_of_the_scored_answer():
    """ "… [1][2][3]" says nothing about the number 3; the markers are not words of the answer either."""
    questions = {"q": {"answerable": True, "answers": ["3"], "gold_ids": ["g"], "choices": ["1", "2", "3", "4"]}}
    rows = [
        {
            "id": "q",
            "answer": "The Avalanche won the Stanley Cup on Sunday. [1][2][3]",
            "abstained": False,
            "citations": [{"article_id": "g"}],
            "retrieved": [],
            "latency_ms": 10,
        }
    ]
    m = score(rows, questions)["answers"]
    assert m["answer_hit"] == 0.0 and m["choice_accuracy"] == 0.0 and m["median_answer_words"] == 8
    rows[0]["answer"] = "Ties were restored last year [2021]. [1]"  # a date made explicit is part of the answer
    questions["q"]["answers"] = ["2021"]
    assert score(rows, questions)["answers"]["answer_hit"] == 1.0


def test_an_llm_runs_fallbacks_are_counted_and_reported():
    questions = {f"q{i}": {"answerable": True, "answers": ["Peru"], "gold_ids": ["h"]} for i in range(3)}
    rows = [
        {
            "id": f"q{i}",
            "answer": "Peru [1]",
            "abstained": False,
            "citations": [{"article_id": "h"}],
            "retrieved": [],
            "latency_ms": 1,
            "answerer": who,
        }
        for i, who in enumerate(["llm", "extractive", "llm"])
    ]
    m = score(rows, questions)
    assert m["answered_by"] == {"llm": 2, "extractive": 1}
    assert answered_by_line(m).startswith("Answered by: llm 2, extractive 1")


def test_unknown_answerer_is_refused_before_any_ingest(tmp_path):
    """A typo in --answerer fails at once, not after minutes of ingesting the set."""
    from bot.evaluation.run import run_eval
    from bot.settings import Settings
    from ingest.errors import NewsbotError

    settings = Settings.load(None, data_dir=tmp_path)
    with pytest.raises(NewsbotError, match="unknown answerer 'gpt'"):
        run_eval(tmp_path / "no-such-set", tmp_path / "out", settings, answerer="gpt")
    with pytest.raises(NewsbotError, match="LLM_PROVIDER"):  # llm without a configured model
        run_eval(tmp_path / "no-such-set", tmp_path / "out", settings, answerer="llm")
    assert not (tmp_path / "indexes").exists()


def test_short_answers_are_counted_where_offered_and_scored_on_their_own():
    """How often the phrase shown first is offered to an answered question, and how often it alone holds an accepted
    answer: a right sentence with the wrong phrase picked out is a wrong short answer."""
    questions = {
        q: {"answerable": True, "answers": [a], "gold_ids": ["g"], "choices": None}
        for q, a in (("q1", "September 2022"), ("q2", "Ankara"), ("q3", "Gantz"), ("q4", "Haifa"))
    }

    def row(qid: str, answer: str, short: str | None, abstained: bool = False) -> dict:
        return {
            "id": qid,
            "answer": answer,
            "short_answer": short,
            "abstained": abstained,
            "citations": [],
            "retrieved": [],
            "latency_ms": 10,
        }

    rows = [
        row("q1", "The ambassador was appointed the following month [September 2022]. [1]", "September 2022"),
        row("q2", "Gantz will meet his counterpart in Ankara. [1]", "Gantz"),  # the sentence is right, the phrase not
        row("q3", "Defence Minister Benny Gantz and President Isaac Herzog met. [1]", None),
        row("q4", "The ingested articles do not answer this question.", None, abstained=True),
    ]
    m = score(rows, questions)["answers"]
    assert m["short_answer_shown"] == round(2 / 3, 4)
    assert m["short_answer_hit"] == 0.5
    assert m["answer_hit"] == 0.75
    for r in rows:  # a run written before short answers were recorded: none offered, nothing to score
        del r["short_answer"]
    m = score(rows, questions)["answers"]
    assert m["short_answer_shown"] == 0.0 and m["short_answer_hit"] == 0.0
