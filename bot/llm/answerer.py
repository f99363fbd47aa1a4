"""The LLM answerer: a LangChain chat model writes the answer, `verify` keeps only what the passages support.

Any failure — no connection, timeout, rate limit after bounded retries, malformed output, or no
citation that checks out — gives the extractive answer with a short note, never an error.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import re
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from pydantic import BaseModel, Field

from bot.answer import Answerer, abstain
from bot.llm.constrained import parse_reply, reply_schema, response_format
from bot.llm.model import transient_errors
from bot.llm.prompts import PROMPTS_DIR, load_chat_prompt, load_text
from bot.llm.verify import NOT_ANSWERED, Draft, DraftCitation, MalformedOutput, verify
from bot.query import Query
from bot.types import Answer, Hit, Turn

logger = logging.getLogger(__name__)
_SOURCE_LINE = re.compile(r"^\s*\[(\d+)\]\s*(?:passage\s*)?(\d+)\s*[:\-–]\s*(.+?)\s*$", re.I | re.M)


class CitedQuote(BaseModel):
    marker: int = Field(description="The n of an [n] marker in the answer.")
    passage: int = Field(description="Number of the passage the quote is copied from.")
    quote: str = Field(description="Words copied exactly from that passage.")


class DraftAnswer(BaseModel):
    """An answer to the question from the numbered passages, with verbatim quotes for its [n] markers."""

    answerable: bool = Field(description="False when the passages do not answer the question.")
    answer: str = Field(description="The answer in one to three sentences with [n] markers.")
    citations: list[CitedQuote] = Field(default_factory=list, description="One entry per [n] marker.")


def parse_text_reply(raw: str) -> Draft:
    """The plain-text format of prompts/format_text.md: `ANSWER: …` then `SOURCES:` lines `[n] passage p: "quote"`."""
    head, sep, tail = raw.partition("SOURCES:")
    m = re.search(r"ANSWER:\s*(.*)", head, re.S)
    if not m:
        raise MalformedOutput("no 'ANSWER:' line in the reply")
    text = m.group(1).strip()
    if NOT_ANSWERED.match(text):
        return Draft(False, text)
    quotes = tuple(
        DraftCitation(int(n), int(p), q.strip().strip('"“”').strip()) for n, p, q in _SOURCE_LINE.findall(tail)
    )
    return Draft(True, text, quotes)


def describe(error: BaseException) -> str:
    """A short reason for logs and notes: the error's kind and HTTP status, never its message (no secrets)."""
    status = getattr(error, "status_code", None) or getattr(getattr(error, "response", None), "status_code", None)
    return type(error).__name__ + (f", HTTP {status}" if status else "")


def is_transient(error: BaseException) -> bool:
    status = getattr(error, "status_code", None) or getattr(getattr(error, "response", None), "status_code", None)
    return isinstance(error, transient_errors()) or status in (408, 429, 500, 502, 503, 504)


def passages_block(hits: Sequence[Hit]) -> str:
    blocks = []
    for i, h in enumerate(hits, 1):
        a = h.article
        meta = " — ".join(
            x for x in (a.title, a.source, f"published {a.date.isoformat()}" if a.date else "date unknown") if x
        )
        blocks.append(f"[{i}] {meta}\n{h.passage.text}")
    return "\n\n".join(blocks)


class AnswerStream:
    """Shows only the answer section of a streamed text-format reply, holding back a partial 'SOURCES:'."""

    def __init__(self, on_token: Callable[[str], None]):
        self.on_token = on_token
        self.raw = ""
        self.shown = 0

    def feed(self, piece: str) -> None:
        self.raw += piece
        start = self.raw.find("ANSWER:")
        if start < 0:
            return
        body = self.raw[start + len("ANSWER:") :].lstrip()
        end = body.find("SOURCES:")
        visible = body[:end] if end >= 0 else body[: max(0, len(body) - len("SOURCES:"))]
        if len(visible) > self.shown:
            self.on_token(visible[self.shown :])
            self.shown = len(visible)


