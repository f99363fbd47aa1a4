"""Discord's side of the wire, in process: the app under test is a real discord.py client whose HTTP
requests land here instead of on discord.com, and events arrive as real gateway payloads.

Everything between — Interaction, CommandTree, views, Message, Thread — is discord.py's own code.
Unexpected API calls fail the test, so the app cannot quietly do something Discord would not allow.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass
from datetime import datetime, timezone

import discord
from discord.webhook.async_ import AsyncWebhookAdapter, async_context

APP_ID = 900000000000000001
BOT_ID = 900000000000000002
GUILD_ID = 900000000000000003
CHANNEL_ID = 900000000000000004
ADMIN = discord.Permissions(manage_guild=True)
MEMBER = discord.Permissions(send_messages=True, read_messages=True)


def user(uid: int, name: str, bot: bool = False) -> dict:
    return {"id": str(uid), "username": name, "discriminator": "0", "global_name": name, "avatar": None, "bot": bot}


@dataclass
class Call:
    method: str
    path: str
    payload: dict | None

    @property
    def ephemeral(self) -> bool:
        flags = (self.payload or {}).get("flags") or (self.payload or {}).get("data", {}).get("flags") or 0
        return bool(flags & 64)

    @property
    def embeds(self) -> list[dict]:
        p = self.payload or {}
        return p.get("embeds") or p.get("data", {}).get("embeds") or []

    @property
    def content(self) -> str:
        p = self.payload or {}
        return p.get("content") or p.get("data", {}).get("content") or ""


class FakeDiscord:
    def __init__(self, app: discord.Client):
        self.app = app
        self.calls: list[Call] = []
        self.cdn: dict[str, bytes] = {}
        self._ids = itertools.count(1_000_000_000_000_000_000)
        state = app._connection
        state.user = discord.ClientUser(state=state, data=user(BOT_ID, "newsbot", bot=True))
        state.application_id = APP_ID
        app.http.request = self._http
        app.http.get_from_cdn = self._cdn
        self.guild = discord.Guild(data=self._guild_payload(), state=state)
        state._add_guild(self.guild)
        async_context.set(_Adapter(self))  # interaction responses and followups go through discord.py's webhook adapter

    # --- what the app sends ------------------------------------------------------------------
    async def request(self, route, session=None, *, payload=None, multipart=None, files=None, params=None, **kw):
        if multipart:
            payload = json.loads(next(p["value"] for p in multipart if p["name"] == "payload_json"))
        return self._answer(route.method, route.url, payload)

    async def _http(self, route, *, files=None, form=None, **kw):
        payload = kw.get("json")
        if form:
            payload = json.loads(next(p["value"] for p in form if p["name"] == "payload_json"))
        return self._answer(route.method, route.url, payload)

    async def _cdn(self, url: str) -> bytes:
        return self.cdn[url]

    def _answer(self, method: str, url: str, payload):
        path = url.split("/api/v10", 1)[-1]
        self.calls.append(Call(method, path, payload))
        parts = path.strip("/").split("/")
        if path.endswith("/callback"):
            return {
                "interaction": {
                    "id": parts[1],
                    "type": 2,
                    "response_message_loading": payload["type"] == 5,
                    "response_message_ephemeral": bool((payload.get("data") or {}).get("flags", 0) & 64),
                },
                "resource": {"type": payload["type"]},
            }
        if parts[0] == "webhooks" and method in ("POST", "PATCH"):
            return self.message(payload, CHANNEL_ID, author=user(BOT_ID, "newsbot", bot=True))
        if parts[0] == "webhooks" and method == "DELETE":
            return None
        if parts[0] == "channels" and parts[-1] == "typing":
            return None
        if parts[0] == "channels" and parts[-1] == "messages" and method == "POST":
            return self.message(payload, int(parts[1]), author=user(BOT_ID, "newsbot", bot=True))
        if parts[0] == "channels" and parts[-1] == "threads" and method == "POST":
            thread = {
                "id": str(next(self._ids)),
                "type": 11,
                "guild_id": str(GUILD_ID),
                "parent_id": parts[1],
                "owner_id": str(BOT_ID),
                "name": payload["name"],
                "last_message_id": None,
                "rate_limit_per_user": 0,
                "message_count": 0,
                "member_count": 1,
                "flags": 0,
                "thread_metadata": {
                    "archived": False,
                    "auto_archive_duration": 1440,
                    "locked": False,
                    "archive_timestamp": self.now(),
                },
            }
            self.app._connection.parse_thread_create({**thread, "newly_created": True})  # the gateway's THREAD_CREATE
            return thread
        if parts[0] == "applications" and parts[-1] == "commands" and method == "PUT":  # CommandTree.sync
            return [{**c, "id": str(next(self._ids)), "application_id": str(APP_ID), "version": "1"} for c in payload]
        raise AssertionError(f"unexpected Discord API call: {method} {path}")

    # --- what users do -----------------------------------------------------------------------
    def slash(self, name: str, user_id: int = 42, permissions: discord.Permissions = MEMBER, **options) -> None:
        """A member runs /name with options, as the gateway's INTERACTION_CREATE delivers it."""
        opts, resolved = [], {}
        for key, value in options.items():
            if isinstance(value, dict):  # an attachment
                resolved.setdefault("attachments", {})[value["id"]] = value
                opts.append({"name": key, "type": 11, "value": value["id"]})
            else:
                opts.append({"name": key, "type": 5 if isinstance(value, bool) else 3, "value": value})
        data = {"id": str(next(self._ids)), "name": name, "type": 1, "options": opts}
        if resolved:
            data["resolved"] = resolved
        self._interaction(2, data, user_id, permissions)

    def click(self, message: dict, custom_id: str, user_id: int = 42) -> None:
        self._interaction(3, {"custom_id": custom_id, "component_type": 2}, user_id, MEMBER, message=message)

    def post(self, content: str, user_id: int = 42, channel_id: int = CHANNEL_ID, mentions_bot: bool = False) -> None:
        """A member posts a message (MESSAGE_CREATE); with `mentions_bot` it starts with @newsbot."""
        if mentions_bot:
            content = f"<@{BOT_ID}> {content}"
        data = self.message({"content": content}, channel_id, author=user(user_id, f"user{user_id}"))
        data["guild_id"] = str(GUILD_ID)
        data["member"] = {"roles": [], "joined_at": self.now(), "deaf": False, "mute": False, "flags": 0}
        data["mentions"] = [user(BOT_ID, "newsbot", bot=True)] if mentions_bot else []
        self.app._connection.parse_message_create(data)

    async def settle(self, timeout: float = 120) -> None:
        """Wait until every task the events started has finished (answers run in worker threads)."""
        current = asyncio.current_task()
        while pending := [t for t in asyncio.all_tasks() if t is not current and not t.done() and not _is_idle(t)]:
            await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), timeout)

    # --- payloads ------------------------------------------------------------------------------
    def _interaction(self, kind: int, data: dict, user_id: int, permissions, message: dict | None = None) -> None:
        iid = next(self._ids)
        payload = {
            "id": str(iid),
            "application_id": str(APP_ID),
            "type": kind,
            "token": f"token-{iid}",
            "version": 1,
            "guild_id": str(GUILD_ID),
            "channel_id": str(CHANNEL_ID),
            "channel": {
                "id": str(CHANNEL_ID),
                "type": 0,
                "guild_id": str(GUILD_ID),
                "name": "news",
                "position": 0,
                "permission_overwrites": [],
                "nsfw": False,
                "parent_id": None,
            },
            "member": {
                "user": user(user_id, f"user{user_id}"),
                "roles": [],
                "joined_at": self.now(),
                "deaf": False,
                "mute": False,
                "flags": 0,
                "permissions": str(permissions.value),
            },
            "data": data,
            "locale": "en-US",
            "guild_locale": "en-US",
            "app_permissions": str(discord.Permissions.all().value),
            "entitlements": [],
            "authorizing_integration_owners": {},
            "context": 0,
            "attachment_size_limit": 25 * 2**20,
        }
        if message is not None:
            payload["message"] = message
        self.app._connection.parse_interaction_create(payload)

    def message(self, sent: dict | None, channel_id: int, author: dict) -> dict:
        sent = sent or {}
        return {
            "id": str(next(self._ids)),
            "channel_id": str(channel_id),
            "type": 0,
            "content": sent.get("content", ""),
            "author": author,
            "embeds": sent.get("embeds", []),
            "attachments": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": self.now(),
            "edited_timestamp": None,
            "components": sent.get("components", []),
            "flags": sent.get("flags", 0),
        }

    def _guild_payload(self) -> dict:
        return {
            "id": str(GUILD_ID),
            "name": "Newsroom",
            "owner_id": "1",
            "roles": [
                {
                    "id": str(GUILD_ID),
                    "name": "@everyone",
                    "permissions": str(MEMBER.value),
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "channels": [
                {
                    "id": str(CHANNEL_ID),
                    "type": 0,
                    "guild_id": str(GUILD_ID),
                    "name": "news",
                    "position": 0,
                    "permission_overwrites": [],
                    "nsfw": False,
                    "parent_id": None,
                }
            ],
            "emojis": [],
            "stickers": [],
            "features": [],
            "member_count": 2,
            "members": [],
            "threads": [],
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "unavailable": False,
        }

    @staticmethod
    def now() -> str:
        return datetime.now(timezone.utc).isoformat()

    # --- looking at what was sent ------------------------------------------------------------
    def sent(self, method: str | None = None, contains: str = "") -> list[Call]:
        return [c for c in self.calls if (method is None or c.method == method) and contains in c.path]


class _Adapter(AsyncWebhookAdapter):
    """discord.py's webhook adapter with only its last step, the HTTP request, answered in process."""

    def __init__(self, fake: FakeDiscord):
        super().__init__()
        self.fake = fake

    async def request(self, route, session=None, **kwargs):
        return await self.fake.request(route, session, **kwargs)


def _is_idle(task: asyncio.Task) -> bool:
    """Long-lived tasks of discord.py itself that never finish on their own."""
    return task.get_name().startswith("discord-ui-view-timeout")
