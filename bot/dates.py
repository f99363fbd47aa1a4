"""Make relative dates in quoted evidence explicit, against the article's date or an earlier sentence."""

from __future__ import annotations

import re
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

# fmt: off
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]
# fmt: on
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
# regex alternations of the capitalised names, as news text writes them
MONTH_NAMES = "|".join(m.capitalize() for m in MONTHS)
WEEKDAY_NAMES = "|".join(d.capitalize() for d in WEEKDAYS)

# "in August" / "in August 2021" / "last March" — a month named in the text, possibly with a year.
_NAMED_MONTH = re.compile(
    rf"\b(?:(in|last|this|since|until|by|early|late|mid-?)\s+)?({MONTH_NAMES})\b(?:\s+(\d{{4}}))?(?!\s+\d)"
)
_RELATIVE = re.compile(
    rf"\b(?P<rel>the following month|the next month|a month later|the previous month|the month before"
    rf"|last month|this month|next month|last year|this year|next year|the following year|the next year|a year later"
    rf"|the previous year|the year before|yesterday|today|tomorrow|last week|this week|next week"
    rf"|(?:on |last |this |next )?(?:{WEEKDAY_NAMES}))\b",
)

# Words that put what follows them in the future: "… confirmed Sunday that she will headline the show in February".
FUTURE = re.compile(r"\b(will|shall|(?:is|are) (?:expected|set|scheduled|due|going) to|upcoming)\b", re.I)


def _month_year(d: date) -> str:
    return f"{MONTHS[d.month - 1].capitalize()} {d.year}"


def _last_named_month(text: str, article_date: date) -> date | None:
    """The last month named in `text`, as the first day of that month (year inferred from the article date)."""
    found = None
    for m in _NAMED_MONTH.finditer(text):
        if m.group(1) is None and m.group(2) == "May":
            continue  # "May" alone is too often the verb
        month = MONTHS.index(m.group(2).lower()) + 1
        year = (
            int(m.group(3))
            if m.group(3)
            else (article_date.year if month <= article_date.month else article_date.year - 1)
        )
        found = date(year, month, 1)
    return found


def resolve(expression: str, article_date: date, context: str = "", future: bool = False) -> str | None:
    """What a relative `expression` means in an article of `article_date`; `context` is the text before it.

    `future`: the expression follows a "will" — "on Tuesday" is then the coming Tuesday, not the last one. None
    when it is not a relative date, or would fall outside the calendar ("yesterday" in an article of 0001-01-01).
    """
    try:
        return _resolve(expression, article_date, context, future)
    except (OverflowError, ValueError):
        return None


def _resolve(expression: str, article_date: date, context: str, future: bool) -> str | None:
    e = expression.lower()
    anchor = _last_named_month(context, article_date)
    if e in ("the following month", "the next month", "a month later"):
        return _month_year(anchor + relativedelta(months=1)) if anchor else None
    if e in ("the previous month", "the month before"):
        return _month_year(anchor - relativedelta(months=1)) if anchor else None
    if e in ("the following year", "the next year", "a year later", "the previous year", "the year before"):
        if not anchor:
            return None
        return str(anchor.year + (1 if "follow" in e or "next" in e or "later" in e else -1))
    if e == "last month":
        return _month_year(article_date - relativedelta(months=1))
    if e == "this month":
        return _month_year(article_date)
    if e == "next month":
        return _month_year(article_date + relativedelta(months=1))
    if e in ("last year", "this year", "next year"):
        return str(article_date.year + {"last year": -1, "this year": 0, "next year": 1}[e])
    if e in ("yesterday", "today", "tomorrow"):
        return _long(article_date + timedelta(days={"yesterday": -1, "today": 0, "tomorrow": 1}[e]))
    if e in ("last week", "this week", "next week"):
        start = (
            article_date
            - timedelta(days=article_date.weekday())
            + timedelta(weeks={"last week": -1, "this week": 0, "next week": 1}[e])
        )
        return f"week of {_long(start)}"
    words = e.split()
    if words[-1] in WEEKDAYS:
        target = WEEKDAYS.index(words[-1])
        if words[0] == "next":
            delta = (target - article_date.weekday()) % 7 or 7
            return _long(article_date + timedelta(days=delta))
        if future and words[0] != "last":
            return _long(article_date + timedelta(days=(target - article_date.weekday()) % 7))
        delta = (article_date.weekday() - target) % 7
        if words[0] == "last" and delta == 0:
            delta = 7
        return _long(article_date - timedelta(days=delta))
    return None


def _long(d: date) -> str:
    return f"{d.day} {MONTHS[d.month - 1].capitalize()} {d.year}"