class LLMAnswerer:
    """Answers with a chat model; every citation is verified against its passage before anyone sees it."""

    name = "llm"

    def __init__(
        self,
        model,
        fallback: Answerer,
        *,
        output: str = "structured",
        retries: int = 2,
        backoff_s: float = 1.0,
        prompts_dir: Path = PROMPTS_DIR,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.model = model
        self.fallback = fallback
        self.output = output
        self.retries = retries
        self.backoff_s = backoff_s
        self.sleep = sleep
        self.prompt = load_chat_prompt("answer.md", prompts_dir)
        self.condense_prompt = load_chat_prompt("condense.md", prompts_dir)
        self.formats = {k: load_text(f"format_{k}.md", prompts_dir) for k in ("structured", "constrained", "text")}
        self.schema_dialect = "json_schema"  # becomes "json_object" for a server that takes only that (constrained)

    # -------------------------------------------------------------------------------- answering
    def answer(
        self,
        query: Query,
        hits: Sequence[Hit],
        *,
        newest: date | None = None,
        on_token: Callable[[str], None] | None = None,
        further: Sequence[Hit] = (),
    ) -> Answer:
        """The model's answer from `hits`, verified; the extractive one (which may also cite from `further`) when
        the model fails or none of its citations checks out."""
        if not hits:
            return self.fallback.answer(query, hits, newest=newest, on_token=on_token)
        question, as_of = query.question, query.as_of
        try:
            draft = self._with_retries(lambda: self.draft(question, hits, as_of, on_token))
        except Exception as e:
            logger.warning(
                "language model failed (%s): answering extractively",
                describe(e),
                exc_info=logger.isEnabledFor(logging.DEBUG),
            )
            return self._fallback(
                query,
                hits,
                newest,
                further,
                f"The language model failed ({describe(e)}); this is the extractive answer.",
            )
        if not draft.answerable:
            return dataclasses.replace(abstain(question, as_of=as_of, confidence=0.0), answerer=self.name)
        checked = verify(draft, hits, question)
        for reason in checked.dropped:
            logger.info("dropped from the model's answer: %s", reason)
        if not checked.citations:
            return self._fallback(
                query,
                hits,
                newest,
                further,
                "The language model's answer had no citation that checks out against the articles; "
                "this is the extractive answer.",
            )
        note = (
            f"Removed from the model's answer as unsupported: {len(checked.dropped)} item(s)."
            if checked.dropped
            else None
        )
        return Answer(
            question=question,
            text=checked.text,
            citations=tuple(checked.citations),
            abstained=False,
            as_of=as_of,
            confidence=1.0,
            answerer=self.name,
            note=note,
        )

    def draft(self, question: str, hits: Sequence[Hit], as_of: date, on_token=None) -> Draft:
        # Only plain text can be shown while it arrives; constrained output is never given up for streaming.
        output = "text" if on_token and self.output != "constrained" else self.output
        values = {
            "as_of": as_of.isoformat(),
            "question": question,
            "passages": passages_block(hits),
            "output_format": self.formats["structured" if output == "json" else output],
        }
        if output == "constrained":
            return parse_reply(_text(self._constrained(values, reply_schema(hits))))
        if output != "text":  # "structured": the provider's schema method; "json": JSON mode, for servers without it
            method = {"method": "json_mode"} if output == "json" else {}
            reply = (self.prompt | self.model.with_structured_output(DraftAnswer, **method)).invoke(values)
            if not isinstance(reply, DraftAnswer):
                raise MalformedOutput("the model returned no structured answer")
            return Draft(
                reply.answerable,
                reply.answer,
                tuple(DraftCitation(c.marker, c.passage, c.quote) for c in reply.citations),
            )
        if on_token is None:
            return parse_text_reply(_text((self.prompt | self.model).invoke(values)))
        stream = AnswerStream(on_token)
        for chunk in (self.prompt | self.model).stream(values):
            stream.feed(_text(chunk))
        return parse_text_reply(stream.raw)

    def _constrained(self, values: dict, schema: dict):
        def call():
            return (self.prompt | self.model.bind(response_format=response_format(schema, self.schema_dialect))).invoke(
                values
            )

        try:
            return call()
        except Exception as e:
            if self.schema_dialect != "json_schema" or "json_object" not in str(e):
                raise
            logger.info("the server refuses response_format json_schema; sending the schema as json_object")
            self.schema_dialect = "json_object"
            return call()

    def _with_retries(self, call):
        for attempt in range(self.retries + 1):
            try:
                return call()
            except Exception as e:
                if attempt == self.retries or not is_transient(e):
                    raise
                delay = self.backoff_s * 2**attempt * (1 + random.random() / 2)
                logger.warning(
                    "language model call failed (%s); retry %d of %d in %.1f s",
                    describe(e),
                    attempt + 1,
                    self.retries,
                    delay,
                )
                self.sleep(delay)

    def _fallback(self, query: Query, hits, newest, further, note: str) -> Answer:
        return dataclasses.replace(self.fallback.answer(query, hits, newest=newest, further=further), note=note)

    # -------------------------------------------------------------------------------- follow-ups
    def condense(self, question: str, history: Sequence[Turn], as_of: date) -> str | None:
        """A standalone version of a follow-up question, or None when the model cannot give one."""
        lines = [f"User: {t.question}\nAssistant: {t.answer}" for t in history[-4:]]
        try:
            reply = self._with_retries(
                lambda: (self.condense_prompt | self.model).invoke(
                    {"history": "\n".join(lines), "question": question, "as_of": as_of.isoformat()}
                )
            )
        except Exception as e:
            logger.warning("language model failed to rewrite the follow-up (%s)", describe(e))
            return None
        text = " ".join(_text(reply).split())
        return text if 0 < len(text) <= 500 else None


def _text(message) -> str:
    content = getattr(message, "content", message)
    if isinstance(content, list):  # content blocks
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return str(content)
