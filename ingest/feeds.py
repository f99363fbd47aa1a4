"""Followed sources: RSS/Atom feeds and folders, polled politely, their new and changed items ingested.

State lives in `<data dir>/feeds.sqlite`: each source's validators (ETag, Last-Modified), last poll,
errors and backoff, and each feed item's link, article id and `updated` stamp. A poll of a feed:
robots.txt allows it → conditional GET (304: nothing to do) → parse with feedparser → fetch the
pages of new or updated items (one request at a time per host, with a delay) → ingest. An item that
left the feed is checked once: a page that is gone (404/410) is deleted from the index.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from ingest.embed import Embedder
from ingest.errors import BadArticle, NewsbotError
from ingest.fetch import FEED_TYPES, USER_AGENT, FetchError, FetchLimits, fetch, is_url, redacted
from ingest.index import Index
from ingest.loaders import Loaded, load_url, parse_html
from ingest.pipeline import IngestReport, SplitSettings, ingest, load_sources
from ingest.types import Article

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    url TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, added_at REAL NOT NULL,
    etag TEXT, last_modified TEXT, last_poll REAL, last_ok REAL, last_error TEXT,
    failures INTEGER NOT NULL DEFAULT 0, next_poll REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS items (
    feed TEXT NOT NULL, link TEXT NOT NULL, article_id TEXT, updated TEXT, seen_at REAL NOT NULL,
    PRIMARY KEY (feed, link)
);
"""
MAX_BACKOFF_S = 24 * 3600
GONE = (404, 410)


@dataclass(frozen=True)
class Source:
    url: str  # a feed URL or a folder path
    name: str
    kind: str  # "feed" | "folder"
    added_at: float
    etag: str | None = None
    last_modified: str | None = None
    last_poll: float | None = None
    last_ok: float | None = None
    last_error: str | None = None
    failures: int = 0
    next_poll: float = 0.0


@dataclass
class PollReport:
    """What one poll of every source did."""

    polled: int = 0
    not_modified: int = 0
    new_items: int = 0
    updated_items: int = 0
    removed: int = 0
    ingest: IngestReport = field(default_factory=IngestReport)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.polled} sources polled ({self.not_modified} unchanged), {self.new_items} new and "
            f"{self.updated_items} updated items, {self.removed} removed; {self.ingest.summary()}"
            + (f"; {len(self.problems)} problems" if self.problems else "")
        )


