"""URL ingest against a real local HTTP server: extraction, and every refusal the security rules demand."""

from __future__ import annotations

import ipaddress

import pytest

from ingest.errors import BadArticle
from ingest.fetch import FetchError, FetchLimits, check_address, fetch
from ingest.loaders import load_url
from tests.webserver import LocalWeb, Route

ARTICLE_HTML = b"""<!doctype html><html><head><title>Port reopens after storm | Harbour Times</title>
<meta property="og:title" content="Port reopens after storm">
<meta property="og:site_name" content="Harbour Times">
<meta property="article:published_time" content="2023-03-14T09:00:00Z"></head>
<body><nav>Home | World | Sport</nav><article><h1>Port reopens after storm</h1>
<p>The harbour of Eastport reopened on Tuesday after a three-day closure caused by the storm.</p>
<p>Harbour master Jane Holt said 40 ships had waited offshore and would be unloaded by Friday.</p>
<p>Insurers estimate the damage to the quay at 12 million euros, the port authority said.</p>
</article><footer>Contact us</footer></body></html>"""
LOCAL = FetchLimits(allow_private=True, timeout_s=2)


@pytest.fixture
def web():
    with LocalWeb() as w:
        yield w


def test_an_article_page_becomes_an_article_with_its_metadata(web):
    web.routes["/news/port.html"] = Route(ARTICLE_HTML)
    article = load_url(web.url("/news/port.html"), LOCAL)
    assert not isinstance(article, BadArticle), article
    assert article.id == article.url == web.url("/news/port.html")
    assert article.title == "Port reopens after storm"
    assert str(article.date) == "2023-03-14"
    assert "40 ships had waited offshore" in article.text and "Contact us" not in article.text


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "192.168.0.10", "172.16.5.4", "100.64.0.1", "::1", "fd00::1", "::ffff:127.0.0.1"],
)
def test_private_addresses_are_refused_unless_allowed(address):
    ip = ipaddress.ip_address(address)
    with pytest.raises(FetchError, match="NEWSBOT_ALLOW_PRIVATE_URLS"):
        check_address(ip)
    check_address(ip, allow_private=True)


@pytest.mark.parametrize("address", ["169.254.169.254", "fe80::1", "0.0.0.0", "224.0.0.1", "::ffff:169.254.169.254"])
def test_link_local_and_metadata_addresses_are_refused_always(address):
    with pytest.raises(FetchError, match="never fetches"):
        check_address(ipaddress.ip_address(address), allow_private=True)


@pytest.mark.parametrize(
    "address, refused",
    [
        ("93.184.216.34", False),
        ("2606:2800:220:1::1", False),
        ("10.0.0.1", True),
        ("::ffff:10.0.0.1", True),
        ("127.0.0.1", True),
    ],
)
def test_public_addresses_pass_and_private_ones_do_not(address, refused):
    ip = ipaddress.ip_address(address)
    if refused:
        with pytest.raises(FetchError, match="loopback or private"):
            check_address(ip)
    else:
        assert check_address(ip) is None


def test_loopback_url_is_refused_by_default(web):
    web.routes["/a.html"] = Route(ARTICLE_HTML)
    with pytest.raises(FetchError, match="loopback or private"):
        fetch(web.url("/a.html"))
    assert web.requests == []  # refused before any connection


def test_a_redirect_to_the_metadata_address_is_refused(web):
    web.routes["/go"] = Route(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    with pytest.raises(FetchError, match="169.254.169.254"):
        fetch(web.url("/go"), LOCAL)


def test_redirects_are_followed_and_loops_stopped(web):
    web.routes["/old"] = Route(status=301, headers={"Location": "/new.html"})
    web.routes["/new.html"] = Route(ARTICLE_HTML)
    assert fetch(web.url("/old"), LOCAL).url == web.url("/new.html")
    web.routes["/loop"] = Route(status=302, headers={"Location": "/loop"})
    with pytest.raises(FetchError, match="redirects"):
        fetch(web.url("/loop"), LOCAL)


def test_size_type_status_and_time_limits(web):
    web.routes["/big.html"] = Route(b"x" * 2048)
    web.routes["/file.zip"] = Route(b"PK...", "application/zip")
    web.routes["/slow.html"] = Route(ARTICLE_HTML, delay_s=3)
    with pytest.raises(FetchError, match="limit"):
        fetch(web.url("/big.html"), FetchLimits(max_bytes=1024, allow_private=True))
    with pytest.raises(FetchError, match="application/zip is not expected"):
        fetch(web.url("/file.zip"), LOCAL)
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch(web.url("/missing.html"), LOCAL)
    with pytest.raises(FetchError, match="within 1 s"):
        fetch(web.url("/slow.html"), FetchLimits(timeout_s=1, allow_private=True))


def test_a_failed_url_is_reported_as_a_bad_article_not_raised(web):
    bad = load_url(web.url("/missing.html"), LOCAL)
    assert isinstance(bad, BadArticle) and bad.where == web.url("/missing.html") and "404" in bad.reason


def test_non_http_schemes_are_refused():
    with pytest.raises(FetchError, match="only http"):
        fetch("file:///etc/passwd")
