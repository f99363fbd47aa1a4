"""Relative dates in evidence are made explicit against the article date or an earlier sentence."""
from __future__ import annotations

from datetime import date

import pytest

from bot.dates import explain_dates

D = date(2022, 10, 26)  # a Wednesday


@pytest.mark.parametrize("sentence, before, expected", [
    ("The ambassador was appointed the following month.", "Ties were restored in August.",
     "The ambassador was appointed the following month [September 2022]."),
    ("Gantz on Wednesday announced his trip.", "", "Gantz on Wednesday [26 October 2022] announced his trip."),
    ("Sales fell last year.", "", "Sales fell last year [2021]."),
    ("Herzog met Erdogan in March.", "", "Herzog met Erdogan in March [2022]."),
    ("Sales peaked in December.", "", "Sales peaked in December [2021]."),
    ("It happened in May 2019.", "", "It happened in May 2019."),
    ("It rained yesterday.", "", "It rained yesterday [25 October 2022]."),
    ("He left the following month.", "", "He left the following month."),
])
def test_explain_dates(sentence, before, expected):
    assert explain_dates(sentence, D, before) == expected


def test_unknown_article_date_changes_nothing():
    assert explain_dates("It rained yesterday.", None) == "It rained yesterday."
