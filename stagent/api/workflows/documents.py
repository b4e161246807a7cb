"""/api/workflows/{id}/documents: the documents bound to a workflow or to one of its steps."""

from __future__ import annotations

from pydantic import Field

from ...errors import Invalid
from ...store import workflow_runs as runs
from ...store import workflows as store
from .._http import Body, Out, endpoint, ok
from ._surface import checked, db, path_id, read, workflow

DOCUMENT_IDS_REQUIRED = "documentIds must be a non-empty array"


class DocumentsIn(Body):
    document_ids: list[str] = Field(min_length=1)
    step_id: str | None = None


class DocumentsOut(Body):
    document_ids: list[str] | None = None
    step_id: str | None = None


class AttachedOut(Out):
    attached: int
    workflowId: str
    stepId: str | None


class OkOut(Out):
    ok: bool


@endpoint(response=list[dict], errors=(404,))
async def list_documents(request):
    """Document bindings of the workflow (of any of its steps too); 404 for an unknown workflow."""
    workflow_id = path_id(request)

    def bindings(conn):
        runs.raw_in(conn, workflow_id)  # NotFound: "Workflow not found"
        return runs.bindings_in(conn, workflow_id)

    return ok(await db(request).read(bindings))


@endpoint(body=DocumentsIn, response=AttachedOut, status=201, errors=(400, 404))
async def attach_documents(request):
    """Bind documents to the workflow, or to one step; 404 names the documents that do not exist."""
    data = await read(request, not_object=DOCUMENT_IDS_REQUIRED)
    if not isinstance(data.get("documentIds"), list) or not data["documentIds"]:
        raise Invalid(DOCUMENT_IDS_REQUIRED)
    body = checked(DocumentsIn, data)
    current = await workflow(request, path_id(request))
    if body.step_id is not None and body.step_id not in {
            s.get("id") for s in store.parse_stored(current["definition"])["steps"]}:
        raise Invalid(f"Unknown step '{body.step_id}'")
    ids = list(dict.fromkeys(body.document_ids))
    await db(request).write(lambda conn: runs.attach_in(conn, current["id"], ids, body.step_id))
    return ok({"attached": len(ids), "workflowId": current["id"], "stepId": body.step_id}, 201)


@endpoint(body=DocumentsOut, response=OkOut, errors=(400, 404))
async def detach_documents(request):
    """Unbind the given documents (of one step, with stepId); an empty body unbinds all. 404 for
    an unknown workflow."""
    body = await read(request, DocumentsOut)
    workflow_id = path_id(request)

    def detach(conn):
        runs.raw_in(conn, workflow_id)  # NotFound: "Workflow not found"
        runs.detach_in(conn, workflow_id, body.document_ids, body.step_id)

    await db(request).write(detach)
    return ok({"ok": True})
