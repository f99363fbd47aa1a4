"""The Discord app end to end: real discord.py objects built from gateway payloads, dispatched by the
bot's own CommandTree and views, answering from a real index with the real model; only Discord's
HTTP side is simulated (tests/discord_fake.py)."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from bot.discord_app.app import NewsbotApp
from bot.service import assemble
from bot.settings import Settings
from ingest.pipeline import ingest, load_sources
from tests.conftest import SEED_ARTICLE, make_index
from tests.discord_fake import ADMIN, BOT_ID, CHANNEL_ID, FakeDiscord

QUESTION = "When was the ambassador appointed?"


@pytest.fixture
def newsbot(tmp_path, embedder):
    index = make_index(tmp_path / "index", embedder)
    ingest(load_sources([SEED_ARTICLE]), index, embedder, progress=False)
    return assemble(Settings.load(None), index, embedder, llm=False)


def make_app(newsbot, tmp_path, watcher=None, **discord_settings) -> NewsbotApp:
    settings = Settings.load(None, data_dir=tmp_path / "data")
    settings = settings.model_copy(update={"discord": settings.discord.model_copy(update=discord_settings)})
    return NewsbotApp(settings, newsbot, watcher=watcher)


def run(coro):
    return asyncio.run(coro)


async def session(app: NewsbotApp, steps) -> FakeDiscord:
    async with app:
        discord_ = FakeDiscord(app)
        await steps(discord_)
        return discord_


def test_ask_defers_first_then_answers_with_a_cited_embed_and_buttons(newsbot, tmp_path):
    async def steps(d: FakeDiscord):
        d.slash("ask", question=QUESTION)
        await d.settle()

    d = run(session(make_app(newsbot, tmp_path), steps))
    first, *rest = d.calls
    assert first.path.endswith("/callback") and first.payload["type"] == 5  # deferred: "newsbot is thinking…"
    (answer,) = [c for c in rest if c.method == "POST" and c.path.startswith("/webhooks/")]
    (embed,) = answer.embeds
    assert embed["title"] == QUESTION
    assert "September 2022" in embed["description"] and "[1]" in embed["description"]
    assert embed["fields"][0]["name"].startswith("[1]") and "2022" in embed["fields"][0]["name"]
    assert embed["footer"]["text"].startswith("As of")
    assert answer.payload["allowed_mentions"] == {"parse": []}
    buttons = [c for row in answer.payload["components"] for c in row["components"]]
    assert [b.get("label") or b["emoji"]["name"] for b in buttons] == ["Show quotes", "👍", "👎"]


def test_show_quotes_replies_privately_with_the_verbatim_quote_in_context(newsbot, tmp_path):
    async def steps(d: FakeDiscord):
        d.slash("ask", question=QUESTION)
        await d.settle()
        answer = d.sent("POST", "/webhooks/")[-1]
        message = d.message(
            answer.payload,
            CHANNEL_ID,
            author={"id": str(BOT_ID), "username": "newsbot", "discriminator": "0", "bot": True},
        )
        quotes = next(
            c["custom_id"]
            for row in message["components"]
            for c in row["components"]
            if c["custom_id"].startswith("nb:quotes")
        )
        d.click(message, quotes, user_id=7)
        await d.settle()

    d = run(session(make_app(newsbot, tmp_path), steps))
    reply = d.calls[-1]
    assert reply.path.endswith("/callback") and reply.payload["type"] == 4 and reply.ephemeral
    text = reply.content
    assert text.startswith("**[1]**") and "**" in text.split("\n", 1)[1]
    quote = text.split("\n> ", 1)[1].split("**")[1].replace("\\", "")
    assert quote in SEED_ARTICLE.read_text()  # verbatim


def test_feedback_buttons_record_a_vote_without_the_user_id(newsbot, tmp_path):
    async def steps(d: FakeDiscord):
        d.slash("ask", question=QUESTION)
        await d.settle()
        message = d.message(
            d.sent("POST", "/webhooks/")[-1].payload,
            CHANNEL_ID,
            author={"id": str(BOT_ID), "username": "b", "discriminator": "0"},
        )
        down = next(
            c["custom_id"]
            for row in message["components"]
            for c in row["components"]
            if c["custom_id"].startswith("nb:down")
        )
        d.click(message, down, user_id=123456789)
        await d.settle()

    d = run(session(make_app(newsbot, tmp_path), steps))
    assert d.calls[-1].ephemeral and "👎" in d.calls[-1].content
    (row,) = [json.loads(line) for line in (tmp_path / "data" / "feedback.jsonl").read_text().splitlines()]
    assert row["verdict"] == "down" and row["question"] == QUESTION and row["citations"]
    assert "123456789" not in json.dumps(row) and len(row["user"]) == 16


def test_a_button_of_a_forgotten_answer_explains_instead_of_failing(newsbot, tmp_path):
    async def steps(d: FakeDiscord):
        message = d.message(
            {
                "content": "",
                "components": [
                    {
                        "type": 1,
                        "components": [
                            {"type": 2, "style": 2, "label": "Show quotes", "custom_id": "nb:quotes:0123456789ab"}
                        ],
                    }
                ],
            },
            CHANNEL_ID,
            author={"id": str(BOT_ID), "username": "newsbot", "discriminator": "0"},
        )
        d.click(message, "nb:quotes:0123456789ab")
        await d.settle()

    d = run(session(make_app(newsbot, tmp_path), steps))
    assert d.calls[-1].ephemeral and "no longer remember" in d.calls[-1].content


def test_an_unanswerable_question_looks_different(newsbot, tmp_path):
    async def steps(d: FakeDiscord):
        d.slash("ask", question="Who won the 1998 Tour de France cycling race?")
        await d.settle()

    d = run(session(make_app(newsbot, tmp_path), steps))
    embed = d.sent("POST", "/webhooks/")[-1].embeds[0]
    assert embed["title"] == "Not in the articles" and embed["color"] == 0x979C9F
    assert embed["fields"][0]["name"] == "Closest matches"


def test_rate_limit_and_long_questions_get_polite_private_refusals(newsbot, tmp_path):
    async def steps(d: FakeDiscord):
        for _ in range(3):
            d.slash("ask", question=QUESTION, user_id=5)
            await d.settle()
        d.slash("ask", question="why " * 200, user_id=6)
        await d.settle()

    d = run(session(make_app(newsbot, tmp_path, questions_per_minute=2), steps))
    callbacks = [c for c in d.calls if c.path.endswith("/callback")]
    assert [c.payload["type"] for c in callbacks] == [5, 5, 4, 4]
    limited, too_long = callbacks[2:]
    assert limited.ephemeral and "try again in" in limited.content
    assert too_long.ephemeral and "under 500" in too_long.content


def test_ingest_is_refused_for_members_and_works_for_admins(newsbot, tmp_path):
    article = b"date 2023-05-02\nThe city council of Eastport approved a new tram line on Monday, the mayor said."
    upload = {
        "id": "77",
        "filename": "tram.txt",
        "size": len(article),
        "url": "https://cdn.discordapp.com/a/tram.txt",
        "proxy_url": "https://media.discordapp.net/a/tram.txt",
        "content_type": "text/plain",
    }

    async def steps(d: FakeDiscord):
        d.cdn[upload["url"]] = article
        d.slash("ingest", file=upload)  # a plain member
        await d.settle()
        d.slash("ingest", file=upload, permissions=ADMIN)
        await d.settle()
        d.slash("sources")
        await d.settle()

    before = newsbot.index.count_articles()
    d = run(session(make_app(newsbot, tmp_path), steps))
    refused = d.calls[0]
    assert refused.ephemeral and "Manage Server" in refused.content
    summary = next(c for c in d.calls if c.embeds and c.embeds[0]["title"].startswith("Ingested"))
    assert summary.ephemeral and "1 new" in summary.embeds[0]["description"]
    assert newsbot.index.count_articles() == before + 1
    sources = d.calls[-1].embeds[0]
    assert {f["name"]: f["value"] for f in sources["fields"]}["Articles"] == str(before + 1)


def test_a_mention_answers_in_a_new_thread_and_follow_ups_use_its_history(newsbot, tmp_path):
    async def steps(d: FakeDiscord):
        d.post("when was the ambassador appointed?", mentions_bot=True)
        await d.settle()
        thread = next(iter(d.guild.threads))
        d.post("and who was appointed?", channel_id=thread.id)
        await d.settle()
        d.thread = thread

    app = make_app(newsbot, tmp_path, message_content=True)
    d = run(session(app, steps))
    (create,) = d.sent("POST", "/threads")
    assert create.payload["name"] == "when was the ambassador appointed?"
    in_thread = d.sent("POST", f"/channels/{d.thread.id}/messages")
    assert len(in_thread) == 2 and "September 2022" in in_thread[0].embeds[0]["description"]
    assert all(c.payload["allowed_mentions"] == {"parse": []} for c in in_thread)
    turns = app.conversations[d.thread.id]
    assert [t.question for t in turns] == ["when was the ambassador appointed?", "and who was appointed?"]


def test_any_failure_becomes_a_private_message_with_a_reference(newsbot, tmp_path, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("chroma exploded at /secret/path")

    newsbot.ask = broken

    async def steps(d: FakeDiscord):
        d.slash("ask", question=QUESTION)
        await d.settle()

    with caplog.at_level(logging.ERROR, logger="bot.discord_app.app"):
        d = run(session(make_app(newsbot, tmp_path), steps))
    error = d.calls[-1]
    assert error.ephemeral and "ref `" in error.content and "exploded" not in error.content
    assert any(c.method == "DELETE" for c in d.calls)  # the public "thinking…" message is removed
    ref = error.content.split("ref `")[1].split("`")[0]
    assert any(ref in r.getMessage() and r.exc_info for r in caplog.records)


def test_serve_watch_answers_about_an_item_published_after_the_bot_started(newsbot, tmp_path):
    """`serve --watch`: setup_hook syncs the commands and starts polling; a story published later is found."""
    from ingest.feeds import Politeness, SourceStore, Watcher
    from ingest.fetch import FetchLimits
    from tests.ingest.test_feeds import PORT, TRAM, page, rss
    from tests.webserver import LocalWeb

    with LocalWeb() as web:
        web.routes["/tram.html"] = page("Council approves tram line", TRAM, "2026-11-20")
        web.routes["/rss.xml"] = rss(web, [("/tram.html", "Tram", "Fri, 20 Nov 2026 08:00:00 GMT")])
        store = SourceStore(tmp_path / "feeds.sqlite")
        store.add(web.url("/rss.xml"), name="harbour")
        watcher = Watcher(
            store,
            newsbot.index,
            newsbot.embedder,
            limits=FetchLimits(allow_private=True, timeout_s=5),
            politeness=Politeness(delay_s=0, interval_s=60),
        )
        app = make_app(newsbot, tmp_path, watcher=watcher)

        async def steps(d: FakeDiscord):
            await app.setup_hook()  # what login does: sync, then the watch task polls at once
            for _ in range(300):
                if newsbot.index.articles([web.url("/tram.html")]):
                    break
                await asyncio.sleep(0.1)
            app._watch_task.cancel()  # it would sleep until the next round; the test plays that round
            await asyncio.sleep(0)
            assert newsbot.index.articles([web.url("/tram.html")])
            web.routes["/port.html"] = page("Port reopens after storm", PORT, "2026-11-24")
            web.routes["/rss.xml"] = rss(
                web,
                [
                    ("/tram.html", "Tram", "Fri, 20 Nov 2026 08:00:00 GMT"),
                    ("/port.html", "Port reopens", "Tue, 24 Nov 2026 08:00:00 GMT"),
                ],
            )
            await app.poll_sources(force=True)  # the next round of the loop
            d.slash("ask", question="How many ships had waited offshore?")
            d.slash("sources")
            await d.settle()

        d = run(session(app, steps))
    assert any(c.path.endswith("/commands") for c in d.sent("PUT"))
    answer = next(
        c for c in d.sent("POST", "/webhooks/") if c.embeds and c.embeds[0].get("title", "").startswith("How many")
    )
    assert "Forty ships" in answer.embeds[0]["description"]
    assert web.url("/port.html") in answer.embeds[0]["fields"][0]["value"]
    sources = next(
        c for c in d.sent("POST", "/webhooks/") if c.embeds and c.embeds[0].get("title") == "What I have read"
    )
    following = {f["name"]: f["value"] for f in sources.embeds[0]["fields"]}["Following"]
    assert "harbour" in following and "polled" in following