def explain_dates(sentence: str, article_date: date | None, before: str = "") -> str:
    """`sentence` with each relative date followed by its meaning in brackets, e.g. "the following month
    [September 2022]".

    Months named without a year ("in March") get their year too. `before` is the article text preceding
    the sentence, used as the anchor for "the following month" and the like. After a "will", a weekday or
    month is the next one ("will headline the show in February", written in October: February of next year).
    """
    if article_date is None:
        return sentence
    out, pos = [], 0
    spans = []
    future = FUTURE.search(sentence)
    for m in _RELATIVE.finditer(sentence):
        ahead = bool(future and future.end() <= m.start())
        meaning = resolve(m.group("rel"), article_date, before + " " + sentence[: m.start()], future=ahead)
        if meaning:
            spans.append((m.end(), meaning))
    for m in _NAMED_MONTH.finditer(sentence):
        if m.group(3) or (m.group(1) is None):
            continue  # has a year already, or a bare "May"/"March" that may not be a date
        month = MONTHS.index(m.group(2).lower()) + 1
        if future and future.end() <= m.start():
            year = article_date.year if month >= article_date.month else article_date.year + 1
        else:
            year = article_date.year if month <= article_date.month else article_date.year - 1
        spans.append((m.end(), str(year)))
    for end, meaning in sorted(spans):
        out.append(sentence[pos:end])
        out.append(f" [{meaning}]")
        pos = end
    out.append(sentence[pos:])
    return "".join(out)


_Q_WEEKDAY = re.compile(rf"\b(?:on|last|this)\s+({'|'.join(WEEKDAYS)})\b", re.I)
_Q_MONTH = re.compile(
    rf"\b(?:in|during|since|last|this|early|late|mid-?)\s+({'|'.join(MONTHS)})\b(?:\s+(\d{{4}}))?", re.I
)
_Q_YEAR = re.compile(r"\b(?:in|during|since|of)\s+((?:19|20)\d\d)\b", re.I)
_Q_SPANS = [
    (re.compile(r"\b(today|yesterday|tonight)\b", re.I), 3),
    (re.compile(r"\b(this|past) week(end)?\b", re.I), 8),
    (re.compile(r"\blast week(end)?\b", re.I), 15),
    (re.compile(r"\b(this|past) month\b", re.I), 32),
    (re.compile(r"\blast month\b", re.I), 62),
]


def question_window(question: str, as_of: date) -> tuple[date, date] | None:
    """The publication dates a question's own time words point at, resolved against `as_of`.

    "this week" → the 8 days up to as_of; "on Tuesday" → the last Tuesday and the day after;
    "in March" / "last March" → that month (the latest one not after as_of) plus a week of
    follow-up reporting; "in 2018" → that year plus a month; "this year" / "last year" likewise.
    None when the question names no time, or when the window would fall outside the calendar (as of 0001-01-01).
    """
    try:
        return _question_window(question, as_of)
    except (OverflowError, ValueError):
        return None


# How far a named time reaches into the news (set by hand on dev's time-word questions, see docs/evaluation.md):
WEEKDAY_DAYS = 2  # "on Tuesday": that day's news and the next day's reports of it
MONTH_FOLLOW_UP_DAYS = 7  # "in March": reporting on a month goes on into the next week ...
YEAR_FOLLOW_UP_DAYS = 30  # ... and on a year into the next month
PAST_AFTER_DAYS = 30  # a window that ended longer ago than this is "the past": nothing pulls towards today


def _question_window(question: str, as_of: date) -> tuple[date, date] | None:
    for pattern, days in _Q_SPANS:
        if pattern.search(question):
            return as_of - timedelta(days=days), as_of
    if m := _Q_WEEKDAY.search(question):
        day = as_of - timedelta(days=(as_of.weekday() - WEEKDAYS.index(m.group(1).lower())) % 7)
        return day, min(as_of, day + timedelta(days=WEEKDAY_DAYS))
    if m := _Q_MONTH.search(question):
        month = MONTHS.index(m.group(1).lower()) + 1
        year = int(m.group(2)) if m.group(2) else (as_of.year if month <= as_of.month else as_of.year - 1)
        if m.group(0).lower().startswith("last") and not m.group(2) and year == as_of.year and month == as_of.month:
            year -= 1
        start = date(year, month, 1)
        return start, min(as_of, start + relativedelta(months=1) + timedelta(days=MONTH_FOLLOW_UP_DAYS))
    if re.search(r"\bthis year\b", question, re.I):
        return date(as_of.year, 1, 1), as_of
    if re.search(r"\blast year\b", question, re.I):
        return date(as_of.year - 1, 1, 1), date(as_of.year - 1, 12, 31) + timedelta(days=YEAR_FOLLOW_UP_DAYS)
    if m := _Q_YEAR.search(question):
        year = int(m.group(1))
        if year <= as_of.year:
            return date(year, 1, 1), min(as_of, date(year, 12, 31) + timedelta(days=YEAR_FOLLOW_UP_DAYS))
    return None


def is_past(window: tuple[date, date] | None, as_of: date | None) -> bool:
    """Whether a question's time window ends more than a month before `as_of` ("in 2018", "last March"):
    then nothing should pull towards the newest articles."""
    return window is not None and as_of is not None and (as_of - window[1]).days > PAST_AFTER_DAYS
