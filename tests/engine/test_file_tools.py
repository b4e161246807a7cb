"""The file tools (read_file, write_file, edit_file, list_files, glob, grep) on real files in a
temporary working directory, run through the one registry's run_tool with a real migrated
database, as a task run calls them. End-to-end runs through the daemon are in
tests/api/test_task_changes.py."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from stagent.db import Database
from stagent.db.migrations import migrate
from stagent.engine.agent import changes, toolbox  # noqa: F401  (registers every tool family)
from stagent.engine.agent.files import MAX_FILE_BYTES
from stagent.engine.agent.tools import TASK_TOOLS, ToolContext, run_tool
from stagent.store import file_changes


class Run:
    """One task run's tool context over `work`, with the log lines it wrote."""

    def __init__(self, db: Database, work: Path) -> None:
        self.db, self.work, self.lines = db, work, []
        self.ctx = ToolContext(db, {"id": "t1", "projectId": None}, work, {"text": None},
                               log=lambda kind, payload: self.lines.append((kind, payload)))

    async def __call__(self, name: str, **args) -> str:
        return await run_tool(TASK_TOOLS, self.ctx, name, args)


@pytest.fixture
def env(tmp_path):
    """(loop runner, Run over tmp_path/work, tmp_path): a migrated database with task t1."""
    work = tmp_path / "work"
    work.mkdir()
    loop = asyncio.new_event_loop()
    db = Database(tmp_path / "data" / "stagent.db")  # not a parent of the working directory
    loop.run_until_complete(db.open())
    loop.run_until_complete(db.write_raw(migrate))
    loop.run_until_complete(db.execute(
        "INSERT INTO tasks (id, title, created_at, updated_at) VALUES ('t1', 't', 'x', 'x')"))
    run = Run(db, work)
    yield loop.run_until_complete, run, tmp_path
    loop.run_until_complete(db.close())
    loop.close()


# ---- read_file -------------------------------------------------------------------------------

