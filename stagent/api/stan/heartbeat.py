"""/api/v1/stan/heartbeat: the Stan heartbeat's configuration, an on-demand run, and its history.

Every route needs the `stan:execute` scope; errors use the Stan envelope (decision 005).
The checks themselves live in stagent/engine/heartbeat_checks.py (decision 006).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from starlette.routing import Route

from ...engine.schedules import heartbeat as heartbeat
from ...engine.schedules.heartbeat import alert_channels
from ...store import channels as channel_store
from .._http import Body, Int, Out, endpoint, ok, read_body, read_query

AUTH_ERRORS = (401, 403)
Status = Literal["ok", "warn", "error"]


class HeartbeatIn(Body):
    enabled: bool = None
    checks: list[str] = Field(default=None, max_length=16, json_schema_extra={
        "items": {"type": "string", "enum": list(heartbeat.AVAILABLE_CHECKS)}})
    interval_minutes: Int = Field(default=None, ge=heartbeat.MIN_INTERVAL_MINUTES, le=heartbeat.MAX_INTERVAL_MINUTES)
    delivery_channels: list[str] = Field(default=None, max_length=20)  # extension: where alerts go

    @field_validator("checks")
    @classmethod
    def _known(cls, checks: list[str]) -> list[str]:
        unknown = [c for c in checks if c not in heartbeat.AVAILABLE_CHECKS]
        if unknown:
            raise ValueError(f"Unknown check '{unknown[0]}'. Available checks: "
                             f"{', '.join(heartbeat.AVAILABLE_CHECKS)}")
        return checks


class HeartbeatOut(Out):
    enabled: bool
    deliveryChannels: list[str]
    checks: list[str]
    intervalMinutes: int
    availableChecks: list[str]


class CheckResultOut(Out):
    check: str
    status: Status
    message: str


class RunOut(Out):
    results: list[CheckResultOut]
    issues: list[CheckResultOut]
    healthy: bool


class RunRecordOut(RunOut):
    id: str
    startedAt: str
    finishedAt: str
    trigger: Literal["manual", "scheduled"]


class HistoryQuery(Body):
    limit: Int = Field(default=20, ge=1, le=100)


@endpoint(response=HeartbeatOut, errors=AUTH_ERRORS)
async def get_heartbeat(request):
    """The heartbeat configuration and every check it can run."""
    return ok(await heartbeat.load_config(request.app.state.db))


@endpoint(body=HeartbeatIn, response=HeartbeatOut, errors=AUTH_ERRORS)
async def update_heartbeat(request):
    """Change enabled, checks and/or intervalMinutes (at least 5); returns the whole configuration."""
    body = await read_body(request, HeartbeatIn)
    state = request.app.state
    if body.delivery_channels:
        await channel_store.require_ids(state.db, body.delivery_channels)
    config = await heartbeat.save_config(state.db, enabled=body.enabled, checks=body.checks,
                                         interval_minutes=body.interval_minutes,
                                         delivery_channels=body.delivery_channels)
    state.scheduler.wake(heartbeat_config_changed=True)  # the next tick follows the new interval
    return ok(config)


@endpoint(response=RunOut, errors=AUTH_ERRORS)
async def run_heartbeat(request):
    """Run the configured checks now (models are probed) and return the results."""
    state = request.app.state
    return ok(await heartbeat.run_stan_heartbeat(state.db, trigger="manual", models_probe=True,
                                                 events=state.events, on_alert=alert_channels(state.channels)))


@endpoint(query=HistoryQuery, response=list[RunRecordOut], errors=(400, *AUTH_ERRORS))
async def list_heartbeat_runs(request):
    """The last heartbeat runs, newest first (limit 1-100, default 20)."""
    query = read_query(request, HistoryQuery)
    return ok(await heartbeat.list_runs(request.app.state.db, query.limit))


routes = [
    Route("/api/v1/stan/heartbeat", get_heartbeat, methods=["GET"]),
    Route("/api/v1/stan/heartbeat", update_heartbeat, methods=["PUT"]),
    Route("/api/v1/stan/heartbeat/run", run_heartbeat, methods=["POST"]),
    Route("/api/v1/stan/heartbeat/history", list_heartbeat_runs, methods=["GET"]),
]
