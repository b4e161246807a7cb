"""The web tool family: `web_fetch` reads a page as markdown, `web_search` asks Exa's search API.

web_fetch: http(s) only; every URL it connects to (the first and each redirect's target) passes
engine/net.py `check_fetch_url` first (no link-local or cloud-metadata address, whatever a
name resolves to), and the connection goes to an address that check resolved (the Host header
and TLS server name stay the URL's host), so a name cannot resolve to a checked address for the
check and to another one for the connection (DNS rebinding). No environment proxy is used. A redirect is followed when it stays on the same host (http→https and a
`www.` prefix included); one to another host is reported to the model, which may fetch it with
a new call, so a permission granted for one site never reaches another. At most MAX_BYTES are
read and the whole fetch takes at most FETCH_SECONDS. The charset is the BOM's, the header's,
the page's `<meta>`, else detected (charset-normalizer); HTML becomes markdown (markdownify over
BeautifulSoup, scripts and styles dropped, links made absolute) in a worker thread.

web_search: POST <base URL>/search with the user's key in `x-api-key` (settings
web.exaSearchEnabled, web.exaApiKey, web.exaBaseUrl; GET/POST /api/settings/web-search).

Invariants: the Exa key leaves the daemon only in that header, never in a result, a log line or
an error; a failure of either tool is a ToolError the model reads.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

if TYPE_CHECKING:
    import httpx

from ... import __version__
from ...sanitize import redact
from ...store import settings
from ..net import IPAddress, RefusedURL, check_fetch_url, pinned_url
from .providers import mask
from .tools import CHAT_TOOLS, TASK_TOOLS, ToolError, text_arg, tool

MAX_BYTES = 2 * 1024 * 1024     # read of one page
MAX_CHARS = 40_000              # of the page's text in the result
FETCH_SECONDS = 30.0            # the whole fetch, redirects included
MAX_REDIRECTS = 5
SEARCH_SECONDS = 30.0
MAX_RESULTS = 10
SNIPPET_CHARS = 1_000
USER_AGENT = f"stagent/{__version__}"
HEADERS = {"User-Agent": USER_AGENT,
           "Accept": "text/html,application/xhtml+xml,text/markdown,text/plain;q=0.9,*/*;q=0.8"}
TEXT_TYPES = frozenset({"application/json", "application/xml", "application/javascript",
                        "application/x-javascript", "application/ecmascript", "application/yaml",
                        "application/x-yaml", "application/toml", "application/x-ndjson", "application/sql",
                        "application/x-sh", "application/graphql"})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
DROPPED_TAGS = ["script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed",
                "head", "link", "meta", "button", "input", "select", "textarea"]
# Labels the web means as windows-1252 (WHATWG Encoding): 0x80-0x9F are printable there.
WEB_ALIASES = {"latin_1": "cp1252", "iso8859-1": "cp1252", "ascii": "cp1252"}
DEFAULT_EXA_BASE = "https://api.exa.ai"


@dataclass
class Page:
    url: str
    status: int
    reason: str
    content_type: str       # the media type, lower case, no parameters ("" when none was sent)
    charset: str | None     # the header's charset parameter
    body: bytes
    truncated: bool         # the body went on past MAX_BYTES


@dataclass
class Redirect:
    url: str
    target: str
    status: int


# ---- fetching ------------------------------------------------------------------------------

def _same_site(current: str, target: str) -> bool:
    """Whether a redirect stays where the call was allowed to go: the same host (give or take a
    `www.`), the same scheme and port, or an upgrade from http to https on the default ports."""
    a, b = urlsplit(current), urlsplit(target)
    try:
        ports = (a.port or {"http": 80, "https": 443}.get(a.scheme), b.port or {"http": 80, "https": 443}.get(b.scheme))
    except ValueError:
        return False
    host = (a.hostname or "").removeprefix("www."), (b.hostname or "").removeprefix("www.")
    if host[0] != host[1] or b.username or b.password:
        return False
    return (a.scheme == b.scheme and ports[0] == ports[1]) or \
        (a.scheme, b.scheme, ports) == ("http", "https", (80, 443))


async def _check(url: str) -> list[IPAddress]:
    try:
        return await check_fetch_url(url)
    except RefusedURL as exc:
        raise ToolError(f"{url} is not fetched: {exc}") from None


@contextlib.asynccontextmanager
async def _pinned_stream(client: httpx.AsyncClient, url: str, addresses: list[IPAddress]):
    """GET `url` from one of its checked addresses (the next one when a connection fails), with
    the Host header and TLS server name of the URL's own host: no second lookup happens."""
    import httpx

    for index, address in enumerate(addresses):
        target, host, server_name = pinned_url(url, address)
        extensions = {"sni_hostname": server_name} if url[:6].lower() == "https:" else {}
        request = client.build_request("GET", target, headers={"Host": host}, extensions=extensions)
        try:
            response = await client.send(request, stream=True)
        except httpx.ConnectError:
            if index == len(addresses) - 1:
                raise
            continue
        try:
            yield response
        finally:
            await response.aclose()
        return


