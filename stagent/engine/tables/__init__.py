"""User tables (issue 17): typed columns, rows as JSON, queries in SQL, computed columns,
relations, row history. The calls other code uses are re-exported here."""

from .rows import add_rows, add_rows_by, delete_row, query_rows, rollback_row, table_columns, update_row
from .schema import add_column, create_table, reorder_columns

__all__ = ["add_column", "add_rows", "add_rows_by", "create_table", "delete_row", "query_rows", "reorder_columns", "rollback_row",
           "table_columns", "update_row"]
