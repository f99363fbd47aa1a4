"""Following feeds against a real local HTTP server: new, updated and removed items, 304s, robots.txt,
and feeds that turn hostile (malformed, slow, redirecting to a private address)."""

from __future__ import annotations

import time
from html import escape

import pytest

from ingest.feeds import Politeness, SourceStore, Watcher
from ingest.fetch import FetchLimits
from tests.conftest import make_index
from tests.webserver import LocalWeb, Route

LIMITS = FetchLimits(allow_private=True, timeout_s=1)
FAST = Politeness(delay_s=0, interval_s=60)


def page(title: str, body: str, day: str = "2023-03-14") -> Route:
    html = (
        f"<html><head><title>{escape(title)}</title><meta property='og:title' content='{escape(title)}'>"
        f"<meta property='article:published_time' content='{day}T08:00:00Z'></head><body><article>"
        f"<h1>{escape(title)}</h1>"
        + "".join(f"<p>{escape(p)}</p>" for p in body.split("\n"))
        + "</article></body></html>"
    )
    return Route(html.encode())


def rss(web: LocalWeb, items: list[tuple[str, str, str]], etag: str | None = None) -> Route:
    """items: (path, title, updated RFC 822 date)."""
    xml = "".join(
        f"<item><title>{escape(t)}</title><link>{web.url(p)}</link><guid>{web.url(p)}</guid>"
        f"<pubDate>{d}</pubDate></item>"
        for p, t, d in items
    )
    return Route(
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>Harbour Times</title>{xml}</channel></rss>".encode(),
        "application/rss+xml",
        etag=etag,
    )


def atom(web: LocalWeb, items: list[tuple[str, str, str]]) -> Route:
    xml = "".join(
        f"<entry><title>{escape(t)}</title><link href='{web.url(p)}'/><id>{web.url(p)}</id>"
        f"<updated>{d}</updated></entry>"
        for p, t, d in items
    )
    return Route(
        f"<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'><title>City Desk</title>"
        f"<id>urn:city</id><updated>2023-03-15T00:00:00Z</updated>{xml}</feed>".encode(),
        "application/atom+xml",
    )


@pytest.fixture
def web():
    with LocalWeb() as w:
        yield w


@pytest.fixture
def watcher(tmp_path, hash_embedder):
    store = SourceStore(tmp_path / "feeds.sqlite")
    index = make_index(tmp_path / "index", hash_embedder)
    return Watcher(store, index, hash_embedder, limits=LIMITS, politeness=FAST)


TRAM = (
    "The council of Eastport approved a new tram line on Monday.\n"
    "Construction starts in May and costs 80 million euros."
)
PORT = "The harbour of Eastport reopened on Tuesday after the storm.\nForty ships had waited offshore for three days."
BRIDGE = "The old bridge over the Ost river will close for repairs in June.\nFerries will run every twenty minutes."


def test_new_items_of_rss_and_atom_feeds_are_ingested_with_titles_and_dates(web, watcher):
    web.routes["/tram.html"] = page("Council approves tram line", TRAM)
    web.routes["/port.html"] = page("Port reopens after storm", PORT, "2023-03-15")
    web.routes["/bridge.html"] = page("Bridge to close in June", BRIDGE)
    web.routes["/rss.xml"] = rss(
        web,
        [
            ("/tram.html", "Council approves tram line", "Tue, 14 Mar 2023 08:00:00 GMT"),
            ("/port.html", "Port reopens after storm", "Wed, 15 Mar 2023 08:00:00 GMT"),
        ],
    )
    web.routes["/atom.xml"] = atom(web, [("/bridge.html", "Bridge to close in June", "2023-03-14T08:00:00Z")])
    watcher.store.add(web.url("/rss.xml"))
    watcher.store.add(web.url("/atom.xml"), name="city")
    report = watcher.poll()
    assert (report.polled, report.new_items, report.ingest.new, report.problems) == (2, 3, 3, [])
    stored = watcher.index.articles([web.url("/tram.html"), web.url("/port.html"), web.url("/bridge.html")])
    assert stored[web.url("/port.html")].title == "Port reopens after storm"
    assert str(stored[web.url("/port.html")].date) == "2023-03-15"
    assert all(a.seen_at for a in stored.values())


def test_a_second_poll_sends_the_etag_and_a_304_fetches_nothing_more(web, watcher):
    web.routes["/tram.html"] = page("Council approves tram line", TRAM)
    web.routes["/rss.xml"] = rss(web, [("/tram.html", "Tram", "Tue, 14 Mar 2023 08:00:00 GMT")], etag='"v1"')
    watcher.store.add(web.url("/rss.xml"))
    watcher.poll()
    web.requests.clear()
    report = watcher.poll(force=True)
    assert report.not_modified == 1 and report.new_items == 0
    feed_requests = [h for path, h in web.requests if path == "/rss.xml"]
    assert feed_requests[0].get("If-None-Match") == '"v1"'
    assert [p for p, _ in web.requests if p.endswith(".html")] == []


