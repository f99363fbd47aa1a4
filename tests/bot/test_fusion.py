"""Search's scoring on its own: rank fusion, the recency prior, the question's time window, the set-aside demotion."""

from __future__ import annotations

from datetime import date

import pytest

from bot.query import read_question
from bot.search import Candidates, Searcher, SearchSettings
from ingest.embed import HashEmbedder
from ingest.pipeline import ingest
from ingest.types import Article
from tests.conftest import make_index

AS_OF = date(2022, 10, 26)
STORIES = {  # one passage each
    "old": ("The council met about the new bridge.", date(2022, 3, 10)),
    "recent": ("The council met about the new tram.", date(2022, 10, 24)),
    "thaw": ("The thaw in relations prompted the talks.", date(2022, 10, 20)),
    "iran": ("Frustration with Iran also prompted the talks.", date(2022, 10, 20)),
}
NO_DATES = SearchSettings(recency_weight=0.0, window_weight=0.0)
EVEN = SearchSettings(lexical_weight=1.0, recency_weight=0.0, window_weight=0.0)  # both rankings count alike


@pytest.fixture(scope="module")
def searcher(tmp_path_factory):
    embedder = HashEmbedder(64)
    index = make_index(tmp_path_factory.mktemp("fusion"), embedder)
    articles = [Article(id=k, text=text, date=day) for k, (text, day) in STORIES.items()]
    ingest(articles, index, embedder, progress=False)
    return Searcher(index), embedder


def fused(searcher, question: str, cands: Candidates, settings: SearchSettings) -> dict[str, float]:
    s, embedder = searcher
    query = read_question(question, as_of=AS_OF, embedder=embedder)
    order, scores = s.fuse(cands, query, settings)
    if query.avoid:
        order, scores = s.set_aside(order, scores, query.avoid, settings)
    return {pid.split("#")[0]: scores[pid] for pid in order}


def test_fusion_adds_reciprocal_ranks_and_weighs_bm25_higher(searcher):
    """A passage both rankings put high beats one that only one puts first; BM25's first beats the dense first."""
    cands = Candidates(dense=[("old#0", 0.9), ("recent#0", 0.8)], lexical=[("thaw#0", 9.0), ("recent#0", 8.0)])
    scores = fused(searcher, "Who met?", cands, NO_DATES)
    assert list(scores) == ["recent", "thaw", "old"]
    s = SearchSettings()
    assert scores["recent"] == pytest.approx(s.dense_weight / (s.rrf_k + 2) + s.lexical_weight / (s.rrf_k + 2))


def test_recency_pulls_towards_the_news_of_the_question_date(searcher):
    """Tied ranks otherwise: the article of two days ago outranks the one of seven months ago."""
    cands = Candidates(dense=[("old#0", 0.9), ("recent#0", 0.8)], lexical=[("recent#0", 9.0), ("old#0", 8.0)])
    tie = fused(searcher, "Who did the council meet?", cands, EVEN)
    assert tie["old"] == pytest.approx(tie["recent"])
    with_recency = fused(
        searcher, "Who did the council meet?", cands, SearchSettings(lexical_weight=1.0, window_weight=0)
    )
    assert list(with_recency) == ["recent", "old"]
    assert with_recency["recent"] / tie["recent"] > with_recency["old"] / tie["old"] > 1.0


def test_a_question_about_the_past_is_not_pulled_towards_today(searcher):
    """ "in March" names a month long past: neither recency nor the window changes a score."""
    cands = Candidates(dense=[("old#0", 0.9), ("recent#0", 0.8)], lexical=[("recent#0", 9.0), ("old#0", 8.0)])
    scores = fused(searcher, "Who did the council meet in March?", cands, SearchSettings())
    plain = fused(searcher, "Who did the council meet in March?", cands, NO_DATES)
    assert scores["old"] == pytest.approx(plain["old"]) and scores["recent"] == pytest.approx(plain["recent"])


def test_a_window_within_the_last_month_weighs_its_articles(searcher):
    """ "this week" is a window that is not the past: its articles gain (1 + window_weight)."""
    cands = Candidates(dense=[("old#0", 0.9), ("recent#0", 0.8)], lexical=[("recent#0", 9.0), ("old#0", 8.0)])
    s = SearchSettings(recency_weight=0.0)
    scores = fused(searcher, "Who did the council meet this week?", cands, s)
    plain = fused(searcher, "Who did the council meet this week?", cands, NO_DATES)
    assert scores["recent"] == pytest.approx(plain["recent"] * (1 + s.window_weight))
    assert scores["old"] == pytest.approx(plain["old"])


def test_what_the_question_sets_aside_is_demoted(searcher):
    """ "besides the thaw": the passage about the thaw restates the premise and loses to the one that adds Iran."""
    cands = Candidates(dense=[("thaw#0", 0.9), ("iran#0", 0.8)], lexical=[("thaw#0", 9.0), ("iran#0", 8.0)])
    assert list(fused(searcher, "What prompted the talks?", cands, NO_DATES)) == ["thaw", "iran"]
    scores = fused(searcher, "What prompted the talks besides the thaw?", cands, NO_DATES)
    assert list(scores) == ["iran", "thaw"]
    assert scores["thaw"] == pytest.approx(fused(searcher, "What prompted the talks?", cands, NO_DATES)["thaw"] / 2)
