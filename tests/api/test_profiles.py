"""/api/profiles over real HTTP: built-ins, user CRUD, read-only scopes, smoke tests through the
fake provider, assist with its repair round, and every documented status code."""

from __future__ import annotations

import json

import pytest

BUILTINS = {"code-reviewer", "data-analyst", "devops-engineer", "document-writer", "general",
            "health-fitness-coach", "learning-coach", "project-manager", "researcher",
            "shopping-assistant", "sweep", "technical-writer", "travel-planner", "wealth-manager"}


@pytest.fixture(autouse=True)
def skills_home(tmp_path, monkeypatch):
    home = tmp_path / "claude-skills"
    home.mkdir()
    monkeypatch.setenv("STAGENT_SKILLS_HOME", str(home))
    return home


def config(**over) -> dict:
    return {"id": "my-helper", "name": "My Helper", "version": "1.0.0", "domain": "work",
            "tags": ["helper", "notes"], "skillMd": "---\nname: My Helper\ndescription: Helps.\n---\n\nBe helpful.",
            "tests": [{"task": "Say the magic word", "expectedKeywords": ["abracadabra", "please"]}], **over}


def test_builtins_are_listed_sorted_with_their_fields(client):
    r = client.get("/api/profiles")
    assert r.status_code == 200
    profiles = r.json()
    assert BUILTINS <= {p["id"] for p in profiles}
    names = [p["name"].lower() for p in profiles]
    assert names == sorted(names)
    researcher = next(p for p in profiles if p["id"] == "researcher")
    assert researcher["isBuiltin"] is True and researcher["scope"] == "builtin" and researcher["readOnly"] is True
    assert researcher["skillMd"].startswith("---") and researcher["description"]
    for p in profiles:
        if p["scope"] == "builtin":
            assert p["tests"] and all(t["expectedKeywords"] for t in p["tests"])


def test_user_profile_crud(client):
    r = client.post("/api/profiles", json=config())
    assert r.status_code == 201
    assert r.json()["ok"] is True
    got = client.get("/api/profiles/my-helper").json()
    assert got["scope"] == "user" and got["readOnly"] is False and got["isBuiltin"] is False
    assert got["description"] == "Helps." and got["tags"] == ["helper", "notes"]

    r = client.put("/api/profiles/my-helper", json=config(name="Renamed", maxTurns=7))
    assert r.status_code == 200 and r.json() == {"ok": True}
    got = client.get("/api/profiles/my-helper").json()
    assert got["name"] == "Renamed" and got["maxTurns"] == 7

    assert client.get("/api/profiles", params={"scope": "user"}).json()[0]["id"] == "my-helper"
    assert client.delete("/api/profiles/my-helper").json() == {"ok": True}
    r = client.get("/api/profiles/my-helper")
    assert r.status_code == 404 and r.json() == {"error": "Profile not found"}


def test_create_rejects_invalid_and_duplicate_ids(client):
    r = client.post("/api/profiles", json=config(version="one", domain="space"))
    assert r.status_code == 400
    assert isinstance(r.json()["error"], str) and "version" in r.json()["error"] and ", " in r.json()["error"]
    assert client.post("/api/profiles", json=config(id="researcher")).status_code == 400  # a built-in's id
    assert client.post("/api/profiles", json=config()).status_code == 201
    r = client.post("/api/profiles", json=config())
    assert r.status_code == 400 and "already exists" in r.json()["error"]
    assert client.post("/api/profiles", content=b"{nope", headers={"content-type": "application/json"}).status_code == 400
    assert client.put("/api/profiles/my-helper", json=config(tags="x")).status_code == 400
    assert client.get("/api/profiles/my-helper").json()["tags"] == ["helper", "notes"]  # unchanged


