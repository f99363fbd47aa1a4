"""The Discord app: /ask, /sources, /ingest, mentions answered in threads, quote and feedback buttons.

Answering and ingesting run in worker threads (at most `DISCORD_MAX_CONCURRENT` at a time), so the
event loop, and with it the gateway heartbeat, never waits on the model, Chroma or SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.limits import MESSAGE_CHARS, THREAD_NAME, pack_embeds, shorten, split_text
from bot.discord_app.render import answer_embeds, ingest_embed, quotes_message, stats_embed
from bot.discord_app.state import AnswerStore, Conversations, FeedbackLog, RateLimiter
from bot.service import NewsBot
from bot.settings import Settings
from bot.types import Answer, Turn
from ingest.errors import NewsbotError
from ingest.feeds import PollReport, Watcher
from ingest.loaders import MAX_FILE_BYTES, SUPPORTED, suffix_of
from ingest.pipeline import IngestReport, ingest, load_sources

logger = logging.getLogger(__name__)
NO_MENTIONS = discord.AllowedMentions.none()
_MENTION = re.compile(r"<@!?\d+>")


class AnswerButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"nb:(?P<action>quotes|up|down):(?P<id>[0-9a-f]{12})"
):
    """The buttons under an answer; the answer id in the custom_id makes them work for any message."""

    LOOK = {
        "quotes": ("Show quotes", None, discord.ButtonStyle.secondary),
        "up": (None, "👍", discord.ButtonStyle.secondary),
        "down": (None, "👎", discord.ButtonStyle.secondary),
    }

    def __init__(self, action: str, answer_id: str):
        label, emoji, style = self.LOOK[action]
        super().__init__(discord.ui.Button(label=label, emoji=emoji, style=style, custom_id=f"nb:{action}:{answer_id}"))
        self.action, self.answer_id = action, answer_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match):
        return cls(match["action"], match["id"])

    async def callback(self, interaction: discord.Interaction) -> None:
        app: NewsbotApp = interaction.client  # type: ignore[assignment]
        try:
            await app.on_button(interaction, self.action, self.answer_id)
        except Exception as e:
            await app.report_error(interaction, e)


def answer_view(answer_id: str, with_quotes: bool) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    if with_quotes:
        view.add_item(AnswerButton("quotes", answer_id))
    view.add_item(AnswerButton("up", answer_id))
    view.add_item(AnswerButton("down", answer_id))
    return view


class NewsbotApp(commands.Bot):
    """The bot, given everything it needs: settings, the reader (`NewsBot`) and its own state."""

    def __init__(self, settings: Settings, newsbot: NewsBot, *, watcher: Watcher | None = None, today=date.today):
        d = settings.discord
        intents = discord.Intents.default()
        intents.message_content = d.message_content
        super().__init__(
            command_prefix=commands.when_mentioned, intents=intents, allowed_mentions=NO_MENTIONS, help_command=None
        )
        self.settings = settings
        self.newsbot = newsbot
        self.watcher = watcher  # polls followed feeds and folders in the background (serve --watch)
        self.today = today
        self.workers = ThreadPoolExecutor(max_workers=d.max_concurrent, thread_name_prefix="newsbot-answer")
        self.ingest_lock = asyncio.Lock()
        self.rate = RateLimiter(d.questions_per_minute, 60.0)
        self.answers = AnswerStore()
        self.conversations = Conversations()
        self.feedback = FeedbackLog(settings.core.data_dir / "feedback.jsonl")
        self.add_dynamic_items(AnswerButton)
        self.tree.on_error = self.report_error
        self._add_commands()

    # ----------------------------------------------------------------------------- set-up
    async def setup_hook(self) -> None:
        guild_id = self.settings.discord.guild_id
        if guild_id:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
        else:
            synced = await self.tree.sync()
        logger.info("synced %d slash commands %s", len(synced), f"to guild {guild_id}" if guild_id else "globally")
        if self.watcher:
            self._watch_task = asyncio.create_task(self.watch_forever(), name="newsbot-watch")

    async def watch_forever(self) -> None:
        """Poll feeds and folders in a worker thread; a failing poll is logged and tried again."""
        while not self.is_closed():
            try:
                await self.poll_sources()
            except Exception:
                logger.exception("polling the followed sources failed")
            await asyncio.sleep(min(self.settings.core.watch_interval, 60))

    async def poll_sources(self, force: bool = False) -> PollReport:
        async with self.ingest_lock:
            report = await self.run_worker(self.watcher.poll, force)
        if report.polled:
            logger.info("watch: %s", report.summary())
        return report

    async def close(self) -> None:
        await super().close()
        self.workers.shutdown(wait=False, cancel_futures=True)

    def _add_commands(self) -> None:
        @app_commands.command(
            name="ask", description="Ask about the news; the answer cites the articles it comes from."
        )
        @app_commands.describe(
            question="Your question, e.g. When was the ambassador appointed?", private="Only you see the answer"
        )
        async def ask(interaction: discord.Interaction, question: str, private: bool = False) -> None:
            await self.on_ask(interaction, question, private)

        @app_commands.command(name="sources", description="How many articles I have read, and from when.")
        async def sources(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            stats = await self.run_worker(self.current_stats)
            sources = await self.run_worker(self.watcher.store.all) if self.watcher else []
            await interaction.followup.send(embed=stats_embed(stats, sources), allowed_mentions=NO_MENTIONS)

        @app_commands.command(
            name="ingest", description="Add an article (link or file) to what the bot knows. Admins only."
        )
        @app_commands.describe(url="Link to an article page", file="A .txt, .md, .html or .jsonl file of articles")
        @app_commands.guild_only()
        async def ingest_(
            interaction: discord.Interaction, url: str | None = None, file: discord.Attachment | None = None
        ) -> None:
            await self.on_ingest(interaction, url, file)

        for command in (ask, sources, ingest_):
            self.tree.add_command(command)

    def current_stats(self):
        self.newsbot.index.sync()  # with a shared Chroma server, what other machines ingested counts too
        return self.newsbot.index.stats()

    # ----------------------------------------------------------------------------- work off the loop
    async def run_worker(self, fn, *args, **kwargs):
        return await asyncio.get_running_loop().run_in_executor(self.workers, lambda: fn(*args, **kwargs))

    def check_question(self, question: str, user_id: int) -> str | None:
        """A polite refusal, or None when the question may be answered (and is counted)."""
        limit = self.settings.discord.max_question_chars
        if len(question) > limit:
            return f"That question is {len(question):,} characters long; please keep it under {limit} and ask again."
        if not question.strip():
            return "Ask me something about the news, e.g. *When was the ambassador appointed?*"
        wait = self.rate.retry_after(user_id)
        if wait:
            return f"You are asking faster than I can read. Please try again in {wait:.0f} s."
        return None

    async def answer(
        self, question: str, history: list[Turn]
    ) -> tuple[list[list[discord.Embed]], discord.ui.View, Answer]:
        answer = await self.run_worker(self.newsbot.ask, question, history=history, as_of=self.today())
        answer_id = self.answers.add(answer)
        return pack_embeds(answer_embeds(answer)), answer_view(answer_id, bool(answer.citations)), answer

    # ----------------------------------------------------------------------------- slash commands
    async def on_ask(self, interaction: discord.Interaction, question: str, private: bool) -> None:
        if refusal := self.check_question(question, interaction.user.id):
            await interaction.response.send_message(refusal, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        await interaction.response.defer(thinking=True, ephemeral=private)
        try:
            messages, view, _ = await self.answer(question, [])
        except Exception:
            with contextlib.suppress(discord.HTTPException):  # so that the error can be private
                await interaction.delete_original_response()
            raise
        for i, embeds in enumerate(messages):
            last = i == len(messages) - 1
            kwargs = {"view": view} if last else {}
            await interaction.followup.send(embeds=embeds, ephemeral=private, allowed_mentions=NO_MENTIONS, **kwargs)

    async def on_ingest(
        self, interaction: discord.Interaction, url: str | None, file: discord.Attachment | None
    ) -> None:
        if not self.may_ingest(interaction):
            await interaction.response.send_message(
                "Only members with **Manage Server** (or an admin role set in DISCORD_ADMIN_ROLES) can add articles.",
                ephemeral=True,
            )
            return
        if bool(url) == bool(file):
            await interaction.response.send_message("Give either `url` or `file`, one of them.", ephemeral=True)
            return
        if file and suffix_of(Path(file.filename)) not in SUPPORTED:
            await interaction.response.send_message(
                f"`{shorten(file.filename, 80)}` is not a supported file; send .txt, .md, .html or .jsonl(.gz).",
                ephemeral=True,
            )
            return
        if file and file.size > MAX_FILE_BYTES:
            await interaction.response.send_message(
                f"That file is over the {MAX_FILE_BYTES // 2**20} MB limit.", ephemeral=True
            )
            return
        await interaction.response.defer(thinking=True, ephemeral=True)
        async with self.ingest_lock:
            if url:
                report = await self.run_worker(self.ingest_sources, [url])
            else:
                with tempfile.TemporaryDirectory(prefix="newsbot-upload-") as tmp:
                    path = Path(tmp) / Path(file.filename).name
                    await file.save(path)
                    report = await self.run_worker(self.ingest_sources, [path])
        await interaction.followup.send(embed=ingest_embed(report, url or file.filename), ephemeral=True)

    def may_ingest(self, interaction: discord.Interaction) -> bool:
        if interaction.guild is None or not isinstance(interaction.user, discord.Member):
            return False
        roles = self.settings.discord.admin_role_ids
        return interaction.permissions.manage_guild or any(r.id in roles for r in interaction.user.roles)

    def ingest_sources(self, sources: list) -> IngestReport:
        s = self.settings
        return ingest(
            load_sources(sources, s.fetch_limits),
            self.newsbot.index,
            self.newsbot.embedder,
            split=s.core.split,
            progress=False,
        )

    async def on_button(self, interaction: discord.Interaction, action: str, answer_id: str) -> None:
        answer = self.answers.get(answer_id)
        if answer is None:
            await interaction.response.send_message(
                "I no longer remember that answer (I keep the latest 1,000, and forget them on restart). Ask "
                "again with /ask.",
                ephemeral=True,
            )
            return
        if action == "quotes":
            pieces = split_text(quotes_message(answer), MESSAGE_CHARS)
            await interaction.response.send_message(pieces[0], ephemeral=True, allowed_mentions=NO_MENTIONS)
            for piece in pieces[1:]:
                await interaction.followup.send(piece, ephemeral=True, allowed_mentions=NO_MENTIONS)
            return
        await self.run_worker(self.feedback.record, answer, answer_id, interaction.user.id, action)
        await interaction.response.send_message("Thanks, noted. " + ("👍" if action == "up" else "👎"), ephemeral=True)

    # ----------------------------------------------------------------------------- mentions and threads
    def is_our_thread(self, channel) -> bool:
        return isinstance(channel, discord.Thread) and self.user is not None and channel.owner_id == self.user.id

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or self.user is None:
            return
        mentioned = self.user in message.mentions
        in_thread = self.is_our_thread(message.channel)
        in_dm = isinstance(message.channel, discord.DMChannel)
        if not (mentioned or in_thread or in_dm):
            return
        question = " ".join(_MENTION.sub(" ", message.content).split())
        if not question:
            if mentioned:
                await message.reply(
                    "Ask me about the news, e.g. `@newsbot when was the ambassador appointed?`",
                    mention_author=False,
                    allowed_mentions=NO_MENTIONS,
                )
            return  # without the Message Content intent, unmentioned messages arrive empty
        try:
            if refusal := self.check_question(question, message.author.id):
                await message.reply(refusal, mention_author=False, allowed_mentions=NO_MENTIONS)
                return
            if in_thread or in_dm:
                channel = message.channel
                history = self.conversations.turns(channel.id, getattr(channel, "name", None))
            else:
                channel = await message.create_thread(name=shorten(question, THREAD_NAME), auto_archive_duration=1440)
                history = []
            async with channel.typing():
                messages, view, answer = await self.answer(question, history)
            self.conversations.add(channel.id, Turn(question, answer.text))
            for i, embeds in enumerate(messages):
                last = i == len(messages) - 1
                await channel.send(embeds=embeds, allowed_mentions=NO_MENTIONS, **({"view": view} if last else {}))
        except Exception as e:
            ref = self.log_error(e)
            text = str(e) if isinstance(e, NewsbotError) else f"Sorry, something went wrong on my side (ref `{ref}`)."
            await message.reply(text[:MESSAGE_CHARS], mention_author=False, allowed_mentions=NO_MENTIONS)

    # ----------------------------------------------------------------------------- errors
    def log_error(self, error: BaseException) -> str:
        ref = secrets.token_hex(4)
        if isinstance(error, app_commands.CommandInvokeError):
            error = error.original
        if isinstance(error, NewsbotError):
            logger.info("ref %s: %s", ref, error)
        else:
            logger.error("ref %s: %s", ref, type(error).__name__, exc_info=error)
        return ref

    async def report_error(self, interaction: discord.Interaction, error: BaseException) -> None:
        """Every failure in an interaction becomes a short private message; the log has the details."""
        ref = self.log_error(error)
        original = getattr(error, "original", error)
        if isinstance(original, NewsbotError):
            text = str(original)[:MESSAGE_CHARS]
        else:
            text = f"Sorry, something went wrong on my side. If it keeps happening, tell the admins ref `{ref}`."
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
            else:
                await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException:
            logger.warning("ref %s: could not tell the user", ref)
