"""`stagent serve`: run the daemon in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import logging

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", type=int, envvar="STAGENT_PORT", default=3000, show_default=True)
@click.option("--data-dir", envvar="STAGENT_DATA_DIR", default=None, type=click.Path(),
              help="Where stagent.db and the API key live.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, data_dir: str | None, log_level: str) -> None:
    """Start the daemon."""
    import uvicorn

    from ..app import create_app, preflight
    from ..config import Config

    data_dir = data_dir or (ctx.obj or {}).get("data_dir")
    config = Config.from_env(host=host, port=port, data_dir=data_dir)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    problem = preflight(config)
    if problem is not None:
        click.echo(f"stagent: cannot start: {problem}", err=True)
        ctx.exit(2)
    click.echo(f"stagent listening on {config.base_url}")
    click.echo(f"data dir: {config.data_dir}")
    click.echo(f"API key:  {config.api_key_path} (send it as X-API-Key)")
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning", access_log=False,
                lifespan="on", timeout_graceful_shutdown=5)