def test_builtin_and_project_profiles_are_read_only(client, tmp_path):
    assert client.put("/api/profiles/researcher", json=config(id="researcher")).status_code == 403
    assert client.delete("/api/profiles/researcher").status_code == 403
    assert client.delete("/api/profiles/nope").status_code == 404
    assert client.put("/api/profiles/nope", json=config(id="nope")).status_code == 404

    wd = tmp_path / "proj"
    skill = wd / ".claude" / "skills" / "repo-guide"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text("---\nname: Repo Guide\ndescription: Knows this repo.\n---\n\nUse make.")
    shadow = wd / ".claude" / "skills" / "general"  # a built-in wins an id collision
    shadow.mkdir()
    (shadow / "SKILL.md").write_text("---\nname: Impostor\n---\n")
    project = client.post("/api/projects", json={"name": "P", "workingDirectory": str(wd)}).json()

    only = client.get("/api/profiles", params={"scope": "project", "projectId": project["id"]}).json()
    assert {p["id"] for p in only} == {"repo-guide", "general"} and all(p["scope"] == "project" for p in only)
    every = client.get("/api/profiles", params={"scope": "all", "projectId": project["id"]}).json()
    by_id = {p["id"]: p for p in every}
    assert by_id["repo-guide"]["readOnly"] is True and by_id["general"]["scope"] == "builtin"
    assert "repo-guide" not in {p["id"] for p in client.get("/api/profiles").json()}
    assert client.get("/api/profiles", params={"scope": "galaxy"}).status_code == 400


def test_claude_code_skills_are_user_scoped_and_read_only(client, skills_home):
    folder = skills_home / "pdf-tools"
    folder.mkdir()
    (folder / "SKILL.md").write_text("---\nname: PDF Tools\ndescription: Work with PDFs.\n---\n\nUse pdftotext.")
    got = client.get("/api/profiles/pdf-tools").json()
    assert got["scope"] == "user" and got["readOnly"] is True and got["description"] == "Work with PDFs."
    assert client.delete("/api/profiles/pdf-tools").status_code == 403
    spaced = skills_home / "My Notes"
    spaced.mkdir()
    (spaced / "SKILL.md").write_text("Take notes.")  # no front matter: named after its folder
    got = client.get("/api/profiles/my-notes").json()
    assert got["name"] == "My Notes" and got["description"] == "Take notes."


def test_smoke_tests_report_found_and_missing_keywords_and_are_saved(client, llm_env):
    client.post("/api/profiles", json=config())
    assert client.get("/api/profiles/my-helper/test-results").status_code == 404
    assert client.get("/api/profiles/my-helper/test-results").json() is None

    llm_env.enqueue_text("Abracadabra! That is the word.")
    r = client.post("/api/profiles/my-helper/test", json={})
    assert r.status_code == 200
    report = r.json()
    assert report["profileId"] == "my-helper" and report["totalPassed"] == 0 and report["totalFailed"] == 1
    result = report["results"][0]
    assert result["foundKeywords"] == ["abracadabra"] and result["missingKeywords"] == ["please"]
    assert result["passed"] is False
    sent = llm_env.requests[-1]["messages"]
    assert "Be helpful." in sent[0]["content"] and sent[-1]["content"] == "Say the magic word"

    saved = client.get("/api/profiles/my-helper/test-results")
    assert saved.status_code == 200 and saved.json()["results"][0]["missingKeywords"] == ["please"]

    llm_env.enqueue_text("abracadabra, please")
    r = client.post("/api/profiles/my-helper/test-single", json={"testIndex": 0})
    assert r.status_code == 200 and r.json()["passed"] is True
    assert client.post("/api/profiles/my-helper/test-single", json={"testIndex": 5}).status_code == 400
    assert client.post("/api/profiles/my-helper/test-single", json={}).status_code == 400
    assert client.post("/api/profiles/nope/test-single", json={"testIndex": 0}).status_code == 404
    assert client.post("/api/profiles/nope/test", json={}).status_code == 404


def test_smoke_test_runtime_mismatch_is_400(client, llm_env):
    client.post("/api/profiles", json=config(supportedRuntimes=["ollama"]))
    r = client.post("/api/profiles/my-helper/test", json={"runtimeId": "openai-direct"})
    assert r.status_code == 400 and "does not support runtime" in r.json()["error"]


