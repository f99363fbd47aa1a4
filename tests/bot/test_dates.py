"""Relative dates in evidence are made explicit against the article date or an earlier sentence."""

from __future__ import annotations

from datetime import date

import pytest

from bot.dates import explain_dates

D = date(2022, 10, 26)  # a Wednesday


@pytest.mark.parametrize(
    "sentence, before, expected",
    [
        (
            "The ambassador was appointed the following month.",
            "Ties were restored in August.",
            "The ambassador was appointed the following month [September 2022].",
        ),
        ("Gantz on Wednesday announced his trip.", "", "Gantz on Wednesday [26 October 2022] announced his trip."),
        ("Sales fell last year.", "", "Sales fell last year [2021]."),
        ("Herzog met Erdogan in March.", "", "Herzog met Erdogan in March [2022]."),
        ("Sales peaked in December.", "", "Sales peaked in December [2021]."),
        ("It happened in May 2019.", "", "It happened in May 2019."),
        ("It rained yesterday.", "", "It rained yesterday [25 October 2022]."),
        ("He left the following month.", "", "He left the following month."),
        # after a "will", a weekday or month is the coming one; what was said before it stays in the past
        (
            "The NFL confirmed on Sunday that she will headline the show in February.",
            "",
            "The NFL confirmed on Sunday [23 October 2022] that she will headline the show in February [2023].",
        ),
        ("He will meet Akar on Friday.", "", "He will meet Akar on Friday [28 October 2022]."),
        (
            "The vote is expected to take place in December.",
            "",
            "The vote is expected to take place in December [2022].",
        ),
        (
            "The summit will open on Wednesday, after talks last Monday.",
            "",
            "The summit will open on Wednesday [26 October 2022], after talks last Monday [24 October 2022].",
        ),
    ],
)
def test_explain_dates(sentence, before, expected):
    assert explain_dates(sentence, D, before) == expected


def test_unknown_article_date_changes_nothing():
    assert explain_dates("It rained yesterday.", None) == "It rained yesterday."


@pytest.mark.parametrize(
    "question, window",
    [
        ("Who won the election this week?", ("2022-10-18", "2022-10-26")),
        ("What did the minister say on Tuesday?", ("2022-10-25", "2022-10-26")),
        ("What happened on Wednesday?", ("2022-10-26", "2022-10-26")),
        ("Who visited Ankara in March?", ("2022-03-01", "2022-04-08")),
        ("Who visited Ankara in November?", ("2021-11-01", "2021-12-08")),
        ("Why did Ankara withdraw its ambassador in 2018?", ("2018-01-01", "2019-01-30")),
        ("What was agreed last year?", ("2021-01-01", "2022-01-30")),
        ("When was the ambassador appointed?", None),
    ],
)
def test_time_words_in_a_question_become_a_window_of_publication_dates(question, window):
    from bot.dates import question_window

    got = question_window(question, date(2022, 10, 26))  # a Wednesday
    assert (tuple(d.isoformat() for d in got) if got else None) == window
