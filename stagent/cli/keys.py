"""`stagent keys create | list | revoke`: API keys of the running daemon (needs an admin key)."""

from __future__ import annotations

import json

import click

from .client import Client, by_prefix, print_table, short_id


@click.group()
def keys() -> None:
    """Create, list and revoke API keys (sent as X-API-Key)."""


def _scopes(values: tuple[str, ...]) -> list[str]:
    scopes = [s.strip() for value in values for s in value.split(",") if s.strip()]
    if not scopes:
        raise click.BadParameter("give at least one scope, e.g. --scopes stagent:read,stagent:write",
                                 param_hint="--scopes")
    return scopes


@keys.command("create")
@click.option("--scopes", "scopes", multiple=True, required=True,
              help="Comma-separated scopes (admin, stagent:read, stagent:write, stan:execute, "
                   "ai-agent:chat, ai-agent:actions); may be repeated.")
@click.option("--name", default=None, help="A label to recognise the key by.")
@click.pass_context
def create_key(ctx: click.Context, scopes: tuple[str, ...], name: str | None) -> None:
    """Create a key and print its secret (shown this once only)."""
    body: dict = {"scopes": _scopes(scopes)}
    if name:
        body["name"] = name
    key = Client.from_context(ctx).post("/api/keys", json=body)
    click.echo(f"Created API key {key['id']} ({key['name']}) with scopes {', '.join(key['scopes'])}.",
               err=True)
    click.echo(key["key"])
    click.echo("Store this secret now: it will not be shown again. Send it as the X-API-Key header.",
               err=True)


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@click.pass_context
def list_keys(ctx: click.Context, as_json: bool) -> None:
    """Keys with their scopes and last use (never their secrets)."""
    rows = Client.from_context(ctx).get("/api/keys")
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("No API keys.", err=True)
        return
    print_table(["ID", "PREFIX", "STATUS", "LAST USED", "NAME", "SCOPES"], [
        [short_id(k["id"]), k["prefix"], "revoked" if k.get("revokedAt") else "active",
         _day(k.get("lastUsedAt")) or "never", k["name"], ",".join(k["scopes"])] for k in rows])


def _day(timestamp: str | None) -> str | None:
    return timestamp[:16].replace("T", " ") if timestamp else None


@keys.command("revoke")
@click.argument("key_id")
@click.pass_context
def revoke_key(ctx: click.Context, key_id: str) -> None:
    """Revoke KEY_ID (a full id or a unique prefix) at once."""
    client = Client.from_context(ctx)
    key = by_prefix(client.get("/api/keys"), key_id, "API key")
    if key.get("revokedAt"):
        click.echo(f"API key {key['id']} ({key['name']}) was already revoked at {key['revokedAt']}.")
        return
    client.delete(f"/api/keys/{key['id']}")
    click.echo(f"Revoked API key {key['id']} ({key['name']}); requests with it now get 401.")
