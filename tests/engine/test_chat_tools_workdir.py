"""Stagent chat in a project with a working directory: the file, search and shell tools are
offered and run there, under the same permission checks as a task run's; without a working
directory they are not offered. Real daemon, the fake provider, real files."""

from __future__ import annotations

from tests.api.test_chat import new_conversation, send, types


def offered(request: dict) -> set[str]:
    return {t["function"]["name"] for t in request.get("tools") or []}


def test_a_chat_turn_reads_a_file_of_the_projects_working_directory(daemon, client, llm_env, tmp_path):
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "notes.txt").write_text("the secret word is pelican\n")
    project = client.post("/api/projects", json={"name": "Repo", "workingDirectory": str(folder)}).json()
    conv = new_conversation(client, projectId=project["id"])
    llm_env.enqueue_tool_call("read_file", {"path": "notes.txt"})
    llm_env.enqueue_text("The word in notes.txt is pelican.")
    events = send(daemon, conv["id"], "What does notes.txt say?", approve=None)
    kinds = types(events)
    assert "permission_request" not in kinds  # reading is allowed like in a task run
    result = next(e.json() for e in events if e.json()["type"] == "tool_result")
    assert result["name"] == "read_file" and "pelican" in result["result"]
    assert kinds.index("tool_result") < kinds.index("delta") and kinds[-1] == "done"
    assert "".join(e.json()["content"] for e in events if e.json()["type"] == "delta").endswith("pelican.")
    tools = offered(llm_env.requests[0])
    assert {"read_file", "write_file", "edit_file", "list_files", "glob", "grep", "run_command",
            "create_task", "list_projects"} <= tools
    assert str(folder) in llm_env.requests[0]["messages"][0]["content"]


def test_a_chat_command_asks_first_and_runs_in_the_working_directory(daemon, client, llm_env, tmp_path):
    folder = tmp_path / "repo"
    folder.mkdir()
    project = client.post("/api/projects", json={"name": "Repo", "workingDirectory": str(folder)}).json()
    conv = new_conversation(client, projectId=project["id"])
    llm_env.enqueue_tool_call("run_command", {"command": "pwd; echo made > made.txt"})
    llm_env.enqueue_text("Ran it.")
    events = send(daemon, conv["id"], "Run pwd", approve="deny")
    request = next(e.json() for e in events if e.json()["type"] == "permission_request")
    assert request["toolName"] == "run_command"
    assert not (folder / "made.txt").exists()

    llm_env.enqueue_tool_call("run_command", {"command": "pwd; echo made > made.txt"})
    llm_env.enqueue_text("Ran it.")
    events = send(daemon, conv["id"], "Run pwd again", approve="allow")
    result = next(e.json() for e in events if e.json()["type"] == "tool_result")
    assert result["result"].startswith("exit code 0") and str(folder.resolve()) in result["result"]
    assert (folder / "made.txt").read_text() == "made\n"


def test_a_file_path_outside_the_working_directory_is_refused_in_chat(daemon, client, llm_env, tmp_path):
    folder = tmp_path / "repo"
    folder.mkdir()
    (tmp_path / "outside.txt").write_text("not yours")
    project = client.post("/api/projects", json={"name": "Repo", "workingDirectory": str(folder)}).json()
    conv = new_conversation(client, projectId=project["id"])
    llm_env.enqueue_tool_call("read_file", {"path": "../outside.txt"})
    llm_env.enqueue_text("I cannot.")
    events = send(daemon, conv["id"], "Read ../outside.txt", approve=None)
    result = next(e.json() for e in events if e.json()["type"] == "tool_result")
    assert "outside the working directory" in result["result"] and "not yours" not in result["result"]


def test_without_a_working_directory_chat_offers_no_file_or_shell_tools(daemon, client, llm_env):
    project = client.post("/api/projects", json={"name": "No folder"}).json()
    for conv in (new_conversation(client, projectId=project["id"]), new_conversation(client)):
        llm_env.enqueue_text("Hello.")
        send(daemon, conv["id"], "Hi", approve=None)
        tools = offered(llm_env.requests[-1])
        assert "create_task" in tools and "web_fetch" in tools
        assert not tools & {"read_file", "write_file", "edit_file", "list_files", "glob", "grep", "run_command"}


