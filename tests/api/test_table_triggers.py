"""Table triggers: a row change starts a task (run by the fake provider) or a workflow, in the
background, counted in fireCount/lastFiredAt; a bulk insert is bounded (decision 024b)."""

from __future__ import annotations

from stagent.engine.tables import triggers as engine
from stagent.store import workflows as workflow_store
from tests.helpers.table_documents import run
from tests.helpers.waiting import wait_for

COLUMNS = [{"name": "company", "displayName": "Company", "dataType": "text"},
           {"name": "value", "displayName": "Value", "dataType": "number"},
           {"name": "status", "displayName": "Status", "dataType": "select",
            "config": {"options": ["lead", "active", "lost"]}}]


def make_table(client, name="Deals") -> dict:
    r = client.post("/api/tables", json={"name": name, "columns": COLUMNS})
    assert r.status_code == 201, r.text
    return r.json()


def add_trigger(client, table_id, **fields) -> dict:
    body = {"name": "Big deal", "triggerEvent": "row_added", "actionType": "create_task",
            "actionConfig": {"title": "Welcome {{company}}", "description": "Draft a welcome note."}, **fields}
    r = client.post(f"/api/tables/{table_id}/triggers", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def add_rows(client, table_id, *rows) -> list[dict]:
    r = client.post(f"/api/tables/{table_id}/rows", json={"rows": [{"data": d} for d in rows]})
    assert r.status_code == 201, r.text
    return r.json()


def trigger_of(client, table_id, trigger_id) -> dict:
    [found] = [t for t in client.get(f"/api/tables/{table_id}/triggers").json() if t["id"] == trigger_id]
    return found



def trigger_tasks(client) -> list[dict]:
    return [t for t in client.get("/api/tasks").json() if t.get("sourceType") == "table_trigger"]


def test_trigger_crud_and_shapes(client):
    table = make_table(client)
    trigger = add_trigger(client, table["id"], condition={"column": "value", "operator": "gte", "value": 1000})
    assert trigger["tableId"] == table["id"] and trigger["status"] == "active"
    assert trigger["fireCount"] == 0 and trigger["lastFiredAt"] is None
    assert trigger["condition"] == {"column": "value", "operator": "gte", "value": 1000}
    assert trigger["actionConfig"] == {"title": "Welcome {{company}}", "description": "Draft a welcome note."}
    assert client.get(f"/api/tables/{table['id']}/triggers").json() == [trigger]

    base = f"/api/tables/{table['id']}/triggers"
    r = client.patch(base, json={"triggerId": trigger["id"], "status": "paused"})
    assert r.status_code == 200 and r.json() == {"success": True}
    assert trigger_of(client, table["id"], trigger["id"])["status"] == "paused"

    r = client.patch(f"{base}/{trigger['id']}", json={"name": "Any deal", "condition": None, "status": "active"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Any deal" and r.json()["condition"] is None and r.json()["status"] == "active"

    assert client.delete(f"{base}/{trigger['id']}").status_code == 204
    assert client.get(base).json() == []


def test_trigger_refusals(client):
    table = make_table(client)
    base = f"/api/tables/{table['id']}/triggers"
    good = {"name": "t", "triggerEvent": "row_added", "actionType": "create_task", "actionConfig": {"title": "x"}}
    for bad, words in (({**good, "triggerEvent": "row_moved"}, "triggerEvent"),
                       ({**good, "actionType": "send_mail"}, "actionType"),
                       ({**good, "actionConfig": {}}, "title"),
                       ({**good, "condition": {"column": "nope", "operator": "eq", "value": 1}}, "unknown column"),
                       ({**good, "condition": {"column": "value", "operator": "near", "value": 1}}, "operator"),
                       ({**good, "condition": {"column": "value", "operator": "gt", "value": "many"}}, "number"),
                       ({**good, "actionType": "run_workflow", "actionConfig": {"workflowId": "nope"}}, "no workflow"),
                       ({**good, "actionConfig": {"title": "x", "projectId": "nope"}}, "no project")):
        r = client.post(base, json=bad)
        assert r.status_code == 400, (bad, r.text)
        assert words in r.text, (words, r.text)
    assert client.get(base).json() == []

    trigger = add_trigger(client, table["id"])
    for r in (client.get("/api/tables/nope/triggers"), client.post("/api/tables/nope/triggers", json=good),
              client.patch("/api/tables/nope/triggers", json={"triggerId": trigger["id"], "status": "paused"}),
              client.patch(f"/api/tables/nope/triggers/{trigger['id']}", json={"name": "x"}),
              client.delete(f"/api/tables/nope/triggers/{trigger['id']}")):
        assert r.status_code == 404 and r.json() == {"error": "Table not found"}
    for r in (client.patch(base, json={"triggerId": "nope", "status": "paused"}),
              client.patch(f"{base}/nope", json={"name": "x"}), client.delete(f"{base}/nope")):
        assert r.status_code == 404 and r.json() == {"error": "Trigger not found"}
    r = client.patch(base, json={"triggerId": trigger["id"], "status": "sleeping"})
    assert r.status_code == 400
    assert trigger_of(client, table["id"], trigger["id"])["status"] == "active"


def test_a_matching_row_creates_a_task_that_runs(daemon, client, llm_env):
    llm_env.enqueue_text("Welcome note drafted.")
    table = make_table(client)
    trigger = add_trigger(client, table["id"], condition={"column": "value", "operator": "gte", "value": 1000})
    add_rows(client, table["id"], {"company": "Small Co", "value": 10})
    add_rows(client, table["id"], {"company": "Big Co", "value": 5000, "status": "lead"})

    fired = wait_for(lambda: (t := trigger_of(client, table["id"], trigger["id"]))["fireCount"] and t)
    assert fired["fireCount"] == 1 and fired["lastFiredAt"]
    [task] = trigger_tasks(client)
    assert task["title"] == "Welcome Big Co"
    assert "Draft a welcome note." in task["description"] and '"company": "Big Co"' in task["description"]
    done = daemon.wait_for_status(task["id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    assert "Welcome note drafted." in (done["result"] or "")
    assert trigger_of(client, table["id"], trigger["id"])["fireCount"] == 1  # the small row never matched


def test_update_and_delete_events_and_paused_triggers(daemon, client, llm_env):
    table = make_table(client)
    [row] = add_rows(client, table["id"], {"company": "Acme", "value": 1, "status": "lead"})
    updated = add_trigger(client, table["id"], name="Won", triggerEvent="row_updated",
                          condition=[{"column": "status", "operator": "eq", "value": "active"}])
    deleted = add_trigger(client, table["id"], name="Gone", triggerEvent="row_deleted")
    paused = add_trigger(client, table["id"], name="Paused", triggerEvent="row_deleted")
    client.patch(f"/api/tables/{table['id']}/triggers", json={"triggerId": paused["id"], "status": "paused"})

    client.patch(f"/api/tables/{table['id']}/rows/{row['id']}", json={"data": {"value": 2}})  # no match
    client.patch(f"/api/tables/{table['id']}/rows/{row['id']}", json={"data": {"status": "active"}})
    wait_for(lambda: trigger_of(client, table["id"], updated["id"])["fireCount"] == 1)
    assert client.delete(f"/api/tables/{table['id']}/rows/{row['id']}").status_code == 204
    wait_for(lambda: trigger_of(client, table["id"], deleted["id"])["fireCount"] == 1)
    tasks = wait_for(lambda: len(trigger_tasks(client)) == 2 and trigger_tasks(client))
    assert all('"company": "Acme"' in t["description"] for t in tasks)  # a deleted row as it was
    assert trigger_of(client, table["id"], paused["id"])["fireCount"] == 0
    assert trigger_of(client, table["id"], updated["id"])["fireCount"] == 1


def test_a_bulk_insert_is_bounded_and_reported(daemon, client, llm_env):
    table = make_table(client)
    trigger = add_trigger(client, table["id"])
    rows = [{"data": {"company": f"Co {i}", "value": i}} for i in range(1000)]
    assert client.post(f"/api/tables/{table['id']}/rows", json={"rows": rows}).status_code == 201

    limit = engine.FIRINGS_PER_OPERATION
    reported = wait_for(lambda: (t := trigger_of(client, table["id"], trigger["id"]))["skippedCount"] and t)
    assert reported["fireCount"] == limit and reported["skippedCount"] == 1000 - limit
    assert len(trigger_tasks(client)) == limit
    notes = [n for n in client.get("/api/notifications").json() if "held back" in n["title"]]
    assert len(notes) == 1 and f"{1000 - limit} did not" in notes[0]["body"]

    # the per-minute window caps repeated bulk operations too
    for _ in range(engine.FIRINGS_PER_MINUTE // limit + 1):
        client.post(f"/api/tables/{table['id']}/rows", json={"rows": rows[:limit + 1]})
    wait_for(lambda: trigger_of(client, table["id"], trigger["id"])["skippedCount"] >= 1000 - limit + 6)
    final = trigger_of(client, table["id"], trigger["id"])
    assert final["fireCount"] == engine.FIRINGS_PER_MINUTE
    for task in trigger_tasks(client):
        daemon.wait_for_status(task["id"], {"completed", "failed"})


def test_a_trigger_runs_a_workflow(daemon, client, llm_env):
    definition = {"pattern": "sequence", "steps": [{"id": "step-1", "name": "Greet", "prompt": "Say hello."}]}
    workflow = run(daemon, workflow_store.create_workflow(daemon.app.state.db, name="Onboard", definition=definition))
    table = make_table(client)
    trigger = add_trigger(client, table["id"], actionType="run_workflow", actionConfig={"workflowId": workflow["id"]})
    assert trigger["actionConfig"] == {"workflowId": workflow["id"]}
    add_rows(client, table["id"], {"company": "Acme", "value": 3})
    wait_for(lambda: trigger_of(client, table["id"], trigger["id"])["fireCount"] == 1)
    started = wait_for(lambda: (w := client.get(f"/api/workflows/{workflow['id']}").json())["runNumber"] >= 1 and w)
    assert started["runNumber"] == 1
    wait_for(lambda: client.get(f"/api/workflows/{workflow['id']}").json()["status"] in ("completed", "failed"))
