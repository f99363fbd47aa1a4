"""Discord's size limits, and splitting text to fit them on line or sentence boundaries, losing nothing."""

from __future__ import annotations

import re

MESSAGE_CHARS = 2000
EMBED_TITLE = 256
EMBED_DESCRIPTION = 4096
EMBED_FIELDS = 25
FIELD_NAME = 256
FIELD_VALUE = 1024
EMBED_FOOTER = 2048
EMBED_TOTAL = 6000  # all embeds of one message together
EMBEDS_PER_MESSAGE = 10
THREAD_NAME = 100

_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s+")


def split_text(text: str, limit: int = MESSAGE_CHARS) -> list[str]:
    """Pieces of at most `limit` characters whose concatenation is exactly `text`.

    Each cut falls after a line break if one is in the last half of the window, else after a
    sentence end in its last two thirds, else after a space, and only as a last resort mid-word.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    pieces = []
    while len(text) > limit:
        window = text[:limit]
        cut = window.rfind("\n") + 1
        if cut <= limit // 2:
            ends = [m.end() for m in _SENTENCE_END.finditer(window)]
            cut = ends[-1] if ends and ends[-1] > limit // 3 else 0
        if not cut:
            cut = max(window.rfind(" "), window.rfind("\t")) + 1
        if cut <= 0:
            cut = limit
        pieces.append(text[:cut])
        text = text[cut:]
    if text:
        pieces.append(text)
    return pieces


def shorten(text: str, limit: int) -> str:
    """`text` cut to `limit` characters at a word boundary with an ellipsis (for labels only, never content)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] or text[: limit - 1]
    return cut + "…"


def embed_problems(embed) -> list[str]:
    """Every way a discord.Embed breaks Discord's limits (an empty list when it fits)."""
    problems = []
    if embed.title and len(embed.title) > EMBED_TITLE:
        problems.append(f"title {len(embed.title)} > {EMBED_TITLE}")
    if embed.description and len(embed.description) > EMBED_DESCRIPTION:
        problems.append(f"description {len(embed.description)} > {EMBED_DESCRIPTION}")
    if len(embed.fields) > EMBED_FIELDS:
        problems.append(f"{len(embed.fields)} fields > {EMBED_FIELDS}")
    for f in embed.fields:
        if not f.name or len(f.name) > FIELD_NAME:
            problems.append(f"field name {len(f.name or '')} chars")
        if not f.value or len(f.value) > FIELD_VALUE:
            problems.append(f"field value {len(f.value or '')} chars")
    if embed.footer.text and len(embed.footer.text) > EMBED_FOOTER:
        problems.append("footer too long")
    if len(embed) > EMBED_TOTAL:
        problems.append(f"total {len(embed)} > {EMBED_TOTAL}")
    return problems


def pack_embeds(embeds: list) -> list[list]:
    """Group embeds into messages: at most 10 per message and 6,000 characters per message."""
    messages: list[list] = []
    size = 0
    for e in embeds:
        if not messages or len(messages[-1]) == EMBEDS_PER_MESSAGE or size + len(e) > EMBED_TOTAL:
            messages.append([])
            size = 0
        messages[-1].append(e)
        size += len(e)
    return messages
