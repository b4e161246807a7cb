"""/api/environment: 17 endpoints (stagent-api §2.18), one module per part. Behaviour is in
engine/environment/; secrets in configs are masked in every answer."""

from __future__ import annotations

from . import checkpoints, scan, suggestions, sync, templates

routes = [*scan.routes, *checkpoints.routes, *suggestions.routes, *sync.routes, *templates.routes]