def _media_type(value: str | None) -> tuple[str, str | None]:
    if not value:
        return "", None
    parts = [p.strip() for p in value.split(";")]
    charset = None
    for param in parts[1:]:
        name, _, val = param.partition("=")
        if name.strip().lower() == "charset":
            charset = val.strip().strip("\"'") or None
    return parts[0].lower(), charset


def _is_text(media: str) -> bool:
    return (media.startswith("text/") or media in TEXT_TYPES or media in HTML_TYPES
            or media.endswith(("+json", "+xml")))


async def fetch(url: str) -> Page | Redirect:
    """GET `url` within the caps; same-site redirects followed, each target checked first."""
    import httpx  # not at module level: the daemon starts without it (tests/test_startup.py)

    # No proxy from the environment: through one, the daemon could not know which address it reaches.
    async with httpx.AsyncClient(follow_redirects=False, headers=HEADERS, trust_env=False,
                                 timeout=httpx.Timeout(FETCH_SECONDS, connect=10.0)) as client:
        for _ in range(MAX_REDIRECTS + 1):
            addresses = await _check(url)
            async with _pinned_stream(client, url, addresses) as response:
                if response.is_redirect and "location" in response.headers:
                    target = urljoin(url, response.headers["location"])
                    if not _same_site(url, target):
                        return Redirect(url, target, response.status_code)
                    url = target
                    continue
                media, charset = _media_type(response.headers.get("content-type"))
                if media and not _is_text(media):
                    size = response.headers.get("content-length")
                    raise ToolError(f"{url} is {media}{f' ({size} bytes)' if size else ''}, not text; "
                                    "web_fetch reads HTML and text only")
                chunks, size, truncated = [], 0, False
                async for chunk in response.aiter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > MAX_BYTES:  # the rest is never read
                        truncated = True
                        break
                return Page(url, response.status_code, response.reason_phrase, media, charset,
                            b"".join(chunks)[:MAX_BYTES], truncated)
    raise ToolError(f"{url} redirected more than {MAX_REDIRECTS} times")


# ---- decoding and converting ---------------------------------------------------------------

def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip()).name
    except LookupError:
        return None
    return WEB_ALIASES.get(name, name)


def decode(body: bytes, charset: str | None, html: bool) -> tuple[str, str]:
    """(text, encoding): the BOM's, else the header's, else the page's <meta>, else UTF-8 when it
    is valid UTF-8, else charset-normalizer's guess."""
    from bs4.dammit import EncodingDetector  # bs4 costs ~250 ms to import: not at the daemon's start

    _, bom = EncodingDetector.strip_byte_order_mark(body)
    encoding = _codec(bom) or _codec(charset)
    if encoding is None and html:
        encoding = _codec(EncodingDetector.find_declared_encoding(body[:8192], is_html=True))
    if encoding is None:
        try:
            return body.decode("utf-8").lstrip("\ufeff"), "utf-8"
        except UnicodeDecodeError:
            import charset_normalizer  # only when the page said nothing and is not UTF-8

            best = charset_normalizer.from_bytes(body[:65536]).best()
            encoding = _codec(best.encoding if best else None) or "utf-8"
    return body.decode(encoding, errors="replace").lstrip("\ufeff"), encoding


