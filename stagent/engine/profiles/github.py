"""Fetching profiles from GitHub for profile import (decision 021): URL parsing, the host
allow-list, and capped downloads.

Network happens only here and only when a user asks for an import, a scan, a preview or an
update check. Every request goes to the configured GitHub API or raw base (settings
`profiles.githubApiUrl`, `profiles.githubRawUrl`; tests point them at loopback), to github.com,
api.github.com, raw.githubusercontent.com, or — for a direct link to a profile.yaml/SKILL.md on
another server — that server's exact origin. Redirects are followed by hand (at most
MAX_REDIRECTS) and each target must be an allowed origin and pass `check_fetch_url`. Bodies are
capped while they stream (gzip included, never decoded past the cap). Any failure is an
`Invalid` (400) saying which URL failed and why; nothing has been written by then.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from ...db import Database
from ...errors import Invalid
from ...store import settings as settings_store
from ..net import RefusedURL, check_fetch_url, read_capped

FETCH_TIMEOUT = 20.0  # seconds per request, redirects included
MAX_REDIRECTS = 5
MAX_FILE_BYTES = 256 * 1024  # one profile.yaml or SKILL.md
MAX_API_BYTES = 8 * 1024 * 1024  # one API answer (a recursive tree of a large repository)
MAX_TOTAL_BYTES = 16 * 1024 * 1024  # all the files one request downloads (a scan of 100 skills)
GITHUB_HOSTS = ("github.com", "www.github.com", "api.github.com", "raw.githubusercontent.com")
_SEGMENT = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_REF = re.compile(r"^[A-Za-z0-9._/-]{1,200}$")


class FetchFailed(Invalid):
    """A download failed (network, status, size, host): the whole request is refused, unlike a
    file that downloaded but does not make a profile."""


def _origin(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


def check_segment(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _SEGMENT.match(value) or value in (".", ".."):
        raise Invalid(f"{what} must be a GitHub name (letters, digits, '.', '_', '-')")
    return value


def check_ref(value: Any, what: str = "branch") -> str:
    if not isinstance(value, str) or not _REF.match(value) or ".." in value or value.startswith("/"):
        raise Invalid(f"{what} must be a branch, tag or commit name")
    return value


def check_path(value: Any, what: str = "path") -> str:
    """A directory path inside a repository ('' for its root): no '..', no leading '/'."""
    if not isinstance(value, str) or len(value) > 1000:
        raise Invalid(f"{what} must be a path inside the repository")
    parts = [p for p in value.strip("/").split("/") if p]
    if any(p in (".", "..") or "\\" in p or "\x00" in p for p in parts):
        raise Invalid(f"{what} must be a path inside the repository")
    return "/".join(parts)


@dataclass(frozen=True)
class Location:
    """Where a profile (or a repository) lives: a GitHub repo at a ref and path, or a plain
    directory URL on a non-GitHub server (`base`, ending in '/')."""

    owner: str | None = None
    repo: str | None = None
    ref: str | None = None
    path: str = ""
    base: str | None = None

    @property
    def repo_url(self) -> str | None:
        return f"https://github.com/{self.owner}/{self.repo}" if self.owner else None


class GitHub:
    """One import's view of GitHub: the configured bases and the origins it may talk to."""

    def __init__(self, api_base: str, raw_base: str):
        self.api_base = api_base.rstrip("/")
        self.raw_base = raw_base.rstrip("/")
        self.allowed = {(h, 443) for h in GITHUB_HOSTS} | {_origin(self.api_base), _origin(self.raw_base)}
        self._client = None
        self._spent = 0  # bytes of files downloaded in this session

    @classmethod
    async def configured(cls, db: Database) -> GitHub:
        found = await settings_store.resolve_many(db, ["profiles.githubApiUrl", "profiles.githubRawUrl"])
        return cls(found["profiles.githubApiUrl"][0] or "https://api.github.com",
                   found["profiles.githubRawUrl"][0] or "https://raw.githubusercontent.com")

    # ---- URLs ------------------------------------------------------------------------------

    def parse(self, url: Any, *, allow_plain: bool) -> Location:
        """A github.com repo/tree/blob URL, a raw.githubusercontent.com (or raw base) URL, or —
        when `allow_plain` — a direct link to a profile.yaml or SKILL.md on another server."""
        if not isinstance(url, str) or not url.strip():
            raise Invalid("url is required")
        url = url.strip()
        if len(url) > 2000:
            raise Invalid("url is longer than 2000 characters")
        try:
            parts = urlsplit(url)
            _origin(url)  # a port that is not a number raises here
        except ValueError as exc:
            raise Invalid(f"url is malformed ({exc})") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Invalid("url must be an http(s) URL, e.g. https://github.com/<owner>/<repo>")
        if parts.username is not None or parts.password is not None:
            raise Invalid("url must not carry a user name or password")
        host = parts.hostname.lower()
        segments = [s for s in parts.path.split("/") if s]
        if host in ("github.com", "www.github.com"):
            if len(segments) < 2:
                raise Invalid("A github.com url must name a repository: https://github.com/<owner>/<repo>")
            owner, repo = segments[0], segments[1].removesuffix(".git")
            if len(segments) == 2:
                return Location(check_segment(owner, "owner"), check_segment(repo, "repo"))
            if len(segments) < 4 or segments[2] not in ("tree", "blob", "raw"):
                raise Invalid("A github.com url must be https://github.com/<owner>/<repo>[/tree/<branch>/<path>]")
            return Location(check_segment(owner, "owner"), check_segment(repo, "repo"),
                            check_ref(segments[3]), check_path("/".join(segments[4:])))
        raw_prefix = urlsplit(self.raw_base)
        if host == "raw.githubusercontent.com" or (
                _origin(url) == _origin(self.raw_base) and parts.path.startswith(raw_prefix.path)):
            rest = segments if host == "raw.githubusercontent.com" else \
                [s for s in parts.path[len(raw_prefix.path):].split("/") if s]
            if len(rest) < 3:
                raise Invalid("A raw GitHub url must be <raw host>/<owner>/<repo>/<branch>/<path>")
            return Location(check_segment(rest[0], "owner"), check_segment(rest[1], "repo"),
                            check_ref(rest[2]), check_path("/".join(rest[3:])))
        if not allow_plain:
            raise Invalid(f"Only GitHub repositories are scanned (github.com); {host} is not allowed")
        name = parts.path.rsplit("/", 1)[-1]
        if name not in ("profile.yaml", "SKILL.md"):
            raise Invalid(f"{host} is not GitHub: only github.com, raw.githubusercontent.com or a direct "
                          "link to a profile.yaml or SKILL.md file are imported")
        return Location(base=f"{parts.scheme}://{parts.netloc}{parts.path[: -len(name)]}")

    def raw_url(self, where: Location, name: str) -> str:
        if where.base is not None:
            return where.base + quote(name)
        path = f"{where.path}/{name}" if where.path else name
        return f"{self.raw_base}/{where.owner}/{where.repo}/{quote(where.ref or '', safe='/')}/{quote(path, safe='/')}"

    def api_url(self, owner: str, repo: str, tail: str = "") -> str:
        return f"{self.api_base}/repos/{owner}/{repo}{tail}"

    # ---- fetching ----------------------------------------------------------------------------

    async def text(self, url: str, *, missing_ok: bool = False, extra_origin: bool = False) -> str | None:
        """A file's text (UTF-8), None for a 404 when `missing_ok`."""
        body = await self._get(url, MAX_FILE_BYTES, "text/plain, */*", missing_ok, extra_origin)
        if body is None:
            return None
        self._spent += len(body)
        if self._spent > MAX_TOTAL_BYTES:
            raise FetchFailed(f"Could not fetch {url}: the files of this request are together larger "
                              f"than {MAX_TOTAL_BYTES // (1024 * 1024)} MB")
        try:
            return body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise FetchFailed(f"Could not fetch {url}: the file is not UTF-8 text") from None

    async def api(self, url: str, *, not_found: str) -> Any:
        body = await self._get(url, MAX_API_BYTES, "application/vnd.github+json", True, False)
        if body is None:
            raise FetchFailed(not_found)
        try:
            return json.loads(body)
        except ValueError:
            raise FetchFailed(f"Could not fetch {url}: the answer is not JSON") from None

    @contextlib.asynccontextmanager
    async def session(self):
        """One HTTP client (connections reused) for the downloads of one request."""
        import httpx  # only here: the daemon starts without it

        async with httpx.AsyncClient(timeout=FETCH_TIMEOUT) as client:
            self._client, self._spent = client, 0
            try:
                yield self
            finally:
                self._client = None

    async def _get(self, url: str, cap: int, accept: str, missing_ok: bool, extra_origin: bool) -> bytes | None:
        import httpx  # only here: the daemon starts without it

        first = url
        allowed = self.allowed | ({_origin(url)} if extra_origin else set())

        def failed(reason: str) -> FetchFailed:
            return FetchFailed(f"Could not fetch {first}: {reason}")

        headers = {"Accept": accept, "Accept-Encoding": "identity", "User-Agent": "stagent-profile-import"}
        target: Any = url
        if self._client is None:  # not inside session(): a client for this one download
            async with self.session():
                return await self._get(url, cap, accept, missing_ok, extra_origin)
        client = self._client
        try:
            async with asyncio.timeout(FETCH_TIMEOUT):
                for hop in range(MAX_REDIRECTS + 1):
                    if _origin(str(target)) not in allowed:
                        where = "redirected to" if hop else "the host of"
                        raise failed(f"{where} {target}: the host is not allowed (only GitHub, "
                                     "or the server of the file you linked)")
                    try:
                        await check_fetch_url(str(target))
                    except RefusedURL as exc:
                        raise failed(f"redirected to {target}: {exc}" if hop else str(exc)) from None
                    async with client.stream("GET", target, headers=headers) as response:
                        if response.next_request is not None:
                            target = response.next_request.url
                            if target.scheme not in ("http", "https"):
                                raise failed(f"redirected to a URL that is not http(s): {target}")
                            continue
                        if response.status_code == 404 and missing_ok:
                            return None
                        if response.status_code in (403, 429):
                            raise failed(f"HTTP {response.status_code} (GitHub's rate limit for "
                                         "unauthenticated requests, or a private repository)")
                        if response.status_code != 200:
                            raise failed(f"HTTP {response.status_code}")
                        return await read_capped(response, cap, failed)
                raise failed(f"more than {MAX_REDIRECTS} redirects")
        except TimeoutError:
            raise failed(f"no complete answer within {FETCH_TIMEOUT:g} s") from None
        except httpx.ConnectError as exc:
            raise failed(f"could not connect ({exc or 'connection refused'}); are you offline?") from None
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:  # ValueError: a host IDNA refuses
            raise failed(str(exc) or type(exc).__name__) from None
