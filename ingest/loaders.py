"""Turn files (plain text, Markdown, HTML, JSONL/JSONL.gz) into Articles, reporting what cannot be read."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import gzip
import json
import logging
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from ingest.errors import BadArticle
from ingest.fetch import FetchError, FetchLimits, fetch, redacted
from ingest.text import repaired
from ingest.types import Article

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".text"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSONL_SUFFIXES = {".jsonl", ".jsonl.gz"}
SUPPORTED = TEXT_SUFFIXES | MARKDOWN_SUFFIXES | HTML_SUFFIXES | JSONL_SUFFIXES

# One article file larger than this is not an article; JSONL corpora are streamed line by line instead.
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_LINE_BYTES = 4 * 1024 * 1024
MAX_ARTICLE_CHARS = 2_000_000
MAX_HTML_TAGS = 100_000  # a news page has a few thousand; 500k tags kept trafilatura busy for half a minute
# Metadata is short; a 9 MB title (from a YAML alias bomb) would be stored, embedded and shown in every citation.
MAX_FIELD_CHARS = {"id": 2_000, "title": 1_000, "url": 4_000, "source": 300}
MAX_FRONT_MATTER_CHARS = 20_000  # a few lines of `key: value`
MAX_DECOMPRESSED_BYTES = 4 * 1024**3  # a .jsonl.gz that inflates beyond this is a bomb, not a corpus (dev: 43 MB)
MAX_BLANK_LINES = 10_000  # one blank line between rows is harmless; a billion of them took the loader 19 minutes

_DATE_LINE = re.compile(r"\A\s*date\s+(\d{4}-\d{2}-\d{2})\b[ \t]*\n?")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.S)
_MD_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.M)

Loaded = Article | BadArticle


class ArticleRow(BaseModel):
    """A JSONL row exactly as in ../shared/eval: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", strict=False)

    id: str
    text: str
    url: str | None = None
    title: str | None = None
    date: dt.date | None = None
    source: str | None = None

    @field_validator("id")
    @classmethod
    def _id_not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("id is empty")
        return v.strip()


def suffix_of(path: Path) -> str:
    name = path.name.lower()
    return ".jsonl.gz" if name.endswith(".jsonl.gz") else path.suffix.lower()


def iter_source_files(paths: Iterable[Path]) -> Iterator[tuple[Path, Path]]:
    """Yield (file, root) for every supported file under the given files or folders, in a stable order."""
    for p in paths:
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if (
                    f.is_file()
                    and suffix_of(f) in SUPPORTED
                    and not any(part.startswith(".") for part in f.relative_to(p).parts)
                ):
                    yield f, p
        else:
            yield p, p.parent


def load_path(path: Path, root: Path) -> Iterator[Loaded]:
    """Load every article of one file; problems come back as BadArticle values, never as exceptions."""
    where = str(path)
    suffix = suffix_of(path)
    if suffix not in SUPPORTED:
        yield BadArticle(where, f"unsupported file type {suffix or '(none)'}; use .txt, .md, .html or .jsonl(.gz)")
        return
    try:
        if suffix in JSONL_SUFFIXES:
            yield from _load_jsonl(path)
            return
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            yield BadArticle(
                where, f"file is {size / 1e6:.0f} MB, over the {MAX_FILE_BYTES / 1e6:.0f} MB limit for one article"
            )
            return
        raw = path.read_bytes()
    except OSError as e:
        yield BadArticle(where, f"cannot read: {e.strerror or e}")
        return
    text = _decode(raw, where)
    if isinstance(text, BadArticle):
        yield text
        return
    article_id = _id_from_path(path, root)
    if suffix in TEXT_SUFFIXES:
        yield _checked(parse_plain_text(text, article_id), where)
    elif suffix in MARKDOWN_SUFFIXES:
        yield _checked(parse_markdown(text, article_id), where)
    else:
        yield _checked(parse_html(text, article_id), where)


def load_url(url: str, limits: FetchLimits) -> Loaded:
    """One article page: fetched safely, parsed by its content type, the final URL as its id."""
    try:
        page = fetch(url, limits)
    except FetchError as e:
        url = redacted(url)
        return BadArticle(url, str(e).removeprefix(f"{url}: "))
    if page.suffix == ".html":
        article = parse_html(page.text, page.url, url=page.url)
    elif page.suffix == ".md":
        article = parse_markdown(page.text, page.url)
    else:
        article = parse_plain_text(page.text, page.url)
    if not isinstance(article, BadArticle) and not article.url:
        article = dataclasses.replace(article, url=page.url)
    return _checked(article, url)


