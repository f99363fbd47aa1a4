"""The extractive answerer: question types, sentence choice, quotes, dates and abstention."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest

from bot.answer import (
    ABSTAIN_TEXT,
    ExtractiveAnswerer,
    ExtractiveSettings,
    answer_keys,
    headline_of,
    type_match,
)
from bot.query import Query, question_type, read_question
from bot.types import Answer, Hit
from ingest.embed import HashEmbedder
from ingest.types import Passage, StoredArticle


@pytest.mark.parametrize(
    "question, qtype",
    [
        ("When was the ambassador appointed?", "when"),
        ("In what year did Israeli commandos kill Turkish activists?", "when"),
        ("How many Turkish activists were killed?", "number"),
        ("What percentage of the vote did he win?", "number"),
        ("Who will Gantz meet in Turkey?", "who"),
        ("Which actor starred in the film?", "who"),
        ("Which country banned the toys?", "where"),
        ("What has prompted discussions?", None),
        ("Which show received the most Emmy nominations?", "title"),
        ("Beyoncé's new album will be out July 29. What is it titled?", "title"),
        # the scene first, then the question
        (
            "Queen Elizabeth II, Britain's longest-serving monarch, died Thursday. When did she ascend to the throne?",
            "when",
        ),
        ("The Super Bowl halftime show was announced this week. Who will be performing?", "who"),
    ],
)
def test_question_type(question, qtype):
    assert question_type(question) == qtype


_TRUSS = "Liz Truss resigned after how many days in office?"
_DEBT = "Borrowers can apply for up to how much debt forgiveness?"


@pytest.mark.parametrize(
    "qtype, question, sentence, expected",
    [
        # who: a name the question does not already hold
        ("who", "Who is Israel's defence minister?", "The minister, Benny Gantz, flew to Ankara.", 1.0),
        ("who", "Who is Israel's defence minister?", "It is the first visit by a defence minister.", 0.0),
        # which show: a quoted title; an unquoted name is weaker evidence
        (
            "title",
            "Which show received the most Emmy nominations?",
            "HBO's “Succession” leads with 25 nominations.",
            1.0,
        ),
        ("title", "Which show received the most Emmy nominations?", "HBO's Succession leads with 25 nominations.", 0.5),
        ("title", "Which show received the most Emmy nominations?", "The show leads the nominations.", 0.0),
        # how many days: a count of days; another number is weaker evidence
        ("number", _TRUSS, "Liz Truss resigns as prime minister after 45 days in office.", 1.0),
        ("number", _TRUSS, "She took office on 6 September, the 2022 leadership race over.", 0.5),
        ("number", _TRUSS, "She resigned in front of Downing Street.", 0.0),
        ("number", "How many people were arrested?", "More than 1,000 people have been arrested.", 1.0),
        (
            "number",
            "His win gives Democrats how many Senate seats?",
            "Democrats will control 51 seats to the GOP's 49.",
            1.0,
        ),
        # how much: an amount
        ("number", _DEBT, "Pell Grant recipients can get up to $20,000 forgiven.", 1.0),
        ("number", _DEBT, "About 8 million borrowers applied in the first week.", 0.5),
    ],
)
def test_type_match(qtype, question, sentence, expected):
    """How well a sentence holds the kind of thing the question asks for."""
    assert type_match(qtype, sentence, question) == expected


def hit(
    text: str,
    rank: int = 1,
    article_date: date | None = date(2022, 10, 26),
    title: str | None = None,
    source: str = "example.com",
    url: str | None = None,
) -> Hit:
    article = StoredArticle(
        f"a{rank}", "h", title or f"Title {rank}", url or f"https://example.com/{rank}", article_date, source, 1
    )
    return Hit(Passage(f"a{rank}#0", f"a{rank}", 0, text, 0, len(text)), article, 1.0 / rank, rank)


def asked(answerer: ExtractiveAnswerer, question: str, as_of: date = date(2022, 10, 26)) -> Query:
    return read_question(question, as_of=as_of, embedder=answerer.embedder)


def answer(answerer: ExtractiveAnswerer, question: str, hits, *, as_of: date = date(2022, 10, 26), **kw) -> Answer:
    """What ask() does once it has the hits."""
    return answerer.answer(asked(answerer, question, as_of), hits, **kw)


def test_answer_quotes_the_best_sentence_and_explains_its_date():
    text = (
        "Full diplomatic ties between Israel and Turkey were restored in August. "
        "Israel's ambassador to Ankara was appointed the following month."
    )
    answerer = ExtractiveAnswerer(HashEmbedder(256), settings=ExtractiveSettings(min_confidence=0.0))
    a = answer(answerer, "When was Israel's ambassador to Ankara appointed?", [hit(text)])
    assert a.text == "Israel's ambassador to Ankara was appointed the following month [September 2022]. [1]"
    (c,) = a.citations
    assert c.quote in text and (c.n, c.article_id, c.url) == (1, "a1", "https://example.com/1")


def test_unrelated_passages_abstain():
    answerer = ExtractiveAnswerer(HashEmbedder(256))
    a = answer(answerer, "Who won the 2022 FIFA World Cup final?", [hit("The council approved the budget for roads.")])
    assert a.abstained and a.text == ABSTAIN_TEXT and not a.citations


def test_no_hits_abstain():
    assert answer(ExtractiveAnswerer(HashEmbedder(64)), "Anything?", []).abstained


def test_stale_evidence_lowers_confidence():
    """Evidence months older than the newest article is less likely to answer a news question."""
    answerer = ExtractiveAnswerer(HashEmbedder(256))
    text = "Mr Gantz will meet Turkish Defence Minister Hulusi Akar in Ankara."
    fresh = answerer.candidates(asked(answerer, "Who will Gantz meet?"), [hit(text)])[0]
    assert answerer.confidence(fresh, newest=date(2022, 10, 26)) > answerer.confidence(fresh, newest=date(2023, 6, 1))


@pytest.mark.parametrize(
    "opening, rest",
    [
        ("(CNN) ", "The Biden administration declared monkeypox a public health emergency."),
        ("NEW YORK (AP) — ", "Frances Tiafoe became the first American man to reach the semifinals since 2006."),
        ("WASHINGTON – ", "House Speaker Nancy Pelosi landed in Taiwan on Tuesday."),
        ("NASHVILLE, Tenn. – ", "Loretta Lynn, the coal miner's daughter turned country queen, has died at 90."),
        ("NEW DELHI, India — ", "India's heat wave pushed temperatures to 49 degrees Celsius."),
        ("Washington (CNN) ", "Kansas on Tuesday will become the first state to let voters weigh in on abortion."),
        ("Jackson, Wyoming (CNN) ", "Wyoming Rep. Liz Cheney was ousted from her House seat."),
        ("New York (CNN Business) ", "Sprite is retiring its green plastic bottles after more than 60 years."),
    ],
)
def test_a_wire_dateline_is_left_out_of_the_answer_and_its_quote(opening, rest):
    answerer = ExtractiveAnswerer(HashEmbedder(256), settings=ExtractiveSettings(min_confidence=0.0))
    a = answer(answerer, rest.rstrip("."), [hit(opening + rest, article_date=None)])
    assert a.text == f"{rest} [1]" and a.citations[0].quote == rest


@pytest.mark.parametrize("opening", ["(CNN) ", "Washington (CNN) ", "New York (CNN Business) ", "LONDON (Reuters) - "])
def test_a_dateline_tagged_with_its_outlet_is_left_out_beyond_the_first_passage(opening):
    """A page whose first lines were a photo caption puts its dateline later; "(CNN)" still marks it."""
    rest = "Kansas on Tuesday will become the first state to let voters weigh in on abortion."
    text = "Photos: Voters line up in Topeka.\n\n" + opening + rest
    answerer = ExtractiveAnswerer(HashEmbedder(256), settings=ExtractiveSettings(min_confidence=0.0))
    a = answer(
        answerer, "Which state will be the first to let voters weigh in on abortion", [hit(text, article_date=None)]
    )
    assert a.text == f"{rest} [1]" and a.citations[0].quote == rest


@pytest.mark.parametrize("before", ["It was a long meeting. ", "More: Leaders arrive for the summit\n\n"])
def test_a_dateline_lookalike_inside_an_article_is_kept(before):
    text = before + "NATO - the alliance - met in Madrid on Tuesday."
    answerer = ExtractiveAnswerer(HashEmbedder(256), settings=ExtractiveSettings(min_confidence=0.0))
    assert answer(answerer, "Where did NATO meet", [hit(text, article_date=None)]).text.startswith(
        "NATO - the alliance"
    )


def test_besides_questions_prefer_the_sentence_that_adds_something():
    """ "What else besides X?" wants the sentence marked as more ("also"), not another one about the same story."""
    text = (
        "Discussions between Israel and Turkey restored full diplomatic ties in August. "
        "The official said frustration with Iran has also prompted talks between the two sides."
    )
    answerer = ExtractiveAnswerer(HashEmbedder(256), settings=ExtractiveSettings(min_confidence=0.0))
    a = answer(answerer, "What has prompted discussions between Israel and Turkey besides the thaw?", [hit(text)])
    assert "Iran" in a.text


@pytest.mark.parametrize(
    "title, source, shown",
    [
        (
            "Liz Truss resigns as UK prime minister after 45 days in office - CNN",
            "cnn.com",
            "Liz Truss resigns as UK prime minister after 45 days in office",
        ),
        (
            "How the Georgia Senate runoff will work | CNN Politics",
            "cnn.com",
            "How the Georgia Senate runoff will work",
        ),
        (
            "'Permacrisis' revealed as word of the year | The Week UK",
            "theweek.co.uk",
            "'Permacrisis' revealed as word of the year",
        ),
        (
            "Why Morocco's World Cup success is no fluke | The ...",
            "theweek.co.uk",
            "Why Morocco's World Cup success is no fluke",
        ),
        ("Ford to cut 3,000 jobs - USA TODAY", "usatoday.com", "Ford to cut 3,000 jobs"),
        (
            "Roe v Wade overturned by Supreme Court, ending national abortion ...",
            "bbc.co.uk",
            "Roe v Wade overturned by Supreme Court, ending national abortion…",
        ),
        (
            "Stocks to buy now – 24/7 Wall St.",
            "usatoday.com",
            "Stocks to buy now – 24/7 Wall St.",
        ),  # not the outlet's name
        ("Title 1", "example.com", None),  # too short to say anything
        (None, "cnn.com", None),
    ],
)
def test_headline_of_drops_what_the_search_result_appended(title, source, shown):
    article = StoredArticle("a", "h", title, None, None, source, 1)
    assert headline_of(article) == shown


def test_a_headline_that_names_what_the_body_leaves_out_answers(embedder):
    """The body says "after she resigned"; only the headline says how many days: it answers, a body sentence
    backs it."""
    body = (
        "Liz Truss became the shortest-serving leader in British political history after she resigned Thursday. "
        "Her successor will be chosen within a week, the Conservative Party said."
    )
    title = "Liz Truss resigns as UK prime minister after 45 days in office - CNN"
    a = answer(
        ExtractiveAnswerer(embedder),
        "Liz Truss resigned as prime minister after how many days in office?",
        [hit(body, title=title, source="cnn.com")],
    )
    assert a.text == "Liz Truss resigns as UK prime minister after 45 days in office [1]"
    (c,) = a.citations
    assert (
        c.quote
        == "Liz Truss became the shortest-serving leader in British political history after she resigned Thursday."
    )
    assert c.title == title and c.quote in body


def test_a_headline_that_does_not_answer_leaves_the_body_sentence(embedder):
    body = (
        "Lawmakers met on Monday to debate the budget. "
        "Liz Truss resigned as prime minister after 45 days in office, the shortest tenure in British history."
    )
    a = answer(
        ExtractiveAnswerer(embedder),
        "Liz Truss resigned as prime minister after how many days in office?",
        [hit(body, title="What to watch in politics this week - CNN", source="cnn.com")],
    )
    assert a.text.startswith("Liz Truss resigned as prime minister after 45 days")


def test_another_article_saying_the_same_is_cited_with_the_answer(embedder):
    """Two outlets report the same fact: both are cited; an article on something else is not."""
    first = (
        "Ghana has confirmed its first two cases of the highly infectious Marburg virus disease, the WHO said Sunday."
    )
    same = (
        "Ghana has confirmed its first cases of the deadly Marburg virus, a highly infectious disease similar to Ebola."
    )
    other = "Ghana's cocoa harvest fell sharply this year, the country's cocoa board said."
    hits = [hit(first, 1), hit(same, 2), hit(other, 3)]
    a = answer(ExtractiveAnswerer(embedder), "Which country confirmed its first cases of Marburg virus?", hits)
    assert a.text.endswith("[1][2]") and [c.article_id for c in a.citations] == ["a1", "a2"]
    assert a.citations[1].quote == same
    alone = answer(
        ExtractiveAnswerer(embedder), "Which country confirmed its first cases of Marburg virus?", [hits[0], hits[2]]
    )
    assert alone.text.endswith("said Sunday [23 October 2022]. [1]") and len(alone.citations) == 1


def test_a_copy_of_the_cited_page_or_sentence_is_no_second_source(embedder):
    """The cited page under another address, or the same outlet's same sentence in another of its articles, is not
    cited again; another outlet's sentence is."""
    first = (
        "Ghana has confirmed its first two cases of the highly infectious Marburg virus disease, the WHO said Sunday."
    )
    same = (
        "Ghana has confirmed its first cases of the deadly Marburg virus, a highly infectious disease similar to Ebola."
    )
    question = "Which country confirmed its first cases of Marburg virus?"
    page = hit(f"Health officials were on alert. {same}", 2, url="http://www.example.com/1/index.html")
    sentence = hit(first, 3, url="https://example.com/later-story")
    elsewhere = hit(first, 4, source="other.org", url="https://other.org/marburg")
    a = answer(ExtractiveAnswerer(embedder), question, [hit(first, 1), page, sentence, elsewhere])
    assert [c.article_id for c in a.citations] == ["a1", "a4"] and a.text.endswith("[1][2]")


