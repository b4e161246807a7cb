"""/api/workflows: the catalog's 11 endpoints, plus GET one workflow, cancel, the checkpoint
answer, the progress stream and the triggers (extensions, docs/decisions/013-workflows.md and
014). Errors are plain sentences (see _surface).

`triggers.routes` is not in `routes`: api/__init__ lists it before the blueprints and these,
so /api/workflows/hooks/{token} is matched before /api/workflows/{id}/….
"""

from starlette.routing import Route

from . import definitions, documents, runs, stream, triggers

routes = [
    Route("/api/workflows", definitions.list_workflows, methods=["GET"]),
    Route("/api/workflows", definitions.create_workflow, methods=["POST"]),
    Route("/api/workflows/from-assist", definitions.from_assist, methods=["POST"]),
    Route("/api/workflows/{id}", definitions.get_workflow, methods=["GET"]),
    Route("/api/workflows/{id}", definitions.update_workflow, methods=["PATCH"]),
    Route("/api/workflows/{id}", definitions.delete_workflow, methods=["DELETE"]),
    Route("/api/workflows/{id}/execute", runs.execute_workflow, methods=["POST"]),
    Route("/api/workflows/{id}/status", runs.workflow_status, methods=["GET"]),
    Route("/api/workflows/{id}/documents", documents.list_documents, methods=["GET"]),
    Route("/api/workflows/{id}/documents", documents.attach_documents, methods=["POST"]),
    Route("/api/workflows/{id}/documents", documents.detach_documents, methods=["DELETE"]),
    Route("/api/workflows/{id}/steps/{step_id}/retry", runs.retry_step, methods=["POST"]),
    Route("/api/workflows/{id}/cancel", runs.cancel_workflow, methods=["POST"]),
    Route("/api/workflows/{id}/respond", runs.respond_checkpoint, methods=["POST"]),
    *stream.routes,
]

__all__ = ["routes", "triggers"]
