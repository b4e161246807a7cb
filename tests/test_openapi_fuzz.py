"""Property-based fuzzing of the whole HTTP API from its own /api/openapi.json.

Every operation the document lists is fuzzed against the real daemon (uvicorn, SQLite), so a
route added to `stagent.api.routes` joins by being described there; nothing here lists routes.

For each operation:
- schemathesis' coverage cases (boundary values, missing/extra/wrong-typed fields, methods the
  path does not declare), positive and negative, deterministic by construction;
- Hypothesis-generated positive and negative cases with random path ids (the 404 paths);
- coverage and generated positive cases again against a real resource, when the collection
  above `{id}` can create one (the `id` of a 201 from `POST <collection>`): the update/delete paths.

Checks: no 5xx; the status is one the operation documents; the content type is the documented
one; the body conforms to the documented schema; negative data is rejected with a 4xx; an
undeclared method gets 405 with an `Allow` header.
`positive_data_acceptance` is left out on purpose: a schema-valid request may still be refused
for a documented reason (a projectId that does not exist, an illegal status transition → 400).

Left out: operations whose success content is `text/event-stream`, because the streams never
end. The SSE routes have their own tests (tests/api/test_logs.py).
Kept in, deliberately: POST /api/tasks/{id}/execute and /resume. The fuzzer reaches a real task
only through the seeded id, which is `planned` (execute → the documented 400) and has no
session (resume → 400); and with no provider configured (the hermetic env) an execute fails
fast with 400 anyway. Any other id is a 404.

Every request carries the daemon's own Host (requests' default, 127.0.0.1:<port>), no Origin,
and the full-scope API key, so /api/keys is fuzzed past its scope check and a fuzzed security
setting cannot lock later cases out.

The operations are fuzzed in SHARDS test items, each on a fresh daemon, every operation in
exactly one of them.

Deterministic: derandomized Hypothesis, no example database, no shrinking (each failure is
reported as found), a bounded number of examples per operation.
"""

from __future__ import annotations

import os
import re

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis.errors import NoSuchExample, Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.generation.drivers import CoverageGenerator
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.generation.overrides import Override
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from tests.conftest import Daemon

# Generated cases per operation and mode, on top of the coverage cases. CI runs 10 (generating
# them is most of the fuzzer's CPU time, and there are ~300 operations); set
# STAGENT_FUZZ_EXAMPLES for a deeper local run.
MAX_EXAMPLES = int(os.environ.get("STAGENT_FUZZ_EXAMPLES", "10"))
REQUEST_TIMEOUT = 15  # seconds; a hung request is a failure, not a stalled suite
# The operations are split over this many test items (each on its own daemon), so pytest-xdist
# spreads the fuzzing over its workers.
SHARDS = 12
BOTH = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]

