"""Answers, quotes, index statistics and ingest reports as Discord embeds and messages (pure functions)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from urllib.parse import quote, urlsplit

import discord

from bot.discord_app.limits import EMBED_DESCRIPTION, EMBED_FIELDS, EMBED_TITLE, FIELD_VALUE, shorten, split_text
from bot.render import printable
from bot.types import Answer, Citation, Hit
from ingest.feeds import Source
from ingest.pipeline import IngestReport
from ingest.sentences import sentence_spans
from ingest.types import IndexStats

ANSWER_COLOUR = discord.Colour.blurple()
ABSTAIN_COLOUR = discord.Colour.light_grey()
ERROR_COLOUR = discord.Colour.red()
_URL_SAFE = ":/?#@!$&'*+,;=%~-._"  # everything but ( ) < > and spaces, which would end the link


def md(text: str) -> str:
    """Article text shown literally: control characters and escape sequences dropped, Discord markdown escaped
    (mentions are disarmed by allowed_mentions)."""
    return discord.utils.escape_markdown(printable(text), ignore_links=False)


def link(label: str, url: str | None) -> str:
    """A markdown link whose label and URL cannot break out of the link syntax."""
    label = md(label.replace("[", "(").replace("]", ")"))
    if not url or urlsplit(url).scheme not in ("http", "https"):
        return label
    return f"[{label}]({quote(url, safe=_URL_SAFE)})"


def day(d: date | None) -> str:
    return d.strftime("%-d %b %Y") if d else "date unknown"


def source_field(c: Citation) -> tuple[str, str]:
    name = shorten(f"[{c.n}] " + " · ".join(p for p in (c.source or _host(c.url), day(c.date)) if p), 256)
    title = (
        printable(c.title or "").strip() or printable(c.article_id).strip() or f"source {c.n}"
    )  # never an empty field
    value = link(shorten(title, 300), c.url)
    if len(value) > FIELD_VALUE - 400:
        value = md(shorten(title, 300))
    if c.url and c.seen:
        value += f"\nlast seen {day(c.seen)}"
    if c.also:
        value += "\n" + shorten("also published by " + ", ".join(c.also), 300)
    return name, value


def closest_matches(hits: tuple[Hit, ...], limit: int = 3) -> str:
    lines: list[str] = []
    seen: set[str] = set()
    for h in hits:
        if h.article.id in seen:
            continue
        seen.add(h.article.id)
        a = h.article
        line = f"• {link(shorten(a.title or a.id, 150), a.url)} · {day(a.date)}\n  {md(shorten(h.passage.text, 160))}"
        if sum(len(x) + 1 for x in lines) + len(line) > FIELD_VALUE:
            break
        lines.append(line)
        if len(lines) == limit:
            break
    return "\n".join(lines)


def footer(answer: Answer) -> str:
    as_of = day(answer.as_of) if answer.as_of else "today"
    return f"As of {as_of} · answered in {answer.latency_ms / 1000:.1f} s · ask again with /ask"


def answer_embeds(answer: Answer) -> list[discord.Embed]:
    """The answer with [n] markers, its numbered sources and a footer; split over embeds when long."""
    colour = ABSTAIN_COLOUR if answer.abstained else ANSWER_COLOUR
    title = "Not in the articles" if answer.abstained else shorten(answer.question, EMBED_TITLE)
    parts = split_text((f"**{md(answer.short)}** — " if answer.short else "") + md(answer.text), EMBED_DESCRIPTION) or [
        "…"
    ]
    embeds = [discord.Embed(title=title if i == 0 else None, description=p, colour=colour) for i, p in enumerate(parts)]
    if answer.abstained:
        asked = f"*{md(shorten(answer.question, 300))}*\n\n"
        if len(asked) + len(embeds[0].description) <= EMBED_DESCRIPTION:
            embeds[0].description = asked + embeds[0].description
        if matches := closest_matches(answer.retrieved):
            embeds[-1].add_field(name="Closest matches", value=matches, inline=False)
    else:
        for c in answer.citations:
            if len(embeds[-1].fields) == EMBED_FIELDS:
                embeds.append(discord.Embed(colour=colour))
            name, value = source_field(c)
            embeds[-1].add_field(name=name, value=value, inline=False)
    if answer.note:
        if len(embeds[-1].fields) == EMBED_FIELDS:
            embeds.append(discord.Embed(colour=colour))
        embeds[-1].add_field(name="Note", value=md(shorten(answer.note, 900)), inline=False)
    embeds[-1].set_footer(text=footer(answer))
    return embeds


def quote_in_context(c: Citation, passage_text: str | None) -> str:
    """The sentence(s) around a citation's quote, the quote in bold; the quote alone if the passage is gone."""
    where = passage_text.find(c.quote) if passage_text else -1
    if where < 0:
        body = f"**{md(c.quote)}**"
    else:
        end = where + len(c.quote)
        spans = [(s, e) for s, e in sentence_spans(passage_text) if e > where and s < end] or [(where, end)]
        s, e = spans[0][0], max(spans[-1][1], end)
        s = min(s, where)
        body = md(passage_text[s:where]) + f"**{md(c.quote)}**" + md(passage_text[end:e])
    head = " · ".join(p for p in (c.title or c.article_id, c.source, day(c.date)) if p)
    return f"**[{c.n}]** {md(head)}\n> " + body.strip().replace("\n", "\n> ")


