"""Profile import over real HTTP against a loopback server standing in for GitHub (its API under
/api, its raw files under /raw): single imports, repository scan, preview, confirm with
replace/skip, update checks, and every way a fetch is refused (offline, host, size)."""

from __future__ import annotations

import asyncio
import gzip

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from stagent.engine.profiles import github as github_engine
from stagent.store import profiles as profile_store
from tests.helpers.servers import ThreadedServer, free_port

SHA1 = "1" * 40
SHA2 = "2" * 40
BOMB = gzip.compress(b"#" + b" " * (16 * 1024 * 1024))


def profile_yaml(pid: str, name: str, version: str = "1.0.0") -> str:
    return f"id: {pid}\nname: {name}\nversion: {version}\ndomain: work\ntags: [writing, docs]\nmaxTurns: 12\n"


def skill_md(name: str, body: str = "Write clearly.") -> str:
    return f"---\nname: {name}\ndescription: {name} helps.\n---\n\n# {name}\n\n{body}\n"


def first_commit() -> dict[str, str]:
    return {
        "skills/writer/profile.yaml": profile_yaml("gh-writer", "GH Writer"),
        "skills/writer/SKILL.md": skill_md("GH Writer"),
        "skills/reviewer/SKILL.md": skill_md("Reviewer"),
        "skills/notes/SKILL.md": "# Just notes, no front matter\n",
        "README.md": "# skills\n",
    }


class FakeGitHub:
    def __init__(self):
        self.reset()

    def reset(self):
        self.commits = {SHA1: first_commit()}
        self.branches = {"main": SHA1}
        self.plain: dict[str, str] = {}

    def files(self, ref: str) -> dict[str, str] | None:
        return self.commits.get(self.branches.get(ref, ref))

    def app(self) -> Starlette:
        async def repo(request):
            if request.path_params["repo"] != "skills":
                return JSONResponse({"message": "Not Found"}, 404)
            return JSONResponse({"default_branch": "main", "description": "Some skills"})

        async def commit(request):
            ref = request.path_params["ref"]
            sha = self.branches.get(ref, ref if ref in self.commits else None)
            return JSONResponse({"sha": sha}) if sha else JSONResponse({"message": "No commit"}, 404)

        async def tree(request):
            files = self.commits.get(request.path_params["sha"])
            if files is None:
                return JSONResponse({"message": "Not Found"}, 404)
            dirs = {p.rsplit("/", 1)[0] for p in files if "/" in p}
            entries = [{"path": p, "type": "blob", "sha": "x"} for p in files]
            entries += [{"path": d, "type": "tree", "sha": "y"} for d in sorted(dirs)]
            return JSONResponse({"sha": request.path_params["sha"], "tree": entries, "truncated": False})

        async def raw(request):
            files = self.files(request.path_params["ref"])
            text = None if files is None else files.get(request.path_params["path"])
            return PlainTextResponse(text) if text is not None else Response("404: Not Found", 404)

        async def plain(request):
            path = request.path_params["path"]
            if path.startswith("moved/"):
                return RedirectResponse(f"http://localhost:{request.url.port}/plain/{path[6:]}", 302)
            text = self.plain.get(path)
            if text == "gzip-bomb":  # ~16 KB on the wire, 16 MB decoded, sent although identity was asked
                return Response(BOMB, media_type="text/plain", headers={"content-encoding": "gzip"})
            return PlainTextResponse(text) if text is not None else Response("missing", 404)

        return Starlette(routes=[
            Route("/api/repos/{owner}/{repo}", repo),
            Route("/api/repos/{owner}/{repo}/commits/{ref:path}", commit),
            Route("/api/repos/{owner}/{repo}/git/trees/{sha}", tree),
            Route("/raw/{owner}/{repo}/{ref}/{path:path}", raw),
            Route("/plain/{path:path}", plain),
        ])


@pytest.fixture(scope="module")
def github_server():
    fake = FakeGitHub()
    server = ThreadedServer(fake.app()).start()
    server.fake = fake
    yield server
    server.stop()


@pytest.fixture
def github(github_server, monkeypatch, tmp_path):
    github_server.fake.reset()
    monkeypatch.setenv("STAGENT_SKILLS_HOME", str(tmp_path / "skills"))  # no ~/.claude/skills ids
    monkeypatch.setenv("STAGENT_GITHUB_API_URL", github_server.url + "/api")
    monkeypatch.setenv("STAGENT_GITHUB_RAW_URL", github_server.url + "/raw")
    return github_server


