"""/api/permissions: the allow-list and its presets (6), plus the approval settings (extension):
the timeout and the channels that get permission requests (engine/channel_approvals.py).

`projectId` or `profileId` (query on GET, body on POST/DELETE) address that project's or
profile's additions instead of the global list (an extension; the catalog has one list).
"""

from __future__ import annotations

from pydantic import Field
from starlette.routing import Route

from ..engine.channels import approvals as channel_approvals
from ..engine.governance import permission_patterns as patterns
from ..engine.governance.permissions import DEFAULT_TIMEOUT_SECONDS
from ..errors import Invalid, NotFound
from ..store import permissions as store
from ._http import Body, Out, endpoint, ok, read_body

MAX_TIMEOUT_SECONDS = 7 * 24 * 3600
MAX_APPROVAL_CHANNELS = 50


class PatternIn(Body):
    pattern: str
    project_id: str | None = None
    profile_id: str | None = None


class PresetIn(Body):
    preset_id: str
    project_id: str | None = None
    profile_id: str | None = None


class ScopeQuery(Body):
    project_id: str | None = None
    profile_id: str | None = None


class PermissionsOut(Out):
    permissions: list[str]


class PresetOut(Out):
    id: str
    name: str
    description: str
    risk: str
    patterns: list[str]
    active: bool


class PresetsOut(Out):
    presets: list[PresetOut]


class SuccessOut(Out):
    success: bool


class ApprovalSettings(Body):
    # Optional, but never null; a field not sent keeps its value.
    request_timeout_seconds: float = Field(default=None, gt=0, le=MAX_TIMEOUT_SECONDS)
    approval_channels: list[str] = Field(default=None, max_length=MAX_APPROVAL_CHANNELS)


class ApprovalSettingsOut(Out):
    requestTimeoutSeconds: float
    approvalChannels: list[str]


def _db(request):
    return request.app.state.db


def _key(data: dict) -> str:
    project, profile = data.get("projectId"), data.get("profileId")
    for name, value in (("projectId", project), ("profileId", profile)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise Invalid(f"{name} must be a non-empty string")
    if project and profile:
        raise Invalid("Send projectId or profileId, not both")
    return store.allow_key(project, profile)


async def _pattern_body(request, *, new: bool) -> tuple[str, str]:
    """(pattern, settings key). A `new` pattern must be valid; one to remove need only be a
    string, so anything stored (empty, malformed, too long) can still be removed."""
    data = await read_body(request, not_object="pattern (string) is required")
    pattern = data.get("pattern")
    if not isinstance(pattern, str) or (new and not pattern.strip()):
        raise Invalid("pattern (string) is required")
    if new:
        try:
            pattern = patterns.validate(pattern)
        except patterns.PatternError:
            raise Invalid(f"Invalid pattern: {pattern.strip()[:100]!r}. Use Tool, Tool(*), Tool(field:value) "
                          f"or Tool(value), at most {patterns.MAX_PATTERN} characters") from None
    return pattern, _key(data)


async def _preset_body(request) -> tuple[patterns.Preset, str]:
    data = await read_body(request, not_object="presetId (string) is required")
    preset_id = data.get("presetId")
    if not isinstance(preset_id, str) or not preset_id:
        raise Invalid("presetId (string) is required")
    key = _key(data)
    preset = patterns.PRESETS_BY_ID.get(preset_id)
    if preset is None:
        raise NotFound(f"Unknown preset: {preset_id}")
    return preset, key


@endpoint(query=ScopeQuery, response=PermissionsOut, errors=(400,))
async def list_permissions(request):
    """The allow-list (global, or a project's/profile's additions)."""
    key = _key(dict(request.query_params))
    return ok({"permissions": await store.get_allow(_db(request), key)})


@endpoint(body=PatternIn, response=SuccessOut, errors=(400,))
async def add_permission(request):
    """Add a pattern (no duplicates)."""
    pattern, key = await _pattern_body(request, new=True)
    await store.update_allow(_db(request), key, lambda current: current if pattern in current else [*current, pattern])
    return ok({"success": True})


@endpoint(body=PatternIn, response=SuccessOut, errors=(400,))
async def remove_permission(request):
    """Remove a pattern (JSON body on DELETE): the exact string, or the form POST stored it in."""
    pattern, key = await _pattern_body(request, new=False)
    await store.update_allow(_db(request), key,
                             lambda current: [p for p in current if p not in (pattern, pattern.strip())])
    return ok({"success": True})


@endpoint(query=ScopeQuery, response=PresetsOut, errors=(400,))
async def list_presets(request):
    """The presets; a preset is active when every one of its patterns is allowed."""
    allow = await store.get_allow(_db(request), _key(dict(request.query_params)))
    return ok({"presets": [{"id": p.id, "name": p.name, "description": p.description, "risk": p.risk,
                            "patterns": list(p.patterns), "active": patterns.preset_active(p, allow)}
                           for p in patterns.PRESETS]})


@endpoint(body=PresetIn, response=SuccessOut, errors=(400, 404))
async def enable_preset(request):
    """Add a preset's patterns."""
    preset, key = await _preset_body(request)
    await store.update_allow(_db(request), key,
                             lambda current: [*current, *(p for p in preset.patterns if p not in current)])
    return ok({"success": True})


@endpoint(body=PresetIn, response=SuccessOut, errors=(400, 404))
async def disable_preset(request):
    """Remove a preset's patterns, except those another active preset still needs."""
    preset, key = await _preset_body(request)

    def change(current: list[str]) -> list[str]:
        kept = {p for other in patterns.PRESETS if other.id != preset.id and patterns.preset_active(other, current)
                for p in other.patterns}
        return [p for p in current if p not in preset.patterns or p in kept]

    await store.update_allow(_db(request), key, change)
    return ok({"success": True})


async def _approval_settings(db) -> dict:
    return {"requestTimeoutSeconds": await store.timeout_seconds(db, DEFAULT_TIMEOUT_SECONDS),
            "approvalChannels": await channel_approvals.approval_channels(db)}


@endpoint(response=ApprovalSettingsOut)
async def get_approval_settings(request):
    """How long a permission request waits for an answer before it is denied, and the channels
    it is sent to (extension)."""
    return ok(await _approval_settings(_db(request)))


@endpoint(body=ApprovalSettings, response=ApprovalSettingsOut, errors=(400,))
async def set_approval_settings(request):
    """Set the approval timeout and/or the approval channels (400 for an unknown channel id);
    they apply to requests made from now on (extension)."""
    body = await read_body(request, ApprovalSettings)
    fields = body.given()
    if "approval_channels" in fields:  # first: a refused id saves nothing
        await channel_approvals.set_approval_channels(_db(request), fields["approval_channels"])
    if "request_timeout_seconds" in fields:
        await store.set_timeout_seconds(_db(request), fields["request_timeout_seconds"])
    return ok(await _approval_settings(_db(request)))


routes = [
    Route("/api/permissions", list_permissions, methods=["GET"]),
    Route("/api/permissions", add_permission, methods=["POST"]),
    Route("/api/permissions", remove_permission, methods=["DELETE"]),
    Route("/api/permissions/presets", list_presets, methods=["GET"]),
    Route("/api/permissions/presets", enable_preset, methods=["POST"]),
    Route("/api/permissions/presets", disable_preset, methods=["DELETE"]),
    Route("/api/permissions/settings", get_approval_settings, methods=["GET"]),
    Route("/api/permissions/settings", set_approval_settings, methods=["PUT"]),
]