def test_another_article_repeating_the_answers_name_is_cited_with_it(embedder):
    """Told differently (no near-duplicate), another outlet's sentence that names the same performer backs the answer;
    one on the same show that names nobody new, or someone else, does not."""
    question = "The Super Bowl halftime show headliner was announced this week. Who will be performing?"
    first = "The NFL and Roc Nation confirmed on Sunday that Rihanna will headline the Super Bowl halftime show."
    same = "Pop star Rihanna is set to perform at the big game's halftime show, Roc Nation and the NFL said."
    vague = "Fans had waited for weeks to learn who would follow last year's show."
    other = "Last year the Super Bowl halftime show was headlined by Dr. Dre and Snoop Dogg."
    hits = [hit(first, 1), hit(vague, 2), hit(other, 3), hit(same, 4)]
    a = answer(ExtractiveAnswerer(embedder), question, hits)
    assert a.text.startswith("The NFL and Roc Nation confirmed on Sunday") and a.text.endswith("[1][2]")
    assert [c.article_id for c in a.citations] == ["a1", "a4"] and a.citations[1].quote == same
    v = embedder.embed([first, same])
    assert float(v[0] @ v[1]) < ExtractiveSettings().corroboration  # not cited as a near-duplicate
    assert len(answer(ExtractiveAnswerer(embedder), question, hits[:3]).citations) == 1


