"""Search pieces: neighbouring passages merged into one hit, cited by the stored passage that holds the quote."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.search import merge
from bot.types import Hit
from ingest.split import split_article
from ingest.types import Article, StoredArticle
from tests.ingest.test_split import texts


@settings(max_examples=300, deadline=None)
@given(text=texts, max_chars=st.integers(20, 400), overlap=st.integers(0, 2), data=st.data())
def test_merged_neighbours_slice_the_article_and_map_back_to_their_passages(text, max_chars, overlap, data):
    """A merged hit reads as the article from its first passage to its last (whitespace as newlines),
    and every part's text is found at its own offsets, which map back to a stored passage holding it."""
    passages = split_article(Article(id="a", text=text), max_chars=max_chars, overlap=overlap)
    first = data.draw(st.integers(0, len(passages) - 1))
    parts = passages[first : first + data.draw(st.integers(1, 3))]
    joined = merge(data.draw(st.permutations(parts)))
    assert (joined.id, joined.n, joined.start, joined.end) == (parts[0].id, parts[0].n, parts[0].start, parts[-1].end)
    assert len(joined.text) == joined.end - joined.start
    assert all(c == a or (c == "\n" and a.isspace()) for c, a in zip(joined.text, text[joined.start : joined.end]))
    article = StoredArticle("a", "h", None, None, None, None, 1)
    hit = Hit(joined, article, 1.0, 1, parts=tuple(parts) if len(parts) > 1 else ())
    for p in parts:
        a, b = p.start - joined.start, p.end - joined.start
        assert joined.text[a:b] == p.text
        holder = hit.stored_passage(a, b)  # p, or an earlier part that overlaps it wholly
        assert holder.text[a - (holder.start - joined.start) :][: b - a] == p.text


@pytest.mark.slow
def test_a_hit_joins_its_neighbour_and_cites_the_passage_that_holds_the_quote(smoke_index, embedder):
    """Across the seed questions on the smoke index, merged hits are consecutive passages of one article,
    no passage is shown twice, and every quote lies in the stored passage its citation names."""
    from bot.service import NewsBot

    bot = NewsBot(smoke_index, embedder)
    merged = 0
    for question in (
        "Who will Gantz meet in Turkey?",
        "When was the ambassador appointed?",
        "What has prompted discussions between Israel and Turkey besides the thaw?",
        "When did diplomatic relations between Israel and Turkey hit an all-time low?",
    ):
        answer = bot.ask(question, as_of=date(2022, 10, 26))
        shown = [p.id for h in answer.retrieved for p in (h.parts or (h.passage,))]
        assert len(shown) == len(set(shown))
        shown_json = answer.as_dict()["retrieved"]
        for h, row in zip(answer.retrieved, shown_json):
            assert row.get("merged", []) == [p.id for p in h.parts]  # `ask --json` names every stored part
            if h.parts:
                merged += 1
                assert [p.n for p in h.parts] == list(range(h.parts[0].n, h.parts[0].n + len(h.parts)))
                assert {p.article_id for p in h.parts} == {h.article.id}
        for c in answer.citations:
            assert c.quote in smoke_index.passages([c.passage_id])[c.passage_id].text
    assert merged, "the seed article's three passages all rank: some must come back merged"


@pytest.mark.slow
def test_rankings_fetched_once_and_ranked_again_equal_search(smoke_index, embedder):
    """`newsbot train` fits search settings by re-ranking rankings fetched once: for any settings, that is exactly
    what search() returns."""
    import dataclasses

    from bot.query import read_question
    from bot.search import Searcher, SearchSettings

    searcher = Searcher(smoke_index)
    for question in ("When was the ambassador appointed?", "Who will headline the Super Bowl halftime show?"):
        query = read_question(question, as_of=date(2022, 10, 26), embedder=embedder)
        cands = searcher.candidates(query, SearchSettings().candidates)
        for s in (
            SearchSettings(),
            dataclasses.replace(SearchSettings(), lexical_weight=0.5, recency_weight=0.0, rrf_k=60),
        ):
            direct = searcher.search(query, k=10, settings=s)
            again = searcher.rank(query, cands, k=10, settings=s)
            assert [(h.passage.id, round(h.score, 9)) for h in direct] == [
                (h.passage.id, round(h.score, 9)) for h in again
            ]


@pytest.mark.slow
def test_exact_search_finds_what_chroma_finds_and_keeps_to_the_date(smoke_eval, embedder):
    """`newsbot train` searches by exact cosine (Chroma's HNSW answers a little differently in every process): the
    same neighbours as Chroma's on a corpus this small, none published after the question's date."""
    from bot.service import open_index

    settings, _, metrics = smoke_eval
    chroma = open_index(settings, embedder, metrics["config"]["index"])
    exact = open_index(settings, embedder, metrics["config"]["index"])
    exact.exact_search()
    published = exact.published()
    for question, day in (
        ("When was the ambassador appointed?", date(2022, 10, 26)),
        ("Who will headline the Super Bowl halftime show?", date(2022, 9, 30)),
        ("Who will headline the Super Bowl halftime show?", None),
    ):
        vector = embedder.embed([question])[0]
        got, want = exact.nearest(vector, 10, on_or_before=day), chroma.nearest(vector, 10, on_or_before=day)
        assert [pid for pid, _ in got] == [pid for pid, _ in want]
        assert [sim for _, sim in got] == pytest.approx([sim for _, sim in want], abs=1e-4)
        if day:
            assert all(published[pid] <= day.toordinal() for pid, _ in got)
