"""A stored file as a download: streamed from disk, `nosniff`, a Content-Disposition whose
filename cannot break the header, and a sandbox CSP so an HTML or SVG opened from it runs no
script with the daemon's origin."""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.responses import FileResponse


def content_disposition(kind: str, name: str) -> str:
    plain = re.sub(r"[^A-Za-z0-9._ ()-]", "_", name)[:150].strip() or "download"
    return f"{kind}; filename=\"{plain}\"; filename*=UTF-8''{quote(name[:255], safe='')}"


def file_download(path, media_type: str, name: str, *, inline: bool = False) -> FileResponse:
    headers = {"Content-Disposition": content_disposition("inline" if inline else "attachment", name),
               "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-cache"}
    if media_type != "application/pdf":  # browsers' PDF viewers refuse a sandboxed document
        headers["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    return FileResponse(path, media_type=media_type, headers=headers)
