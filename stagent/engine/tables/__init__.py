"""User tables (issue 17): typed columns, rows as JSON, queries in SQL, computed columns,
relations, row history. The calls other code uses are re-exported here."""

from .rows import add_rows, delete_row, query_rows, rollback_row, table_columns, update_row
from .schema import add_column, create_table

__all__ = ["add_column", "add_rows", "create_table", "delete_row", "query_rows", "rollback_row",
           "table_columns", "update_row"]