def test_a_sentence_naming_the_answer_that_would_not_answer_the_question_is_no_second_source(embedder):
    """Restating the answer's name is not enough: the sentence must answer the question itself as surely as
    `restating_confidence` (the rules' threshold fitted on train) asks; below it, it is not cited."""
    question = "The Super Bowl halftime show headliner was announced this week. Who will be performing?"
    first = "The NFL and Roc Nation confirmed on Sunday that Rihanna will headline the Super Bowl halftime show."
    aside = "Rihanna, the NFL and Roc Nation were not available for comment on the beauty brand's sales in Paris."
    hits = [hit(first, 1), hit(aside, 2)]
    assert [c.article_id for c in answer(ExtractiveAnswerer(embedder), question, hits).citations] == ["a1"]
    lenient = ExtractiveAnswerer(embedder, settings=ExtractiveSettings(restating_confidence=0.0))
    assert [c.article_id for c in answer(lenient, question, hits).citations] == ["a1", "a2"]


def test_sources_outside_the_answered_hits_are_cited_but_never_answered_from(embedder):
    """Another outlet's report of the answer's fact is cited from `further` (a lower-ranked hit, an unranked passage
    of a retrieved article) even deep in a long passage; `further` never supplies the answer itself."""
    question = "The Super Bowl halftime show headliner was announced this week. Who will be performing?"
    first = "The NFL and Roc Nation confirmed on Sunday that Rihanna will headline the Super Bowl halftime show."
    vague = "Fans had waited for weeks to learn who would follow last year's show."
    filler = " ".join(
        f"The stadium in Glendale has hosted {n} big games before." for n in ("two", "three", "four", "five", "six")
    )
    same = "Pop star Rihanna is set to perform at the big game's halftime show, Roc Nation and the NFL said."
    better = "Rihanna will perform at the Super Bowl halftime show this year, it was announced this week."  # no NFL
    answerer = ExtractiveAnswerer(embedder)
    alone = answer(answerer, question, [hit(first, 1), hit(vague, 2)])
    a = answer(answerer, question, [hit(first, 1), hit(vague, 2)], further=[hit(better, 6), hit(f"{filler} {same}", 7)])
    assert a.text == alone.text.replace("[1]", "[1][2]") and a.text.startswith("The NFL and Roc Nation confirmed")
    assert [c.article_id for c in a.citations] == ["a1", "a7"] and a.citations[1].quote == same
    assert answer(answerer, question, [hit(first, 1)], further=[hit(better, 6)]).citations[1:] == ()


