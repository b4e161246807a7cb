"""A small MCP server for tests, written with the SDK's MCPServer (v1's FastMCP).

Run it as a script: over stdio by default (what an MCP client spawns), or over streamable HTTP
on a loopback port with `--http PORT` (endpoint /mcp). Its tools:

- echo(text): "echo: <text>"
- add(a, b): the sum
- pid(): the server's process id (a restart shows as a new one)
- getenv(name): an environment variable of the server ("" when unset)
- fail(message): a tool error carrying the message
- wait(seconds): answers after that long (for timeouts)

`--name NAME` names the server (default "fake"). Each tool call is appended to the file named
by the FAKE_MCP_CALLS environment variable, when set, one JSON line per call.
"""

from __future__ import annotations

import argparse
import json
import os


def build(name: str = "fake"):
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    server = MCPServer(name, log_level="WARNING")

    def record(tool: str, **args) -> None:
        path = os.environ.get("FAKE_MCP_CALLS")
        if path:
            with open(path, "a") as fh:
                fh.write(json.dumps({"tool": tool, "args": args, "pid": os.getpid()}) + "\n")

    @server.tool()
    def echo(text: str) -> str:
        """Echo the text back."""
        record("echo", text=text)
        return f"echo: {text}"

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        record("add", a=a, b=b)
        return a + b

    @server.tool()
    def pid() -> str:
        """The server's process id."""
        record("pid")
        return str(os.getpid())

    @server.tool()
    def getenv(name: str) -> str:
        """The value of an environment variable of the server ("" when unset)."""
        record("getenv", name=name)
        return os.environ.get(name, "")

    @server.tool()
    def fail(message: str) -> str:
        """Always fails with the message."""
        record("fail", message=message)
        raise ToolError(message)

    @server.tool()
    async def wait(seconds: float) -> str:
        """Answer after `seconds`."""
        import anyio

        record("wait", seconds=seconds)
        await anyio.sleep(seconds)
        return f"waited {seconds}"

    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int, default=None, help="serve streamable HTTP on 127.0.0.1:PORT/mcp")
    parser.add_argument("--name", default="fake")
    options = parser.parse_args()
    server = build(options.name)
    if options.http is None:
        server.run("stdio")
        return
    import uvicorn

    uvicorn.run(server.streamable_http_app(), host="127.0.0.1", port=options.http, log_level="warning")


if __name__ == "__main__":
    main()