def _decode(raw: bytes, where: str) -> str | BadArticle:
    if b"\x00" in raw[:8192]:
        return BadArticle(where, "looks like a binary file, not text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        return BadArticle(where, f"not valid UTF-8 (byte {e.start}); re-save the file as UTF-8")


def _id_from_path(path: Path, root: Path) -> str:
    try:
        rel = path.resolve().relative_to(root.resolve())
    except ValueError:
        rel = Path(path.name)
    name = rel.as_posix()
    suffix = suffix_of(path)
    return name[: -len(suffix)] if suffix and name.lower().endswith(suffix) else name


def _checked(article: Article | BadArticle, where: str) -> Article | BadArticle:
    """The article as it may be stored (see repaired(); no credentials in its URL), or why it cannot be."""
    if isinstance(article, BadArticle):
        return BadArticle(where, article.reason)  # parsers know the id; the user needs the file
    if not article.text.strip():
        return BadArticle(where, "the article has no text")
    if len(article.text) > MAX_ARTICLE_CHARS:
        return BadArticle(
            where, f"the article has {len(article.text):,} characters, over the {MAX_ARTICLE_CHARS:,} limit"
        )
    fields = {"id": article.id, "title": article.title, "url": article.url, "source": article.source}
    for name, value in fields.items():
        if value is not None and len(value) > MAX_FIELD_CHARS[name]:
            return BadArticle(
                where, f"the article's {name} has {len(value):,} characters, over the {MAX_FIELD_CHARS[name]:,} limit"
            )

    def clean(value: str | None) -> str | None:
        return repaired(value) if value else None

    url = clean(redacted(article.url)) if article.url else None
    return dataclasses.replace(
        article,
        text=repaired(article.text),
        title=clean(article.title),
        url=url,
        id=url if url and article.id == article.url else repaired(article.id),
        source=clean(article.source),
    )


def _parse_date(value: object, where: str) -> dt.date | None | BadArticle:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return BadArticle(where, f"date {value!r} is not YYYY-MM-DD")


def parse_plain_text(text: str, article_id: str) -> Article | BadArticle:
    """The seed format: an optional first line `date YYYY-MM-DD`, the body following on the same or next lines."""
    m = _DATE_LINE.match(text)
    day = None
    if m:
        day = _parse_date(m.group(1), article_id)
        if isinstance(day, BadArticle):
            return day
        text = text[m.end() :]
    return Article(id=article_id, text=text.strip(), date=day)


def parse_markdown(text: str, article_id: str) -> Article | BadArticle:
    """Markdown with optional YAML front matter (title, date, url, source, id)."""
    meta: dict = {}
    m = _FRONT_MATTER.match(text)
    if m:
        if len(m.group(1)) > MAX_FRONT_MATTER_CHARS:
            return BadArticle(
                article_id,
                f"front matter is {len(m.group(1)):,} characters, over the "
                f"{MAX_FRONT_MATTER_CHARS:,} limit for `key: value` lines",
            )
        import yaml  # only Markdown with front matter needs it

        try:
            loaded = yaml.load(m.group(1), Loader=_front_matter_loader())
        except yaml.YAMLError as e:
            return BadArticle(article_id, f"front matter is not valid YAML: {e}")
        if not isinstance(loaded, dict):
            return BadArticle(article_id, "front matter must be `key: value` lines")
        meta = loaded
        text = text[m.end() :]
    title = meta.get("title")
    if not title and (h := _MD_HEADING.search(text)):
        title = h.group(1)
    day = _parse_date(meta.get("date"), article_id)
    if isinstance(day, BadArticle):
        return day
    return Article(
        id=str(meta.get("id") or article_id),
        text=text.strip(),
        title=str(title) if title else None,
        url=str(meta["url"]) if meta.get("url") else None,
        date=day,
        source=str(meta["source"]) if meta.get("source") else None,
    )


@functools.cache
def _front_matter_loader():
    """YAML's safe loader without aliases: `*a` repeating `&a` nine levels deep makes a 467-byte header a 9 MB title."""
    import yaml

    class FrontMatterLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(
                    None, None, "aliases (*name) are not allowed in front matter", event.start_mark
                )
            return super().compose_node(parent, index)

    return FrontMatterLoader


def parse_html(html: str, article_id: str, url: str | None = None) -> Article | BadArticle:
    """Extract the main text and metadata of a news page with trafilatura."""
    import trafilatura  # heavy import, only when HTML is ingested

    if html.count("<") > MAX_HTML_TAGS:
        return BadArticle(article_id, f"the page has over {MAX_HTML_TAGS:,} tags; that is not an article page")
    try:
        doc = trafilatura.bare_extraction(
            html, url=url, with_metadata=True, include_comments=False, favor_precision=True
        )
    except Exception as e:  # trafilatura raises many kinds of parser errors on hostile markup
        return BadArticle(article_id, f"cannot parse HTML: {type(e).__name__}: {e}")
    if doc is None or not (doc.text or "").strip():
        return BadArticle(article_id, "no article text found in the HTML")
    day = _parse_date(doc.date, article_id) if doc.date else None
    if isinstance(day, BadArticle):
        day = None
    return Article(
        id=article_id,
        text=_paragraphs(doc.text),
        title=doc.title or None,
        url=url or doc.url or None,
        date=day,
        source=doc.sitename or doc.hostname or None,
    )


def _paragraphs(text: str) -> str:
    """trafilatura separates paragraphs by single newlines; the rest of newsbot expects blank lines."""
    return "\n\n".join(line.strip() for line in text.splitlines() if line.strip())


def _load_jsonl(path: Path) -> Iterator[Loaded]:
    opener = gzip.open if suffix_of(path) == ".jsonl.gz" else open
    # GzipFile reads line by line itself: a second buffer over it would read ahead into a damaged block
    # and lose the good rows already decompressed before it.
    with opener(path, "rb") as stream:
        lineno = blank = 0
        while True:
            try:
                line = stream.readline(MAX_LINE_BYTES + 1)
                too_long = len(line) > MAX_LINE_BYTES and not line.endswith(b"\n")
                if too_long:
                    _skip_rest_of_line(stream)
            except (OSError, EOFError, zlib.error) as e:  # damaged gzip: a bad header, a cut or a corrupt block
                yield BadArticle(f"{path}:{lineno + 1}", f"cannot read further: {e}")
                return
            if not line:
                return
            lineno += 1
            where = f"{path}:{lineno}"
            if too_long:
                yield BadArticle(where, f"line is longer than {MAX_LINE_BYTES // 1_000_000} MB; skipped")
                continue
            if opener is gzip.open and stream.tell() > MAX_DECOMPRESSED_BYTES:  # tell(): bytes decompressed so far
                yield BadArticle(
                    where,
                    f"the file inflates to over {MAX_DECOMPRESSED_BYTES / 1024**3:.0f} GiB; the rest is "
                    "not read (a compression bomb, or split the corpus into several files)",
                )
                return
            if not line.strip():
                blank += 1
                if blank > MAX_BLANK_LINES:
                    yield BadArticle(where, f"over {MAX_BLANK_LINES:,} blank lines; the rest of the file is not read")
                    return
                continue
            yield _parse_row(line, where)


def _skip_rest_of_line(stream) -> None:
    while True:
        chunk = stream.readline(MAX_LINE_BYTES)
        if not chunk or chunk.endswith(b"\n"):
            return


def _parse_row(line: bytes, where: str) -> Loaded:
    try:
        obj = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as e:
        return BadArticle(where, f"not valid UTF-8 (byte {e.start})")
    except json.JSONDecodeError as e:
        return BadArticle(where, f"not valid JSON: {e.msg} at column {e.colno}")
    if not isinstance(obj, dict):
        return BadArticle(where, "a row must be a JSON object {id, url, title, date, source, text}")
    try:
        row = ArticleRow.model_validate(obj)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'row'}: {err['msg']}" for err in e.errors())
        return BadArticle(where, problems)
    return _checked(
        Article(id=row.id, text=row.text.strip(), title=row.title, url=row.url, date=row.date, source=row.source), where
    )