@pytest.mark.parametrize(
    "sentence, question, expected",
    [
        # the names the question does not hold; its day and the outlet are not the fact
        (
            "The NFL confirmed on Sunday that Rihanna will headline the Super Bowl halftime show, CNN reported.",
            "Who will headline the Super Bowl halftime show?",
            {"nfl", "rihanna"},
        ),
        # "how many" wants the number: the names around it are not what another quote must repeat
        (
            "The bill was supported by all Democrats and 12 Republicans in the Senate.",
            "How many Republicans supported the bill?",
            {"12"},
        ),
        # "how many <unit>": the count of that unit, even a single digit, not the other numbers around it
        (
            "After a 10-month journey, NASA will crash a spacecraft into an asteroid 7 million miles away Monday.",
            "How many miles from Earth was the asteroid that NASA crashed a spacecraft into?",
            {"7"},
        ),
        (
            "Federer is retiring at age 41, closing a career in which he won 20 Grand Slam titles.",
            "Roger Federer won how many Grand Slam singles titles?",
            {"20"},
        ),
        # a quoted title for "which show"; "Japan's" is "Japan"
        ("Japan's Netflix hit “Alice in Borderland” was renewed.", "Which show was renewed?", {"alice in borderland"}),
        # a sentence's first word only when proper() says it is a name (next test)
        (
            "Russia’s President Vladimir Putin granted citizenship to Edward Snowden.",
            "Which country granted citizenship to Edward Snowden?",
            {"president vladimir putin"},
        ),
    ],
)
def test_answer_keys(sentence, question, expected):
    assert answer_keys(sentence, question, question_type(question)) == expected


