"""A task's file changes end to end: a real run in a temporary git repository (real runner,
litellm and the fake provider on loopback) reads a file, edits it, runs pytest through
run_command and finishes; GET /api/tasks/{id}/changes shows the diff and
POST /api/tasks/{id}/changes/revert puts the files back."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import httpx

from tests.helpers.sse import iter_events

BUGGY = "def add(a, b):\n    return a - b\n"
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def git(repo, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
                               "HOME": str(repo), "PATH": "/usr/bin:/bin"}).stdout


def repository(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "calc.py").write_text(BUGGY)
    (repo / "test_calc.py").write_text(TEST)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "start")
    return repo


def run_task(client, project_id: str, title: str = "Fix add") -> dict:
    task = client.post("/api/tasks", json={"title": title, "projectId": project_id}).json()
    assert client.patch(f"/api/tasks/{task['id']}", json={"status": "queued"}).status_code == 200
    assert client.post(f"/api/tasks/{task['id']}/execute").status_code == 202
    return task


def log_rows(daemon, task_id: str) -> list[dict]:
    with httpx.stream("GET", f"{daemon.url}/api/tasks/{task_id}/logs", timeout=60) as r:
        rows = [e.json() for e in iter_events(r.iter_lines())]  # closes when the task has ended
    return [{**row, "payload": json.loads(row["payload"])} for row in rows]


def test_a_run_edits_a_repository_runs_its_tests_and_the_change_can_be_reverted(daemon, client, llm_env, tmp_path):
    repo = repository(tmp_path)
    project = client.post("/api/projects", json={"name": "calc", "workingDirectory": str(repo)}).json()
    for pattern in ("edit_file", "run_command"):  # writes and commands ask unless a pattern allows them
        assert client.post("/api/permissions", json={"pattern": pattern}).status_code in (200, 201)
    pytest_command = f"{shlex.quote(sys.executable)} -m pytest -q -p no:cacheprovider test_calc.py"
    llm_env.enqueue_tool_call("read_file", {"path": "calc.py"}, call_id="c1")
    llm_env.enqueue_tool_call("edit_file", {"path": "calc.py", "old": "a - b", "new": "a + b"}, call_id="c2")
    llm_env.enqueue_tool_call("run_command", {"command": pytest_command}, call_id="c3")
    llm_env.enqueue_text("Fixed add; the test passes.")
    task = run_task(client, project["id"])

    rows = log_rows(daemon, task["id"])
    assert client.get(f"/api/tasks/{task['id']}").json()["status"] == "completed"
    assert (repo / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert "-    return a - b\n+    return a + b" in git(repo, "diff")

    [line] = [r["payload"] for r in rows if r["event"] == "file_change"]
    assert line["path"] == "calc.py" and "+    return a + b" in line["diff"]
    streamed = "".join(json.dumps(r["payload"]) for r in rows if r["event"] == "command_output")
    assert "1 passed" in streamed  # the command's output reached the live log
    results = [r["payload"]["output"] for r in rows if r["event"] == "tool_result"]
    assert results[0] == BUGGY and results[1].startswith("edited calc.py") and "1 passed" in results[2]

    changes = client.get(f"/api/tasks/{task['id']}/changes").json()["changes"]
    assert [(c["path"], c["id"]) for c in changes] == [("calc.py", line["changeId"])]
    assert changes[0]["diff"] == line["diff"] and changes[0]["revertedAt"] is None
    assert changes[0]["beforeHash"] == line["beforeHash"] and changes[0]["afterHash"] == line["afterHash"]
    assert set(changes[0]) == {"id", "path", "beforeHash", "afterHash", "diff", "createdAt", "revertedAt"}

    r = client.post(f"/api/tasks/{task['id']}/changes/revert")
    assert r.status_code == 200 and r.json() == {"reverted": ["calc.py"], "skipped": []}
    assert (repo / "calc.py").read_text() == BUGGY and git(repo, "status", "--porcelain") == ""
    assert client.get(f"/api/tasks/{task['id']}/changes").json()["changes"][0]["revertedAt"] is not None
    # reverting again has nothing left to do
    assert client.post(f"/api/tasks/{task['id']}/changes/revert").json() == {"reverted": [], "skipped": []}


def test_revert_deletes_created_files_and_skips_files_changed_after_the_run(daemon, client, llm_env, tmp_path):
    repo = repository(tmp_path)
    project = client.post("/api/projects", json={"name": "calc", "workingDirectory": str(repo)}).json()
    for pattern in ("edit_file", "write_file"):
        client.post("/api/permissions", json={"pattern": pattern})
    llm_env.enqueue_tool_calls([("read_file", {"path": "calc.py"}, "c1"), ("read_file", {"path": "test_calc.py"}, "c2")])
    llm_env.enqueue_tool_calls([
        ("edit_file", {"path": "calc.py", "old": "a - b", "new": "b + a"}, "c3"),
        ("edit_file", {"path": "calc.py", "old": "b + a", "new": "a + b"}, "c4"),  # the same file twice
        ("edit_file", {"path": "test_calc.py", "old": "== 5", "new": "== 5, 'sum'"}, "c5"),
        ("write_file", {"path": "notes/NOTES.md", "content": "fixed add\n"}, "c6"),
    ])
    llm_env.enqueue_text("Done.")
    task = run_task(client, project["id"])
    assert daemon.wait_for_status(task["id"], {"completed", "failed"})["status"] == "completed"
    changes = client.get(f"/api/tasks/{task['id']}/changes").json()["changes"]
    assert [c["path"] for c in changes] == ["calc.py", "calc.py", "test_calc.py", "notes/NOTES.md"]
    assert changes[-1]["beforeHash"] is None and changes[-1]["diff"].startswith("--- /dev/null")

    (repo / "test_calc.py").write_text(TEST + "# a person's edit after the run\n")
    r = client.post(f"/api/tasks/{task['id']}/changes/revert")
    assert r.status_code == 200
    assert r.json() == {"reverted": ["calc.py", "notes/NOTES.md"],
                        "skipped": [{"path": "test_calc.py", "reason": "changed since the run"}]}
    assert (repo / "calc.py").read_text() == BUGGY  # the content before the first of its two edits
    assert not (repo / "notes" / "NOTES.md").exists()
    assert (repo / "test_calc.py").read_text().endswith("# a person's edit after the run\n")

    # once the person's edit is undone, the skipped file can be reverted too
    (repo / "test_calc.py").write_text(TEST.replace("== 5", "== 5, 'sum'"))
    assert client.post(f"/api/tasks/{task['id']}/changes/revert").json() == {"reverted": ["test_calc.py"],
                                                                             "skipped": []}
    assert git(repo, "status", "--porcelain") == ""


def test_a_write_asks_first_and_revert_waits_for_the_run_to_end(daemon, client, llm_env, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    project = client.post("/api/projects", json={"name": "p", "workingDirectory": str(work)}).json()
    llm_env.enqueue_tool_call("write_file", {"path": "a.txt", "content": "hello\n"}, call_id="w1")
    llm_env.enqueue_text("Wrote it.")
    task = run_task(client, project["id"], "Write a file")

    with httpx.stream("GET", f"{daemon.url}/api/notifications/pending-approvals/stream", timeout=60) as stream:
        request = next(i for e in iter_events(stream.iter_lines()) for i in e.json() if i["taskId"] == task["id"])
    assert request["toolName"] == "write_file" and request["toolInput"] == {"path": "a.txt", "content": "hello\n"}
    assert not (work / "a.txt").exists()
    r = client.post(f"/api/tasks/{task['id']}/changes/revert")
    assert r.status_code == 409 and "running" in r.json()["error"]

    client.post(f"/api/tasks/{task['id']}/respond", json={"notificationId": request["notificationId"],
                                                          "behavior": "allow"})
    assert daemon.wait_for_status(task["id"], {"completed", "failed"})["status"] == "completed"
    assert (work / "a.txt").read_text() == "hello\n"
    assert client.post(f"/api/tasks/{task['id']}/changes/revert").json() == {"reverted": ["a.txt"], "skipped": []}
    assert not (work / "a.txt").exists()


def test_changes_of_an_unknown_task_are_a_404(client):
    for method, path in (("GET", "/api/tasks/nope/changes"), ("POST", "/api/tasks/nope/changes/revert")):
        r = client.request(method, path)
        assert r.status_code == 404 and r.json() == {"error": "Task not found"}
    task = client.post("/api/tasks", json={"title": "Nothing changed"}).json()
    assert client.get(f"/api/tasks/{task['id']}/changes").json() == {"changes": []}
    assert client.post(f"/api/tasks/{task['id']}/changes/revert").json() == {"reverted": [], "skipped": []}
