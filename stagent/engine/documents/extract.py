"""Text out of a file, by MIME type. Runs only inside the worker subprocess (worker.py), never
in the daemon: a hostile or huge file can cost time and memory there, and the daemon kills it.

Bounded: PDFs past MAX_PAGES pages and spreadsheets past MAX_CELLS cells are cut (with a note),
text past MAX_TEXT_CHARS is cut, and a DOCX/XLSX whose zip declares more than MAX_UNCOMPRESSED
bytes, or a member compressed more than MAX_RATIO times, is refused before it is opened (Python's
zipfile never inflates a member past its declared size, so the declared sizes are a real bound).
"""

from __future__ import annotations

import csv
import io
import struct
import zipfile
from pathlib import Path

MAX_PAGES = 1000
MAX_CELLS = 500_000
MAX_TEXT_CHARS = 2_000_000
MAX_UNCOMPRESSED = 200 * 1024 * 1024
MAX_RATIO = 200
RATIO_FLOOR = 1024 * 1024  # members smaller than this inflate to little whatever their ratio

TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "application/x-yaml",
              "application/yaml", "application/x-python", "application/typescript")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Refused(Exception):
    """The file is refused (too large, a zip bomb, unreadable); the message says why."""


THUMBNAIL_BOX = (320, 320)
MAX_IMAGE_PIXELS = 50_000_000  # a larger image (or a decompression bomb) gets no thumbnail


def extract(path: Path, mime: str, thumbnail: Path | None = None) -> dict:
    """{"text": str | None, "note": str | None}: the file's text (None when the type has none);
    for an image also its dimensions and, written to `thumbnail`, a PNG thumbnail."""
    if mime == "application/pdf":
        return {"text": _cap(pdf_text(path)), "note": None}
    if mime == DOCX:
        check_zip(path)
        return {"text": _cap(docx_text(path)), "note": None}
    if mime == XLSX:
        check_zip(path)
        return {"text": _cap(xlsx_text(path)), "note": None}
    if mime in ("text/csv", "text/tab-separated-values"):
        return {"text": _cap(delimited_text(path, "\t" if "tab" in mime else ",")), "note": None}
    if mime == "text/html":
        return {"text": _cap(html_text(path)), "note": None}
    if mime.startswith(TEXT_TYPES):
        return {"text": _cap(read_text(path)), "note": None}
    if mime.startswith("image/"):
        size = image_size(path)
        if size is None:
            return {"text": f"Image ({mime}); dimensions unknown.", "note": None}
        kind, width, height = size
        answer = {"text": f"Image: {kind}, {width}x{height} pixels.", "note": None, "width": width, "height": height}
        if thumbnail is not None:
            answer.update(make_thumbnail(path, thumbnail, width * height))
        return answer
    return {"text": None, "note": f"No text extractor for {mime}"}


def _cap(text: str) -> str:
    if len(text) <= MAX_TEXT_CHARS:
        return text
    return text[:MAX_TEXT_CHARS] + f"\n\n[Text cut at {MAX_TEXT_CHARS} characters.]"


def read_text(path: Path, limit: int = MAX_TEXT_CHARS * 4) -> str:
    with open(path, "rb") as f:
        raw = f.read(limit)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    return raw.decode("utf-8", errors="replace")


