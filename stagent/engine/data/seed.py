"""The demo a new user sees: three projects with tasks in every state (with their log lines and
usage), workflows with a finished run, schedules, notifications, chats, memories, and
documents and tables where those features exist. Pure: rows per table, parents first."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from ...db.rows import new_id, to_iso

PROJECTS = (
    ("Website relaunch", "New marketing site: copy, structure and launch checklist", "active"),
    ("Q3 market research", "Competitor pricing and positioning for the Q3 review", "active"),
    ("Personal finances", "Monthly budget review and subscriptions clean-up", "paused"),
)
TASKS = (  # project index, title, status, priority, profile, result
    (0, "Draft the homepage hero copy", "completed", 1, "document-writer",
     "Three headline options with subheads; option B recommended for clarity."),
    (0, "Audit the current sitemap", "completed", 2, "general", "42 pages; 9 orphaned, 6 redirects to add."),
    (0, "Write the launch checklist", "queued", 1, "project-manager", None),
    (0, "Review accessibility of the pricing page", "planned", 2, "code-reviewer", None),
    (1, "Summarise competitor pricing pages", "completed", 0, "researcher",
     "Five competitors compared; two moved to usage-based pricing this quarter."),
    (1, "Collect analyst notes on the market", "failed", 2, "researcher", "The source site refused the request (403)."),
    (1, "Draft the positioning memo", "planned", 1, "document-writer", None),
    (1, "Interview notes to themes", "cancelled", 3, "general", None),
    (2, "Categorise last month's expenses", "completed", 2, "wealth-manager",
     "Spending 8% under budget; dining out is the largest variable category."),
    (2, "List subscriptions to cancel", "queued", 2, "wealth-manager", None),
)
MODEL = "gpt-4o-mini"


def build(now: datetime) -> list[tuple[str, list[dict]]]:
    """(table, rows) in insertion order."""
    def at(**delta) -> str:
        return to_iso(now - timedelta(**delta))

    projects = [{"id": new_id(), "name": n, "description": d, "status": s, "working_directory": None,
                 "created_at": at(days=30 - i), "updated_at": at(days=2 + i)}
                for i, (n, d, s) in enumerate(PROJECTS)]
    tasks, logs, usage = [], [], []
    for i, (p, title, status, priority, profile, result) in enumerate(TASKS):
        task_id, created = new_id(), now - timedelta(days=20 - i, hours=i)
        tasks.append({"id": task_id, "project_id": projects[p]["id"], "title": title,
                      "description": f"{title}. Keep it short and cite sources where it applies.",
                      "status": status, "priority": priority, "agent_profile": profile,
                      "assigned_agent": "openai-direct", "result": result, "source_type": "manual",
                      "created_at": to_iso(created), "updated_at": to_iso(created + timedelta(minutes=9))})
        if status in ("completed", "failed"):
            logs += _run_logs(task_id, created, status, result)
            usage.append({"id": new_id(), "task_id": task_id, "project_id": projects[p]["id"],
                          "activity_type": "task_run", "runtime_id": "openai-direct", "provider_id": "openai",
                          "model_id": MODEL, "status": "completed" if status == "completed" else "failed",
                          "input_tokens": 1800 + 250 * i, "output_tokens": 420 + 40 * i,
                          "total_tokens": 2220 + 290 * i, "cost_micros": 900 + 120 * i,
                          "started_at": to_iso(created), "finished_at": to_iso(created + timedelta(minutes=2))})
    workflows, runs, steps = _workflows(projects, at)
    schedules = _schedules(projects, now)
    conversations, messages = _chats(projects, at)
    return [
        ("projects", projects), ("tasks", tasks), ("agent_logs", logs), ("usage_ledger", usage),
        ("workflows", workflows), ("workflow_runs", runs), ("workflow_step_states", steps),
        ("schedules", schedules), ("notifications", _notifications(tasks, at)),
        ("conversations", conversations), ("chat_messages", messages),
        ("agent_memory", _memories(tasks, at)),
    ]


def _run_logs(task_id: str, started: datetime, status: str, result: str | None) -> list[dict]:
    lines = [("started", {"model": MODEL}),
             ("tool_start", {"tool": "web_fetch", "input": {"url": "https://example.com/pricing"}}),
             ("tool_result", {"tool": "web_fetch", "output": "200 OK, 14 kB of text"}),
             ("stream", {"text": "Reading the page and extracting the key points…"}),
             ("usage", {"inputTokens": 1800, "outputTokens": 420})]
    lines.append(("completed", {"result": result}) if status == "completed" else ("error", {"message": result}))
    return [{"id": new_id(), "task_id": task_id, "agent_type": "openai-direct", "event": event,
             "payload": json.dumps(payload, separators=(",", ":")),
             "timestamp": to_iso(started + timedelta(seconds=10 * n))} for n, (event, payload) in enumerate(lines)]


def _workflows(projects, at):
    definition = {"pattern": "sequence", "steps": [
        {"id": "research", "name": "Research", "prompt": "Collect the three most cited sources on the topic."},
        {"id": "outline", "name": "Outline", "prompt": "Turn the research into an outline."},
        {"id": "draft", "name": "Draft", "prompt": "Write a 600-word draft from the outline."}]}
    done = {"id": new_id(), "project_id": projects[0]["id"], "name": "Blog post pipeline",
            "definition": json.dumps(definition), "status": "completed", "run_number": 1,
            "created_at": at(days=12), "updated_at": at(days=11)}
    draft = {"id": new_id(), "project_id": projects[1]["id"], "name": "Weekly competitor digest",
             "definition": json.dumps({**definition, "steps": definition["steps"][:2]}), "status": "draft",
             "run_number": 0, "created_at": at(days=3), "updated_at": at(days=3)}
    runs = [{"workflow_id": done["id"], "run_number": 1, "status": "completed", "trigger": "manual",
             "started_at": at(days=11, hours=2), "finished_at": at(days=11, hours=1)}]
    steps = [{"workflow_id": done["id"], "run_number": 1, "step_id": s["id"], "iteration": 0,
              "status": "completed", "result": f"{s['name']} done.", "started_at": at(days=11, hours=2),
              "completed_at": at(days=11, hours=1)} for s in definition["steps"]]
    return [done, draft], runs, steps


def _schedules(projects, now: datetime) -> list[dict]:
    monday = (now + timedelta(days=7 - now.weekday())).replace(hour=9, minute=0, second=0, microsecond=0)
    base = {"recurs": 1, "type": "scheduled", "time_zone": "UTC", "active_timezone": "UTC",
            "assigned_agent": "openai-direct", "created_at": to_iso(now - timedelta(days=9)),
            "updated_at": to_iso(now - timedelta(days=9))}
    return [
        {**base, "id": new_id(), "project_id": projects[1]["id"], "name": "Monday competitor scan",
         "prompt": "Check the five competitors' pricing pages and report changes.", "cron_expression": "0 9 * * 1",
         # paused like the other: nothing in the demo fires or spends by itself; resuming it is one click
         "status": "paused", "agent_profile": "researcher", "next_fire_at": to_iso(monday), "firing_count": 1},
        {**base, "id": new_id(), "project_id": projects[2]["id"], "name": "Month-end budget review",
         "prompt": "Summarise this month's spending against the budget.", "cron_expression": "0 18 28 * *",
         "status": "paused", "agent_profile": "wealth-manager", "next_fire_at": None},
    ]


def _notifications(tasks, at) -> list[dict]:
    by_status = {t["status"]: t for t in reversed(tasks)}
    return [
        {"id": new_id(), "task_id": by_status["completed"]["id"], "type": "task_completed",
         "title": f"Completed: {by_status['completed']['title']}", "body": by_status["completed"]["result"],
         "read": 0, "created_at": at(days=3)},
        {"id": new_id(), "task_id": by_status["failed"]["id"], "type": "task_failed",
         "title": f"Failed: {by_status['failed']['title']}", "body": by_status["failed"]["result"],
         "read": 0, "created_at": at(days=2)},
        {"id": new_id(), "task_id": None, "type": "budget_alert", "title": "Monthly spend at 50% of the cap",
         "body": "Spend this month: $2.10 of $5.00.", "read": 1, "created_at": at(days=1)},
    ]


def _chats(projects, at):
    conversations, messages = [], []
    for i, (title, question, answer) in enumerate((
            ("Launch plan questions", "What should the launch checklist cover?",
             "DNS and redirects, analytics, accessibility checks, a rollback plan and the announcement."),
            ("Pricing ideas", "Should we add a usage-based tier?",
             "Two of five competitors did this quarter; a hybrid tier keeps predictable revenue."))):
        conv_id = new_id()
        conversations.append({"id": conv_id, "project_id": projects[i]["id"], "title": title,
                              "runtime_id": "openai-direct", "model_id": MODEL, "status": "active", "mode": "chat",
                              "created_at": at(days=5 - i), "updated_at": at(days=5 - i, minutes=-3)})
        for n, (role, content) in enumerate((("user", question), ("assistant", answer))):
            messages.append({"id": new_id(), "conversation_id": conv_id, "role": role, "content": content,
                             "status": "complete", "model": MODEL if role == "assistant" else None,
                             "created_at": at(days=5 - i, minutes=-n)})
    return conversations, messages


def _memories(tasks, at) -> list[dict]:
    return [{"id": new_id(), "profile_id": "researcher", "category": "preference",
             "content": "The user wants sources linked inline, not as footnotes.", "confidence": 800,
             "source_task_id": tasks[4]["id"], "tags": '["style"]', "status": "active",
             "decayed_at": at(days=1), "created_at": at(days=6), "updated_at": at(days=6)}]


def optional_groups(now: datetime, project_ids: list[str], uploads: str) -> list[list[tuple[str, list[dict]]]]:
    """Rows for tables other domains own (documents, user tables), inserted only if they exist
    and fit. `uploads` is the folder the document files are written to."""
    created = to_iso(now - timedelta(days=4))
    doc_id = new_id()
    documents = [[("documents", [{
        "id": doc_id, "project_id": project_ids[1], "filename": f"{doc_id}.md",
        "original_name": "competitor-notes.md", "mime_type": "text/markdown", "size": len(DOC_TEXT),
        "storage_path": f"{uploads}/{doc_id}.md", "version": 1, "direction": "input", "status": "ready",
        "extracted_text": DOC_TEXT, "source": "upload", "created_at": created, "updated_at": created}])]]
    table_id = new_id()
    columns = [("name", "Name", "text"), ("plan", "Plan", "text"), ("price", "Monthly price", "number")]
    rows = (("Acme", "Pro", 49), ("Globex", "Team", 39), ("Initech", "Usage", 0))
    tables = [[
        ("user_tables", [{"id": table_id, "project_id": project_ids[1], "name": "Competitor pricing",
                          "description": "Plans and prices, from the research task", "row_count": len(rows),
                          "column_schema": json.dumps([{"name": n, "displayName": d, "dataType": t}
                                                       for n, d, t in columns]),
                          "source": "manual", "created_at": created, "updated_at": created}]),
        ("user_table_columns", [{"id": new_id(), "table_id": table_id, "name": n, "display_name": d,
                                 "data_type": t, "position": i, "created_at": created, "updated_at": created}
                                for i, (n, d, t) in enumerate(columns)]),
        ("user_table_rows", [{"id": new_id(), "table_id": table_id, "position": i, "created_by": "user",
                              "data": json.dumps(dict(zip(("name", "plan", "price"), r, strict=True))),
                              "created_at": created, "updated_at": created} for i, r in enumerate(rows)]),
    ]]
    return documents + tables


DOC_TEXT = "# Competitor notes\n\n- Acme: Pro plan $49/month\n- Globex: Team plan $39/month\n- Initech: usage-based\n"