def stored(daemon, profile_id: str) -> dict | None:
    future = asyncio.run_coroutine_threadsafe(profile_store.get_user(daemon.app.state.db, profile_id), daemon.loop)
    return future.result(timeout=10)


def scan(client):
    r = client.post("/api/profiles/import-repo/scan", json={"url": "https://github.com/acme/skills"})
    assert r.status_code == 200, r.json()
    return r.json()


def repo_body(found: dict, **extra) -> dict:
    return {"owner": found["owner"], "repo": found["repo"], "branch": found["branch"],
            "commitSha": found["commitSha"], "repoUrl": found["repoUrl"], **extra}


# ---- single import ----------------------------------------------------------------------------

def test_import_one_profile_from_a_github_directory(client, daemon, github):
    r = client.post("/api/profiles/import", json={"url": "https://github.com/acme/skills/tree/main/skills/writer"})
    assert r.status_code == 201 and r.json() == {"ok": True, "id": "gh-writer", "name": "GH Writer"}, r.json()
    row = stored(daemon, "gh-writer")
    assert row["origin"] == "import" and row["skillMd"] == skill_md("GH Writer")
    meta = row["config"]["importMeta"]
    assert meta["repoUrl"] == "https://github.com/acme/skills" and meta["filePath"] == "skills/writer"
    assert meta["branch"] == "main" and len(meta["contentHash"]) == 64
    assert row["config"]["maxTurns"] == 12 and row["config"]["tags"] == ["writing", "docs"]
    assert row["config"]["source"] == "https://github.com/acme/skills"
    shown = client.get("/api/profiles/gh-writer").json()  # the profiles API serves it like any other
    assert shown["origin"] == "import" and shown["importMeta"]["filePath"] == "skills/writer", shown
    again = client.post("/api/profiles/import", json={"url": "https://github.com/acme/skills/blob/main/skills/writer/profile.yaml"})
    assert again.status_code == 400 and "already exists" in again.json()["error"]


def test_import_a_skill_md_alone_names_it_after_its_directory(client, daemon, github):
    url = "https://raw.githubusercontent.com/acme/skills/main/skills/reviewer/SKILL.md"
    r = client.post("/api/profiles/import", json={"url": url})
    assert r.status_code == 201 and r.json() == {"ok": True, "id": "reviewer", "name": "Reviewer"}, r.json()
    assert stored(daemon, "reviewer")["config"]["author"] == "acme"


def test_import_from_a_plain_server_stays_on_that_host(client, daemon, github):
    github.fake.plain["team/profile.yaml"] = profile_yaml("plain-one", "Plain One")
    github.fake.plain["team/SKILL.md"] = skill_md("Plain One")
    r = client.post("/api/profiles/import", json={"url": github.url + "/plain/team/profile.yaml"})
    assert r.status_code == 201 and r.json()["id"] == "plain-one", r.json()
    assert stored(daemon, "plain-one")["config"]["importMeta"]["sourceUrl"] == github.url + "/plain/team/"
    # A redirect to another host (localhost is not 127.0.0.1) is refused.
    moved = client.post("/api/profiles/import", json={"url": github.url + "/plain/moved/team/profile.yaml"})
    assert moved.status_code == 400 and "the host is not allowed" in moved.json()["error"], moved.json()


@pytest.mark.parametrize("url, words", [
    ("https://example.com/skills/writer", "is not GitHub"),
    ("https://gitlab.com/acme/skills/-/tree/main/skills/writer", "is not GitHub"),
    ("ftp://github.com/acme/skills", "http(s)"),
    ("https://github.com/acme/skills", "whole repository"),
    ("https://github.com/acme/skills/tree/main/skills/nothing-here", "No profile.yaml or SKILL.md"),
    ("https://github.com/acme/skills/tree/main/skills/notes", "front matter"),
    ("https://github.com/acme/skills/tree/main/../../etc", "path inside the repository"),
    ("https://user:secret@example.com/team/profile.yaml", "user name or password"),
    ("https://example.com/team/SKILL.md/", "is not GitHub"),
])
def test_import_refusals_are_clear_400s(client, daemon, github, url, words):
    r = client.post("/api/profiles/import", json={"url": url})
    assert r.status_code == 400 and words in r.json()["error"], r.json()
    assert client.get("/api/profiles/import-repo").json() == []


