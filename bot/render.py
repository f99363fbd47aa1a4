"""Render an Answer for the terminal (plain text, no colour codes when piped)."""

from __future__ import annotations

import re
import textwrap

from bot.types import Answer, Citation, Hit

# Terminal escape sequences (CSI such as "ESC[2J", OSC such as the window title, the other ESC pairs, C1's CSI) and
# every other C0/C1 control character but tab and newline: article text is shown as text, never run by the terminal.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?|\x9b[0-?]*[ -/]*[@-~]?|[\x1b\x9d]\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -~]?|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def printable(text: str) -> str:
    """`text` without terminal escape sequences and control characters (the stored article stays as it was)."""
    return _ESCAPES.sub("", text)


def source_line(c: Citation) -> str:
    where = c.url or f"file: {c.article_id}"
    if c.url and c.seen:
        where += f" (last seen {c.seen.isoformat()})"
    parts = [c.title or c.article_id, c.source, c.date.isoformat() if c.date else "date unknown"]
    also = "".join(f"\n    also published by {x}" for x in c.also)
    return printable(f"[{c.n}] " + " · ".join(p for p in parts if p) + f"\n    {where}" + also)


def match_line(h: Hit) -> str:
    a = h.article
    head = " · ".join(p for p in (a.title or a.id, a.source, a.date.isoformat() if a.date else None) if p)
    snippet = textwrap.shorten(printable(h.passage.text), 160, placeholder=" …")
    return printable(f"- {head}\n    {snippet}")


def render_text(answer: Answer, width: int = 100, streamed: str | None = None) -> str:
    """The answer, its sources and quotes; `streamed` is what was already shown while it was written."""
    if streamed and " ".join(streamed.split()) == answer.text:
        lines = []
    elif streamed:
        lines = ["", "", "Checked against the articles:", textwrap.fill(answer.text, width)]
    else:
        lines = [textwrap.fill(f"{answer.short} — {answer.text}" if answer.short else answer.text, width)]
    if answer.note:
        lines += ["", f"({answer.note})"]
    if answer.abstained:
        if answer.retrieved:
            lines += ["", "Closest matches:"] + [match_line(h) for h in answer.retrieved[:3]]
    else:
        lines += ["", "Sources:"]
        for c in answer.citations:
            lines.append(source_line(c))
            lines.append(textwrap.fill(f"“{c.quote}”", width, initial_indent="    ", subsequent_indent="    "))
    as_of = answer.as_of.isoformat() if answer.as_of else "today"
    lines += ["", f"(as of {as_of}; {answer.latency_ms:.0f} ms)"]
    return printable("\n".join(lines))
