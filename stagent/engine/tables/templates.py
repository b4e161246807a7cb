"""Table templates: the built-in ones (template_catalog.py, scope `system`) and the user's own
(user_table_templates, scope `user`), listed together; a table saved as a template; a table
created from one (`POST /api/tables` with `templateId`).
"""

from __future__ import annotations

from ...db import Database
from ...errors import Invalid, NotFound
from ...store import tables as table_store
from ...store import user_table_templates as store
from . import computed, rows
from .columns import validate_column
from .template_catalog import BY_ID, CATEGORIES, SYSTEM_TEMPLATES

SAMPLE_ROWS = 5
_SCHEMA_KEYS = ("name", "displayName", "dataType", "required", "defaultValue", "config")


def _system(template: dict) -> dict:
    return {"id": template["id"], "name": template["name"], "description": template["description"],
            "category": template["category"], "columnSchema": template["columns"],
            "sampleData": template["sampleData"], "scope": "system", "icon": template.get("icon"),
            "createdAt": None, "updatedAt": None}


async def list_templates(db: Database, category: str | None = None, scope: str | None = None) -> list[dict]:
    if category is not None and category not in CATEGORIES:
        raise Invalid(f"category must be one of {', '.join(CATEGORIES)}")
    if scope is not None and scope not in ("system", "user"):
        raise Invalid("scope must be system or user")
    out = []
    if scope in (None, "system"):
        out += [_system(t) for t in SYSTEM_TEMPLATES if category in (None, t["category"])]
    if scope in (None, "user"):
        out += await store.list_templates(db, category)
    return out


async def find(db: Database, template_id: str) -> dict | None:
    if template_id in BY_ID:
        return _system(BY_ID[template_id])
    return await store.get_template(db, template_id)


async def save_from_table(db: Database, table_id: str, name: str, description: str | None,
                          category: str | None, include_sample_data: bool) -> dict:
    """The table's columns (and its first SAMPLE_ROWS rows) as a user template."""
    table = await table_store.get_table(db, table_id)
    if table is None:
        raise NotFound("Table not found")
    if category is not None and category not in CATEGORIES:
        raise Invalid(f"category must be one of {', '.join(CATEGORIES)}")
    columns = [{k: c.get(k) for k in _SCHEMA_KEYS} for c in table["columns"]]
    sample = []
    if include_sample_data:
        sample = [r["data"] for r in await rows.query_rows(db, table_id, limit=SAMPLE_ROWS)]
    return await store.create_template(db, {"name": name, "description": description if description is not None
                                             else table.get("description"), "category": category or "business",
                                             "columns": columns, "sample_data": sample})


def _columns(template: dict) -> list[dict]:
    columns: list[dict] = []
    for column in template["columnSchema"]:
        if column.get("dataType") == "relation":  # its target table belongs to another user setup
            column = {**column, "dataType": "text", "config": None}
        columns.append(validate_column(column, columns))
    computed.evaluation_order(columns)
    return columns


async def create_from_template(db: Database, template_id: str, name: str, project_id: str | None,
                               include_sample_data: bool, events=None) -> dict:
    """A new table (source `template`) with the template's columns, and its sample rows when
    asked; the table with its columns. NotFound for an unknown template id."""
    template = await find(db, template_id)
    if template is None:
        raise NotFound("Template not found")
    columns = _columns(template)
    fields = {"name": name, "description": template.get("description"), "project_id": project_id,
              "source": "template", "template_id": template_id}
    table_id = await table_store.create_table(db, fields, columns)
    if include_sample_data and template.get("sampleData"):
        known = {c["name"] for c in columns}
        sample = [{k: v for k, v in row.items() if k in known} for row in template["sampleData"]]
        await rows.add_rows(db, table_id, sample, "user", events=events, errors=[])
    return await table_store.get_table(db, table_id)