def test_an_updated_item_replaces_its_old_text(web, watcher):
    web.routes["/tram.html"] = page("Council approves tram line", TRAM)
    web.routes["/rss.xml"] = rss(web, [("/tram.html", "Tram", "Tue, 14 Mar 2023 08:00:00 GMT")])
    watcher.store.add(web.url("/rss.xml"))
    watcher.poll()
    web.routes["/tram.html"] = page(
        "Council approves tram line",
        TRAM.replace("80 million", "95 million") + "\nCorrection: the cost was misreported.",
    )
    web.routes["/rss.xml"] = rss(web, [("/tram.html", "Tram", "Tue, 14 Mar 2023 18:00:00 GMT")])
    report = watcher.poll(force=True)
    assert (report.updated_items, report.ingest.changed) == (1, 1)
    texts = " ".join(
        p.text for p in watcher.index.passages([f"{web.url('/tram.html')}#0", f"{web.url('/tram.html')}#1"]).values()
    )
    assert "95 million" in texts and "80 million" not in texts


def test_an_item_that_left_the_feed_is_deleted_only_when_its_page_is_gone(web, watcher):
    web.routes["/tram.html"] = page("Council approves tram line", TRAM)
    web.routes["/port.html"] = page("Port reopens after storm", PORT)
    web.routes["/rss.xml"] = rss(
        web,
        [
            ("/tram.html", "Tram", "Tue, 14 Mar 2023 08:00:00 GMT"),
            ("/port.html", "Port", "Tue, 14 Mar 2023 09:00:00 GMT"),
        ],
    )
    watcher.store.add(web.url("/rss.xml"))
    watcher.poll()
    web.routes["/rss.xml"] = rss(web, [])
    del web.routes["/tram.html"]  # taken down: 404
    report = watcher.poll(force=True)
    assert report.removed == 1
    assert list(watcher.index.articles([web.url("/tram.html"), web.url("/port.html")])) == [web.url("/port.html")]


def test_hostile_feeds_are_reported_and_the_others_still_ingested(web, watcher):
    web.routes["/tram.html"] = page("Council approves tram line", TRAM)
    web.routes["/good.xml"] = rss(web, [("/tram.html", "Tram", "Tue, 14 Mar 2023 08:00:00 GMT")])
    web.routes["/broken.xml"] = Route(b"<rss><channel><item><title>unclosed", "application/rss+xml")
    web.routes["/slow.xml"] = Route(b"<rss/>", "application/rss+xml", delay_s=3)
    web.routes["/sneaky.xml"] = Route(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    web.routes["/huge.xml"] = Route(b"<rss>" + b"x" * 2_000_000 + b"</rss>", "application/rss+xml")
    for path in ("/broken.xml", "/slow.xml", "/sneaky.xml", "/good.xml"):
        watcher.store.add(web.url(path))
    watcher.limits = FetchLimits(allow_private=True, timeout_s=1, max_bytes=1_000_000)
    watcher.store.add(web.url("/huge.xml"))
    before = time.time()
    report = watcher.poll()
    assert report.ingest.new == 1
    problems = "\n".join(report.problems)
    assert "not a valid RSS or Atom feed" in problems and "within 1 s" in problems
    assert "169.254.169.254" in problems and "limit" in problems
    slow = watcher.store.get(web.url("/slow.xml"))
    assert slow.failures == 1 and slow.next_poll > before + FAST.interval_s  # backed off
    assert watcher.poll().polled == 0  # nothing is due yet


def test_robots_txt_is_respected(web, watcher):
    web.routes["/robots.txt"] = Route(b"User-agent: *\nDisallow: /private/\n", "text/plain")
    web.routes["/private/tram.html"] = page("Council approves tram line", TRAM)
    web.routes["/port.html"] = page("Port reopens after storm", PORT)
    web.routes["/rss.xml"] = rss(
        web,
        [
            ("/private/tram.html", "Tram", "Tue, 14 Mar 2023 08:00:00 GMT"),
            ("/port.html", "Port", "Tue, 14 Mar 2023 09:00:00 GMT"),
        ],
    )
    watcher.store.add(web.url("/rss.xml"))
    report = watcher.poll()
    assert report.ingest.new == 1 and any("robots.txt" in p for p in report.problems)
    assert "/private/tram.html" not in [p for p, _ in web.requests]


def test_a_watched_folder_picks_up_new_files(tmp_path, watcher):
    folder = tmp_path / "drop"
    folder.mkdir()
    watcher.store.add(str(folder))
    (folder / "a.txt").write_text("date 2023-03-14 The harbour reopened on Tuesday after the storm.")
    assert watcher.poll().ingest.new == 1
    (folder / "b.txt").write_text("date 2023-03-15 The council approved a tram line on Wednesday.")
    report = watcher.poll(force=True)
    assert (report.ingest.new, report.ingest.unchanged) == (1, 1)
