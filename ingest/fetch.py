"""Fetch one web page safely: public addresses only (checked on every hop), bounded size and time.

The address check happens after DNS resolution and the connection goes to the checked address
(the hostname stays in the Host header and TLS SNI), so a name that resolves to a public address
for the check and a private one for the request (DNS rebinding) cannot slip through.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

from ingest.errors import NewsbotError

CONTENT_TYPES = {"text/html": ".html", "application/xhtml+xml": ".html", "text/plain": ".txt", "text/markdown": ".md"}
FEED_TYPES = {
    "application/rss+xml": ".xml",
    "application/atom+xml": ".xml",
    "application/rdf+xml": ".xml",
    "application/xml": ".xml",
    "text/xml": ".xml",
    "application/feed+json": ".json",
}
MAX_REDIRECTS = 5
USER_AGENT = "newsbot/0.1 (+https://github.com/newsbot; article fetcher)"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchError(NewsbotError):
    """A URL that cannot or must not be fetched; the message says which and why."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status  # the HTTP status when the server answered with an error


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int = 10 * 1024 * 1024
    timeout_s: float = 20.0  # for the whole download, redirects included
    allow_private: bool = False  # loopback and private networks (tests, intranets); never link-local


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects, without the #fragment
    status: int
    content_type: str
    text: str
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def suffix(self) -> str:
        return CONTENT_TYPES.get(self.content_type) or FEED_TYPES.get(self.content_type, "")


def redacted(url: str) -> str:
    """`url` without the user name and password of its address ("https://user:pw@host/x" → "https://host/x")."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.username is None and parts.password is None:
        return url
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, parts.query, parts.fragment))


def is_url(value: str) -> bool:
    return value.lower().startswith(("http://", "https://"))


def check_address(ip: IPAddress, allow_private: bool = False) -> None:
    """Refuse addresses a news site cannot have; link-local (cloud metadata 169.254.169.254) always."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if not ip.is_loopback and (ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved):
        raise FetchError(f"{ip} is a link-local, multicast or reserved address; newsbot never fetches those")
    if not ip.is_global and not allow_private:
        raise FetchError(f"{ip} is a loopback or private address; set NEWSBOT_ALLOW_PRIVATE_URLS=1 to allow it")


def resolve(host: str, port: int, allow_private: bool) -> IPAddress:
    """The first address of `host`, after checking every address it resolves to."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise FetchError(f"cannot resolve {host}: {e.strerror}") from None
    ips = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    for ip in ips:
        check_address(ip, allow_private)
    return ips[0]


def fetch(
    url: str,
    limits: FetchLimits = FetchLimits(),
    headers: dict[str, str] | None = None,
    content_types: dict[str, str] = CONTENT_TYPES,
) -> Fetched:
    """GET `url`, following up to 5 redirects, each target checked; raises FetchError with the reason.

    `headers` may carry If-None-Match / If-Modified-Since: a 304 comes back as `Fetched.not_modified`.
    """
    import httpx

    deadline = time.monotonic() + limits.timeout_s
    with httpx.Client(timeout=limits.timeout_s, follow_redirects=False, trust_env=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            if parts.username is not None or parts.password is not None:
                raise FetchError(
                    f"{redacted(url)}: the URL holds a user name or password, which newsbot would store and "
                    "show in every citation; remove the 'user:password@' part"
                )
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise FetchError(f"{url}: only http:// and https:// URLs can be ingested")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            ip = resolve(parts.hostname, port, limits.allow_private)
            host = f"[{ip}]" if ip.version == 6 else str(ip)
            pinned = urlunsplit((parts.scheme, f"{host}:{port}", parts.path or "/", parts.query, ""))
            request_headers = {"User-Agent": USER_AGENT, "Host": parts.netloc.rsplit("@", 1)[-1], **(headers or {})}
            try:
                with client.stream(
                    "GET", pinned, headers=request_headers, extensions={"sni_hostname": parts.hostname}
                ) as response:
                    if response.is_redirect and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        continue
                    return _read(url, response, limits, deadline, content_types)
            except httpx.TimeoutException:
                raise FetchError(f"{url}: no answer within {limits.timeout_s:.0f} s") from None
            except httpx.HTTPError as e:
                raise FetchError(f"{url}: {type(e).__name__}: {e}") from None
    raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")


def _read(url: str, response, limits: FetchLimits, deadline: float, content_types: dict[str, str]) -> Fetched:
    url = urlunsplit(urlsplit(url)._replace(fragment=""))
    meta = {"etag": response.headers.get("etag"), "last_modified": response.headers.get("last-modified")}
    if response.status_code == 304:
        return Fetched(url, 304, "", "", **meta)
    if response.status_code >= 400:
        raise FetchError(f"{url}: the server answered HTTP {response.status_code}", response.status_code)
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in content_types:
        raise FetchError(
            f"{url}: content type {content_type or '(none)'} is not expected here; "
            f"expected one of {', '.join(sorted(content_types))}"
        )
    length = response.headers.get("content-length")
    if length and length.isdigit() and int(length) > limits.max_bytes:
        raise FetchError(f"{url}: {int(length) / 1e6:.1f} MB is over the {limits.max_bytes / 1e6:.0f} MB limit")
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > limits.max_bytes:
            raise FetchError(f"{url}: the page is over the {limits.max_bytes / 1e6:.0f} MB limit")
        if time.monotonic() > deadline:
            raise FetchError(f"{url}: download took longer than {limits.timeout_s:.0f} s")
    try:
        text = bytes(body).decode(response.charset_encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = bytes(body).decode("utf-8", errors="replace")
    return Fetched(url, response.status_code, content_type, text, **meta)
