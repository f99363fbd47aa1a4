"""Rendering for Discord as pure functions: nothing lost when split, every embed within Discord's limits."""

from __future__ import annotations

import dataclasses
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.discord_app.limits import EMBED_TOTAL, embed_problems, pack_embeds, split_text
from bot.discord_app.render import answer_embeds, quotes_message
from bot.types import Answer, Citation, Hit
from ingest.types import Passage, StoredArticle

text_with_breaks = st.text(st.sampled_from("ab .!?\n\t\u00e9\U0001f600\u201d"), max_size=9000)


@settings(max_examples=300, deadline=None)
@given(text_with_breaks, st.integers(1, 2000))
def test_split_loses_nothing_and_respects_the_limit(text, limit):
    pieces = split_text(text, limit)
    assert "".join(pieces) == text
    assert all(0 < len(p) <= limit for p in pieces)


def test_split_prefers_line_then_sentence_boundaries():
    lines = ("word " * 30 + "\n") * 20  # 3,020 characters of 151-character lines
    first, *_ = split_text(lines, 2000)
    assert first.endswith("\n")
    sentences = ("This is a sentence of the answer. " * 100).strip()
    first, second, *_ = split_text(sentences, 2000)
    assert first.endswith(". ") and second.startswith("This")


def citation(n: int, title: str = "Port reopens after storm") -> Citation:
    return Citation(
        n,
        f"a{n}",
        f"a{n}#0",
        title,
        f"https://example.com/news/{n}?a=(b)",
        date(2023, 3, 14),
        "Harbour Times",
        "The harbour reopened on Tuesday.",
    )


def answer(text: str, citations=(), abstained=False, retrieved=()) -> Answer:
    return Answer(
        "When did the port reopen?",
        text,
        tuple(citations),
        abstained,
        retrieved,
        date(2023, 3, 20),
        timings={"search_ms": 20, "answer_ms": 30},
    )


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=20000), st.integers(0, 40), st.text(min_size=1, max_size=600))
def test_answer_embeds_always_fit_and_keep_the_whole_answer(text, n_citations, title):
    embeds = answer_embeds(answer(text, [citation(i + 1, title) for i in range(n_citations)]))
    assert all(not embed_problems(e) for e in embeds)
    for message in pack_embeds(embeds):
        assert len(message) <= 10 and sum(len(e) for e in message) <= EMBED_TOTAL
    assert sum(len(e.fields) for e in embeds) == n_citations
    assert embeds[0].title == "When did the port reopen?" and embeds[-1].footer.text.startswith("As of 20 Mar 2023")


def test_a_3000_character_answer_is_split_without_losing_characters():
    text = " ".join(f"Sentence number {i} of a long answer [1]." for i in range(80))
    assert len(text) > 3000
    quotes = answer(text, [dataclasses.replace(citation(i), quote=text) for i in range(1, 3)])
    pieces = split_text(quotes_message(quotes), 2000)
    assert len(pieces) >= 3 and all(len(p) <= 2000 for p in pieces)
    assert "".join(pieces) == quotes_message(quotes)


def test_sources_link_titles_and_markdown_in_articles_is_shown_literally():
    (embed,) = answer_embeds(answer("The *port* reopened on Tuesday [1].", [citation(1, "A [weird] title")]))
    assert "\\*port\\*" in embed.description
    field = embed.fields[0]
    assert field.name == "[1] Harbour Times · 14 Mar 2023"
    assert field.value == "[A (weird) title](https://example.com/news/1?a=%28b%29)"


def test_abstentions_show_closest_matches():
    article = StoredArticle("a1", "h", "Port reopens", "https://example.com/p", date(2023, 3, 14), "Harbour Times", 1)
    hit = Hit(Passage("a1#0", "a1", 0, "The harbour reopened on Tuesday after the storm.", 0, 48), article, 0.3, 1)
    (embed,) = answer_embeds(
        answer("The ingested articles do not answer this question.", abstained=True, retrieved=(hit,))
    )
    assert embed.title == "Not in the articles"
    assert (
        embed.fields[0].name == "Closest matches" and "[Port reopens](https://example.com/p)" in embed.fields[0].value
    )
