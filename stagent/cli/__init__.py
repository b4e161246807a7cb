"""`stagent` command line: `serve` runs the daemon; the other commands talk to a running one."""

from __future__ import annotations

import importlib

import click

from .. import __version__


class LazyGroup(click.Group):
    """Subcommands are imported when named, so `stagent serve` never loads the HTTP client
    (httpx costs ~60 ms of start-up) and `stagent tasks` never loads the server."""

    COMMANDS = ("serve", "tasks", "logs", "keys", "mcp", "snapshot")  # module stagent.cli.<name> defines <name>

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.COMMANDS:
            return None
        return getattr(importlib.import_module(f"{__name__}.{name}"), name)


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="stagent")
@click.option("--url", envvar="STAGENT_URL", default=None,
              help="Daemon URL (default http://127.0.0.1:$STAGENT_PORT or :3000).")
@click.option("--api-key", envvar="STAGENT_API_KEY", default=None,
              help="API key (default: read from <data dir>/api-key).")
@click.option("--data-dir", envvar="STAGENT_DATA_DIR", default=None, type=click.Path(),
              help="Data directory (default: the platform's user data dir).")
@click.pass_context
def cli(ctx: click.Context, url: str | None, api_key: str | None, data_dir: str | None) -> None:
    ctx.obj = {"url": url, "api_key": api_key, "data_dir": data_dir}

