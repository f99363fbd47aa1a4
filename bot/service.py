"""`ask()`: the one entry point every front end uses (CLI, chat, Discord, eval)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from bot.answer import Answerer, ExtractiveAnswerer, abstain
from bot.dates import is_past
from bot.query import Query, clean_question, read_question
from bot.search import Searcher, SearchSettings
from bot.settings import Settings
from bot.types import Answer, Hit, Turn
from ingest.embed import Embedder, make_embedder
from ingest.index import Index
from ingest.types import Passage

if TYPE_CHECKING:
    from bot.reader.model import Reader


class NewsBot:
    """The reader side, assembled once: index, embedder, searcher and answerer."""

    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        answerer: Answerer | None = None,
        *,
        top_k: int = 5,
        retrieve_k: int = 10,
        search: SearchSettings = SearchSettings(),
        condense: Callable[[str, Sequence[Turn], date], str | None] | None = None,
        reader: Reader | None = None,
    ):
        self.index = index
        self.embedder = embedder
        self.searcher = Searcher(index, search)
        self.answerer = answerer or ExtractiveAnswerer(
            embedder, index.lexical, preceding=self._preceding, reader=reader
        )
        self.top_k = top_k
        self.retrieve_k = retrieve_k  # kept in Answer.retrieved (closest matches, eval's recall@10)
        self.condense = condense  # an LLM's rewrite of follow-ups; without one, standalone_query's heuristic

    def retriever(self, *, k: int | None = None, as_of: date | None = None):
        """This bot's search as a LangChain retriever (same Searcher, same index)."""
        from bot.retriever import NewsRetriever

        return NewsRetriever(searcher=self.searcher, embedder=self.embedder, k=k or self.top_k, as_of=as_of)

    def _preceding(self, passage: Passage) -> str:
        """The text of the passage before `passage` in its article ('' for the first)."""
        if passage.n == 0:
            return ""
        prev = Passage.make_id(passage.article_id, passage.n - 1)
        found = self.index.passages([prev]).get(prev)
        return found.text if found else ""

    def further(self, hits: Sequence[Hit], k: int) -> list[Hit]:
        """What the answerer may cite besides the first k hits: the hits ranked after them, then the other passages
        of every hit's article (another outlet's report of the same fact often sits in a passage that did not rank)."""
        shown = {p.id for h in hits for p in (h.parts or (h.passage,))}
        best = {h.article.id: h for h in reversed(hits)}  # each article's best-ranked hit
        rest = [
            dataclasses.replace(
                best[p.article_id], passage=p, parts=(), score=0.0, rank=len(hits) + 1, dense=0.0, lexical=0.0
            )
            for p in self.index.article_passages(best)
            if p.id not in shown
        ]
        return [*hits[k:], *rest]

    def query(self, question: str, *, as_of: date, history: Sequence[Turn] = ()) -> Query:
        """`question` read once for search and the answerer; a follow-up borrows from `history`."""
        rewritten = self.condense(question, history, as_of) if history and self.condense else None
        return read_question(question, as_of=as_of, embedder=self.embedder, history=history, rewritten=rewritten)

    def retrieve(self, query: Query, *, k: int | None = None) -> list[Hit]:
        """The hits ask() answers from (the first k) and cites from (all of them), best first."""
        return self.searcher.search(query, k=max(k or self.top_k, self.retrieve_k))

    def ask(
        self,
        question: str,
        *,
        history: Sequence[Turn] = (),
        as_of: date | None = None,
        k: int | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> Answer:
        """Answer `question` from articles published on or before `as_of` (default: today).

        `on_token` receives the answer as it is written, when the answerer streams (the LLM one does).
        """
        question = clean_question(question)  # a bad question is refused before an empty index is
        self.index.require_content()
        k = k or self.top_k
        t0 = time.perf_counter()
        query = self.query(question, as_of=as_of or date.today(), history=history)
        hits = self.retrieve(query, k=k)
        t1 = time.perf_counter()
        newest = self.index.newest(query.as_of)
        if missing := self.missing_news(query, newest):
            answer = dataclasses.replace(abstain(question, as_of=query.as_of, confidence=0.0), note=missing)
        else:
            answer = self.answerer.answer(
                query, hits[:k], newest=newest, on_token=on_token, further=self.further(hits, k)
            )
        t2 = time.perf_counter()
        return dataclasses.replace(
            answer,
            retrieved=tuple(hits),
            as_of=query.as_of,
            timings={"search_ms": (t1 - t0) * 1000, "answer_ms": (t2 - t1) * 1000},
        )

    def missing_news(self, query: Query, newest: date | None) -> str | None:
        """Why no article can answer: the question names a recent time ("this week", "on Tuesday", "in March")
        and the index holds nothing published then (its news ends earlier). None when it does, or when the time named
        is the past ("in 1996"), which later articles may recount."""
        window = query.window
        if window is None or is_past(window, query.as_of):
            return None
        latest = self.index.newest(min(window[1], query.as_of))
        if latest is not None and latest >= window[0]:
            return None
        span = window[0].isoformat() if window[0] == window[1] else f"{window[0].isoformat()} … {window[1].isoformat()}"
        held = f"the newest article is from {newest.isoformat()}" if newest else "no article was published by then"
        return f"The question asks about news of {span}, and none was ingested from then ({held})"


def index_folder(settings: Settings, name: str = "default") -> Path:
    return settings.core.data_dir / "indexes" / name


def open_index(settings: Settings, embedder: Embedder, name: str = "default", settings_key: str | None = None) -> Index:
    folder = index_folder(settings, name)
    return Index.open(
        folder,
        settings.chroma_config(folder),
        name=name,
        model=embedder.name,
        dim=embedder.dim,
        settings_key=settings.core.split.key if settings_key is None else settings_key,
    )


def build_watcher(settings: Settings, bot: NewsBot):
    """The feed and folder watcher writing into `bot`'s index with `bot`'s model."""
    from ingest.feeds import Watcher

    return Watcher(
        open_sources(settings),
        bot.index,
        bot.embedder,
        split=settings.core.split,
        limits=settings.fetch_limits,
        politeness=settings.politeness,
    )


def open_sources(settings: Settings):
    from ingest.feeds import SourceStore

    return SourceStore(settings.core.data_dir / "feeds.sqlite")


def build_embedder(settings: Settings) -> Embedder:
    c = settings.core
    return make_embedder(c.embedding_model, device=c.device, batch_size=c.batch_size, precision=c.precision)


def build_reader(settings: Settings) -> Reader | None:
    """The trained reader of NEWSBOT_READER_DIR (hash-checked), or None when NEWSBOT_READER=rules."""
    if settings.core.reader == "rules":
        return None
    from bot.reader.model import Reader

    return Reader.load(settings.core.reader_dir)


def assemble(settings: Settings, index: Index, embedder: Embedder, llm: bool | None = None) -> NewsBot:
    """The one way every front end (CLI, chat, Discord, eval, training, benchmarks) builds the bot over an index."""
    reader = build_reader(settings)
    search = reader.search if reader and reader.search else SearchSettings()
    if settings.core.per_article:
        search = dataclasses.replace(search, per_article=settings.core.per_article)
    bot = NewsBot(index, embedder, top_k=settings.core.top_k, search=search, reader=reader)
    if llm or (llm is None and settings.llm.llm_provider != "none"):
        use_llm(bot, settings)
    return bot


def build_bot(
    settings: Settings, embedder: Embedder | None = None, index_name: str = "default", llm: bool | None = None
) -> NewsBot:
    """The reader side from settings; `llm` None = use the LLM when LLM_PROVIDER is set."""
    embedder = embedder or build_embedder(settings)
    return assemble(settings, open_index(settings, embedder, index_name), embedder, llm)


def use_llm(bot: NewsBot, settings: Settings) -> None:
    """Answer with the configured chat model (the extractive answerer stays as its fallback)."""
    from bot.llm.answerer import LLMAnswerer
    from bot.llm.model import build_chat_model

    s = settings.llm
    llm = LLMAnswerer(build_chat_model(s), bot.answerer, output=s.llm_output, retries=s.llm_max_retries)
    bot.answerer = llm
    bot.condense = llm.condense