def test_a_name_that_opens_the_sentence_is_a_key_when_the_articles_never_write_it_in_lower_case():
    sentence = "Mississippi’s capital has been without reliable tap water since Monday."
    question = "Which state's capital city is facing a water crisis?"
    assert answer_keys(sentence, question, question_type(question), proper=lambda word: word == "mississippi") == {
        "mississippi"
    }
    assert answer_keys(sentence, question, question_type(question)) == frozenset()


def test_fresher_evidence_wins_unless_the_question_asks_about_the_past():
    """The same sentence in an article of this week and in one of last year: the fresh one is preferred; for a
    question about 2021 neither is."""
    text = "Mr Gantz will meet Turkish Defence Minister Hulusi Akar in Ankara."
    hits = [hit(text, 1, article_date=date(2021, 10, 20)), hit(text, 2, article_date=date(2022, 10, 26))]
    answerer = ExtractiveAnswerer(HashEmbedder(256))
    now, newest = date(2022, 10, 27), date(2022, 10, 26)

    def scores(question: str) -> dict[str, float]:
        return {
            c.hit.article.id: answerer.score(c)
            for c in answerer.candidates(asked(answerer, question, as_of=now), hits, newest)
        }

    this_week = scores("Who will Gantz meet this week?")
    assert this_week["a2"] - this_week["a1"] > 0.1  # more than the first rank's lead
    in_2021 = scores("Who did Gantz meet in 2021?")
    assert in_2021["a1"] > in_2021["a2"]  # only the rank counts


