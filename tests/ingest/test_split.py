"""Splitting: passages are whole sentences, cover the article in order, and slice it exactly."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.sentences import split_sentences
from ingest.split import split_article
from ingest.types import Article

words = st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "Zs")), min_size=1, max_size=12)
texts = st.lists(
    st.tuples(
        st.lists(words, min_size=1, max_size=30).map(" ".join), st.sampled_from([". ", "! ", "? ", "\n\n", "\n", " "])
    ),
    min_size=1,
    max_size=40,
).map(lambda parts: "".join(a + b for a, b in parts))


@settings(max_examples=300, deadline=None)
@given(text=texts, max_chars=st.integers(20, 800), overlap=st.integers(0, 2))
def test_passages_cover_text_in_order_with_exact_offsets(text, max_chars, overlap):
    """Offsets slice the article to exactly the passage text; every non-space character is covered, in order."""
    article = Article(id="a", text=text)
    passages = split_article(article, max_chars=max_chars, overlap=overlap)
    covered = [False] * len(text)
    for i, p in enumerate(passages):
        assert p.id == f"a#{i}" and p.n == i
        assert text[p.start : p.end] == p.text
        assert len(p.text) <= max_chars
        for j in range(p.start, p.end):
            covered[j] = True
    assert all(covered[i] or text[i].isspace() for i in range(len(text)))
    starts = [p.start for p in passages]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)


def test_news_sentences_keep_abbreviations_together():
    """Titles, initials and U.S. do not end sentences; real ends do."""
    text = "Mr. Smith met Dr. J. K. Rowling in the U.S. on Jan. 6. They talked. “Is it over?” she asked."
    assert split_sentences(text) == [
        "Mr. Smith met Dr. J. K. Rowling in the U.S. on Jan. 6.",
        "They talked.",
        "“Is it over?” she asked.",
    ]


def test_a_dash_continues_the_sentence_before_it():
    """A dateline ("Tenn. – ") or an aside ("…? – but") is not where a sentence starts."""
    text = (
        "NASHVILLE, Tenn. – Loretta Lynn died Tuesday. They drafted Trevor Lawrence? – but nevertheless won. "
        "Closed on Christmas. — Dan Reiner"
    )
    assert split_sentences(text) == [
        "NASHVILLE, Tenn. – Loretta Lynn died Tuesday.",
        "They drafted Trevor Lawrence? – but nevertheless won.",
        "Closed on Christmas. — Dan Reiner",
    ]


def test_seed_sentence_is_whole():
    text = (
        "Full diplomatic ties were restored in August. Israel's ambassador to Ankara was appointed the following month."
    )
    assert split_sentences(text)[1] == "Israel's ambassador to Ankara was appointed the following month."