# A profile of its own, used explicitly (not loaded), so other Hypothesis tests keep theirs.
settings.register_profile(
    "stagent-fuzz",
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,  # real HTTP and SQLite: time is not a property under test
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)
FUZZ = settings.get_profile("stagent-fuzz")
# Negative cases cost Hypothesis several draws each (most drafts are filtered out as still valid),
# and the coverage phase already sends the systematic ones (each field missing, mistyped, extra).
FUZZ_NEGATIVE = settings(FUZZ, max_examples=max(1, MAX_EXAMPLES // 3))


def no_server_error(ctx, response, case):
    """not_a_server_error, except a 502 the operation documents: the daemon reporting that a
    service the user configured (Ollama, a provider) cannot be reached is a correct answer."""
    if response.status_code == 502 and "502" in case.operation.definition.raw.get("responses", {}):
        return None
    return not_a_server_error(ctx, response, case)


# negative_data_rejection and unsupported_method only judge the cases they are about.
CHECKS = [no_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, negative_data_rejection, unsupported_method]


def _is_stream(operation) -> bool:
    return any("text/event-stream" in (response.get("content") or {})
               for response in operation.definition.raw.get("responses", {}).values())


def _creates(operation) -> bool:
    return "201" in operation.definition.raw.get("responses", {})


# Collections whose create needs a field generated text almost never satisfies.
SEED_BODIES = {
    "/api/schedules": {"name": "fuzz", "interval": "every 15 minutes", "prompt": "p"},
    "/api/blueprints": {"yaml": "{id: fuzz, name: F, version: 1.0.0, pattern: sequence, steps: [{name: s, profileId: g, promptTemplate: p}]}"},
    "/api/workflows": {"name": "fuzz", "definition": {"pattern": "sequence", "steps": [
        {"id": "s1", "name": "Step", "prompt": "p"}]}},
    "/api/v1/stan/tasks": {"name": "fuzz", "action": "audit_workflows", "schedule": "0 9 * * *", "modelId": "sonnet"},
    # both profiles must exist, which random text never names (pending: no task starts)
    "/api/handoffs": {"fromProfileId": "general", "toProfileId": "researcher", "subject": "s", "body": "b",
                      "requiresApproval": True},
    # a template captures a scan, which must exist first (answer: {template: {id, ...}})
    "/api/environment/templates": lambda fuzzer: {"name": "fuzz", "scanId": fuzzer.session.post(
        fuzzer.base_url + "/api/environment/scan", json={}, timeout=REQUEST_TIMEOUT).json()["scan"]["id"]},
}

# Collections whose resources are made by uploading a file (multipart), not by a JSON body.
SEED_BY_UPLOAD = {"/api/documents", "/api/uploads"}


class Fuzzer:
    def __init__(self, daemon):
        self.schema = schemathesis.openapi.from_url(daemon.url + "/api/openapi.json")
        self.base_url = daemon.url
        self.session = requests.Session()
        self.session.headers["X-API-Key"] = daemon.api_key
        self.session.headers["X-Workspace-Id"] = "default"  # the Lars routes need it
        self.failures: list[str] = []
        self.cases = 0
        self.operations = {}
        for result in self.schema.get_all_operations():
            operation = result.ok()  # an unresolvable operation is a broken document: raise
            self.operations[(operation.method.upper(), operation.path)] = operation

    def call(self, case):
        self.cases += 1
        response = case.call(session=self.session, timeout=REQUEST_TIMEOUT)
        case.validate_response(response, checks=CHECKS)
        return response

    def _record(self, label: str, exc: BaseException) -> None:
        self.failures.append(f"{label}: {type(exc).__name__}: {exc}")

    def coverage(self, label: str, operation, modes, override: Override | None = None) -> None:
        generator = CoverageGenerator(
            operation=operation, generation_modes=modes,
            generation_config=self.schema.config.generation_for(operation=operation, phase="coverage"),
            auth_storage=None, override=override or Override(), feedback=FeedbackSources())
        for case in generator:
            try:
                self.call(case)
            except (Exception, FailureGroup) as exc:
                self._record(f"{label} [coverage]", exc)
                return  # one report per operation and phase

    def generate(self, label: str, strategy, profile=FUZZ) -> None:
        @profile
        @given(case=strategy)
        def fuzz(case):
            self.call(case)

        try:
            fuzz()
        except Unsatisfiable:
            pass  # nothing to negate (e.g. only string path params): no negative case exists
        except (Exception, FailureGroup) as exc:
            self._record(label, exc)

    def seed_id(self, path: str) -> str | None:
        """A real id for `{id}` in `path`, created through the collection's POST, if it has one."""
        collection = self.operations.get(("POST", path.split("/{id}", 1)[0]))
        if collection is None or not _creates(collection):
            return None
        created: dict = {}
        if collection.path in SEED_BY_UPLOAD:
            response = self.session.post(self.base_url + "/api/uploads", files={"file": ("fuzz.txt", b"fuzz")},
                                         timeout=REQUEST_TIMEOUT)
            return response.json()["id"] if response.status_code == 201 else None
        if collection.path in SEED_BODIES:  # random text rarely parses as a schedule
            body = SEED_BODIES[collection.path]
            response = self.session.post(self.base_url + collection.path,
                                         json=body(self) if callable(body) else body, timeout=REQUEST_TIMEOUT)
            if response.status_code != 201:
                return None
            data = response.json()  # {id, ...} or {<resource>: {id, ...}}
            return data.get("id") or next((v["id"] for v in data.values() if isinstance(v, dict) and "id" in v), None)

        def creates(case) -> bool:
            response = self.call(case)
            body = response.json() if response.status_code == 201 else None
            if isinstance(body, dict) and isinstance(body.get("id"), str):
                created["id"] = body["id"]
                return True
            return False

        try:
            find(collection.as_strategy(), creates,
                 settings=settings(FUZZ, phases=[Phase.generate], max_examples=50))
        except NoSuchExample:
            self.failures.append(f"POST {collection.path}: no generated case created a resource")
        except (Exception, FailureGroup) as exc:
            # find() replays the case that matched; a collection with unique names answers the
            # replay 409 and find() calls that flaky, but the resource was created all the same.
            if "id" not in created:
                self._record(f"POST {collection.path} [seeding an id]", exc)
        return created.get("id")

    def fuzz(self, method: str, path: str, operation) -> None:
        label = f"{method} {path}"
        self.coverage(label, operation, BOTH)
        self.generate(f"{label} [positive]", operation.as_strategy())
        self.generate(f"{label} [negative]", operation.as_strategy(GenerationMode.NEGATIVE), FUZZ_NEGATIVE)
        if re.search(r"/\{id\}", path):
            real_id = self.seed_id(path)
            if real_id is not None:
                pinned = {"id": real_id}
                self.coverage(f"{label} id={real_id}", operation, [GenerationMode.POSITIVE],
                              Override(path_parameters=pinned))
                self.generate(f"{label} [positive, id={real_id}]",
                              operation.as_strategy(path_parameters=pinned))


@pytest.fixture
def offline(monkeypatch):
    """Fuzzed settings may name a provider key or base URL; nothing may leave the machine.
    The daemon's outbound clients (httpx, litellm's aiohttp transport) honour proxy variables,
    so every non-loopback request dies at a dead proxy instead of reaching the internet."""
    dead = "http://127.0.0.1:9"  # discard port: connection refused at once
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, dead)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost,::1")


@pytest.fixture
def daemon(tmp_path):
    # A fuzzed message reaches a model call that fails at once (offline): no backoff between tries,
    # also in the engines a fuzzed restore rebuilds.
    d = Daemon(tmp_path / "data", llm_retry_base_delay=0.0)
    yield d
    d.stop()


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_operation_conforms_to_its_schema(offline, daemon, shard):
    fuzzer = Fuzzer(daemon)
    assert ("GET", "/api/health") in fuzzer.operations  # the document was really read
    # Each shard takes every SHARDS-th operation in sorted order: together they take each one once.
    fuzzed = sorted(key for key, operation in fuzzer.operations.items() if not _is_stream(operation))[shard::SHARDS]
    assert fuzzed
    for method, path in fuzzed:
        fuzzer.fuzz(method, path, fuzzer.operations[(method, path)])

    assert fuzzer.cases > len(fuzzed) * 10
    assert not fuzzer.failures, (f"{len(fuzzer.failures)} failure(s) in {fuzzer.cases} cases:\n\n"
                                 + "\n\n".join(fuzzer.failures))
    assert daemon.client.get("/api/health").status_code == 200  # and the daemon survived it