# ---- a conversation under a profile ----------------------------------------------------------

def test_a_conversation_profile_shapes_its_turns(daemon, client, llm_env, tmp_path, monkeypatch):
    monkeypatch.setenv("STAGENT_SKILLS_HOME", str(tmp_path / "skills"))
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "secret.txt").write_text("top secret")
    project = client.post("/api/projects", json={"name": "Repo", "workingDirectory": str(folder)}).json()
    body = {"id": "careful", "name": "Careful", "version": "1.0.0", "domain": "work", "tags": ["careful"],
            "skillMd": "---\nname: Careful\ndescription: Careful.\n---\n\nALWAYS ANSWER IN HAIKU.",
            "allowedTools": ["Read", "LS"], "canUseToolPolicy": {"autoDeny": ["Read"]}, "maxTurns": 3,
            "capabilityOverrides": {"claude-code": {"modelId": "openai/fake-special"}}}
    assert client.post("/api/profiles", json=body).status_code == 201
    assert client.post("/api/chat/conversations", json={"runtimeId": "claude-code",
                                                        "agentProfile": "nobody"}).status_code == 400
    conv = new_conversation(client, projectId=project["id"], agentProfile="careful")
    assert conv["agentProfile"] == "careful"
    llm_env.enqueue_tool_call("read_file", {"path": "secret.txt"})
    llm_env.enqueue_text("Quiet file / a secret kept from me / autumn leaves fall.")
    events = send(daemon, conv["id"], "What is in secret.txt?", approve=None)
    result = next(e.json() for e in events if e.json()["type"] == "tool_result")
    assert result["result"].startswith("Permission denied: Denied by the policy of profile 'careful'")
    first = llm_env.requests[-2]
    assert first["model"] == "fake-special"
    assert "ALWAYS ANSWER IN HAIKU." in first["messages"][0]["content"]
    tools = offered(first)
    assert {"read_file", "list_files", "list_projects", "create_task"} <= tools  # chat's own tools stay
    assert not tools & {"write_file", "edit_file", "run_command", "web_fetch", "grep"}

    cleared = client.patch(f"/api/chat/conversations/{conv['id']}", json={"agentProfile": ""}).json()
    assert cleared["agentProfile"] is None
    llm_env.enqueue_text("Plain.")
    send(daemon, conv["id"], "Hi", approve=None)
    assert "run_command" in offered(llm_env.requests[-1]) and llm_env.requests[-1]["model"] == "fake"


def test_a_chat_turn_in_a_project_with_a_folder_calls_mcp_tools(daemon, client, llm_env, tmp_path):
    from tests.engine.test_mcp_client import FAKE_TOOLS, calls, configure, stdio_entry

    record = tmp_path / "calls.jsonl"
    configure(daemon, {"fake": stdio_entry(record)})
    folder = tmp_path / "repo"
    folder.mkdir()
    plain = new_conversation(client)
    llm_env.enqueue_text("Hello.")
    send(daemon, plain["id"], "Hi", approve=None)
    assert not any(name.startswith("mcp__") for name in offered(llm_env.requests[-1]))  # no folder: none

    project = client.post("/api/projects", json={"name": "Repo", "workingDirectory": str(folder)}).json()
    conv = new_conversation(client, projectId=project["id"])
    llm_env.enqueue_tool_call("mcp__fake__echo", {"text": "hi"})
    llm_env.enqueue_text("It echoed.")
    events = send(daemon, conv["id"], "Echo hi", approve=None)
    result = next(e.json() for e in events if e.json()["type"] == "tool_result")
    assert result["result"] == "echo: hi" and [c["tool"] for c in calls(record)] == ["echo"]
    assert FAKE_TOOLS <= offered(llm_env.requests[-2])