def check_zip(path: Path) -> None:
    """Refuse a zip whose declared sizes would inflate past the caps (read from the central
    directory only; nothing is decompressed)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise Refused(f"Not a valid Office file (zip): {exc}") from None
    total = sum(m.file_size for m in members)
    if total > MAX_UNCOMPRESSED:
        raise Refused(f"Refused: the archive declares {total} bytes uncompressed (limit {MAX_UNCOMPRESSED}).")
    for member in members:
        if member.file_size > RATIO_FLOOR and member.file_size > MAX_RATIO * max(member.compress_size, 1):
            raise Refused(f"Refused: {member.filename} is compressed {member.file_size // max(member.compress_size, 1)} "
                          f"times (limit {MAX_RATIO}); this looks like a zip bomb.")


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise Refused("The PDF is encrypted.")
        pages = reader.pages
        count = len(pages)
        parts = []
        for number in range(min(count, MAX_PAGES)):
            parts.append(f"[Page {number + 1}]\n{(pages[number].extract_text() or '').strip()}")
            if sum(len(p) for p in parts) > MAX_TEXT_CHARS:
                break
    except PdfReadError as exc:
        raise Refused(f"Unreadable PDF: {exc}") from None
    if count > MAX_PAGES:
        parts.append(f"[Only the first {MAX_PAGES} of {count} pages were read.]")
    return "\n\n".join(parts)


def docx_text(path: Path) -> str:
    import docx

    document = docx.Document(str(path))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        parts.append("")
        for row in table.rows:
            parts.append("\t".join(cell.text.strip() for cell in row.cells))
    return "\n".join(parts).strip()


def xlsx_text(path: Path) -> str:
    """One text table per sheet: a `## Sheet: <name>` heading, then tab-separated rows."""
    import openpyxl

    workbook = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    parts, cells = [], 0
    try:
        for sheet in workbook.worksheets:
            parts.append(f"## Sheet: {sheet.title}")
            for row in sheet.iter_rows(values_only=True):
                cells += len(row)
                if cells > MAX_CELLS:
                    parts.append(f"[Cut at {MAX_CELLS} cells.]")
                    return "\n".join(parts)
                if any(v is not None for v in row):
                    parts.append("\t".join("" if v is None else str(v) for v in row).rstrip("\t"))
            parts.append("")
    finally:
        workbook.close()
    return "\n".join(parts).strip()


def delimited_text(path: Path, delimiter: str) -> str:
    """CSV/TSV as a tab-separated text table (quoted fields unwrapped)."""
    text = read_text(path)
    rows = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        return "\n".join("\t".join(cell.strip() for cell in row) for row in rows)
    except csv.Error:
        return text


def html_text(path: Path) -> str:
    """Readable text: scripts, styles and page chrome dropped, the rest as Markdown."""
    from bs4 import BeautifulSoup
    from markdownify import markdownify

    soup = BeautifulSoup(read_text(path), "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "iframe", "svg", "nav", "footer"]):
        tag.decompose()
    body = soup.body or soup
    text = markdownify(str(body), heading_style="ATX")
    lines = [line.rstrip() for line in text.splitlines()]
    out, blank = [], False
    for line in lines:
        if not line.strip():
            if not blank and out:
                out.append("")
            blank = True
            continue
        out.append(line)
        blank = False
    title = soup.title.string.strip() if soup.title and soup.title.string else ""
    text = "\n".join(out).strip()
    return f"# {title}\n\n{text}" if title and title not in text[:200] else text


def make_thumbnail(path: Path, target: Path, pixels: int) -> dict:
    """{"thumbnail": target} once a PNG of at most THUMBNAIL_BOX is written there, else a note
    saying why not (the text and dimensions stand either way)."""
    if pixels > MAX_IMAGE_PIXELS:
        return {"note": f"No thumbnail: the image has more than {MAX_IMAGE_PIXELS:,} pixels."}
    from PIL import Image  # only in the worker, only for images

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS  # the header may lie: Pillow checks again as it decodes
    try:
        with Image.open(path) as image:
            image.thumbnail(THUMBNAIL_BOX)
            image.convert("RGBA" if "A" in image.getbands() else "RGB").save(target, "PNG")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        return {"note": f"No thumbnail: {type(exc).__name__}: {exc}"[:300]}
    return {"thumbnail": str(target)}


def image_size(path: Path) -> tuple[str, int, int] | None:
    """(format, width, height) from the header of a PNG, GIF, JPEG or WebP; stdlib only."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
            width, height = struct.unpack(">II", head[16:24])
            return "PNG", width, height
        if head[:6] in (b"GIF87a", b"GIF89a"):
            width, height = struct.unpack("<HH", head[6:10])
            return "GIF", width, height
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return _webp_size(head)
        if head[:2] == b"\xff\xd8":
            f.seek(2)
            return _jpeg_size(f)
    return None


def _webp_size(head: bytes) -> tuple[str, int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8 " and len(head) >= 30:
        width, height = struct.unpack("<HH", head[26:30])
        return "WebP", width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(head) >= 25:
        bits = int.from_bytes(head[21:25], "little")
        return "WebP", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(head) >= 30:
        return "WebP", int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    return None


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(f) -> tuple[str, int, int] | None:
    for _ in range(10_000):  # markers; a hostile file cannot loop us forever
        byte = f.read(1)
        while byte == b"\xff":
            byte = f.read(1)
        if not byte:
            return None
        marker = byte[0]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue
        length_bytes = f.read(2)
        if len(length_bytes) < 2:
            return None
        length = struct.unpack(">H", length_bytes)[0]
        if marker in _SOF:
            data = f.read(5)
            if len(data) < 5:
                return None
            height, width = struct.unpack(">HH", data[1:5])
            return "JPEG", width, height
        f.seek(length - 2, 1)
        marker_byte = f.read(1)
        if marker_byte != b"\xff":
            return None
    return None
