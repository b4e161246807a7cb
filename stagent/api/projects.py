"""/api/projects: 7 endpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from starlette.routing import Route

from ..errors import Invalid
from ..store import projects as store
from ._http import Body, Out, endpoint, ok, read_body, validate_body


class ProjectCreate(Body):
    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    working_directory: str | None = Field(default=None, max_length=500)
    document_ids: list[str] | None = None  # extension: its default documents, as PATCH sets them


class ProjectUpdate(Body):
    # Zod `.optional()`: name and status may be left out but never sent as null (NOT NULL columns).
    name: str = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    working_directory: str | None = Field(default=None, max_length=500)
    status: Literal["active", "paused", "completed"] = None
    document_ids: list[str] | None = None


class DocumentIds(Body):
    document_ids: list[str]


class ProjectOut(Out):
    id: str
    name: str
    description: str | None
    workingDirectory: str | None
    status: str
    createdAt: str
    updatedAt: str


@endpoint(response=list[ProjectOut])
async def list_projects(request):
    """List projects with task counts, oldest first."""
    return ok(await store.list_projects(request.app.state.db))


@endpoint(body=ProjectCreate, response=ProjectOut, status=201, errors=(400,))
async def create_project(request):
    """Create a project."""
    body = await read_body(request, ProjectCreate)
    return ok(await store.create_project(request.app.state.db, body.given()), 201)


@endpoint(response=ProjectOut, errors=(404,))
async def get_project(request):
    """Get one project."""
    return ok(await store.get_project(request.app.state.db, request.path_params["id"]))


@endpoint(body=ProjectUpdate, response=ProjectOut, errors=(400, 404))
async def update_project(request):
    """Update a project; documentIds replaces its default documents."""
    body = await read_body(request, ProjectUpdate)
    return ok(await store.update_project(request.app.state.db, request.path_params["id"], body.given()))


@endpoint(errors=(404,))
async def delete_project(request):
    """Delete a project and everything under it."""
    await store.delete_project(request.app.state.db, request.path_params["id"])
    return ok({"success": True})


@endpoint()
async def list_project_documents(request):
    """Default documents bound to the project."""
    return ok(await store.list_project_documents(request.app.state.db, request.path_params["id"]))


@endpoint(body=DocumentIds, errors=(400, 404))
async def set_project_documents(request):
    """Replace the project's default document set."""
    data = await read_body(request, not_object="documentIds must be an array")
    if not isinstance(data.get("documentIds"), list) or not all(isinstance(i, str) for i in data["documentIds"]):
        raise Invalid("documentIds must be an array")
    body = validate_body(DocumentIds, data)
    project_id = request.path_params["id"]
    count = await store.set_project_documents(request.app.state.db, project_id, body.document_ids)
    return ok({"updated": count, "projectId": project_id})


routes = [
    Route("/api/projects", list_projects, methods=["GET"]),
    Route("/api/projects", create_project, methods=["POST"]),
    Route("/api/projects/{id}", get_project, methods=["GET"]),
    Route("/api/projects/{id}", update_project, methods=["PATCH"]),
    Route("/api/projects/{id}", delete_project, methods=["DELETE"]),
    Route("/api/projects/{id}/documents", list_project_documents, methods=["GET"]),
    Route("/api/projects/{id}/documents", set_project_documents, methods=["PUT"]),
]
