"""`stagent serve`: run the daemon in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import logging
import sys

import click

from .listener import DEFAULT_IDLE_TIMEOUT


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to bind. Anything but loopback makes every API request need an API key.")
@click.option("--port", type=int, envvar="STAGENT_PORT", default=3000, show_default=True)
@click.option("--data-dir", envvar="STAGENT_DATA_DIR", default=None, type=click.Path(),
              help="Where stagent.db and the API key live.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--idle-timeout", type=click.FloatRange(min=0.1), default=DEFAULT_IDLE_TIMEOUT, show_default=True,
              help="Seconds a connection may stay open without sending its next request.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, data_dir: str | None, log_level: str,
          idle_timeout: float) -> None:
    """Start the daemon."""
    import uvicorn

    from ..app import create_app, preflight
    from ..config import Config
    from .listener import ListenError, bind_listener, http_protocol

    data_dir = data_dir or (ctx.obj or {}).get("data_dir")
    config = Config.from_env(host=host, port=port, data_dir=data_dir)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    problem = preflight(config)
    if problem is None:
        try:
            sock = bind_listener(host, port)
        except ListenError as exc:
            problem = str(exc)
    if problem is not None:
        click.echo(f"stagent: cannot start: {problem}", err=True)
        ctx.exit(2)
    if not config.loopback_only:
        click.echo(f"stagent: {host} is not a loopback address, so other machines can connect: every API "
                   "request needs an API key (X-API-Key), whatever the requireApiKey setting says, and "
                   "the browser UI gets no session from another machine.", err=True)
    click.echo(f"stagent listening on {config.base_url}")
    click.echo(f"data dir: {config.data_dir}")
    click.echo(f"API key:  {config.api_key_path} (send it as X-API-Key)")
    server = uvicorn.Server(uvicorn.Config(
        create_app(config), host=host, port=port, http=http_protocol(idle_timeout),
        timeout_keep_alive=max(1, round(idle_timeout)), log_level="warning", access_log=False,
        lifespan="on", timeout_graceful_shutdown=5,
        # The TCP peer is who is calling: no X-Forwarded-For rewrites the address the key checks read.
        proxy_headers=False))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    if not server.started:  # the lifespan refused to start (its reason is logged)
        sys.exit(3)
