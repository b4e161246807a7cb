"""/api/blueprints: catalog, user files, hostile YAML, instantiate (variables, templating,
conditions), lineage. Import is in test_blueprint_import.py."""

from __future__ import annotations

import errno
import json
import os

import pytest

from stagent.engine.workflows.blueprint_schema import MAX_IF_DEPTH, MAX_YAML_DEPTH, render

BUILTINS = {"bug-triage", "code-review-pipeline", "content-brief", "meeting-notes-to-actions",
            "research-report", "sprint-planning", "weekly-digest"}


def blueprint_yaml(bp_id: str = "trip-plan", version: str = "1.0.0", **overrides) -> str:
    doc = {
        "id": bp_id, "name": "Trip Plan", "description": "Plan a trip", "version": version,
        "domain": "personal", "tags": ["travel"], "pattern": "sequence",
        "variables": [
            {"id": "destination", "type": "text", "label": "Destination", "required": True},
            {"id": "days", "type": "number", "label": "Days", "default": 3, "min": 1, "max": 14},
            {"id": "budget", "type": "select", "label": "Budget", "default": "mid",
             "options": [{"value": "low", "label": "Low"}, {"value": "mid", "label": "Mid"},
                         {"value": "high", "label": "High"}]},
            {"id": "withKids", "type": "boolean", "label": "With kids", "default": False},
            {"id": "notes", "type": "textarea", "label": "Notes"},
        ],
        "steps": [
            {"name": "Research", "profileId": "researcher", "requiresApproval": False,
             "promptTemplate": "Research {{destination}} for {{days}} days on a {{budget}} budget.\n"
                               "{{#if withKids}}\nFind things for children.\n{{/if}}\n\n\n\n"
                               "{{#if notes}}Notes: {{notes}}{{/if}}\nDone."},
            {"name": "Kids plan", "profileId": "general", "requiresApproval": False,
             "condition": "{{withKids}}", "promptTemplate": "Plan a kids' day in {{destination}}."},
            {"name": "Itinerary", "profileId": "document-writer", "requiresApproval": True,
             "promptTemplate": "Write the itinerary.", "expectedOutput": "A day-by-day plan"},
        ],
    }
    doc.update(overrides)
    return json.dumps(doc)  # JSON is YAML


def one_step(template: str, **step) -> str:
    return blueprint_yaml(steps=[{"name": "Ask", "profileId": "general", "promptTemplate": template, **step}])


def create(client, text: str | None = None, **kw):
    return client.post("/api/blueprints", json={"yaml": text or blueprint_yaml(**kw)})


# ---- catalog -------------------------------------------------------------------------------

def test_list_and_get_builtins(client):
    r = client.get("/api/blueprints")
    assert r.status_code == 200
    listed = {bp["id"]: bp for bp in r.json()}
    assert BUILTINS <= set(listed)
    for bp in listed.values():
        assert bp["isBuiltin"] is True and bp["instanceCount"] == 0
        assert bp["pattern"] in ("sequence", "planner-executor", "checkpoint") and bp["steps"]
    got = client.get("/api/blueprints/research-report")
    assert got.status_code == 200 and got.json() == listed["research-report"]
    assert got.json()["variables"][0]["id"] == "topic"
    missing = client.get("/api/blueprints/nope")
    assert missing.status_code == 404 and missing.json() == {"error": "Blueprint not found"}