def quotes_message(answer: Answer) -> str:
    if not answer.citations:
        return "This answer has no quotes: the articles did not answer the question."
    texts = {p.id: p.text for h in answer.retrieved for p in (h.parts or (h.passage,))}
    return "\n\n".join(quote_in_context(c, texts.get(c.passage_id)) for c in answer.citations)


def stats_embed(stats: IndexStats, sources: list[Source] = ()) -> discord.Embed:
    e = discord.Embed(title="What I have read", colour=ANSWER_COLOUR)
    e.add_field(name="Articles", value=f"{stats.articles:,}")
    e.add_field(name="Passages", value=f"{stats.passages:,}")
    e.add_field(name="Published", value=f"{day(stats.oldest)} – {day(stats.newest)}" if stats.oldest else "no dates")
    last = datetime.fromtimestamp(stats.last_ingest, timezone.utc) if stats.last_ingest else None
    e.add_field(name="Last ingest", value=discord.utils.format_dt(last, "R") if last else "never")
    if sources:
        lines = []
        for src in sources[:10]:
            when = (
                discord.utils.format_dt(datetime.fromtimestamp(src.last_poll, timezone.utc), "R")
                if src.last_poll
                else "not yet"
            )
            state = f"⚠️ {md(shorten(src.last_error, 120))}" if src.last_error else f"polled {when}"
            lines.append(f"• {link(src.name, src.url if src.kind == 'feed' else None)} — {state}")
        more = f"\n… and {len(sources) - 10} more" if len(sources) > 10 else ""
        e.add_field(name="Following", value=("\n".join(lines) + more)[:FIELD_VALUE], inline=False)
    if stats.model:
        e.set_footer(text=f"embedding model: {stats.model}")
    return e


def ingest_embed(report: IngestReport, source: str) -> discord.Embed:
    ok = not report.skipped
    e = discord.Embed(
        title="Ingested" if ok else "Ingested with problems",
        colour=ANSWER_COLOUR if ok else ERROR_COLOUR,
        description=md(shorten(source, 300)) + "\n" + md(report.summary()),
    )
    if report.skipped:
        e.add_field(
            name="Skipped", value="\n".join(md(shorten(s, 300)) for s in report.skipped[:3])[:FIELD_VALUE], inline=False
        )
    return e


def _host(url: str | None) -> str | None:
    return urlsplit(url).hostname if url else None