def test_an_opening_dash_and_links_to_other_stories_are_not_quoted():
    text = (
        "– Finnish Prime Minister Sanna Marin said Finland will apply to join NATO.\n\n"
        "More: Sweden and Finland apply to join NATO, the alliance Russia opposes"
    )
    answerer = ExtractiveAnswerer(HashEmbedder(256), settings=ExtractiveSettings(min_confidence=0.0))
    a = answer(
        answerer, "Which countries apply to join NATO, the alliance Russia opposes?", [hit(text, article_date=None)]
    )
    assert a.text.startswith("Finnish Prime Minister Sanna Marin said") and a.citations[0].quote.startswith("Finnish")


@pytest.mark.parametrize(
    "shown, question, short",
    [
        (
            "Israel's ambassador to Ankara was appointed the following month [September 2022].",
            "When was the ambassador appointed?",
            "September 2022",
        ),
        (
            "Liz Truss resigned after 45 days in office.",
            "Liz Truss resigned as prime minister after how many days in office?",
            "45 days",
        ),
        ("The award went to Taylor Swift on Sunday.", "Who won the award?", "Taylor Swift"),
        ("Netflix renewed “Wednesday” for a second season.", "Which show did Netflix renew?", "Wednesday"),
        ("The storm hit Florida and Georgia on Monday.", "Which state did the storm hit?", None),  # two names: no pick
        ("Prices rose sharply.", "When did prices rise?", None),  # no date at all
    ],
)
def test_short_answer_is_the_one_phrase_of_the_asked_kind(shown, question, short):
    """The short answer shown first is the sentence's only date / count / new name / title, else none."""
    from bot.answer import short_answer

    assert short_answer(shown, question, question_type(question)) == short


def test_sentence_features_are_the_same_whatever_pythons_hash_seed():
    """`newsbot train` reads these features in another process than the one that shipped the model: summed in a
    set's order (which Python's per-process hash salt decides), they differed in the last bit, tied sentences swapped
    places, and two trainings on the same data drifted apart."""
    code = """
from datetime import date
import numpy as np
from bot.answer import Asked
from bot.query import Query
from tests.bot.test_answer import hit
words = [f"term{i}" for i in range(40)]
weights = {w: 1.0 / (i + 3) ** 0.7 for i, w in enumerate(words)}
query = Query("q", "q", date(2022, 1, 1), None, None, False, False, frozenset(words), frozenset(), np.zeros(3))
asked = Asked(query, weights, sum(weights.values()), None, None)
text = " ".join(words)
c = asked.candidate(hit(text), 0, len(text), text, set(words[::2]), set(words[1:]))
print(c.overlap.hex(), c.context.hex())
"""
    root = Path(__file__).resolve().parents[2]
    seen = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in range(4)
    }
    assert len(seen) == 1, seen


def test_every_candidate_knows_how_much_of_the_question_its_passage_holds():
    """`coverage`, the idf-weighted share of the question's words anywhere in a candidate's passage, tells the story
    asked about from a related one (the learned abstainer reads it): the same for every sentence of a passage and for
    its article's headline, whatever words the sentence itself holds, and lower for a passage of another story."""
    answerer = ExtractiveAnswerer(HashEmbedder(256))
    story = hit(
        "The mayor of Springfield opened the new bridge on Monday. Crowds cheered as the ribbon was cut.",
        1,
        title="Ribbon cut",
    )
    other = hit("A bridge in Shelbyville closed for repairs. Traffic was diverted for a week.", 2, title="Repairs")
    a = answerer.asked(asked(answerer, "Which mayor opened the Springfield bridge?"))
    pool = answerer.pool(a, [story, other])
    coverage = defaultdict(set)
    for c in pool:
        coverage[c.hit.article.id].add(c.coverage)
    assert {k: len(v) for k, v in coverage.items()} == {"a1": 1, "a2": 1}  # one value per passage, headline included
    assert coverage["a1"] == {0.8}  # every word of the question but "which" (each weighs 1 without an index)
    assert coverage["a2"] == {0.2}  # only "bridge"
    cheering = next(c for c in pool if c.text.startswith("Crowds"))
    assert cheering.overlap == 0 and cheering.coverage == 0.8
