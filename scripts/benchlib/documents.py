"""10. Documents: a 50 MB upload, a 100-page PDF's extraction, search over 10,000 documents.

A real `stagent serve` (core 0), driven over raw sockets from this process:
- Upload: a 50 MB file sent as multipart/form-data, streamed from disk in 256 KB writes; the
  daemon's RSS sampled every 10 ms during it, growth = peak − the settled RSS before (target
  < 20 MB: the body is never held in memory). Baseline, same run: a raw copy of the same file
  (shutil.copyfile) for the time.
- Extraction: a 100-page PDF (hand-written text streams, tests/helpers/documents.py) through
  `Documents.extract`, the daemon's own path (a worker subprocess, pypdf), target < 5 s;
  baseline, same run: pypdf's extract_text over the same pages in this process (no subprocess).
  Also upload → `ready` through the daemon (polled every 10 ms).
- Search: 10,000 documents of ~2 KB text inserted into the daemon's database (one
  transaction, the FTS triggers maintain the index), then `GET /api/documents?search=<word>`
  (a word in 10 of them) p50, target < 50 ms; baselines, same run: the same FTS query in raw
  sqlite3, the LIKE scan the original ran, and GET /api/health (the HTTP floor of a request).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import socket
import sqlite3
import statistics
import sys
import threading
import time
import uuid
from datetime import UTC, datetime

from .common import ROOT, SERVER_CORE, fmt, free_port, percentile
from .daemon import spawn_stagent, wait_warm
from .httpclient import http_get, wait_health
from .probes import vm_rss_mb
from .session import BenchSession

UPLOAD_MB = 50
RSS_TARGET_MB = 20.0
PDF_PAGES = 100
PDF_TARGET_S = 5.0
SEARCH_TARGET_MS = 50.0
RARE = "zephyrine"
WORDS = ("budget report meeting customer launch revenue plan team review invoice contract design "
         "hiring roadmap quarter market product release support travel policy audit risk vendor").split()


def _multipart_upload(port: int, path, name: str) -> tuple[int, bytes]:
    """POST the file at `path` as multipart, streamed from disk; the status and body."""
    boundary = "benchboundary" + uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + os.path.getsize(path) + len(tail)
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall((f"POST /api/uploads HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
                      f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                      f"Content-Length: {length}\r\n\r\n").encode() + head)
        with open(path, "rb") as f:
            while chunk := f.read(256 * 1024):
                sock.sendall(chunk)
        sock.sendall(tail)
        data = bytearray()
        while chunk := sock.recv(65536):
            data += chunk
    status_line, _, rest = bytes(data).partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def _upload(session: BenchSession, port: int, pid: int) -> dict:
    big = session.tmp / "upload-50mb.bin"
    with open(big, "wb") as f:
        block = os.urandom(1024 * 1024)
        for _ in range(UPLOAD_MB):
            f.write(block)
    t0 = time.perf_counter()
    shutil.copyfile(big, session.tmp / "upload-copy.bin")
    copy_s = time.perf_counter() - t0
    (session.tmp / "upload-copy.bin").unlink()

    before = vm_rss_mb(pid)
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            rss = vm_rss_mb(pid)
            if rss is not None:
                peak[0] = max(peak[0], rss)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    t0 = time.perf_counter()
    try:
        status, body = _multipart_upload(port, big, "upload-50mb.bin")
    finally:
        upload_s = time.perf_counter() - t0
        done.set()
        sampler.join()
    big.unlink()
    assert status == 201 and json.loads(body)["size"] == UPLOAD_MB * 1024 * 1024, (status, body[:300])
    return {"status": status, "upload_s": upload_s, "copy_s": copy_s, "rss_before_mb": before,
            "rss_peak_mb": peak[0], "rss_growth_mb": peak[0] - before}


def _extraction(session: BenchSession, port: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from pypdf import PdfReader

    from stagent.engine.documents.processor import Documents
    from tests.helpers.documents import minimal_pdf

    pages = [f"Page {n}\n" + "\n".join(" ".join(random.choices(WORDS, k=12)) for _ in range(30))
             for n in range(1, PDF_PAGES + 1)]
    pdf = session.tmp / "hundred-pages.pdf"
    pdf.write_bytes(minimal_pdf(pages))

    t0 = time.perf_counter()
    reader = PdfReader(str(pdf))
    bare_chars = sum(len(page.extract_text() or "") for page in reader.pages)
    bare_s = time.perf_counter() - t0

    engine = Documents(None, None, session.tmp)
    t0 = time.perf_counter()
    answer = asyncio.run(engine.extract(pdf, "application/pdf"))
    worker_s = time.perf_counter() - t0
    assert "error" not in answer, answer

    status, body = _multipart_upload(port, pdf, "hundred-pages.pdf")
    assert status == 201, body
    document_id = json.loads(body)["id"]
    t0 = time.perf_counter()
    deadline = t0 + 60
    while time.perf_counter() < deadline:
        _, doc = http_get(port, f"/api/documents/{document_id}", timeout=10)
        if json.loads(doc)["status"] in ("ready", "error"):
            break
        time.sleep(0.01)
    daemon_s = time.perf_counter() - t0
    return {"pages": PDF_PAGES, "worker_s": worker_s, "bare_s": bare_s, "daemon_ready_s": daemon_s,
            "chars": len(answer.get("text") or ""), "bare_chars": bare_chars}


def _populate(db_path, count: int) -> float:
    rng = random.Random(7)
    now = datetime.now(UTC)
    rows = []
    rare_every = max(1, count // 10)
    for i in range(count):
        text = " ".join(rng.choices(WORDS, k=300))
        if i % rare_every == 0:
            text += f" {RARE} appendix"
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{i % 1000:03d}Z"
        doc_id = str(uuid.uuid4())
        rows.append((doc_id, None, None, f"{doc_id}.txt", f"note-{i}.txt", "text/plain", len(text),
                     f"/nowhere/{doc_id}.txt", 1, "input", None, "ready", text, None, None, "upload", None, None,
                     stamp, stamp))
    t0 = time.perf_counter()
    with sqlite3.connect(db_path, timeout=30) as conn:
        conn.executemany("INSERT INTO documents (id, task_id, project_id, filename, original_name, mime_type, size, "
                         "storage_path, version, direction, category, status, extracted_text, processed_path, "
                         "processing_error, source, conversation_id, message_id, created_at, updated_at) "
                         "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    return time.perf_counter() - t0


def _timed(fn, samples: int) -> dict:
    for _ in range(5):
        fn()
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"p50_ms": statistics.median(times), "p99_ms": percentile(times, 99), "samples": samples}


def _search(session: BenchSession, port: int, db_path, count: int) -> dict:
    insert_s = _populate(db_path, count)
    samples = 30 if session.quick else 200
    hits = []

    def api():
        status, body = http_get(port, f"/api/documents?search={RARE}", timeout=10)
        assert status == 200, body[:200]
        hits.append(body.count(b'"originalName"'))

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    phrase = f'"{RARE}"'

    def raw_fts():
        conn.execute("SELECT d.* FROM documents_fts f JOIN documents d ON d.rowid = f.rowid "
                     "WHERE documents_fts MATCH ? ORDER BY bm25(documents_fts, 10.0, 1.0)", (phrase,)).fetchall()

    def raw_like():
        conn.execute("SELECT * FROM documents WHERE original_name LIKE ? OR extracted_text LIKE ? "
                     "ORDER BY created_at DESC", (f"%{RARE}%", f"%{RARE}%")).fetchall()

    def health():
        status, _ = http_get(port, "/api/health", timeout=10)
        assert status == 200

    try:
        out = {"documents": count, "insert_s": insert_s, "api": _timed(api, samples), "health": _timed(health, samples),
               "raw_fts": _timed(raw_fts, samples), "raw_like": _timed(raw_like, max(5, samples // 10))}
    finally:
        conn.close()
    out["hits"] = hits[-1] if hits else 0
    return out


def measure(session: BenchSession) -> None:
    print("\n== 10. Documents: 50 MB upload RSS, 100-page PDF extraction, search over 10,000 ==", flush=True)
    count = 2_000 if session.quick else 10_000
    data_dir = session.tmp / "documents-data"
    port = free_port()
    # this checkout's stagent, whichever one the venv's `stagent` script was installed from
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = spawn_stagent(session, "documents", data_dir, port, SERVER_CORE, env=env)
    try:
        if wait_health(port, 30, proc) is None:
            raise RuntimeError("the daemon did not start")
        wait_warm(session, proc, "documents")
        session.wait_quiet()
        result = {"upload": _upload(session, port, proc.pid)}
        session.wait_quiet()
        result["extraction"] = _extraction(session, port)
        session.wait_quiet()
        result["search"] = _search(session, port, data_dir / "stagent.db", count)
    finally:
        session.children.stop(proc)
    session.results["documents"] = result
    u, e, s = result["upload"], result["extraction"], result["search"]
    session.log(f"upload {UPLOAD_MB} MB: {u['upload_s']:.2f} s (raw copy {u['copy_s']:.2f} s), daemon RSS "
                f"{u['rss_before_mb']:.1f} -> peak {u['rss_peak_mb']:.1f} MB (+{u['rss_growth_mb']:.1f} MB)")
    session.log(f"{e['pages']}-page PDF: worker {e['worker_s']:.2f} s (pypdf in-process {e['bare_s']:.2f} s), "
                f"upload -> ready {e['daemon_ready_s']:.2f} s")
    session.log(f"search over {s['documents']:,} documents ({s['hits']} hits): API p50 {s['api']['p50_ms']:.2f} ms, "
                f"p99 {s['api']['p99_ms']:.2f} ms (GET /api/health p50 {s['health']['p50_ms']:.2f} ms); raw FTS p50 {s['raw_fts']['p50_ms']:.2f} ms; "
                f"LIKE scan p50 {s['raw_like']['p50_ms']:.2f} ms (insert {s['insert_s']:.1f} s)")


def summary_rows(results: dict) -> list[tuple]:
    """The summary table's rows: metric, stagent, baseline, ratio, target, ok, original."""
    if "documents" not in results:
        return []
    u, e, s = (results["documents"][k] for k in ("upload", "extraction", "search"))
    api, fts = s["api"], s["raw_fts"]
    return [
        ("50 MB upload: daemon RSS growth", fmt(u["rss_growth_mb"], " MB", 1), "", "",
         f"< {RSS_TARGET_MB:g} MB", "PASS" if u["rss_growth_mb"] < RSS_TARGET_MB else "FAIL", ""),
        ("  upload time (vs raw file copy)", fmt(u["upload_s"], " s", 2), fmt(u["copy_s"], " s", 2),
         f"{u['upload_s'] / max(u['copy_s'], 1e-6):.1f}", "", "-", ""),
        (f"{e['pages']}-page PDF extraction (worker vs pypdf in-process)", fmt(e["worker_s"], " s", 2),
         fmt(e["bare_s"], " s", 2), f"{e['worker_s'] / max(e['bare_s'], 1e-6):.2f}", f"< {PDF_TARGET_S:g} s",
         "PASS" if e["worker_s"] < PDF_TARGET_S else "FAIL", ""),
        (f"search over {s['documents']:,} documents p50 (API vs raw FTS)", fmt(api["p50_ms"], " ms", 2),
         fmt(fts["p50_ms"], " ms", 2), f"{api['p50_ms'] / max(fts['p50_ms'], 1e-6):.2f}",
         f"< {SEARCH_TARGET_MS:g} ms", "PASS" if api["p50_ms"] < SEARCH_TARGET_MS else "FAIL", ""),
        ("  LIKE scan (the original's search), raw sqlite p50", fmt(s["raw_like"]["p50_ms"], " ms", 2), "", "", "", "-", ""),
    ]
