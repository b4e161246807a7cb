"""The agent toolbox: importing this module registers every built-in tool family in the one
registry (engine/agent/tools.py). Each family lives in its own module and registers itself."""

from ..handoffs import tool as handoff_tool  # noqa: F401  (send_handoff)
from . import (  # noqa: F401
    document_tools,  # read_document, search_documents, save_document
    files,  # read_file, write_file, edit_file, list_files
    search,  # glob, grep
    shell,  # run_command
    table_tools,  # list_tables, query_table, add_table_rows, update_table_row
    tools,  # create_task, update_output
    web,  # web_fetch, web_search
)
