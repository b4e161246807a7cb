"""`stagent serve`: run the daemon in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from pathlib import Path

import click


def _schema_error(db_path: Path) -> str | None:
    """Why the daemon must not start on this database (one from a newer stagent), if it must not.

    Checked read-only before uvicorn starts, because uvicorn would bury the lifespan's refusal in
    a traceback. Pending migrations are not this check's business: the lifespan applies them.
    """
    from ..db.migrations import SchemaTooNew, migrate

    if not db_path.is_file():
        return None
    try:
        uri = db_path.resolve().as_uri() + "?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, isolation_level=None)) as conn:
            migrate(conn)  # raises SchemaTooNew before it would write anything
    except SchemaTooNew as exc:
        return str(exc)
    except sqlite3.Error:
        pass  # pending migrations cannot run read-only; the lifespan will run them
    return None


def _lock_error(data_dir: Path) -> str | None:
    """Another daemon holding this data dir, checked here so the refusal is one clear line."""
    from ..lifespan import DataDirInUse, lock_data_dir

    if not data_dir.is_dir():
        return None
    try:
        os.close(lock_data_dir(data_dir))
    except DataDirInUse as exc:
        return str(exc)
    return None


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

    from ..app import create_app
    from ..config import Config

    data_dir = data_dir or (ctx.obj or {}).get("data_dir")
    config = Config.from_env(host=host, port=port, data_dir=data_dir)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    problem = _schema_error(config.db_path) or _lock_error(config.data_dir)
    if problem is not None:
        click.echo(f"stagent: cannot start: {problem}", err=True)
        ctx.exit(2)
    click.echo(f"stagent listening on {config.base_url}")
    click.echo(f"data dir: {config.data_dir}")
    click.echo(f"API key:  {config.api_key_path} (send it as X-API-Key)")
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning", access_log=False,
                lifespan="on", timeout_graceful_shutdown=5)
