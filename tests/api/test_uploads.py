"""/api/uploads against the real daemon over real HTTP: multipart streamed to disk, the 50 MB
limit and a body cut off midway (nothing left behind either way), download, delete, orphan
cleanup, and the 413 body guard that stays on for every other route."""

from __future__ import annotations

import os
import socket
import sqlite3
import time

import pytest

from tests.helpers.waiting import wait_for

MB = 1024 * 1024



def uploads(daemon) -> list[str]:
    folder = daemon.data_dir / "uploads"
    return sorted(os.listdir(folder)) if folder.exists() else []


def document_rows(daemon) -> int:
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        return conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]


def read_reply(sock) -> bytes:
    """One HTTP response off a raw socket: the head, then Content-Length bytes of body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return head + b"\r\n\r\n" + body


def wait_ready(client, document_id: str) -> dict:
    return wait_for(lambda: (d := client.get(f"/api/documents/{document_id}").json())["status"] in ("ready", "error")
                    and d)


def test_upload_download_delete(daemon, client):
    r = client.post("/api/uploads", files={"file": ("meeting notes.md", b"# Plan\nShip the budget review", "text/markdown")})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"id", "filename", "originalName", "size", "type", "taskId"}
    assert body["filename"] == f"{body['id']}.md" and body["originalName"] == "meeting notes.md"
    assert body["size"] == 29 and body["type"] == "text/markdown" and body["taskId"] is None
    assert uploads(daemon) == [body["filename"]]

    document = wait_ready(client, body["id"])
    assert document["status"] == "ready" and document["direction"] == "input" and document["source"] == "upload"
    assert "Ship the budget review" in document["extractedText"]

    got = client.get(f"/api/uploads/{body['id']}")
    assert got.status_code == 200 and got.content == b"# Plan\nShip the budget review"
    assert got.headers["content-disposition"].startswith('attachment; filename="meeting notes.md"')
    assert got.headers["x-content-type-options"] == "nosniff"

    assert client.delete(f"/api/uploads/{body['id']}").status_code == 204
    assert uploads(daemon) == [] and document_rows(daemon) == 0
    assert client.get(f"/api/uploads/{body['id']}").status_code == 404
    assert client.delete(f"/api/uploads/{body['id']}").status_code == 404
    assert client.get("/api/uploads/..%2Fstagent.db").status_code == 404


def test_upload_links_a_task_and_refuses_bad_input(daemon, client):
    project = client.post("/api/projects", json={"name": "P"}).json()
    task = client.post("/api/tasks", json={"title": "T", "projectId": project["id"]}).json()
    r = client.post("/api/uploads", files={"file": ("a.txt", b"abc", "text/plain")}, data={"taskId": task["id"]})
    assert r.status_code == 201 and r.json()["taskId"] == task["id"]
    document = client.get(f"/api/documents/{r.json()['id']}").json()
    assert document["projectId"] == project["id"] and document["taskTitle"] == "T"

    before = uploads(daemon)
    for kwargs in ({"data": {"taskId": task["id"]}, "files": {"other": ("x.txt", b"x")}},
                   {"json": {"file": "x"}},
                   {"content": b'--b\r\nContent-Disposition: form-data; name="file"; filename=""\r\n'
                               b"Content-Type: application/octet-stream\r\n\r\n\r\n--b--\r\n",  # no file chosen
                    "headers": {"Content-Type": "multipart/form-data; boundary=b"}},
                   {"files": {"file": ("a.txt", b"abc", "text/plain")}, "data": {"taskId": "no-such-task"}}):
        r = client.post("/api/uploads", **kwargs)
        assert r.status_code == 400, r.text
    assert client.post("/api/uploads", json={}).json() == {"error": "No file provided"}
    assert uploads(daemon) == before and document_rows(daemon) == 1


def test_upload_over_the_limit_leaves_nothing(daemon, client, tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(50 * MB + 1)
    with open(big, "rb") as f:
        r = client.post("/api/uploads", files={"file": ("big.bin", f, "application/octet-stream")})
    assert r.status_code == 400 and r.json() == {"error": "File too large (max 50MB)"}
    assert uploads(daemon) == [] and document_rows(daemon) == 0

    # exactly 50 MB is accepted
    with open(big, "r+b") as f:
        f.truncate(50 * MB)
    with open(big, "rb") as f:
        r = client.post("/api/uploads", files={"file": ("big.bin", f, "application/octet-stream")})
    assert r.status_code == 201 and r.json()["size"] == 50 * MB
    assert os.path.getsize(daemon.data_dir / "uploads" / r.json()["filename"]) == 50 * MB
    assert client.delete(f"/api/uploads/{r.json()['id']}").status_code == 204

    # a Content-Length far past the limit is refused before the body is read
    with socket.create_connection(("127.0.0.1", daemon.port)) as sock:
        sock.sendall(b"POST /api/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: multipart/form-data; boundary=xyz\r\n"
                     b"Content-Length: 209715200\r\n\r\n")
        reply = read_reply(sock)
    assert reply.startswith(b"HTTP/1.1 400") and b"File too large (max 50MB)" in reply
    assert uploads(daemon) == [] and document_rows(daemon) == 0


def test_upload_cut_off_midway_leaves_nothing(daemon, client):
    head = (b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.txt\"\r\n"
            b"Content-Type: text/plain\r\n\r\n")
    sock = socket.create_connection(("127.0.0.1", daemon.port))
    try:
        sock.sendall(b"POST /api/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: multipart/form-data; boundary=xyz\r\n"
                     b"Content-Length: 20971520\r\n\r\n" + head)
        chunk = b"a" * 65536
        for _ in range(40):  # 2.5 MB: past the first flush, so the partial file exists on disk
            sock.sendall(chunk)
        wait_for(lambda: any(name.endswith(".part") for name in uploads(daemon)))
    finally:
        sock.close()
    wait_for(lambda: uploads(daemon) == [])
    assert document_rows(daemon) == 0
    assert client.get("/api/documents").json() == []


def test_cleanup_removes_only_old_orphans(daemon, client):
    kept = client.post("/api/uploads", files={"file": ("keep.txt", b"keep", "text/plain")}).json()
    folder = daemon.data_dir / "uploads"
    old, young = folder / "0ld-orphan.txt", folder / "young-orphan.txt"
    old.write_bytes(b"x")
    young.write_bytes(b"y")
    day_ago = time.time() - 25 * 3600
    os.utime(old, (day_ago, day_ago))
    os.utime(folder / kept["filename"], (day_ago, day_ago))
    r = client.post("/api/uploads/cleanup")
    assert r.status_code == 200
    assert r.json() == {"deleted": 1, "errors": 0, "skipped": 1, "deletedFiles": ["0ld-orphan.txt"]}
    assert sorted(os.listdir(folder)) == sorted([kept["filename"], "young-orphan.txt"])


@pytest.mark.parametrize("path", ["/api/tasks", "/api/documents"])
def test_other_routes_keep_the_body_guard(client, path):
    r = client.post(path, content=b"x" * (11 * MB), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
