"""Constrained output: the server may only emit quotes that are whole sentences of the given passages.

For `LLM_OUTPUT=constrained` the reply schema is built per question: each citation is one of the
passages' own sentences (a JSON-schema `enum`), so a quote cannot be misremembered or made up —
the server's grammar (llama.cpp, llama-cpp-python, Ollama, vLLM) rules it out while the model
writes. Small local models, which copy quotes badly, then still give citations that check out;
`verify` runs on the reply all the same.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from pydantic import BaseModel, ValidationError

from bot.llm.verify import INSTRUCTION, MIN_QUOTE_WORDS, NOT_ANSWERED, Draft, DraftCitation, MalformedOutput
from bot.types import Hit
from ingest.sentences import sentence_spans

MAX_CITATIONS = 3
MAX_ANSWER_CHARS = 400  # a bound the grammar enforces, so a rambling small model still closes its JSON


class _Quote(BaseModel):
    passage: int
    quote: str


class _Reply(BaseModel):
    citations: list[_Quote]
    answer: str


def quotable_sentences(hit: Hit) -> list[str]:
    """The sentences of a hit's text that a citation may quote: inside one stored passage, long enough
    to check, and not an instruction planted in the article.

    Straight double quotes are offered as ” (which `verify` folds back, so the citation still quotes
    the passage's own text) and sentences with a backslash are left out: llama-cpp-python 0.3's
    schema-to-grammar converter does not escape the backslash of a JSON escape, and a grammar that
    fails to parse crashes its server.
    """
    text = hit.passage.text
    out = []
    for s, e in sentence_spans(text):
        sentence = text[s:e].replace('"', "”")
        if (
            len(sentence.split()) >= MIN_QUOTE_WORDS
            and hit.stored_passage(s, e) is not None
            and "\\" not in sentence
            and not INSTRUCTION.search(sentence)
            and sentence not in out
        ):
            out.append(sentence)
    return out


def reply_schema(hits: Sequence[Hit]) -> dict:
    """JSON schema of the reply: up to three citations — passage n and one of its `quotable_sentences` —
    then the answer text with [k] markers (k = the k-th citation). No citations means not answerable.

    Citations come first so that the model picks its evidence before it writes from it.
    """
    choices = [
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["passage", "quote"],
            "properties": {"passage": {"type": "integer", "enum": [n]}, "quote": {"type": "string", "enum": sentences}},
        }
        for n, sentences in ((n, quotable_sentences(h)) for n, h in enumerate(hits, 1))
        if sentences
    ]
    citations = (
        {"type": "array", "maxItems": MAX_CITATIONS, "items": {"anyOf": choices}}
        if choices
        else {"type": "array", "maxItems": 0}
    )
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["citations", "answer"],
        "properties": {"citations": citations, "answer": {"type": "string", "maxLength": MAX_ANSWER_CHARS}},
    }


def response_format(schema: dict, dialect: str) -> dict:
    """The request's `response_format`: OpenAI's `json_schema` (OpenAI, vLLM, LM Studio, llama.cpp's
    llama-server; LangChain's ChatOllama turns it into Ollama's `format`), or `json_object` with a
    `schema` (llama-cpp-python's server takes only that)."""
    if dialect == "json_object":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}


def parse_reply(raw: str) -> Draft:
    """The reply's JSON as a Draft; citation k is marker [k]. Line breaks inside strings, which some
    servers' JSON grammars let through, are accepted."""
    try:
        reply = _Reply.model_validate(json.loads(raw, strict=False))
    except (ValueError, ValidationError) as e:
        raise MalformedOutput(f"the reply is not the answer schema's JSON ({type(e).__name__})") from None
    answerable = bool(reply.citations) and not NOT_ANSWERED.match(reply.answer)
    return Draft(
        answerable, reply.answer, tuple(DraftCitation(k, c.passage, c.quote) for k, c in enumerate(reply.citations, 1))
    )
