"""Profile suggestions from a scan (flat or in curated/discovered tiers) and creating one."""

from __future__ import annotations

from pydantic import Field
from starlette.routing import Route

from ...engine.environment import suggestions as engine
from ...engine.profiles.registry import ProfileRegistry
from ...store import environment as store
from .._http import Body, Out, endpoint, ok, read_body, read_query
from ._common import db, scan_or_latest


class SuggestQuery(Body):
    scan_id: str | None = Field(default=None, max_length=100)
    tiered: str | None = Field(default=None, max_length=10)


class Suggestion(Body):
    rule_id: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    system_prompt: str | None = Field(default=None, max_length=20000)
    suggested_tools: list[str] | None = Field(default=None, max_length=100)
    tags: list[str] | None = Field(default=None, max_length=100)


class Overrides(Body):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    system_prompt: str | None = Field(default=None, max_length=20000)


class CreateBody(Body):
    suggestion: Suggestion
    overrides: Overrides | None = None


class CreatedOut(Out):
    message: str
    profileId: str


@endpoint(query=SuggestQuery, response=dict, errors=(400,))
async def suggest_profiles(request):
    """Agent profiles the scan's artifacts suggest; `tiered=true` splits curated and discovered."""
    query = read_query(request, SuggestQuery)
    scan = await scan_or_latest(request, query.scan_id)
    artifacts = await store.list_artifacts(db(request), scan["id"]) if scan else []
    existing = {p["id"] for p in await ProfileRegistry(db(request)).list("all")}
    curated, discovered = engine.suggest(artifacts, existing)
    if (query.tiered or "").lower() == "true":
        return ok({"curated": curated, "discovered": discovered, "curatedCount": len(curated),
                   "discoveredCount": len(discovered)})
    return ok({"suggestions": curated + discovered, "count": len(curated) + len(discovered)})


@endpoint(body=CreateBody, response=CreatedOut, status=201, errors=(400,))
async def create_profile(request):
    """Turn a suggestion into the user profile `env-<ruleId>`; 400 when it exists or is invalid."""
    body = await read_body(request, CreateBody, plain=True)
    suggestion = body.suggestion.model_dump(by_alias=True)
    overrides = body.overrides.model_dump(by_alias=True, exclude_none=True) if body.overrides else {}
    profile_id = await engine.create_profile(ProfileRegistry(db(request)), suggestion, overrides)
    return ok({"message": f"Profile {profile_id} created", "profileId": profile_id}, 201)


routes = [
    Route("/api/environment/profiles/suggest", suggest_profiles, methods=["GET"]),
    Route("/api/environment/profiles/create", create_profile, methods=["POST"]),
]
