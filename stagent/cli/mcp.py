"""`stagent mcp`: stagent as an MCP server over stdio, for Claude Desktop, Claude Code or Cursor.

The server runs in the MCP client's process tree and talks to the running daemon over its REST
API (cli/client.py: --url / STAGENT_URL, --api-key / STAGENT_API_KEY, else the key in the data
dir); its tools are those of cli/mcp_tools.py, the same the daemon serves at /mcp. Stdout
carries the protocol only: anything else this command says goes to stderr.
"""

from __future__ import annotations

import click

from .client import Client


@click.command()
@click.pass_context
def mcp(ctx: click.Context) -> None:
    """Be an MCP server over stdio (for Claude Desktop, Claude Code, Cursor).

    Its tools (tasks, projects, workflows, schedules, approvals) call the running daemon."""
    client = Client.from_context(ctx)
    from .mcp_tools import ClientApi, build_server  # the mcp SDK loads only for this command

    click.echo(f"stagent MCP server (stdio) for the daemon at {client.url}", err=True)
    build_server(ClientApi(client)).run("stdio")
