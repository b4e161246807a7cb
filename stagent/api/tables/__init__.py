"""/api/tables: the catalog's 27 endpoints (26 documented + PATCH /api/tables/{id}/triggers).

For 17b (import/export/triggers/charts/templates): put each of your modules in this package
with its own `routes = [Route(...), ...]` list and add it to `routes` below:
- templates FIRST (before `tables.routes`): `/api/tables/templates` is a literal path and would
  otherwise be taken as `/api/tables/{id}`;
- the others (import, export, triggers, charts) anywhere after it.
Then add each route to api/_scopes.py (reads READ, writes WRITE) and strike it from PENDING in
tests/test_route_catalog.py (or leave that to the tables helper, who owns those lines).
Unknown table ids: `await engine.tables.table_columns(db, table_id)` raises NotFound("Table not found").
Cloning a template (POST /api/tables with templateId) calls
`engine.tables.templates.create_from_template(db, template_id, name=, project_id=, include_sample_data=)`,
which returns the new table with its `columns` (store.tables.get_table) or raises NotFound.
"""

from starlette.routing import Route

from . import charts, exports, imports, rows, tables, templates, triggers

routes = [
    *templates.routes,  # literal /api/tables/templates before /api/tables/{id}
    Route("/api/tables", tables.list_tables, methods=["GET"]),
    Route("/api/tables", tables.create_table, methods=["POST"]),
    Route("/api/tables/{id}", tables.get_table, methods=["GET"]),
    Route("/api/tables/{id}", tables.update_table, methods=["PATCH"]),
    Route("/api/tables/{id}", tables.delete_table, methods=["DELETE"]),
    Route("/api/tables/{id}/columns", tables.add_column, methods=["POST"]),
    Route("/api/tables/{id}/columns", tables.reorder_columns, methods=["PATCH"]),
    Route("/api/tables/{id}/rows", rows.list_rows, methods=["GET"]),
    Route("/api/tables/{id}/rows", rows.add_rows, methods=["POST"]),
    Route("/api/tables/{id}/rows/{rowId}", rows.update_row, methods=["PATCH"]),
    Route("/api/tables/{id}/rows/{rowId}", rows.delete_row, methods=["DELETE"]),
    Route("/api/tables/{id}/history", rows.table_history, methods=["GET"]),
    Route("/api/tables/{id}/rows/{rowId}/history", rows.row_history, methods=["GET"]),
    Route("/api/tables/{id}/rows/{rowId}/history", rows.rollback_row, methods=["POST"]),
    *imports.routes,
    *exports.routes,
    *triggers.routes,
    *charts.routes,
]