def test_smoke_tests_answer_429_once_a_spend_cap_is_reached(client, fake, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-env")
    monkeypatch.setenv("OPENAI_API_BASE", fake.base_url)
    monkeypatch.setenv("STAGENT_DEFAULT_MODEL", "openai/gpt-4o-mini")  # a priced model
    assert client.post("/api/settings/budgets", json={"overall": {"dailySpendCapUsd": 1}}).status_code == 200
    client.post("/api/profiles", json=config())
    fake.enqueue_text("abracadabra", usage=(round(1.05 / (0.15 / 1_000_000)), 0))
    assert client.post("/api/profiles/my-helper/test", json={}).status_code == 200
    r = client.post("/api/profiles/my-helper/test", json={})
    assert r.status_code == 429
    assert client.post("/api/profiles/my-helper/test-single", json={"testIndex": 0}).status_code == 429
    assert client.post("/api/profiles/assist", json={"goal": "x"}).status_code == 429


def test_test_without_a_model_is_400(client):
    assert client.post("/api/profiles/general/test", json={}).status_code == 400


def test_assist_generates_a_valid_profile_after_one_repair_round(client, llm_env):
    llm_env.enqueue_text("Sure! Here is a profile: {not json")
    llm_env.enqueue_text(json.dumps({
        "name": "Recipe Scout", "description": "Finds recipes.", "domain": "personal",
        "tags": ["recipe", "cooking"], "skillMd": "Find recipes that match the pantry.",
        "allowedTools": ["WebSearch"], "canUseToolPolicy": {"autoApprove": ["WebSearch"], "autoDeny": []},
        "maxTurns": 10, "outputFormat": "A list", "tests": [{"task": "Find a pasta recipe", "expectedKeywords": ["pasta"]}],
        "reasoning": "Cooking helper."}))
    r = client.post("/api/profiles/assist", json={"goal": "help me cook from my pantry"})
    assert r.status_code == 200
    draft = r.json()
    assert draft["id"] == "recipe-scout" and draft["version"] == "1.0.0" and draft["domain"] == "personal"
    assert draft["skillMd"] and draft["tests"][0]["expectedKeywords"] == ["pasta"]
    repair = llm_env.requests[-1]["messages"]
    assert "cannot be used" in repair[-1]["content"]
    # what assist returns can be saved as it is
    assert client.post("/api/profiles", json={k: v for k, v in draft.items() if k != "reasoning"}).status_code == 201


def test_assist_status_codes(client, llm_env):
    assert client.post("/api/profiles/assist", json={}).status_code == 400
    assert client.post("/api/profiles/assist", json={"goal": "x", "mode": "dance"}).status_code == 400
    llm_env.enqueue_text("no json here")
    llm_env.enqueue_text("still none")
    r = client.post("/api/profiles/assist", json={"goal": "x"})
    assert r.status_code == 500 and "Profile assist failed" in r.json()["error"]


def test_task_and_schedule_reject_unknown_profiles(client):
    r = client.post("/api/tasks", json={"title": "t", "agentProfile": "ghost"})
    assert r.status_code == 400 and "Unknown profile 'ghost'" in json.dumps(r.json())
    assert client.get("/api/tasks").json() == [] or all(t["title"] != "t" for t in client.get("/api/tasks").json())
    task = client.post("/api/tasks", json={"title": "t", "agentProfile": "researcher"}).json()
    assert client.patch(f"/api/tasks/{task['id']}", json={"agentProfile": "ghost"}).status_code == 400
    assert client.post("/api/tasks", json={"title": "t", "agentProfile": "auto"}).status_code == 201
    client.post("/api/profiles", json=config(supportedRuntimes=["ollama"]))
    r = client.post("/api/tasks", json={"title": "t", "agentProfile": "my-helper", "assignedAgent": "openai-direct"})
    assert r.status_code == 400 and "does not support runtime" in json.dumps(r.json())
    r = client.post("/api/schedules", json={"name": "s", "prompt": "p", "interval": "every 5 minutes",
                                            "agentProfile": "ghost"})
    assert r.status_code == 400 and r.json() == {"error": "Unknown profile 'ghost'"}


def test_workflow_steps_naming_unknown_profiles_are_refused(client):
    steps = [{"id": "a", "name": "A", "prompt": "do a", "agentProfile": "ghost"}]
    r = client.post("/api/workflows", json={"name": "W", "definition": {"pattern": "sequence", "steps": steps}})
    assert r.status_code == 400 and "steps[0]: Unknown profile 'ghost'" in r.json()["error"]
    steps[0]["agentProfile"] = "researcher"
    created = client.post("/api/workflows", json={"name": "W", "definition": {"pattern": "sequence", "steps": steps}})
    assert created.status_code == 201
    steps[0]["agentProfile"] = "ghost"
    r = client.patch(f"/api/workflows/{created.json()['id']}", json={"definition": {"pattern": "sequence", "steps": steps}})
    assert r.status_code == 400
