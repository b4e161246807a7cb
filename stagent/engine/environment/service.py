"""The Environment domain's operations, over the store and the blocking modules (scanner,
sync file work run in threads; git as subprocesses): scan, summary with health, stale
re-scan, sync preview and apply.

Invariant: a sync writes nothing before its pre-sync checkpoint is recorded, and every
operation it was asked for ends as one `environment_sync_ops` row (applied or failed).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ...db import Database
from ...errors import Invalid
from ...store import environment as store
from ..supervisor import Supervisor
from . import checkpoints, health, scanner, sync

STALE_AFTER = timedelta(minutes=5)
log = logging.getLogger("stagent.environment")


PROJECT_DIR_ENV = "STAGENT_PROJECT_DIR"


def project_path(raw: str | None) -> Path:
    """The project directory to scan: the given absolute, existing folder, else
    $STAGENT_PROJECT_DIR, else the directory the daemon was started in."""
    if not raw:
        return Path(os.environ.get(PROJECT_DIR_ENV) or os.getcwd())
    path = Path(raw).expanduser()
    if not path.is_absolute():
        raise Invalid("projectDir must be an absolute path")
    try:
        if path.is_dir():
            return path
    except (OSError, ValueError):  # a NUL byte, a name too long
        pass
    raise Invalid(f"projectDir {raw} is not a folder")


async def run_scan(db: Database, project_dir: Path, project_id: str | None = None) -> dict:
    home = scanner.home_dir()
    result = await asyncio.to_thread(scanner.scan, home, project_dir)
    artifacts = result["artifacts"]
    log.info("environment scan of %s (home %s): %d artifacts, %d problems, %d ms", project_dir, home,
             len(artifacts), len(result["errors"]), result["durationMs"])
    persona = sorted({a["tool"] for a in artifacts})
    scan_id = await store.insert_scan(db, {
        "project_id": project_id, "scan_path": str(project_dir), "home_path": str(home), "persona": persona,
        "status": "completed", "duration_ms": result["durationMs"], "errors": result["errors"]}, artifacts)
    return await store.get_scan(db, scan_id)


async def summary(db: Database, scan: dict) -> dict:
    categories, tools = await store.counts(db, scan["id"])
    artifacts = await store.list_artifacts(db, scan["id"])
    errors = len(_errors(scan))
    return {"totalArtifacts": scan["artifactCount"], "personas": sorted(tools), "categoryCounts": categories,
            "toolCounts": tools, "durationMs": scan["durationMs"], "errors": errors,
            "health": health.score(artifacts, status=scan["scanStatus"], errors=errors, scanned_at=scan["scannedAt"])}


def _errors(scan: dict) -> list:
    try:
        return json.loads(scan.get("errors") or "[]")
    except ValueError:
        return []


def rescan_if_stale(db: Database, supervisor: Supervisor, scan: dict) -> bool:
    """Start a background re-scan of the scan's project when it is older than five minutes."""
    scanned = datetime.fromisoformat(scan["scannedAt"].replace("Z", "+00:00"))
    name = f"environment-scan:{scan['scanPath']}"
    if datetime.now(UTC) - scanned < STALE_AFTER or supervisor.running(name):
        return False
    project = Path(scan["scanPath"])
    if not project.is_dir():
        return False
    supervisor.start(name, run_scan(db, project, scan.get("projectId")))
    return True


async def _plans(db: Database, operations: list[dict]) -> tuple[list[sync.Plan], Path | None]:
    plans, project = [], None
    for request in operations:
        artifact = await store.get_artifact(db, request["artifact_id"])
        if artifact is None:
            raise Invalid(f"operations: artifact {request['artifact_id']} not found")
        scan = await store.get_scan(db, artifact["scanId"])
        home, project = Path(scan["homePath"]), Path(scan["scanPath"])
        target = sync.check_request(request, artifact, home, project)
        plans.append(sync.Plan(request, artifact, target))
    return plans, project


async def preview(db: Database, operations: list[dict]) -> dict:
    plans, _ = await _plans(db, operations)
    previews, _ = await asyncio.to_thread(sync.plan_all, plans)
    return {"previews": previews, "summary": sync.summary(previews)}


async def apply(db: Database, data_dir: Path, operations: list[dict], label: str | None) -> dict:
    plans, project = await _plans(db, operations)
    disk = await asyncio.to_thread(lambda: {p.target: sync.file_hash(sync._read(p.target)) for p in plans})
    ready, outcomes = [], {}
    for plan in plans:
        expected = plan.request.get("target_hash")
        if expected is not None and expected != (disk[plan.target] or ""):
            outcomes[id(plan)] = "conflict: the target file changed since the preview; preview again"
        else:
            ready.append(plan)
    previews, contents = await asyncio.to_thread(sync.plan_all, ready)
    for plan in ready:
        if plan.error:
            outcomes[id(plan)] = plan.error
    # A file is written only with every operation on it well formed: drop the content of a
    # file one of whose operations failed to build.
    failed_files = {p.target for p in ready if p.error}
    contents = {path: data for path, data in contents.items() if path not in failed_files}
    paths = checkpoints.global_paths(Path(scanner.home_dir()), None) + [p.target for p in plans]
    checkpoint = await checkpoints.create(
        db, data_dir, label=label or f"Sync {len(plans)} artifact(s)", checkpoint_type="pre-sync",
        paths=paths, project_dir=project)
    written = await asyncio.to_thread(sync.write_files, contents)
    by_plan = {id(p): v for p, v in zip(ready, previews, strict=True)}
    results, rows = [], []
    for plan in plans:
        error = outcomes.get(id(plan)) or (written.get(plan.target) if id(plan) in by_plan else None)
        if id(plan) in by_plan and plan.target in failed_files and not error:
            error = "not written: another operation on the same file failed"
        status = "failed" if error else "applied"
        result = {"artifactId": plan.artifact["id"], "status": status, "targetPath": str(plan.target)}
        if error:
            result["error"] = error
        if error and error.startswith("conflict"):
            result["conflict"] = True
        results.append(result)
        preview_item = by_plan.get(id(plan))
        rows.append({"artifact_id": plan.artifact["id"], "operation": plan.request["operation"],
                     "target_tool": plan.request["target_tool"], "target_path": str(plan.target),
                     "diff_preview": sync.stored_diff(preview_item) if preview_item else None,
                     "status": status, "error": error})
    await store.add_sync_ops(db, checkpoint["id"], rows)
    applied = sum(r["status"] == "applied" for r in results)
    return {"checkpointId": checkpoint["id"], "operations": results,
            "summary": {"applied": applied, "failed": len(results) - applied, "total": len(results)}}
