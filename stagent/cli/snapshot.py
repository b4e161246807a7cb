"""`stagent snapshot create | list | restore`: the running daemon's snapshots."""

from __future__ import annotations

import json

import click

from .client import Client, CliError, by_prefix, print_table, short_id

SLOW = 600.0  # a snapshot of a large database, or a restore, takes a while


@click.group()
def snapshot() -> None:
    """Create, list and restore snapshots of all data (database and data files)."""


def _size(n: int | None) -> str:
    value = float(n or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(n)


@snapshot.command("create")
@click.option("--label", default=None, help="A name to recognise the snapshot by.")
@click.pass_context
def create_snapshot(ctx: click.Context, label: str | None) -> None:
    """Snapshot the database and data files now (verified before it is reported done)."""
    client = Client.from_context(ctx)
    client.http.timeout = SLOW
    snap = client.post("/api/snapshots", json={"label": label} if label else {})
    if snap["status"] != "completed":
        raise CliError(f"Snapshot {short_id(snap['id'])} failed: {snap.get('error')}")
    click.echo(f"Snapshot {snap['id']} ({snap['label']}): {_size(snap['sizeBytes'])}, "
               f"{snap['fileCount']} files, verified.")


@snapshot.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@click.pass_context
def list_snapshots(ctx: click.Context, as_json: bool) -> None:
    """Snapshots, newest first, with size and verification state."""
    listing = Client.from_context(ctx).get("/api/snapshots")
    if as_json:
        click.echo(json.dumps(listing, indent=2, ensure_ascii=False))
        return
    if not listing["snapshots"]:
        click.echo("No snapshots.", err=True)
        return
    print_table(["ID", "CREATED", "TYPE", "STATUS", "SIZE", "VERIFIED", "LABEL"], [
        [short_id(s["id"]), s["createdAt"][:16].replace("T", " "), s["type"], s["status"],
         _size(s["sizeBytes"]), "yes" if s.get("verified") else "no", s["label"]]
        for s in listing["snapshots"]])
    click.echo(f"{listing['snapshotCount']} snapshots, {_size(listing['totalBytes'])}", err=True)


@snapshot.command("restore")
@click.argument("snapshot_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def restore_snapshot(ctx: click.Context, snapshot_id: str, yes: bool) -> None:
    """Replace ALL data with SNAPSHOT_ID's (full id or unique prefix); a pre-restore snapshot is taken first."""
    client = Client.from_context(ctx)
    snap = by_prefix(client.get("/api/snapshots")["snapshots"], snapshot_id, "snapshot")
    if not yes:
        click.confirm(f"Replace all current data with snapshot {short_id(snap['id'])} "
                      f"({snap['label']}, {snap['createdAt'][:16]})?", abort=True)
    client.http.timeout = SLOW
    result = client.post(f"/api/snapshots/{snap['id']}/restore")
    click.echo(result["message"])
    click.echo(f"Pre-restore snapshot: {result['preRestoreSnapshotId']}", err=True)