def test_create_get_delete_user_blueprint(client, daemon):
    r = create(client)
    assert r.status_code == 201, r.text
    bp = r.json()
    assert (bp["id"], bp["name"], bp["version"], bp["isBuiltin"], bp["instanceCount"]) == (
        "trip-plan", "Trip Plan", "1.0.0", False, 0)
    assert bp["steps"][1]["condition"] == "{{withKids}}" and bp["variables"][2]["options"][0] == {
        "value": "low", "label": "Low"}
    assert (daemon.data_dir / "blueprints" / "trip-plan.yaml").read_text() == blueprint_yaml()
    assert client.get("/api/blueprints/trip-plan").json()["isBuiltin"] is False
    assert "trip-plan" in {b["id"] for b in client.get("/api/blueprints").json()}

    again = create(client)
    assert again.status_code == 400 and again.json() == {"error": 'Blueprint "trip-plan" already exists'}
    builtin_id = create(client, bp_id="research-report")
    assert builtin_id.status_code == 400 and builtin_id.json() == {"error": 'Blueprint "research-report" already exists'}

    assert client.delete("/api/blueprints/trip-plan").json() == {"ok": True}
    assert client.get("/api/blueprints/trip-plan").status_code == 404
    assert not (daemon.data_dir / "blueprints" / "trip-plan.yaml").exists()
    gone = client.delete("/api/blueprints/trip-plan")
    assert gone.status_code == 400 and gone.json() == {"error": 'Blueprint "trip-plan" not found'}
    builtin = client.delete("/api/blueprints/research-report")
    assert builtin.status_code == 403 and builtin.json() == {"error": "Cannot delete built-in blueprint"}
    assert client.get("/api/blueprints/research-report").status_code == 200


@pytest.mark.parametrize("body", [{}, {"yaml": ""}, {"yaml": "   "}, {"yaml": 5}, {"yaml": None}])
def test_create_needs_yaml(client, body):
    r = client.post("/api/blueprints", json=body)
    assert r.status_code == 400 and r.json() == {"error": "yaml field is required"}


@pytest.mark.parametrize("path", ["/api/blueprints", "/api/blueprints/import",
                                  "/api/blueprints/research-report/instantiate"])
