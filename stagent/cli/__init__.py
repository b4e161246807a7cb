"""`stagent` command line: `serve` runs the daemon; the other commands talk to a running one."""

from __future__ import annotations

import click

from .. import __version__


@click.group()
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


def _register() -> None:
    from . import keys, logs, serve, tasks

    cli.add_command(serve.serve)
    cli.add_command(tasks.tasks)
    cli.add_command(logs.logs)
    cli.add_command(keys.keys)


_register()
