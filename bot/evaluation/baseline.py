"""The pipeline LangChain's RAG tutorial teaches, on the same data and model, scored by the same code.

RecursiveCharacterTextSplitter(1000, 200) -> HuggingFaceEmbeddings -> langchain-chroma `Chroma` ->
`similarity_search(k=4)`. It has no date filter and no answerer of its own without an LLM: its
"answer" is the best chunk, which is what a user of that pipeline would be shown.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import date

from bot.evaluation.sets import EvalSet, index_name
from bot.settings import Settings
from bot.types import Answer, Hit
from ingest.embed import resolve_model_path
from ingest.errors import BadArticle
from ingest.pipeline import load_sources
from ingest.types import Passage, StoredArticle


def tutorial_pipeline(settings: Settings, eval_set: EvalSet, progress: bool):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter
    from tqdm import tqdm

    model = settings.core.embedding_model
    name = index_name(eval_set, "langchain-tutorial", model)
    folder = settings.core.data_dir / "indexes" / name
    done = folder / "done.json"
    embeddings = HuggingFaceEmbeddings(
        model_name=resolve_model_path(model), model_kwargs={"device": settings.core.device}
    )
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)  # a half-built tutorial index would hold duplicates
    store = Chroma(collection_name="tutorial", embedding_function=embeddings, persist_directory=str(folder / "chroma"))
    if not done.exists():
        t0 = time.perf_counter()
        docs = [
            Document(
                page_content=a.text,
                metadata={
                    "article_id": a.id,
                    "title": a.title or "",
                    "url": a.url or "",
                    "date": a.date.isoformat() if a.date else "",
                    "source": a.source or "",
                },
            )
            for a in load_sources([eval_set.articles])
            if not isinstance(a, BadArticle)
        ]
        chunks = RecursiveCharacterTextSplitter(
            chunk_size=1000, chunk_overlap=200, add_start_index=True
        ).split_documents(docs)
        step = 1000
        for i in tqdm(range(0, len(chunks), step), desc="tutorial ingest", unit=" batch", disable=not progress):
            store.add_documents(chunks[i : i + step])
        seconds = time.perf_counter() - t0
        chars = sum(len(d.page_content) for d in docs)
        done.write_text(json.dumps({"passages": len(chunks), "seconds": seconds, "chars": chars}))
    info = json.loads(done.read_text())
    speed = {
        "ingest_passages_per_s": round(info["passages"] / info["seconds"], 1),
        "ingest_chars_per_s": round(info["chars"] / info["seconds"], 1),
        "ingest_seconds": round(info["seconds"], 1),
    }

    def ask(q: dict) -> Answer:
        t0 = time.perf_counter()
        docs = store.similarity_search(q["question"], k=4)
        ms = (time.perf_counter() - t0) * 1000
        hits = tuple(_hit(d, rank) for rank, d in enumerate(docs, 1))
        text = docs[0].page_content if docs else ""
        return Answer(
            question=q["question"],
            text=text,
            citations=(),
            abstained=not docs,
            retrieved=hits,
            timings={"search_ms": ms, "answer_ms": 0.0},
        )

    return ask, speed, name


def _hit(doc, rank: int) -> Hit:
    m = doc.metadata
    start = int(m.get("start_index", 0))
    passage = Passage(
        f"{m['article_id']}@{start}", m["article_id"], rank - 1, doc.page_content, start, start + len(doc.page_content)
    )
    article = StoredArticle(
        m["article_id"],
        "",
        m.get("title") or None,
        m.get("url") or None,
        date.fromisoformat(m["date"]) if m.get("date") else None,
        m.get("source") or None,
        0,
    )
    return Hit(passage, article, 0.0, rank)