def test_a_file_over_the_cap_is_refused(client, daemon, github):
    github.fake.commits[SHA1]["skills/writer/SKILL.md"] = "---\nname: Big\n---\n" + "x" * (300 * 1024)
    r = client.post("/api/profiles/import", json={"url": "https://github.com/acme/skills/tree/main/skills/writer"})
    assert r.status_code == 400 and "larger than 256 KB" in r.json()["error"], r.json()
    assert stored(daemon, "gh-writer") is None


def test_offline_is_a_clear_400(client, daemon, monkeypatch):
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    monkeypatch.setenv("STAGENT_GITHUB_API_URL", dead)
    monkeypatch.setenv("STAGENT_GITHUB_RAW_URL", dead)
    r = client.post("/api/profiles/import", json={"url": "https://github.com/acme/skills/tree/main/skills/writer"})
    assert r.status_code == 400 and "are you offline?" in r.json()["error"], r.json()
    s = client.post("/api/profiles/import-repo/scan", json={"url": "https://github.com/acme/skills"})
    assert s.status_code == 400 and s.json()["error"].startswith(f"Could not fetch {dead}/repos/acme/skills")


# ---- repository import ------------------------------------------------------------------------

def test_scan_finds_skills_with_front_matter_or_profile_yaml(client, github):
    found = scan(client)
    assert (found["owner"], found["repo"], found["branch"], found["commitSha"]) == ("acme", "skills", "main", SHA1)
    assert found["repoUrl"] == "https://github.com/acme/skills" and found["skillCount"] == 2
    by_path = {s["path"]: s for s in found["skills"]}
    assert by_path["skills/writer"]["id"] == "gh-writer" and by_path["skills/writer"]["format"] == "stagent"
    assert by_path["skills/reviewer"]["id"] == "reviewer" and by_path["skills/reviewer"]["format"] == "skill"
    assert by_path["skills/reviewer"]["description"] == "Reviewer helps."
    assert [s["path"] for s in found["skipped"]] == ["skills/notes"]
    sub = client.post("/api/profiles/import-repo/scan", json={"url": "https://github.com/acme/skills/tree/main/skills/writer"})
    assert [s["path"] for s in sub.json()["skills"]] == ["skills/writer"]


def test_scan_refuses_other_hosts_and_unknown_repositories(client, github):
    r = client.post("/api/profiles/import-repo/scan", json={"url": "https://gitlab.com/acme/skills"})
    assert r.status_code == 400 and "gitlab.com is not allowed" in r.json()["error"]
    r = client.post("/api/profiles/import-repo/scan", json={"url": "https://github.com/acme/nope"})
    assert r.status_code == 400 and "acme/nope was not found" in r.json()["error"]


