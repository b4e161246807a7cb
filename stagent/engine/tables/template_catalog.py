"""The built-in table templates (scope `system`), in the five categories. Data only: the ids are
stable (`tpl-<slug>`), so a table's `templateId` keeps naming its template across versions.

A column is the ColumnDef of POST /api/tables (`name`, `displayName`, `dataType`, `config?`);
sample rows are keyed by column name.
"""

from __future__ import annotations

CATEGORIES = ("business", "personal", "pm", "finance", "content")


def _col(name: str, display: str, data_type: str = "text", **config) -> dict:
    column = {"name": name, "displayName": display, "dataType": data_type}
    if config:
        column["config"] = config
    return column


def _select(name: str, display: str, *options: str) -> dict:
    return _col(name, display, "select", options=list(options))


SYSTEM_TEMPLATES: tuple[dict, ...] = (
    # ---- business ----
    {
        "id": "tpl-clients", "name": "Clients", "category": "business", "icon": "users",
        "description": "The people and companies you work for: contact, status, value and the next step.",
        "columns": [
            _col("name", "Name"), _col("company", "Company"), _col("email", "Email", "email"),
            _col("phone", "Phone"), _col("website", "Website", "url"),
            _select("status", "Status", "lead", "active", "at risk", "churned"),
            _col("annual_value", "Annual value", "number"), _col("last_contact", "Last contact", "date"),
            _col("next_step", "Next step"),
        ],
        "sampleData": [
            {"name": "Ada Lovelace", "company": "Analytical Engines Ltd", "email": "ada@example.com",
             "status": "active", "annual_value": 48000, "last_contact": "2026-11-02", "next_step": "Renewal call"},
            {"name": "Grace Hopper", "company": "Compiler Co", "email": "grace@example.com",
             "status": "lead", "annual_value": 12000, "last_contact": "2026-10-18", "next_step": "Send proposal"},
            {"name": "Alan Turing", "company": "Bletchley Partners", "email": "alan@example.com",
             "status": "at risk", "annual_value": 30000, "last_contact": "2026-08-30", "next_step": "Check in"},
        ],
    },
    {
        "id": "tpl-sales-pipeline", "name": "Sales pipeline", "category": "business", "icon": "funnel",
        "description": "Deals by stage, with their value, probability and expected close date.",
        "columns": [
            _col("deal", "Deal"), _col("client", "Client"),
            _select("stage", "Stage", "prospect", "qualified", "proposal", "negotiation", "won", "lost"),
            _col("value", "Value", "number"), _col("probability", "Probability %", "number"),
            _col("close_date", "Expected close", "date"), _col("owner", "Owner"),
        ],
        "sampleData": [
            {"deal": "Website redesign", "client": "Compiler Co", "stage": "proposal", "value": 15000,
             "probability": 50, "close_date": "2026-12-15", "owner": "me"},
            {"deal": "Support retainer", "client": "Analytical Engines Ltd", "stage": "negotiation",
             "value": 24000, "probability": 75, "close_date": "2026-12-01", "owner": "me"},
        ],
    },
    {
        "id": "tpl-inventory", "name": "Inventory", "category": "business", "icon": "box",
        "description": "Items in stock, their quantity, reorder level and supplier.",
        "columns": [
            _col("item", "Item"), _col("sku", "SKU"), _col("quantity", "Quantity", "number"),
            _col("reorder_level", "Reorder level", "number"), _col("unit_cost", "Unit cost", "number"),
            _col("supplier", "Supplier"),
        ],
        "sampleData": [
            {"item": "Notebook A5", "sku": "NB-A5", "quantity": 120, "reorder_level": 40, "unit_cost": 2.5,
             "supplier": "Paper & Co"},
        ],
    },
    # ---- personal ----
    {
        "id": "tpl-reading-list", "name": "Reading list", "category": "personal", "icon": "book",
        "description": "Books to read and read, with a rating and notes.",
        "columns": [
            _col("title", "Title"), _col("author", "Author"),
            _select("status", "Status", "to read", "reading", "finished", "abandoned"),
            _col("rating", "Rating (1-5)", "number"), _col("finished_on", "Finished on", "date"),
            _col("notes", "Notes"),
        ],
        "sampleData": [
            {"title": "The Mythical Man-Month", "author": "Fred Brooks", "status": "finished", "rating": 5},
            {"title": "Thinking in Systems", "author": "Donella Meadows", "status": "to read"},
        ],
    },
    {
        "id": "tpl-habits", "name": "Habit tracker", "category": "personal", "icon": "check",
        "description": "One row a day: which habits you kept.",
        "columns": [
            _col("day", "Day", "date"), _col("exercise", "Exercise", "boolean"),
            _col("reading", "Reading", "boolean"), _col("sleep_hours", "Sleep (h)", "number"),
            _col("notes", "Notes"),
        ],
        "sampleData": [{"day": "2026-12-01", "exercise": True, "reading": False, "sleep_hours": 7.5}],
    },
    # ---- project management ----
    {
        "id": "tpl-project-tasks", "name": "Project tasks", "category": "pm", "icon": "list",
        "description": "Work items with an owner, a status, a priority and a due date.",
        "columns": [
            _col("task", "Task"), _col("owner", "Owner"),
            _select("status", "Status", "todo", "in progress", "blocked", "done"),
            _select("priority", "Priority", "low", "medium", "high"),
            _col("due", "Due", "date"), _col("estimate_hours", "Estimate (h)", "number"),
        ],
        "sampleData": [
            {"task": "Write the brief", "owner": "me", "status": "done", "priority": "high", "due": "2026-11-20",
             "estimate_hours": 3},
            {"task": "Review designs", "owner": "me", "status": "in progress", "priority": "medium",
             "due": "2026-12-10", "estimate_hours": 2},
        ],
    },
    {
        "id": "tpl-bug-tracker", "name": "Bug tracker", "category": "pm", "icon": "bug",
        "description": "Bugs by severity and state, with the steps to reproduce them.",
        "columns": [
            _col("summary", "Summary"), _select("severity", "Severity", "low", "medium", "high", "critical"),
            _select("state", "State", "new", "confirmed", "fixing", "fixed", "won't fix"),
            _col("reported_on", "Reported on", "date"), _col("steps", "Steps to reproduce"),
        ],
        "sampleData": [{"summary": "Export button does nothing on Safari", "severity": "medium", "state": "new",
                        "reported_on": "2026-12-02"}],
    },
    # ---- finance ----
    {
        "id": "tpl-expenses", "name": "Expenses", "category": "finance", "icon": "receipt",
        "description": "What you spent, when, on what, and whether it is reimbursable.",
        "columns": [
            _col("date", "Date", "date"), _col("description", "Description"), _col("amount", "Amount", "number"),
            _select("category", "Category", "travel", "software", "office", "meals", "other"),
            _col("reimbursable", "Reimbursable", "boolean"),
        ],
        "sampleData": [
            {"date": "2026-11-03", "description": "Train to client", "amount": 84.2, "category": "travel",
             "reimbursable": True},
            {"date": "2026-11-05", "description": "Design tool", "amount": 15, "category": "software",
             "reimbursable": False},
        ],
    },
    {
        "id": "tpl-invoices", "name": "Invoices", "category": "finance", "icon": "file",
        "description": "Invoices sent, their amount, due date and payment state.",
        "columns": [
            _col("number", "Invoice #"), _col("client", "Client"), _col("amount", "Amount", "number"),
            _col("issued", "Issued", "date"), _col("due", "Due", "date"),
            _select("state", "State", "draft", "sent", "paid", "overdue"),
        ],
        "sampleData": [{"number": "2026-041", "client": "Compiler Co", "amount": 4200, "issued": "2026-11-01",
                        "due": "2026-12-01", "state": "sent"}],
    },
    # ---- content ----
    {
        "id": "tpl-content-calendar", "name": "Content calendar", "category": "content", "icon": "calendar",
        "description": "Pieces planned and published: channel, state, publish date and link.",
        "columns": [
            _col("title", "Title"), _select("channel", "Channel", "blog", "newsletter", "linkedin", "video"),
            _select("state", "State", "idea", "drafting", "review", "scheduled", "published"),
            _col("publish_on", "Publish on", "date"), _col("author", "Author"), _col("link", "Link", "url"),
        ],
        "sampleData": [
            {"title": "Why local-first agents", "channel": "blog", "state": "drafting", "publish_on": "2026-12-12",
             "author": "me"},
        ],
    },
    {
        "id": "tpl-social-posts", "name": "Social posts", "category": "content", "icon": "message",
        "description": "Short posts with their platform, schedule and engagement.",
        "columns": [
            _col("text", "Text"), _select("platform", "Platform", "x", "linkedin", "mastodon", "bluesky"),
            _col("scheduled_for", "Scheduled for", "date"), _col("likes", "Likes", "number"),
        ],
        "sampleData": [{"text": "We shipped tables.", "platform": "mastodon", "scheduled_for": "2026-12-08"}],
    },
)

BY_ID = {t["id"]: t for t in SYSTEM_TEMPLATES}
