"""Text extraction: files made in the test with the same libraries (python-docx, openpyxl) or by
hand (PDF text streams, image headers), uploaded to the real daemon and extracted by the real
worker subprocess; a zip bomb refused unopened; the time limit kills the worker; extractions a
stop cut off run again at start."""

from __future__ import annotations

import os
import sqlite3
import struct
import time

from stagent.engine.documents.extract import image_size
from tests.conftest import Daemon
from tests.helpers.documents import docx_bytes, minimal_pdf, png_bytes, xlsx_bytes, zip_bomb_docx

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def wait_done(client, document_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        document = client.get(f"/api/documents/{document_id}").json()
        if document["status"] in ("ready", "error"):
            return document
        assert time.monotonic() < deadline, f"still {document['status']}"
        time.sleep(0.05)


def worker_children() -> list[int]:
    """This process's children running the extraction worker (the daemon runs in-process)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                command = f.read()
        except (OSError, ValueError, IndexError):
            continue
        if parent == os.getpid() and b"stagent.engine.documents.worker" in command:
            found.append(int(entry))
    return found


def upload(client, name: str, content: bytes, mime: str) -> dict:
    r = client.post("/api/uploads", files={"file": (name, content, mime)})
    assert r.status_code == 201, r.text
    return wait_done(client, r.json()["id"])


def test_formats_are_extracted(client):
    pdf = upload(client, "memo.pdf", minimal_pdf(["Quarterly memo (draft)", "Second page\nwith two lines"]),
                 "application/pdf")
    assert pdf["status"] == "ready", pdf["processingError"]
    assert pdf["extractedText"] == "[Page 1]\nQuarterly memo (draft)\n\n[Page 2]\nSecond page\nwith two lines"

    docx = upload(client, "letter.docx", docx_bytes(["Dear team,", "The launch moves to May."],
                                                    [["Owner", "Date"], ["Ana", "May 4"]]), DOCX)
    assert docx["status"] == "ready", docx["processingError"]
    assert docx["extractedText"] == "Dear team,\nThe launch moves to May.\n\nOwner\tDate\nAna\tMay 4"

    xlsx = upload(client, "costs.xlsx", xlsx_bytes({"Costs": [["item", "eur"], ["rent", 1200], ["power", 80.5]],
                                                    "People": [["name"], ["Ana"]]}), XLSX)
    assert xlsx["status"] == "ready", xlsx["processingError"]
    assert xlsx["extractedText"] == "## Sheet: Costs\nitem\teur\nrent\t1200\npower\t80.5\n\n## Sheet: People\nname\nAna"

    html = upload(client, "page.html", b"<html><head><title>Release</title><style>p{}</style></head><body>"
                                       b"<nav>menu</nav><h2>Notes</h2><p>It is <b>done</b>.</p>"
                                       b"<script>track()</script></body></html>", "text/html")
    assert html["extractedText"] == "# Release\n\n## Notes\n\nIt is **done**."

    csv = upload(client, "t.csv", b'name,note\nAna,"likes, commas"\n', "text/csv")
    assert csv["extractedText"] == "name\tnote\nAna\tlikes, commas"
    tsv = upload(client, "t.tsv", b"a\tb\n1\t2\n", "text/tab-separated-values")
    assert tsv["extractedText"] == "a\tb\n1\t2"
    data = upload(client, "d.json", '{"ünïcode": true}'.encode(), "application/json")
    assert data["extractedText"] == '{"ünïcode": true}'

    image = upload(client, "pic.png", png_bytes(64, 48), "image/png")
    assert image["status"] == "ready" and image["extractedText"] == "Image: PNG, 64x48 pixels."

    blob = upload(client, "blob.bin", b"\x00\x01\x02", "application/octet-stream")
    assert blob["status"] == "ready" and blob["extractedText"] is None
    assert blob["processingError"] == "No text extractor for application/octet-stream"


def test_bad_files_end_in_error(client):
    bomb = upload(client, "bomb.docx", zip_bomb_docx(40), DOCX)
    assert bomb["status"] == "error" and "zip bomb" in bomb["processingError"]
    broken = upload(client, "broken.pdf", b"%PDF-1.4\nnot really", "application/pdf")
    assert broken["status"] == "error" and broken["processingError"]
    fake_xlsx = upload(client, "fake.xlsx", b"PK not a zip", XLSX)
    assert fake_xlsx["status"] == "error" and "zip" in fake_xlsx["processingError"]


def test_time_limit_kills_the_worker(daemon, client):
    daemon.app.state.documents.timeout_s = 0.01  # a worker cannot even start in 10 ms
    slow = upload(client, "memo.pdf", minimal_pdf(["text"]), "application/pdf")
    assert slow["status"] == "error" and "longer than" in slow["processingError"]
    assert worker_children() == []  # killed and reaped, not left running
    daemon.app.state.documents.timeout_s = 60
    r = client.patch(f"/api/documents/{slow['id']}", json={"reprocess": True})
    assert r.status_code == 200
    again = wait_done(client, slow["id"])
    assert again["status"] == "ready" and again["extractedText"] == "[Page 1]\ntext"


def test_unfinished_extractions_run_again_at_start(tmp_path):
    first = Daemon(tmp_path / "data")
    try:
        r = first.client.post("/api/uploads", files={"file": ("a.txt", b"left behind", "text/plain")})
        document_id = r.json()["id"]
        wait_done(first.client, document_id)
    finally:
        first.stop()
    with sqlite3.connect(tmp_path / "data" / "stagent.db") as conn:  # as a crash mid-extraction leaves it
        conn.execute("UPDATE documents SET status = 'processing', extracted_text = NULL WHERE id = ?", (document_id,))
    second = Daemon(tmp_path / "data")
    try:
        document = wait_done(second.client, document_id)
        assert document["status"] == "ready" and document["extractedText"] == "left behind"
    finally:
        second.stop()


def test_image_headers(tmp_path):
    gif = tmp_path / "a.gif"
    gif.write_bytes(b"GIF89a" + struct.pack("<HH", 320, 200) + b"\0" * 20)
    assert image_size(gif) == ("GIF", 320, 200)
    jpeg = tmp_path / "a.jpg"  # SOI, an APP0 segment, then SOF0 with height 480, width 640
    jpeg.write_bytes(b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0" + b"\0" * 9
                     + b"\xff\xc0" + struct.pack(">HBHH", 17, 8, 480, 640) + b"\0" * 12)
    assert image_size(jpeg) == ("JPEG", 640, 480)
    webp = tmp_path / "a.webp"
    webp.write_bytes(b"RIFF\0\0\0\0WEBPVP8X" + b"\0" * 8 + (99).to_bytes(3, "little") + (49).to_bytes(3, "little"))
    assert image_size(webp) == ("WebP", 100, 50)
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"\xff\xd8\xff")
    assert image_size(junk) is None
