"""POST /api/tasks/{id}/output/document: keep a task's final output as an output document
(extension, docs/decisions/023b-documents-in-runs.md)."""

from __future__ import annotations

from starlette.routing import Route

from ..engine.agent.document_tools import save_text_document
from ..errors import Conflict
from ..store import tasks as task_store
from ._http import Out, endpoint, ok


class SavedOutputOut(Out):
    id: str
    originalName: str
    version: int
    direction: str
    status: str


@endpoint(response=SavedOutputOut, errors=(404, 409))
async def save_task_output(request):
    """The task's result as a Markdown output document named after the task (its next version
    in the task's project); 409 when the task has no result yet."""
    db = request.app.state.db
    task = await task_store.get_task_row(db, request.path_params["id"])
    if task["status"] != "completed" or not (task.get("result") or "").strip():
        raise Conflict("The task has no output to save yet; run it to completion first.")
    name = f"{task['title'].replace('/', '-')}.md"
    document = await save_text_document(db, name, task["result"], project_id=task.get("projectId"),
                                        task_id=task["id"], source="task")
    return ok(document, 201)


routes = [Route("/api/tasks/{id}/output/document", save_task_output, methods=["POST"])]