def test_preview_confirm_replace_skip_and_updates(client, daemon, github):
    client.post("/api/profiles/import", json={"url": "https://github.com/acme/skills/tree/main/skills/writer"})
    found = scan(client)
    assert {s["id"]: s["exists"] for s in found["skills"]} == {"gh-writer": True, "reviewer": False}

    preview = client.post("/api/profiles/import-repo/preview",
                          json=repo_body(found, skills=found["skills"]))
    assert preview.status_code == 200, preview.json()
    by_id = {p["id"]: p for p in preview.json()["previews"]}
    assert by_id["gh-writer"]["conflict"]["id"] == "gh-writer" and by_id["gh-writer"]["canReplace"] is True
    assert by_id["reviewer"]["conflict"] is None and by_id["reviewer"]["skillMd"] == skill_md("Reviewer")

    # A conflict without a choice is an error for that item; nothing else is held back.
    r = client.post("/api/profiles/import-repo/confirm", json=repo_body(found, imports=[{"path": "skills/writer"}]))
    assert r.status_code == 201 and r.json()["imported"] == 0 and "choose replace or skip" in r.json()["errors"][0]["error"]

    github.fake.commits[SHA1]["skills/writer/SKILL.md"] = skill_md("GH Writer", "Replaced text.")
    r = client.post("/api/profiles/import-repo/confirm", json=repo_body(found, imports=[
        {"path": "skills/writer", "action": "replace"}, {"path": "skills/reviewer", "action": "skip"}]))
    assert r.status_code == 201 and r.json() == {"ok": True, "imported": 0, "replaced": 1, "skipped": 1,
                                                 "profileIds": ["gh-writer"]}, r.json()
    assert "Replaced text." in stored(daemon, "gh-writer")["skillMd"] and stored(daemon, "reviewer") is None

    r = client.post("/api/profiles/import-repo/confirm", json=repo_body(found, imports=[{"path": "skills/reviewer"}]))
    assert r.json() == {"ok": True, "imported": 1, "replaced": 0, "skipped": 0, "profileIds": ["reviewer"]}

    records = client.get("/api/profiles/import-repo").json()
    assert len(records) == 1 and sorted(records[0]["profileIds"]) == ["gh-writer", "reviewer"]
    record = records[0]
    assert record["commitSha"] == SHA1 and record["repoOwner"] == "acme" and record["skillCount"] == 2

    # Nothing moved upstream: no updates.
    r = client.post("/api/profiles/import-repo/check-updates", json={"repoImportId": record["id"]})
    assert r.status_code == 200 and r.json() == {"hasUpdates": False, "updates": []}, r.json()
    assert client.get("/api/profiles/import-repo").json()[0]["lastCheckedAt"] is not None

    # A new commit changes the reviewer only.
    files = dict(github.fake.commits[SHA1])
    files["skills/reviewer/SKILL.md"] = skill_md("Reviewer", "Now stricter.")
    github.fake.commits[SHA2] = files
    github.fake.branches["main"] = SHA2
    r = client.post("/api/profiles/import-repo/check-updates", json={"repoImportId": record["id"]})
    assert r.status_code == 200 and r.json()["hasUpdates"] is True
    [update] = r.json()["updates"]
    assert update["profileId"] == "reviewer" and update["latestCommitSha"] == SHA2
    assert update["currentCommitSha"] == SHA1 and "Now stricter." in update["skillMd"]
    one = client.post("/api/profiles/import-repo/check-updates", json={"profileId": "reviewer"})
    assert [u["profileId"] for u in one.json()["updates"]] == ["reviewer"]

    r = client.post("/api/profiles/import-repo/apply-updates", json={"updates": [
        {"profileId": "reviewer", "accept": True}, {"profileId": "gh-writer", "accept": False}]})
    assert r.status_code == 200 and r.json() == {"ok": True, "applied": 1, "skipped": 1}, r.json()
    row = stored(daemon, "reviewer")
    assert "Now stricter." in row["skillMd"] and row["config"]["importMeta"]["commitSha"] == SHA2
    r = client.post("/api/profiles/import-repo/check-updates", json={"profileId": "reviewer"})
    assert r.json()["hasUpdates"] is False


# ---- statuses and body checks -------------------------------------------------------------------

@pytest.mark.parametrize("path, body, status, words", [
    ("/api/profiles/import", {}, 400, "url"),
    ("/api/profiles/import", {"url": 7}, 400, "url"),
    ("/api/profiles/import-repo/scan", {}, 400, "url"),
    ("/api/profiles/import-repo/preview", {"owner": "acme", "repo": "skills", "branch": "main"}, 400, "skills"),
    ("/api/profiles/import-repo/preview", {"owner": "a/b", "repo": "skills", "branch": "main",
                                           "skills": ["x"]}, 400, "owner"),
    ("/api/profiles/import-repo/confirm", {"owner": "acme", "repo": "skills", "branch": "main",
                                           "imports": [{"path": "x", "action": "merge"}]}, 400, "'replace' or 'skip'"),
    ("/api/profiles/import-repo/confirm", {"owner": "acme", "repo": "skills", "branch": "main",
                                           "commitSha": SHA1, "imports": [{"path": "../x"}]}, 400, "path"),
    ("/api/profiles/import-repo/check-updates", {}, 400, "repoImportId or profileId"),
    ("/api/profiles/import-repo/check-updates", {"repoImportId": "ri-0000"}, 404, "Repo import not found"),
    ("/api/profiles/import-repo/check-updates", {"profileId": "ghost"}, 404, "Profile not found"),
    ("/api/profiles/import-repo/apply-updates", {"updates": "all"}, 400, "updates"),
    ("/api/profiles/import-repo/apply-updates", {"updates": [{"profileId": "x"}]}, 400, "accept"),
])
def test_bad_bodies_are_400_or_404_and_change_nothing(client, github, path, body, status, words):
    r = client.post(path, json=body)
    assert r.status_code == status and words in r.json()["error"], r.json()
    assert client.get("/api/profiles/import-repo").json() == []


def test_apply_updates_reports_unknown_profiles(client, github):
    r = client.post("/api/profiles/import-repo/apply-updates", json={"updates": [{"profileId": "ghost", "accept": True}]})
    assert r.status_code == 200 and r.json()["applied"] == 0 and r.json()["errors"][0]["profileId"] == "ghost"