def test_a_body_that_is_not_a_json_object_is_a_plain_error(client, path):
    assert client.post(path, json=["yaml"]).json() == {"error": "Expected a JSON object"}
    for raw in (b"{not json", b"[" * 100_000 + b"]" * 100_000):
        r = client.post(path, content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 400 and isinstance(r.json()["error"], str), r.json()
        assert r.json()["error"].startswith("Malformed JSON body: ") and set(r.json()) == {"error"}


@pytest.mark.parametrize("text, words", [
    (blueprint_yaml(version="1.0"), "version"),
    (blueprint_yaml(steps=[]), "steps"),
    (blueprint_yaml(pattern="swarm"), "pattern"),
    (blueprint_yaml(bp_id="Bad Id"), "id"),
    (blueprint_yaml(bp_id="../escape"), "id"),
    (blueprint_yaml(steps=[{"name": "x", "promptTemplate": "p"}]), "steps.0.profileId"),
    (blueprint_yaml(steps=[{"name": "x", "profileId": "g", "promptTemplate": "Hi {{who}}"}]),
     "steps.0.promptTemplate: unknown variable who"),
    (blueprint_yaml(steps=[{"name": "x", "profileId": "g", "promptTemplate": "p", "condition": "ghost"}]),
     "steps.0.condition: unknown variable ghost"),
    (blueprint_yaml(variables=[{"id": "a", "type": "select", "label": "A"}]), "variables.0.options"),
    (blueprint_yaml(variables=[{"id": "a", "type": "number", "label": "A", "default": 50, "max": 10}]),
     "variables.0.default: must be at most 10"),
    (blueprint_yaml(variables=[{"id": "a", "type": "text", "label": "A"}, {"id": "a", "type": "text", "label": "B"}]),
     "variables.1.id"),
    (blueprint_yaml(variables=[{"id": "a", "type": "color", "label": "A"}]), "variables.0.type"),
    ("id: x\nname: [unclosed", "not valid YAML"),
    ("- just\n- a list", "expected a YAML mapping"),
    ("base: &b {id: x}\nother: *b", "aliases"),
    (one_step("{{#if notes}}Notes"), 'steps.0.promptTemplate: {{#if notes}} is never closed by {{/if}} (step "Ask")'),
    (one_step("Notes{{/if}}"), 'steps.0.promptTemplate: {{/if}} without an {{#if …}} before it (step "Ask")'),
    (one_step("{{#if notes}}a{{/if}}{{/if}}"), "steps.0.promptTemplate: {{/if}} without an {{#if"),
    (one_step("{{#if}}a{{/if}}"), "steps.0.promptTemplate: {{#if}} is not a block tag"),
    (one_step("{{#iff notes}}a{{/if}}"), "steps.0.promptTemplate: {{#iff notes}} is not a block tag"),
    (one_step("p", expectedOutput="{{#if notes}}x"), 'steps.0.expectedOutput: {{#if notes}} is never closed'),
    (one_step("p", condition="{{#if notes}}{{notes}}"), "steps.0.condition: {{#if notes}} is never closed"),
    (one_step("{{#if notes}}" * (MAX_IF_DEPTH + 1) + "x" + "{{/if}}" * (MAX_IF_DEPTH + 1)),
     f'steps.0.promptTemplate: {{{{#if}}}} blocks nested deeper than {MAX_IF_DEPTH} (step "Ask")'),
])
def test_create_rejects_invalid_blueprints_naming_the_field(client, text, words):
    r = client.post("/api/blueprints", json={"yaml": text})
    assert r.status_code == 400, r.text
    assert r.json()["error"].startswith("Invalid blueprint: ") and words in r.json()["error"], r.json()
    assert {b["id"] for b in client.get("/api/blueprints").json()} == BUILTINS  # nothing was saved


def test_user_files_are_read_overrides_and_invalid_ones_skipped(client, daemon):
    folder = daemon.data_dir / "blueprints"
    folder.mkdir(exist_ok=True)
    (folder / "hand-made.yaml").write_text(blueprint_yaml(bp_id="hand-made"))
    (folder / "broken.yaml").write_text("id: broken\nname: [")
    (folder / "research-report.yaml").write_text(blueprint_yaml(bp_id="research-report", name="My research"))
    listed = {bp["id"]: bp for bp in client.get("/api/blueprints").json()}
    assert "hand-made" in listed and "broken" not in listed
    assert (listed["research-report"]["name"], listed["research-report"]["isBuiltin"]) == ("My research", False)
    # Deleting the override brings the built-in back.
    assert client.delete("/api/blueprints/research-report").status_code == 200
    back = client.get("/api/blueprints/research-report").json()
    assert (back["name"], back["isBuiltin"]) == ("Research Report", True)


def nested_lists(levels: int) -> list:
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


def block_mappings(levels: int) -> str:
    return "".join("  " * i + f"k{i}:\n" for i in range(levels)) + "  " * levels + "leaf: 1\n"


DEEP_YAML = [
    pytest.param("id: x\nname: " + "[" * 60000 + "]" * 60000, id="flow-sequences"),
    pytest.param("id: x\nname: " + "{a: " * 30000 + "1" + "}" * 30000, id="flow-mappings"),
    pytest.param("id: x\nname:\n" + "- " * 60000 + "x", id="compact-block-sequences"),
    pytest.param("id: x\n" + block_mappings(MAX_YAML_DEPTH), id="block-mappings"),
    pytest.param(blueprint_yaml(extra=nested_lists(MAX_YAML_DEPTH)), id="one-level-too-deep"),
]


@pytest.mark.parametrize("text", DEEP_YAML)
def test_deeply_nested_yaml_is_refused_before_it_is_built(client, text):
    r = client.post("/api/blueprints", json={"yaml": text})
    assert r.status_code == 400 and r.json() == {
        "error": f"Invalid blueprint: nested too deeply (more than {MAX_YAML_DEPTH} levels)"}
    assert {b["id"] for b in client.get("/api/blueprints").json()} == BUILTINS


def test_nesting_up_to_the_limit_is_fine(client):
    # The top-level mapping is the first level; `extra` (ignored) adds the other 31.
    r = client.post("/api/blueprints", json={"yaml": blueprint_yaml(extra=nested_lists(MAX_YAML_DEPTH - 1))})
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("text", DEEP_YAML)
def test_a_deeply_nested_user_file_is_skipped(client, daemon, text):
    folder = daemon.data_dir / "blueprints"
    folder.mkdir(exist_ok=True)
    (folder / "deep.yaml").write_text(text)
    (folder / "fine.yaml").write_text(blueprint_yaml(bp_id="fine"))
    assert {b["id"] for b in client.get("/api/blueprints").json()} == BUILTINS | {"fine"}


@pytest.fixture
def no_hard_links(monkeypatch):
    """A folder on exFAT or some network mounts: link(2) fails with EPERM."""
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", refuse)


def test_create_on_a_filesystem_without_hard_links(client, daemon, no_hard_links):
    r = create(client)
    assert r.status_code == 201, r.text
    folder = daemon.data_dir / "blueprints"
    assert (folder / "trip-plan.yaml").read_text() == blueprint_yaml()
    assert sorted(p.name for p in folder.iterdir()) == ["trip-plan.yaml"]  # no temporary file left
    assert client.get("/api/blueprints/trip-plan").json()["isBuiltin"] is False
    # A file with the id's name that does not define it is never overwritten.
    (folder / "other-trip.yaml").write_text("id: other-trip\nname: [")
    clash = create(client, bp_id="other-trip")
    assert clash.status_code == 400 and clash.json() == {
        "error": 'Blueprint "other-trip" already exists (the file other-trip.yaml is there but does not define it)'}
    assert (folder / "other-trip.yaml").read_text() == "id: other-trip\nname: ["
    assert sorted(p.name for p in folder.iterdir()) == ["other-trip.yaml", "trip-plan.yaml"]


# ---- instantiate ---------------------------------------------------------------------------

def instantiate(client, bp_id: str, variables, **extra):
    return client.post(f"/api/blueprints/{bp_id}/instantiate", json={"variables": variables, **extra})


def test_instantiate_applies_defaults_templating_and_conditions(client):
    create(client)
    r = instantiate(client, "trip-plan", {"destination": "Lisbon"})
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["workflowId"] == made["id"] and made["status"] == "draft" and made["runNumber"] == 0
    assert made["name"] == "Trip Plan: Lisbon" and made["projectId"] is None
    assert made["stepsCount"] == 2 and made["skippedSteps"] == ["Kids plan"]
    definition = json.loads(made["definition"])
    assert definition["_blueprintId"] == "trip-plan" and definition["_blueprintVersion"] == "1.0.0"
    assert definition["pattern"] == "sequence"
    first, last = definition["steps"]
    # {{#if}} with a falsy variable is dropped, 3+ newlines collapse, defaults fill {{days}}/{{budget}}.
    assert first == {"id": "step-1", "name": "Research", "agentProfile": "researcher", "requiresApproval": False,
                     "prompt": "Research Lisbon for 3 days on a mid budget.\n\nDone."}
    assert last["id"] == "step-3" and last["requiresApproval"] is True and last["agentProfile"] == "document-writer"
    assert last["prompt"] == "Write the itinerary.\n\nExpected output: A day-by-day plan"

    r = instantiate(client, "trip-plan", {"destination": "Porto", "days": "5", "budget": "high",
                                          "withKids": True, "notes": "Trains only"})
    made = r.json()
    assert r.status_code == 201 and made["stepsCount"] == 3 and made["skippedSteps"] == []
    steps = json.loads(made["definition"])["steps"]
    assert steps[0]["prompt"] == ("Research Porto for 5 days on a high budget.\n\nFind things for children.\n\n"
                                  "Notes: Trains only\nDone.")
    assert steps[1] == {"id": "step-2", "name": "Kids plan", "agentProfile": "general",
                        "requiresApproval": False, "prompt": "Plan a kids' day in Porto."}


def test_instantiate_into_a_project_and_the_name_limit(client):
    project = client.post("/api/projects", json={"name": "Travel"}).json()
    create(client)
    r = instantiate(client, "trip-plan", {"destination": "x" * 300}, projectId=project["id"])
    assert r.status_code == 201
    assert r.json()["projectId"] == project["id"] and len(r.json()["name"]) == 100
    r = instantiate(client, "trip-plan", {"destination": "Rome"}, projectId="nope")
    assert r.status_code == 400 and "nope" in r.json()["error"]


def test_instantiate_a_builtin(client):
    r = instantiate(client, "bug-triage", {"summary": "Export fails", "report": "Steps...", "proposeFix": False})
    assert r.status_code == 201
    assert r.json()["name"] == "Bug Triage: Export fails" and r.json()["skippedSteps"] == ["Propose a fix"]
    steps = json.loads(r.json()["definition"])["steps"]
    assert steps[1]["prompt"].startswith('Find the most likely cause of "Export fails".')


@pytest.mark.parametrize("bp_id", sorted(BUILTINS))
def test_every_builtin_instantiates_with_only_its_required_variables(client, bp_id):
    blueprint = client.get(f"/api/blueprints/{bp_id}").json()
    required = {v["id"]: "Sample value" for v in blueprint["variables"] if v.get("required")}
    r = instantiate(client, bp_id, required)
    assert r.status_code == 201, r.text
    steps = json.loads(r.json()["definition"])["steps"]
    assert steps and all(s["prompt"] and "{{" not in s["prompt"] for s in steps)


@pytest.mark.parametrize("variables, message", [
    ({}, "Missing required variable: destination"),
    ({"destination": "  "}, "Missing required variable: destination"),
    ({"destination": "A", "budget": "luxury"}, 'Variable "budget" must be one of: low, mid, high'),
    ({"destination": "A", "days": 15}, 'Variable "days" must be at most 14'),
    ({"destination": "A", "days": 0}, 'Variable "days" must be at least 1'),
    ({"destination": "A", "days": "many"}, 'Variable "days" must be a number'),
    ({"destination": "A", "days": True}, 'Variable "days" must be a number'),
    ({"destination": "A", "withKids": "yes"}, 'Variable "withKids" must be true or false'),
    ({"destination": "A", "withKids": 1}, 'Variable "withKids" must be true or false'),
    ({"destination": ["A"]}, 'Variable "destination" must be text'),
    ({"destination": "A", "color": "red"}, "Unknown variable: color"),
])
def test_instantiate_rejects_bad_variables_and_creates_nothing(client, variables, message):
    create(client)
    r = instantiate(client, "trip-plan", variables)
    assert r.status_code == 400 and message in r.json()["error"], r.json()
    assert client.get("/api/blueprints/trip-plan").json()["instanceCount"] == 0


def test_instantiate_reports_every_bad_variable_at_once(client):
    create(client)
    error = instantiate(client, "trip-plan", {"days": 99, "budget": "x"}).json()["error"]
    assert "destination" in error and '"days"' in error and '"budget"' in error


@pytest.mark.parametrize("body", [{}, {"variables": "x"}, {"variables": ["a"]}])
def test_instantiate_needs_a_variables_object(client, body):
    create(client)
    r = client.post("/api/blueprints/trip-plan/instantiate", json=body)
    assert r.status_code == 400 and "variables" in r.json()["error"]


def test_instantiate_unknown_blueprint_and_all_steps_skipped(client):
    r = instantiate(client, "nope", {})
    assert r.status_code == 400 and r.json() == {"error": 'Blueprint "nope" not found'}
    create(client, text=blueprint_yaml(bp_id="only-kids", steps=[
        {"name": "Kids", "profileId": "general", "condition": "withKids", "promptTemplate": "p"}]))
    r = instantiate(client, "only-kids", {"destination": "A"})
    assert r.status_code == 400 and "skipped" in r.json()["error"]
    assert client.get("/api/blueprints/only-kids").json()["instanceCount"] == 0


# ---- lineage -------------------------------------------------------------------------------

def test_lineage_across_two_versions(client):
    create(client, version="1.0.0")
    first = instantiate(client, "trip-plan", {"destination": "Oslo"}).json()
    second = instantiate(client, "trip-plan", {"destination": "Bergen"}).json()
    assert client.delete("/api/blueprints/trip-plan").status_code == 200
    # A deleted blueprint keeps its lineage while its workflows exist.
    orphaned = client.get("/api/blueprints/trip-plan/lineage").json()
    assert orphaned["version"] is None and len(orphaned["workflows"]) == 2
    assert create(client, version="1.1.0").status_code == 201
    third = instantiate(client, "trip-plan", {"destination": "Tromsø"}).json()
    instantiate(client, "research-report", {"topic": "Fjords"})

    r = client.get("/api/blueprints/trip-plan/lineage")
    assert r.status_code == 200
    lineage = r.json()
    assert lineage["blueprintId"] == "trip-plan" and lineage["version"] == "1.1.0"
    assert lineage["versions"] == {"1.0.0": 2, "1.1.0": 1}
    assert [(w["id"], w["blueprintVersion"]) for w in lineage["workflows"]] == [
        (third["id"], "1.1.0"), (second["id"], "1.0.0"), (first["id"], "1.0.0")]
    assert lineage["workflows"][0] == {"id": third["id"], "name": "Trip Plan: Tromsø", "status": "draft",
                                       "blueprintVersion": "1.1.0", "createdAt": third["createdAt"], "runNumber": 0}
    assert client.get("/api/blueprints/trip-plan").json()["instanceCount"] == 3
    counts = {bp["id"]: bp["instanceCount"] for bp in client.get("/api/blueprints").json()}
    assert counts["trip-plan"] == 3 and counts["research-report"] == 1 and counts["weekly-digest"] == 0


def test_lineage_of_an_unknown_blueprint_is_404(client):
    r = client.get("/api/blueprints/nope/lineage")
    assert r.status_code == 404 and r.json() == {"error": "Blueprint not found"}
    assert client.get("/api/blueprints/weekly-digest/lineage").json() == {
        "blueprintId": "weekly-digest", "version": "1.0.0", "versions": {}, "workflows": []}


# ---- the templating rules themselves ---------------------------------------------------------

@pytest.mark.parametrize("template, values, expected", [
    ("{{#if a}}A{{/if}}{{#if b}}B{{/if}}", {"a": "x", "b": ""}, "A"),
    ("{{#if a}}A{{#if b}}B{{/if}}{{/if}}", {"a": True, "b": True}, "AB"),
    ("{{#if a}}A{{#if b}}B{{/if}}{{/if}}", {"a": False, "b": True}, ""),
    ("{{#if n}}zero counts{{/if}}", {"n": 0}, "zero counts"),
    ("{{ a }}-{{b}}-{{c}}", {"a": 1.0, "b": False, "c": None}, "1-false-"),
    ("one\n\n\n\n\ntwo", {}, "one\n\ntwo"),
    ("{{a}}", {"a": "{{b}}"}, "{{b}}"),  # a value is not a template
    ("{{#if a}}A{{/if}}{{a}}{{#if b}}B{{/if}}", {"a": "x", "b": None}, "Ax"),
    # Registration refuses unbalanced blocks; render still never lets a block tag into a prompt.
    ("keep{{#if a}}cut", {}, "keep"),
    ("a{{/if}}b", {}, "ab"),
    ("{{ #if a }}A{{ /if }}", {"a": True}, "A"),
])
def test_render(template, values, expected):
    assert render(template, values) == expected


def test_render_of_deeply_nested_blocks():
    depth = 5000
    template = "".join(f"{{{{#if v{i % 7}}}}}{i}," for i in range(depth)) + "{{/if}}" * depth
    values = {f"v{i}": True for i in range(7)}
    assert render(template, values) == ",".join(str(i) for i in range(depth)) + ","
    values["v3"] = False
    assert render(template, values) == "0,1,2,"


def test_lineage_survives_an_edit_that_omits_it(client):
    create(client, version="1.0.0")
    made = instantiate(client, "trip-plan", {"destination": "Oslo"}).json()
    definition = json.loads(client.get(f"/api/workflows/{made['id']}").json()["definition"])
    edited = {k: v for k, v in definition.items() if not k.startswith("_")}
    edited["steps"][0]["prompt"] = "Plan a shorter trip."
    assert client.patch(f"/api/workflows/{made['id']}", json={"definition": edited}).status_code == 200
    stored = json.loads(client.get(f"/api/workflows/{made['id']}").json()["definition"])
    assert (stored["_blueprintId"], stored["_blueprintVersion"]) == ("trip-plan", "1.0.0")
    assert stored["steps"][0]["prompt"] == "Plan a shorter trip."
    assert [w["id"] for w in client.get("/api/blueprints/trip-plan/lineage").json()["workflows"]] == [made["id"]]
    # Sending the key is how a client detaches a workflow on purpose.
    assert client.patch(f"/api/workflows/{made['id']}", json={"definition": {**edited, "_blueprintId": None}}
                        ).status_code == 200
    assert client.get("/api/blueprints/trip-plan/lineage").json()["workflows"] == []
