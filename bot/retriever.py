"""newsbot's hybrid, date-aware search as a LangChain retriever, for users' own chains."""

from __future__ import annotations

from datetime import date

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, SkipValidation

from bot.query import read_question
from bot.search import Searcher
from bot.types import Hit
from ingest.embed import Embedder


def hit_document(hit: Hit) -> Document:
    """A Document with the passage text and everything needed to cite it."""
    a = hit.article
    return Document(
        id=hit.passage.id,
        page_content=hit.passage.text,
        metadata={
            "passage_id": hit.passage.id,
            "article_id": a.id,
            "n": hit.passage.n,
            "start": hit.passage.start,
            "end": hit.passage.end,
            "title": a.title,
            "url": a.url,
            "source": a.source,
            "date": a.date.isoformat() if a.date else None,
            "score": hit.score,
            "rank": hit.rank,
        },
    )


class NewsRetriever(BaseRetriever):
    """`retriever.invoke("question")` returns the passages `newsbot ask` would see, as Documents."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    searcher: Searcher
    embedder: SkipValidation[Embedder]  # a Protocol, which pydantic cannot check with isinstance
    k: int = 5
    as_of: date | None = None  # None: today

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        asked = read_question(query, as_of=self.as_of or date.today(), embedder=self.embedder)
        hits = self.searcher.search(asked, k=self.k)
        return [hit_document(h) for h in hits]