def html_to_markdown(html: str, base_url: str) -> tuple[str | None, str]:
    """(title, markdown) of an HTML page: scripts, styles and form controls dropped, the single
    <main> when the page marks one, links and images made absolute (inline data images dropped)."""
    from bs4 import BeautifulSoup
    from markdownify import MarkdownConverter

    soup = BeautifulSoup(html, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for tag in soup(DROPPED_TAGS):
        tag.decompose()
    mains = soup.find_all("main")
    root = mains[0] if len(mains) == 1 else (soup.body or soup)
    for link in root.find_all("a", href=True):
        href = link["href"].strip()
        if href.lower().startswith(("javascript:", "data:")):
            del link["href"]
        else:
            link["href"] = urljoin(base_url, href)
    for image in root.find_all("img"):
        src = (image.get("src") or "").strip()
        if not src or src.lower().startswith("data:"):
            image.decompose()
        else:
            image["src"] = urljoin(base_url, src)
    markdown = MarkdownConverter(heading_style="ATX", bullets="-", escape_misc=False).convert_soup(root)
    markdown = re.sub(r"[ \t]+\n", "\n", markdown)
    return title or None, re.sub(r"\n{3,}", "\n\n", markdown).strip()


def render(page: Page) -> str:
    """The result the model reads: a header line, the title, the text (capped)."""
    html = page.content_type in HTML_TYPES or (
        not page.content_type and page.body.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")))
    text, encoding = decode(page.body, page.charset, html)
    title = None
    if html:
        title, text = html_to_markdown(text, page.url)
    header = f"Fetched {page.url} (HTTP {page.status}, {page.content_type or 'no content type'}, {encoding})"
    notes = []
    if page.truncated:
        notes.append(f"[stagent: the page is larger than {MAX_BYTES // (1024 * 1024)} MB; only its first "
                     f"{MAX_BYTES // (1024 * 1024)} MB were read]")
    if len(text) > MAX_CHARS:
        notes.append(f"[stagent: {len(text) - MAX_CHARS:,} more characters not shown]")
        text = text[:MAX_CHARS]
    parts = [header, *([f"Title: {title}"] if title else []), "", text or "(empty page)", *notes]
    return "\n".join(parts)


@tool("web_fetch",
      "Fetch an http(s) URL and return the page as readable markdown (HTML converted; text as "
      f"is). Reads at most {MAX_BYTES // (1024 * 1024)} MB and returns at most {MAX_CHARS:,} "
      "characters. A redirect to another host is reported, not followed: fetch its URL with a new call.",
      {"url": {"type": "string", "description": "The http:// or https:// URL to fetch"}},
      ("url",), sets=(TASK_TOOLS, CHAT_TOOLS))
async def web_fetch(ctx, args: dict) -> str:
    import httpx

    url = text_arg(args, "url", required=True, limit=8000)
    if not re.match(r"(?i)https?://", url):
        raise ToolError("the url must start with http:// or https://")
    try:
        async with asyncio.timeout(FETCH_SECONDS):
            result = await fetch(url)
    except TimeoutError:
        raise ToolError(f"fetching {url} took longer than {FETCH_SECONDS:g} s") from None
    except httpx.InvalidURL as exc:
        raise ToolError(f"{url} is not a valid URL: {exc}") from None
    except httpx.HTTPError as exc:
        raise ToolError(f"could not fetch {url}: {type(exc).__name__}: {exc or 'no details'}") from None
    if isinstance(result, Redirect):
        return (f"{result.url} redirects (HTTP {result.status}) to another host: {result.target}\n"
                "To read it, call web_fetch again with that URL.")
    text = await asyncio.to_thread(render, result)
    if result.status >= 400:
        raise ToolError(f"HTTP {result.status} {result.reason} from {result.url}\n{text[:2000]}")
    return text


# ---- search --------------------------------------------------------------------------------

KEYS = ("web.exaSearchEnabled", "web.exaApiKey", "web.exaBaseUrl")


async def search_settings(db) -> dict:
    """{enabled, key, keySource (db|env|None), baseUrl}: the Exa search settings, key included
    (only this module sends it; search_state is what leaves the daemon)."""
    found = await settings.resolve_many(db, KEYS)
    key, source = found["web.exaApiKey"]
    return {"enabled": found["web.exaSearchEnabled"][0] == "true", "key": key or None,
            "keySource": source if key else None,
            "baseUrl": (found["web.exaBaseUrl"][0] or DEFAULT_EXA_BASE).rstrip("/")}


async def search_state(db) -> dict:
    """What GET /api/settings/web-search shows: the toggle, whether a key is set, from where, its
    masked form, and the base URL. Never the key."""
    current = await search_settings(db)
    out = {"exaSearchEnabled": current["enabled"], "hasKey": current["key"] is not None,
           "apiKeySource": current["keySource"] or "unknown", "baseUrl": current["baseUrl"]}
    if current["key"]:
        out["maskedKey"] = mask(current["key"])
    return out


def _count(args: dict) -> int:
    raw = args.get("num_results")
    if raw is None or raw == "":
        return 5
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ToolError("'num_results' must be a whole number from 1 to 10")
    return min(max(int(raw), 1), MAX_RESULTS)


def format_results(query: str, results: list) -> str:
    if not results:
        return f"No results for {query!r}."
    lines = [f"Results for {query!r}:"]
    for number, item in enumerate(results, 1):
        if not isinstance(item, dict):
            continue
        title = str(item.get("title") or item.get("url") or "(untitled)").strip()
        lines.append(f"\n{number}. {title}\n   {item.get('url') or ''}")
        meta = [str(item[k]) for k in ("publishedDate", "author") if item.get(k)]
        if meta:
            lines.append("   " + " · ".join(meta))
        snippet = item.get("highlights") or item.get("summary") or item.get("text")
        if isinstance(snippet, list):
            snippet = " … ".join(str(s) for s in snippet)
        if snippet:
            snippet = re.sub(r"\s+", " ", str(snippet)).strip()
            lines.append("   " + (snippet[:SNIPPET_CHARS] + ("…" if len(snippet) > SNIPPET_CHARS else "")))
    return "\n".join(lines)


@tool("web_search",
      "Search the web (Exa) and return the top results: title, URL, date and an excerpt of each. "
      "Use web_fetch to read a result in full.",
      {"query": {"type": "string", "description": "What to search for"},
       "num_results": {"type": "integer", "minimum": 1, "maximum": MAX_RESULTS,
                       "description": "How many results (default 5)"}},
      ("query",), sets=(TASK_TOOLS, CHAT_TOOLS))
async def web_search(ctx, args: dict) -> str:
    import httpx

    query = text_arg(args, "query", required=True, limit=2000)
    count = _count(args)
    current = await search_settings(ctx.db)
    if not current["enabled"]:
        raise ToolError("web search is turned off; the user can turn it on in Settings → Web search "
                        "(exaSearchEnabled) with an Exa API key")
    key = current["key"]
    if not key:
        raise ToolError("web search has no Exa API key; the user can add one in Settings → Web search")
    body = {"query": query, "numResults": count, "type": "auto",
            "contents": {"text": {"maxCharacters": SNIPPET_CHARS}}}
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(SEARCH_SECONDS, connect=10.0)) as client:
            response = await client.post(f"{current['baseUrl']}/search", json=body, headers={
                "x-api-key": key, "Accept": "application/json", "User-Agent": USER_AGENT})
    except httpx.HTTPError as exc:
        raise ToolError(redact(f"the search service could not be reached: {type(exc).__name__}: {exc}",
                               (key,))) from None
    if response.status_code in (401, 403):
        raise ToolError(f"the search service refused the Exa API key (HTTP {response.status_code}); "
                        "the user can check it in Settings → Web search")
    if response.status_code >= 400:
        raise ToolError(redact(f"the search service answered HTTP {response.status_code}: "
                               f"{_error_message(response)}", (key,)))
    try:
        results = response.json().get("results")
    except (ValueError, AttributeError):
        raise ToolError("the search service sent something that is not a JSON object") from None
    if not isinstance(results, list):
        raise ToolError("the search service's answer has no results list")
    return format_results(query, results[:count]).replace(key, "[REDACTED]")


def _error_message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(data, dict):
        error = data.get("error") or data.get("message") or data
        return (error if isinstance(error, str) else json.dumps(error))[:300]
    return str(data)[:300]