@pytest.mark.parametrize("url", ["http://github.com:port/acme/skills", "http://[::1/x/profile.yaml"])
def test_malformed_urls_are_400s(client, github, url):
    r = client.post("/api/profiles/import", json={"url": url})
    assert r.status_code == 400 and "malformed" in r.json()["error"], r.json()


def test_a_gzip_bomb_is_stopped_at_the_cap(client, daemon, github):
    github.fake.plain["bomb/profile.yaml"] = "gzip-bomb"  # served compressed, see FakeGitHub.plain
    r = client.post("/api/profiles/import", json={"url": github.url + "/plain/bomb/profile.yaml"})
    assert r.status_code == 400 and "larger than 256 KB" in r.json()["error"], r.json()


def test_a_base_on_a_link_local_address_is_never_fetched(client, github, monkeypatch):
    monkeypatch.setenv("STAGENT_GITHUB_RAW_URL", "http://169.254.169.254/raw")
    r = client.post("/api/profiles/import", json={"url": "https://github.com/acme/skills/tree/main/skills/writer"})
    assert r.status_code == 400 and "link-local" in r.json()["error"], r.json()


def test_a_built_in_id_cannot_be_replaced(client, daemon, github):
    github.fake.commits[SHA1]["skills/general/SKILL.md"] = skill_md("General")
    found = scan(client)
    assert {s["id"]: s["exists"] for s in found["skills"]}["general"] is True
    preview = client.post("/api/profiles/import-repo/preview", json=repo_body(found, skills=["skills/general"]))
    [item] = preview.json()["previews"]
    assert item["conflict"]["scope"] == "builtin" and item["canReplace"] is False
    r = client.post("/api/profiles/import-repo/confirm",
                    json=repo_body(found, imports=[{"path": "skills/general", "action": "replace"}]))
    assert r.status_code == 201 and r.json()["replaced"] == 0
    assert "Built-in profiles cannot be modified" in r.json()["errors"][0]["error"]


def test_update_check_of_a_plain_server_import_compares_content(client, daemon, github):
    github.fake.plain["team/SKILL.md"] = skill_md("Team Helper")
    r = client.post("/api/profiles/import", json={"url": github.url + "/plain/team/SKILL.md"})
    assert r.status_code == 201 and r.json()["id"] == "team", r.json()
    assert client.post("/api/profiles/import-repo/check-updates", json={"profileId": "team"}).json() == {
        "hasUpdates": False, "updates": []}
    github.fake.plain["team/SKILL.md"] = skill_md("Team Helper", "Second edition.")
    r = client.post("/api/profiles/import-repo/check-updates", json={"profileId": "team"})
    assert r.json()["hasUpdates"] is True and r.json()["updates"][0]["profileId"] == "team"
    assert client.get("/api/profiles/import-repo").json() == []  # not from a repository: no record
    r = client.post("/api/profiles/import-repo/apply-updates", json={"updates": [{"profileId": "team", "accept": True}]})
    assert r.json() == {"ok": True, "applied": 1, "skipped": 0}
    assert "Second edition." in stored(daemon, "team")["skillMd"]


def test_update_check_of_a_profile_made_by_hand_is_a_400(client, daemon, github):
    future = asyncio.run_coroutine_threadsafe(profile_store.insert_user(daemon.app.state.db, {
        "id": "by-hand", "name": "By Hand", "version": "1.0.0", "domain": "work", "tags": []}, "Hi"), daemon.loop)
    assert future.result(timeout=10)
    r = client.post("/api/profiles/import-repo/check-updates", json={"profileId": "by-hand"})
    assert r.status_code == 400 and "was not imported" in r.json()["error"]


def test_a_profile_cannot_take_a_route_name_as_its_id(client, github):
    github.fake.commits[SHA1]["skills/import-repo/SKILL.md"] = skill_md("Sneaky")
    r = client.post("/api/profiles/import", json={"url": "https://github.com/acme/skills/tree/main/skills/import-repo"})
    assert r.status_code == 400 and "is a route name" in r.json()["error"], r.json()
    assert "skills/import-repo" in [s["path"] for s in scan(client)["skipped"]]


def test_a_scan_stops_at_the_total_download_cap(client, github, monkeypatch):
    monkeypatch.setattr(github_engine, "MAX_TOTAL_BYTES", 150)  # the repo's skill files are ~260 bytes
    r = client.post("/api/profiles/import-repo/scan", json={"url": "https://github.com/acme/skills"})
    assert r.status_code == 400 and "together larger than" in r.json()["error"], r.json()
