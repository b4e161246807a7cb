"""The agent's table tools (list_tables, query_table, add_table_rows, update_table_row): run
through the one registry's run_tool on a real migrated database, and end to end in a task run,
where the writes ask for permission and the reads do not."""

from __future__ import annotations

import asyncio
import json

import pytest

from stagent.db import Database
from stagent.db.migrations import migrate
from stagent.engine import tables
from stagent.engine.agent import toolbox  # noqa: F401  (registers every tool family)
from stagent.engine.agent.tools import CHAT_TOOLS, TASK_TOOLS, ToolContext, run_tool
from tests.engine.test_approvals import start_task, tool_messages, wait_for_request

COLUMNS = [{"name": "name", "displayName": "Name", "dataType": "text", "required": True},
           {"name": "value", "displayName": "Value", "dataType": "number"},
           {"name": "stage", "displayName": "Stage", "dataType": "select", "config": {"options": ["lead", "won"]}}]


@pytest.fixture
def env(tmp_path):
    """(run a coroutine, call a tool as task t1 whose profile is `sales`, the table)."""
    loop = asyncio.new_event_loop()
    db = Database(tmp_path / "stagent.db")
    loop.run_until_complete(db.open())
    loop.run_until_complete(db.write_raw(migrate))
    table = loop.run_until_complete(tables.create_table(db, {"name": "Deals"}, COLUMNS))
    loop.run_until_complete(tables.add_rows(db, table["id"], [
        {"name": "Acme", "value": 500, "stage": "lead"}, {"name": "Globex", "value": 2000, "stage": "won"},
        {"name": "Initech", "value": 90}]))
    ctx = ToolContext(db, {"id": "t1", "projectId": None, "agentProfile": "sales"}, None, {"text": None})

    def call(name: str, **args) -> str:
        return loop.run_until_complete(run_tool(TASK_TOOLS, ctx, name, args))

    yield loop.run_until_complete, call, table, db
    loop.run_until_complete(db.close())
    loop.close()


def test_the_tools_are_offered_to_tasks_and_chat():
    for name in ("list_tables", "query_table", "add_table_rows", "update_table_row"):
        assert name in TASK_TOOLS and name in CHAT_TOOLS


def test_list_tables_shows_columns_and_counts(env):
    _, call, table, _ = env
    [listed] = json.loads(call("list_tables"))
    assert listed["id"] == table["id"] and listed["name"] == "Deals" and listed["rowCount"] == 3
    assert listed["columns"][2] == {"name": "stage", "displayName": "Stage", "dataType": "select",
                                    "options": ["lead", "won"]}
    assert call("list_tables", search="nothing like it") == "no tables yet"


def test_query_table_filters_sorts_and_pages(env):
    _, call, table, _ = env
    result = json.loads(call("query_table", table="deals", filters=[{"column": "value", "operator": "gte",
                                                                    "value": 100}],
                             sorts=[{"column": "value", "direction": "desc"}]))
    assert result["tableId"] == table["id"] and [r["data"]["name"] for r in result["rows"]] == ["Globex", "Acme"]
    page = json.loads(call("query_table", table=table["id"], limit=1, offset=1,
                           sorts='[{"column": "name", "direction": "asc"}]'))
    assert [r["data"]["name"] for r in page["rows"]] == ["Globex"] and page["more"] is True
    assert call("query_table", table="nope").startswith("error: no table 'nope'")
    bad = call("query_table", table="Deals", filters=[{"column": "colour", "operator": "eq", "value": 1}])
    assert bad.startswith("error: ") and "unknown column 'colour'" in bad


def test_add_and_update_rows_are_checked_and_kept_with_history(env):
    run, call, table, db = env
    added = json.loads(call("add_table_rows", table="Deals", rows=[{"name": "Umbrella", "value": "42"}]))
    assert added["added"] == 1
    [row] = run(tables.query_rows(db, table["id"], '[{"column":"name","operator":"eq","value":"Umbrella"}]'))
    assert row["data"] == {"name": "Umbrella", "value": 42} and row["createdBy"] == "sales"

    refused = call("add_table_rows", table="Deals", rows=[{"name": "Hooli", "stage": "maybe"}])
    assert refused.startswith("error: ") and "stage" in refused
    assert call("add_table_rows", table="Deals", rows=[{"value": 1}]).startswith("error: ")  # name is required
    assert call("add_table_rows", table="Deals", rows=[]).startswith("error: ")
    assert len(run(tables.query_rows(db, table["id"]))) == 4  # nothing else went in

    updated = json.loads(call("update_table_row", table="Deals", rowId=row["id"], data={"stage": "won", "value": None}))
    assert updated["data"] == {"name": "Umbrella", "stage": "won"}
    history = run(db.fetchall("SELECT changed_by, change_type FROM user_table_row_history WHERE row_id = ?",
                              (row["id"],)))
    assert [(h["changed_by"], h["change_type"]) for h in history] == [("sales", "update")]
    assert call("update_table_row", table="Deals", rowId="nope", data={"value": 1}) == "error: Row not found"
    assert call("update_table_row", table="Deals", rowId=row["id"], data={}).startswith("error: ")


def test_in_a_task_reads_run_and_writes_ask_first(daemon, client, llm_env):
    table = client.post("/api/tables", json={"name": "Leads", "columns": COLUMNS[:2]}).json()
    llm_env.enqueue_tool_call("query_table", {"table": "Leads"}, call_id="q1")
    llm_env.enqueue_tool_call("add_table_rows", {"table": "Leads", "rows": [{"name": "Acme", "value": 7}]},
                              call_id="a1")
    llm_env.enqueue_text("Added Acme.")
    task = start_task(client, "Keep the leads table current")

    request = wait_for_request(daemon.url, task["id"])  # the read did not ask; the write does
    assert request["toolName"] == "add_table_rows"
    assert client.get(f"/api/tables/{table['id']}/rows").json() == []
    client.post(f"/api/tasks/{task['id']}/respond", json={"notificationId": request["notificationId"],
                                                          "behavior": "allow"})
    done = daemon.wait_for_status(task["id"], {"completed", "failed"})
    assert done["status"] == "completed"
    [row] = client.get(f"/api/tables/{table['id']}/rows").json()
    # created by the run's profile (picked automatically here)
    assert row["data"] == {"name": "Acme", "value": 7} and row["createdBy"] == done["agentProfile"] == "general"
    results = tool_messages(llm_env.requests[-1])
    assert json.loads(results[0])["rows"] == [] and json.loads(results[1])["added"] == 1
    assert len(client.get("/api/notifications?type=permission_required").json()) == 1