def test_read_file_returns_the_text_and_pages_through_line_ranges(env):
    call, run, _ = env
    (run.work / "a.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    assert call(run("read_file", path="a.txt")) == "".join(f"line {i}\n" for i in range(1, 11))
    part = call(run("read_file", path="a.txt", offset=3, limit=2))
    assert part == "line 3\nline 4\n[lines 3-4 of 10; read on with offset=5]"
    assert call(run("read_file", path="a.txt", offset=9)) == "line 9\nline 10\n[lines 9-10 of 10]"
    assert call(run("read_file", path="a.txt", offset="2", limit=1.0)).startswith("line 2\n")
    assert "past the end" in call(run("read_file", path="a.txt", offset=11))
    assert call(run("read_file", path="a.txt", offset=0)) == "error: 'offset' must be at least 1"
    assert call(run("read_file", path="a.txt", limit="many")) == "error: 'limit' must be an integer"


def test_read_file_caps_a_long_file_and_says_how_to_go_on(env):
    call, run, _ = env
    (run.work / "long.txt").write_text("".join(f"{i}\n" for i in range(5000)))
    first = call(run("read_file", path="long.txt"))
    assert first.endswith("1999\n[lines 1-2000 of 5000; read on with offset=2001]")
    (run.work / "wide.txt").write_text(("x" * 1000 + "\n") * 200)  # 200 KB in 200 lines
    wide = call(run("read_file", path="wide.txt"))
    assert len(wide) < 70_000 and "read on with offset=" in wide
    (run.work / "one-line.txt").write_text("y" * 100_000)
    assert "cut after 65,536 characters" in call(run("read_file", path="one-line.txt"))


def test_read_file_refuses_binary_huge_missing_and_folders(env):
    call, run, _ = env
    (run.work / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    assert call(run("read_file", path="img.png")) == "error: img.png is a binary file (16 bytes); read_file shows text only"
    with open(run.work / "huge.log", "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    assert "over the 10 MiB limit; search it with grep" in call(run("read_file", path="huge.log"))
    assert call(run("read_file", path="nope.txt")) == "error: no such file: nope.txt"
    (run.work / "sub").mkdir()
    assert call(run("read_file", path="sub")).startswith("error: sub is a folder")
    assert call(run("read_file")) == "error: 'path' is required"
    (run.work / "empty.txt").write_text("")
    assert call(run("read_file", path="empty.txt")) == "(empty file)"
    (run.work / "latin1.txt").write_bytes("café\n".encode("latin-1"))
    assert call(run("read_file", path="latin1.txt")) == "caf\ufffd\n"


# ---- edit_file and write_file ----------------------------------------------------------------

def test_edit_file_replaces_exact_text_and_records_the_change(env):
    call, run, _ = env
    target = run.work / "app.py"
    target.write_text("def add(a, b):\n    return a - b\n")
    call(run("read_file", path="app.py"))
    out = call(run("edit_file", path="app.py", old="return a - b", new="return a + b"))
    assert out == "edited app.py: replaced 1 occurrence (first at line 2)"
    assert target.read_text() == "def add(a, b):\n    return a + b\n"

    [(kind, line)] = run.lines
    assert kind == "file_change" and line["path"] == "app.py" and line["created"] is False
    assert line["beforeHash"] == changes.digest(b"def add(a, b):\n    return a - b\n")
    assert line["afterHash"] == changes.digest(target.read_bytes())
    assert "-    return a - b\n+    return a + b\n" in line["diff"]
    assert line["diff"].startswith("--- a/app.py\n+++ b/app.py\n")
    [stored] = call(file_changes.list_changes(run.db, "t1"))
    assert stored["id"] == line["changeId"] and stored["diff"] == line["diff"] and stored["revertedAt"] is None

    # the run wrote it, so it may edit it again without reading
    assert call(run("edit_file", path="app.py", old="a + b", new="b + a")).startswith("edited")


def test_edit_file_refusals_change_nothing(env):
    call, run, _ = env
    target = run.work / "dup.txt"
    target.write_text("x = 1\nx = 1\n")
    assert call(run("edit_file", path="dup.txt", old="x = 1", new="x = 2")) == \
        "error: read dup.txt with read_file before changing it"
    call(run("read_file", path="dup.txt"))
    duplicate = call(run("edit_file", path="dup.txt", old="x = 1", new="x = 2"))
    assert duplicate.startswith("error: old text occurs 2 times in dup.txt") and "replaceAll" in duplicate
    missing = call(run("edit_file", path="dup.txt", old="y = 1", new="y = 2"))
    assert missing.startswith("error: old text not found in dup.txt")
    assert call(run("edit_file", path="dup.txt", old="", new="z")).startswith("error: 'old' must not be empty")
    assert call(run("edit_file", path="dup.txt", old="x", new="x")).startswith("error: 'old' and 'new' are the same")
    assert call(run("edit_file", path="dup.txt", old="x", new=1)) == "error: 'new' must be a string"
    assert call(run("edit_file", path="nope.txt", old="a", new="b")) == "error: no such file: nope.txt"
    assert target.read_text() == "x = 1\nx = 1\n" and run.lines == []

    assert call(run("edit_file", path="dup.txt", old="x = 1", new="x = 2", replaceAll=True)) == \
        "edited dup.txt: replaced 2 occurrences (first at line 1)"
    assert target.read_text() == "x = 2\nx = 2\n"


def test_edit_file_refuses_a_file_changed_since_it_was_read(env):
    call, run, _ = env
    target = run.work / "notes.md"
    target.write_text("draft\n")
    call(run("read_file", path="notes.md"))
    target.write_text("draft, edited by a person\n")
    stale = call(run("edit_file", path="notes.md", old="draft", new="final"))
    assert stale == "error: notes.md changed since you last read it; read it again before changing it"
    assert call(run("write_file", path="notes.md", content="final\n")) == stale
    assert target.read_text() == "draft, edited by a person\n"
    call(run("read_file", path="notes.md"))
    assert call(run("edit_file", path="notes.md", old="draft", new="final")).startswith("edited")


def test_edit_file_matches_lf_text_in_a_crlf_file_and_refuses_binary(env):
    call, run, _ = env
    (run.work / "win.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    call(run("read_file", path="win.txt"))
    assert call(run("edit_file", path="win.txt", old="one\ntwo", new="1\n2")).startswith("edited")
    assert (run.work / "win.txt").read_bytes() == b"1\r\n2\r\nthree\r\n"
    (run.work / "blob.bin").write_bytes(b"\0abc")
    call(run("read_file", path="blob.bin"))
    assert call(run("edit_file", path="blob.bin", old="abc", new="x")) == \
        "error: blob.bin is a binary file; edit_file changes text only"


def test_write_file_creates_files_and_overwrites_only_what_it_read(env):
    call, run, _ = env
    assert call(run("write_file", path="docs/new/readme.md", content="# Hi\n")) == \
        "created docs/new/readme.md (1 line, 5 bytes)"
    assert (run.work / "docs/new/readme.md").read_text() == "# Hi\n"
    [(_, created)] = run.lines
    assert created["created"] is True and created["beforeHash"] is None
    assert created["diff"].startswith("--- /dev/null\n+++ b/docs/new/readme.md\n")

    (run.work / "keep.txt").write_text("important\n")
    assert call(run("write_file", path="keep.txt", content="gone")) == \
        "error: read keep.txt with read_file before changing it"
    call(run("read_file", path="keep.txt"))
    assert call(run("write_file", path="keep.txt", content="important\n")) == \
        "keep.txt already has this content; nothing changed"
    assert call(run("write_file", path="keep.txt", content="replaced")) == "wrote keep.txt (1 line, 8 bytes)"
    assert "\\ No newline at end of file" in run.lines[-1][1]["diff"]
    assert call(run("write_file", path="docs", content="x")) == "error: docs is a folder"
    assert call(run("write_file", path="x.txt")) == "error: 'content' is required"
    assert len(call(file_changes.list_changes(run.db, "t1"))) == 2


# ---- path escapes ----------------------------------------------------------------------------

@pytest.mark.parametrize("tool, args", [
    ("read_file", {}), ("write_file", {"content": "pwned"}), ("edit_file", {"old": "secret", "new": "pwned"}),
    ("list_files", {}), ("grep", {"pattern": "secret"}), ("glob", {"pattern": "*"}),
])
def test_no_tool_reaches_outside_the_working_directory(env, tool, args):
    call, run, tmp = env
    outside = tmp / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret\n")
    (run.work / "link.txt").symlink_to(outside / "secret.txt")
    (run.work / "linkdir").symlink_to(outside)
    for path in ("../outside/secret.txt", str(outside / "secret.txt"), "link.txt", "linkdir/secret.txt",
                 "linkdir", "sub/../../outside/secret.txt", "/etc/passwd"):
        result = call(run(tool, path=path, **args))
        assert result == f"error: path '{path}' is outside the working directory", (path, result)
    assert (outside / "secret.txt").read_text() == "secret\n"
    assert run.lines == []


def test_an_absolute_path_inside_the_working_directory_is_fine(env):
    call, run, _ = env
    (run.work / "a.txt").write_text("inside\n")
    assert call(run("read_file", path=str(run.work / "a.txt"))) == "inside\n"
    assert call(run("edit_file", path=str(run.work / "a.txt"), old="inside", new="still inside")).startswith("edited")
    assert run.lines[0][1]["path"] == "a.txt"  # recorded relative to the working directory


def test_a_task_without_a_working_directory_gets_a_clear_error(env):
    call, run, _ = env
    run.ctx.working_dir = None
    assert call(run("read_file", path="a.txt")) == "error: this task's project has no working directory"
    assert call(run("grep", pattern="x")) == "error: this task's project has no working directory"


# ---- list_files, glob, grep ------------------------------------------------------------------

def tree(work: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())


PROJECT = {
    ".gitignore": "# build output\nbuild/\n*.log\n/secrets.txt\n!keep.log\n",
    "src/app.py": "import os\n\ndef main():\n    # TODO: parse args\n    return os.getcwd()\n",
    "src/util.py": "def helper():\n    pass  # todo later\n",
    "src/web/index.ts": "export const TODO = 1;\n",
    "src/web/view.tsx": "// TODO: render\n",
    "src/web/.gitignore": "generated.ts\n",
    "src/web/generated.ts": "// TODO: generated, ignored\n",
    "build/out.py": "# TODO: ignored build output\n",
    "debug.log": "TODO ignored log\n",
    "keep.log": "TODO kept by the negation\n",
    "secrets.txt": "TODO anchored ignore\n",
    "docs/secrets.txt": "TODO not anchored here\n",
    "assets/logo.png": b"\x89PNG\0\0TODO",
    ".git/config": "TODO inside .git\n",
    "README.md": "Café TODO: ünïcode\n",
}


def test_grep_finds_lines_and_honours_gitignore_git_and_binaries(env):
    call, run, tmp = env
    tree(run.work, PROJECT)
    (tmp / "elsewhere.txt").write_text("TODO outside\n")
    (run.work / "outside-link.txt").symlink_to(tmp / "elsewhere.txt")
    out = call(run("grep", pattern="TODO"))
    assert out.splitlines() == [
        "README.md:1:Café TODO: ünïcode",
        "docs/secrets.txt:1:TODO not anchored here",
        "keep.log:1:TODO kept by the negation",
        "src/app.py:4:    # TODO: parse args",
        "src/web/index.ts:1:export const TODO = 1;",
        "src/web/view.tsx:1:// TODO: render",
    ]
    assert call(run("grep", pattern="todo", ignoreCase=True, include="*.py")).splitlines() == [
        "src/app.py:4:    # TODO: parse args", "src/util.py:2:    pass  # todo later"]
    assert call(run("grep", pattern="TODO", include="*.{ts,tsx}", exclude="view.*")) == \
        "src/web/index.ts:1:export const TODO = 1;"
    assert call(run("grep", pattern="TODO", path="src/web", filesOnly=True)) == "src/web/index.ts\nsrc/web/view.tsx"
    assert call(run("grep", pattern="TODO", path="src/app.py")) == "src/app.py:4:    # TODO: parse args"
    assert call(run("grep", pattern=r"def \w+\(\):", include=["src/**"])).splitlines() == [
        "src/app.py:3:def main():", "src/util.py:1:def helper():"]
    assert call(run("grep", pattern="ünï")) == "README.md:1:Café TODO: ünïcode"  # a non-ASCII pattern
    assert call(run("grep", pattern="nothing like this")) == "No matches"
    assert call(run("grep", pattern="(unclosed")).startswith("error: invalid regex:")
    assert call(run("grep", pattern="x", path="missing")) == "error: no such file or folder: missing"


def test_grep_caps_its_answer_with_a_more_marker(env):
    call, run, _ = env
    tree(run.work, {f"f{i:02}.txt": "hit\nmiss\nhit again\n" for i in range(30)})
    out = call(run("grep", pattern="hit", limit=5)).splitlines()
    assert out == ["f00.txt:1:hit", "f00.txt:3:hit again", "f01.txt:1:hit", "f01.txt:3:hit again",
                   "f02.txt:1:hit", "(55 more matches)"]
    assert call(run("grep", pattern="hit", filesOnly=True, limit=29)).endswith("f28.txt\n(1 more file)")
    many = call(run("grep", pattern="hit"))
    assert many.splitlines()[-1] == "f29.txt:3:hit again" and "more" not in many


def test_glob_matches_paths_and_skips_what_git_ignores(env):
    call, run, _ = env
    tree(run.work, PROJECT)
    assert call(run("glob", pattern="**/*.py")) == "src/app.py\nsrc/util.py"
    assert call(run("glob", pattern="*.py")) == "No files match *.py"
    assert call(run("glob", pattern="src/**/*.{ts,tsx}")) == "src/web/index.ts\nsrc/web/view.tsx"
    assert call(run("glob", pattern="*.ts", path="src/web")) == "src/web/index.ts"
    assert call(run("glob", pattern="**/secrets.txt")) == "docs/secrets.txt"
    assert call(run("glob", pattern="**/*", limit=2)).splitlines() == [".gitignore", "README.md", "(8 more files)"]


def test_list_files_lists_a_folder_and_caps_it(env):
    call, run, _ = env
    tree(run.work, {"b.txt": "", "a/x.txt": ""})
    assert call(run("list_files")) == "a/\nb.txt"
    assert call(run("list_files", path="a")) == "x.txt"
    tree(run.work, {f"many/{i:03}": "" for i in range(505)})
    assert call(run("list_files", path="many")).endswith("499\n(5 more entries)")
    assert call(run("list_files", path="b.txt")) == "error: no such folder: b.txt"


def test_the_file_tools_are_offered_with_their_parameters():
    schemas = {t.name: t.parameters for t in TASK_TOOLS}
    assert {"read_file", "write_file", "edit_file", "list_files", "glob", "grep"} <= set(schemas)
    assert schemas["edit_file"]["required"] == ["path", "old", "new"]
    assert set(schemas["edit_file"]["properties"]) == {"path", "old", "new", "replaceAll"}
    assert set(schemas["write_file"]["properties"]) == {"path", "content"}
    assert set(schemas["read_file"]["properties"]) == {"path", "offset", "limit"}
    assert json.dumps(schemas)  # plain JSON schema, as providers take it


# ---- stagent's own data folder ---------------------------------------------------------------

@pytest.fixture
def data_inside(tmp_path):
    """(loop runner, Run over tmp_path/work) whose database lives in tmp_path/work/data, next to
    an api-key file, as when a user makes their home folder a project's working directory."""
    work = tmp_path / "work"
    data = work / "data"
    data.mkdir(parents=True)
    (data / "api-key").write_text("stagent-key-0123456789-secret\n")
    (work / "notes.txt").write_text("no secret here\n")
    loop = asyncio.new_event_loop()
    db = Database(data / "stagent.db")
    loop.run_until_complete(db.open())
    loop.run_until_complete(db.write_raw(migrate))
    loop.run_until_complete(db.execute(
        "INSERT INTO tasks (id, title, created_at, updated_at) VALUES ('t1', 't', 'x', 'x')"))
    yield loop.run_until_complete, Run(db, work)
    loop.run_until_complete(db.close())
    loop.close()


def test_the_data_folder_is_never_read_changed_listed_or_searched(data_inside):
    call, run = data_inside
    for name, args in [("read_file", {"path": "data/api-key"}), ("read_file", {"path": "data/stagent.db"}),
                       ("read_file", {"path": "./data/../data/api-key"}),
                       ("write_file", {"path": "data/api-key", "content": "mine"}),
                       ("edit_file", {"path": "data/api-key", "old": "stagent", "new": "x"}),
                       ("list_files", {"path": "data"}), ("glob", {"pattern": "*", "path": "data"}),
                       ("grep", {"pattern": "secret", "path": "data"})]:
        result = call(run(name, **args))
        assert result.startswith("error: ") and "stagent's own data folder" in result, (name, result)
    (run.work / "link").symlink_to(run.work / "data")
    assert "stagent's own data folder" in call(run("read_file", path="link/api-key"))
    assert (run.work / "data" / "api-key").read_text().startswith("stagent-key-")
    assert "data/" not in call(run("list_files")).splitlines()
    assert call(run("grep", pattern="secret")) == "notes.txt:1:no secret here"
    assert "api-key" not in call(run("glob", pattern="**/*"))


def test_a_command_never_runs_in_the_data_folder(data_inside):
    call, run = data_inside
    run.ctx.working_dir = run.work / "data"
    result = call(run("run_command", command="cat api-key"))
    assert result.startswith("error: ") and "stagent's own data folder" in result
    assert "stagent-key" not in result
