"""The extractive answerer: question types, sentence choice, quotes, dates and abstention."""
from __future__ import annotations

from datetime import date

import pytest

from ingest.embed import HashEmbedder
from ingest.index import StoredArticle
from ingest.types import Passage
from bot.answer import ABSTAIN_TEXT, ExtractiveAnswerer, ExtractiveSettings, question_type, type_match
from bot.types import Hit


@pytest.mark.parametrize("question, qtype", [
    ("When was the ambassador appointed?", "when"),
    ("In what year did Israeli commandos kill Turkish activists?", "when"),
    ("How many Turkish activists were killed?", "number"),
    ("What percentage of the vote did he win?", "number"),
    ("Who will Gantz meet in Turkey?", "who"),
    ("Which actor starred in the film?", "who"),
    ("Which country banned the toys?", "where"),
    ("What has prompted discussions?", None),
])
def test_question_type(question, qtype):
    assert question_type(question) == qtype


def test_type_match_wants_a_new_name_for_who():
    q = "Who is Israel's defence minister?"
    assert type_match("who", "The minister, Benny Gantz, flew to Ankara.", q) == 1.0
    assert type_match("who", "It is the first visit by a defence minister.", q) == 0.0


def hit(text: str, rank: int = 1, article_date: date | None = date(2022, 10, 26)) -> Hit:
    article = StoredArticle(f"a{rank}", "h", f"Title {rank}", f"https://example.com/{rank}", article_date, "example.com", 1)
    return Hit(Passage(f"a{rank}#0", f"a{rank}", 0, text, 0, len(text)), article, 1.0 / rank, rank)


def test_answer_quotes_the_best_sentence_and_explains_its_date():
    text = ("Full diplomatic ties between Israel and Turkey were restored in August. "
            "Israel's ambassador to Ankara was appointed the following month.")
    answerer = ExtractiveAnswerer(HashEmbedder(256), settings=ExtractiveSettings(min_confidence=0.0))
    a = answerer.answer("When was Israel's ambassador to Ankara appointed?", [hit(text)])
    assert a.text == "Israel's ambassador to Ankara was appointed the following month [September 2022]. [1]"
    (c,) = a.citations
    assert c.quote in text and (c.n, c.article_id, c.url) == (1, "a1", "https://example.com/1")


def test_unrelated_passages_abstain():
    answerer = ExtractiveAnswerer(HashEmbedder(256))
    a = answerer.answer("Who won the 2022 FIFA World Cup final?", [hit("The council approved the budget for roads.")])
    assert a.abstained and a.text == ABSTAIN_TEXT and not a.citations


def test_no_hits_abstain():
    assert ExtractiveAnswerer(HashEmbedder(64)).answer("Anything?", []).abstained


def test_stale_evidence_lowers_confidence():
    """Evidence months older than the newest article is less likely to answer a news question."""
    answerer = ExtractiveAnswerer(HashEmbedder(256))
    text = "Mr Gantz will meet Turkish Defence Minister Hulusi Akar in Ankara."
    fresh = answerer.candidates("Who will Gantz meet?", [hit(text)])[0]
    assert answerer.confidence(fresh, newest=date(2022, 10, 26)) > answerer.confidence(fresh, newest=date(2023, 6, 1))