class SourceStore:
    """The followed feeds and folders, and what was seen of them."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(_SCHEMA)

    def add(self, url: str, name: str | None = None) -> Source:
        if is_url(url) and redacted(url) != url:
            raise NewsbotError(
                f"{redacted(url)}: the feed URL holds a user name or password, which newsbot would store "
                "and show; remove the 'user:password@' part"
            )
        if is_url(url):
            kind = "feed"
        elif Path(url).is_dir():
            kind, url = "folder", str(Path(url).resolve())
        else:
            raise NewsbotError(f"{url} is neither an http(s) feed URL nor a folder")
        if not name:
            parts = urlsplit(url)
            name = (parts.netloc + parts.path).rstrip("/") if kind == "feed" else Path(url).name
        if self.get(url):
            raise NewsbotError(f"{url} is already followed")
        self.db.execute(
            "INSERT INTO sources(url, name, kind, added_at) VALUES(?,?,?,?)", (url, name, kind, time.time())
        )
        return self.get(url)

    def get(self, url_or_name: str) -> Source | None:
        row = self.db.execute(
            "SELECT * FROM sources WHERE url=? OR name=? ORDER BY url=? DESC LIMIT 1",
            (url_or_name, url_or_name, url_or_name),
        ).fetchone()
        return Source(**dict(row)) if row else None

    def remove(self, url_or_name: str) -> Source:
        source = self.get(url_or_name)
        if source is None:
            raise NewsbotError(f"no followed source is called {url_or_name}; see `newsbot feeds list`")
        self.db.execute("DELETE FROM items WHERE feed=?", (source.url,))
        self.db.execute("DELETE FROM sources WHERE url=?", (source.url,))
        return source

    def all(self) -> list[Source]:
        return [Source(**dict(r)) for r in self.db.execute("SELECT * FROM sources ORDER BY added_at")]

    def save(self, source: Source) -> None:
        self.db.execute(
            "UPDATE sources SET etag=?, last_modified=?, last_poll=?, last_ok=?, last_error=?, failures=?, "
            "next_poll=? WHERE url=?",
            (
                source.etag,
                source.last_modified,
                source.last_poll,
                source.last_ok,
                source.last_error,
                source.failures,
                source.next_poll,
                source.url,
            ),
        )

    def items(self, feed: str) -> dict[str, sqlite3.Row]:
        return {r["link"]: r for r in self.db.execute("SELECT * FROM items WHERE feed=?", (feed,))}

    def save_item(self, feed: str, link: str, article_id: str | None, updated: str | None) -> None:
        self.db.execute(
            "INSERT INTO items(feed, link, article_id, updated, seen_at) VALUES(?,?,?,?,?) "
            "ON CONFLICT(feed, link) DO UPDATE SET article_id=excluded.article_id, updated=excluded.updated, "
            "seen_at=excluded.seen_at",
            (feed, link, article_id, updated, time.time()),
        )

    def forget_item(self, feed: str, link: str) -> None:
        self.db.execute("DELETE FROM items WHERE feed=? AND link=?", (feed, link))


@dataclass(frozen=True)
class Politeness:
    delay_s: float = 2.0  # between two requests to the same host
    interval_s: float = 900.0  # between two polls of a source
    respect_robots: bool = True


class HostGate:
    """One request at a time per host, `delay_s` apart; robots.txt read once per host per poll."""

    def __init__(self, politeness: Politeness, limits: FetchLimits, sleep: Callable[[float], None] = time.sleep):
        self.politeness, self.limits, self.sleep = politeness, limits, sleep
        self.last: dict[str, float] = {}
        self.robots: dict[str, RobotFileParser | str] = {}  # per host: its rules, or why they could not be read

    def wait(self, url: str) -> None:
        host = urlsplit(url).netloc
        if host in self.last:
            pause = self.politeness.delay_s - (time.monotonic() - self.last[host])
            if pause > 0:
                self.sleep(pause)
        self.last[host] = time.monotonic()

    def refusal(self, url: str) -> str | None:
        """None when `url` may be fetched; otherwise why not (robots.txt forbids it, or could not be read: the host is
        unreachable, on a private address, or failing)."""
        if not self.politeness.respect_robots:
            return None
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        if key not in self.robots:
            self.wait(url)
            parser = RobotFileParser()
            try:
                page = fetch(key + "/robots.txt", self.limits, content_types={"text/plain": ".txt"})
                parser.parse(page.text.splitlines())
                self.robots[key] = parser
            except FetchError as e:
                if e.status and 400 <= e.status < 500:  # RFC 9309: no robots.txt, everything allowed
                    parser.parse([])
                    self.robots[key] = parser
                else:  # unreachable or a server error: assume nothing is allowed, try again next poll
                    logger.info("robots.txt of %s unavailable (%s); skipping the host this poll", key, e)
                    self.robots[key] = (
                        f"its robots.txt could not be read ({str(e).removeprefix(key + '/robots.txt: ')})"
                    )
        rules = self.robots[key]
        if isinstance(rules, str):
            return rules
        return None if rules.can_fetch(USER_AGENT, url) else "robots.txt does not allow fetching it"


class Watcher:
    """Polls every followed source and ingests what is new or changed."""

    def __init__(
        self,
        store: SourceStore,
        index: Index,
        embedder: Embedder,
        *,
        split: SplitSettings = SplitSettings(),
        limits: FetchLimits = FetchLimits(),
        politeness: Politeness = Politeness(),
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.store, self.index, self.embedder, self.split = store, index, embedder, split
        self.limits, self.politeness, self.sleep = limits, politeness, sleep

    def poll(self, force: bool = False) -> PollReport:
        """One round over all sources; `force` ignores the interval and any backoff."""
        report = PollReport()
        gate = HostGate(self.politeness, self.limits, self.sleep)
        loaded: list[Loaded] = []
        now = time.time()
        for source in self.store.all():
            if not force and now < source.next_poll:
                continue
            report.polled += 1
            try:
                if source.kind == "folder":
                    loaded += list(load_sources([Path(source.url)], self.limits))
                    self.store.save(
                        replace(
                            source,
                            last_poll=now,
                            last_ok=now,
                            last_error=None,
                            failures=0,
                            next_poll=now + self.politeness.interval_s,
                        )
                    )
                else:
                    loaded += self._poll_feed(source, gate, report)
            except NewsbotError as e:
                failures = source.failures + 1
                backoff = min(MAX_BACKOFF_S, self.politeness.interval_s * 2**failures)
                self.store.save(
                    replace(source, last_poll=now, last_error=str(e), failures=failures, next_poll=now + backoff)
                )
                report.problems.append(f"{source.name}: {e}")
                logger.warning("source %s failed (%s); next try in %.0f s", source.name, e, backoff)
        report.ingest = ingest(loaded, self.index, self.embedder, split=self.split, progress=False)
        report.problems += report.ingest.skipped
        return report

    def _poll_feed(self, source: Source, gate: HostGate, report: PollReport) -> list[Loaded]:
        import feedparser

        now = time.time()
        if why := gate.refusal(source.url):
            raise NewsbotError(f"the feed is not fetched: {why}")
        headers = {k: v for k, v in (("If-None-Match", source.etag), ("If-Modified-Since", source.last_modified)) if v}
        gate.wait(source.url)
        page = fetch(source.url, self.limits, headers=headers, content_types=FEED_TYPES)
        done = replace(
            source,
            last_poll=now,
            last_ok=now,
            last_error=None,
            failures=0,
            next_poll=now + self.politeness.interval_s,
            etag=page.etag or source.etag,
            last_modified=page.last_modified or source.last_modified,
        )
        if page.not_modified:
            report.not_modified += 1
            self.store.save(done)
            return []
        parsed = feedparser.parse(page.text)
        if parsed.bozo and not any(e.get("link") for e in parsed.entries):
            raise NewsbotError(f"{source.url} is not a valid RSS or Atom feed ({type(parsed.bozo_exception).__name__})")
        known = self.store.items(source.url)
        loaded: list[Loaded] = []
        current: set[str] = set()
        for entry in parsed.entries:
            link = entry.get("link")
            if not link or not is_url(link):
                continue
            current.add(link)
            updated = entry.get("published") or entry.get("updated")
            old = known.get(link)
            if old is not None and old["updated"] == updated:
                continue
            item = self._item(link, entry, gate)
            loaded.append(item)
            if isinstance(item, BadArticle):
                continue  # not recorded: tried again next poll
            self.store.save_item(source.url, link, item.id, updated)
            if old is None:
                report.new_items += 1
            else:
                report.updated_items += 1
        still_listed = [known[link]["article_id"] for link in current if link in known and known[link]["article_id"]]
        with self.index.writing():
            self.index.touch(still_listed)
        for link in set(known) - current:
            report.removed += self._check_removed(source.url, link, known[link]["article_id"], gate)
        self.store.save(done)
        return loaded

    def _item(self, link: str, entry, gate: HostGate) -> Loaded:
        """The item's page; the feed's own copy of the text when the page cannot be had."""
        published = _entry_date(entry)
        article: Loaded
        if why := gate.refusal(link):
            article = BadArticle(link, why)
        else:
            gate.wait(link)
            article = load_url(link, self.limits)
        if isinstance(article, BadArticle):
            content = (entry.get("content") or [{}])[0].get("value") or entry.get("summary") or ""
            if len(content) >= 200:
                fallback = parse_html(f"<html><body><article>{content}</article></body></html>", link, url=link)
                if not isinstance(fallback, BadArticle):
                    article = replace(fallback, title=fallback.title or entry.get("title"))
        if isinstance(article, Article):
            article = replace(article, date=article.date or published, title=article.title or entry.get("title"))
        return article

    def _check_removed(self, feed: str, link: str, article_id: str | None, gate: HostGate) -> int:
        """An item left the feed: feeds roll over, so keep it unless its page is gone."""
        try:
            gate.wait(link)
            fetch(link, self.limits)
        except FetchError as e:
            if e.status in GONE:
                if article_id:
                    with self.index.writing():
                        self.index.delete([article_id])
                self.store.forget_item(feed, link)
                logger.info("%s is gone (HTTP %s): removed from the index", link, e.status)
                return 1
            return 0
        self.store.forget_item(feed, link)  # still online: the article stays, the feed no longer lists it
        return 0


def _entry_date(entry) -> date | None:
    t = entry.get("published_parsed") or entry.get("updated_parsed")
    return date(t.tm_year, t.tm_mon, t.tm_mday) if t else None


def describe_sources(sources: Iterable[Source]) -> list[dict]:
    def iso(t: float | None) -> str | None:
        return time.strftime("%Y-%m-%d %H:%M", time.gmtime(t)) if t else None

    return [
        {
            "name": s.name,
            "kind": s.kind,
            "url": s.url,
            "last_poll": iso(s.last_poll),
            "last_ok": iso(s.last_ok),
            "last_error": s.last_error,
            "failures": s.failures,
        }
        for s in sources
    ]
