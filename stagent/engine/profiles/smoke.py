"""Profile smoke tests: each `tests[]` entry's task is sent to the model with the profile's
system prompt; it passes when the reply contains every expected keyword (case-insensitive).

Invariant: a full run's report is saved (store.profiles.save_report) before it is returned, so
test-results always shows the latest complete run; a single test is not saved.
"""

from __future__ import annotations

import time

from ...db import Database
from ...errors import Invalid
from ...store import profiles as store
from ..agent import llm
from ..governance.budgets import Budgets
from . import oneshot
from .registry import check_runtime
from .runs import model_override, system_prompt

BASE_PROMPT = "You are an AI agent being smoke-tested. Answer the task directly and concisely."


def score(reply: str, expected: list[str]) -> tuple[list[str], list[str]]:
    text = reply.lower()
    found = [k for k in expected if k.lower() in text]
    return found, [k for k in expected if k.lower() not in text]


def _tests(profile: dict) -> list[dict]:
    return list(profile.get("tests") or [])


async def _model(db: Database, profile: dict, runtime_id: str | None):
    check_runtime(profile, runtime_id)
    return await oneshot.target(db, runtime_id, model_override(profile, runtime_id))


async def _run_one(db: Database, budgets: Budgets, profile: dict, model, test: dict) -> dict:
    messages = [{"role": "system", "content": system_prompt(BASE_PROMPT, profile, model.runtime_id)},
                {"role": "user", "content": test["task"]}]
    expected = list(test.get("expectedKeywords") or [])
    started = time.monotonic()
    try:
        reply, error = await oneshot.call(db, budgets, model, messages, activity="profile_test"), None
    except llm.ProviderError as exc:
        reply, error = "", exc.message
    found, missing = score(reply, expected)
    passed = error is None and not missing
    result = {"task": test["task"], "expectedKeywords": expected, "foundKeywords": found,
              "missingKeywords": missing, "passed": passed,
              # the documented names of the same facts
              "pass": passed, "matchedKeywords": found,
              "durationMs": round((time.monotonic() - started) * 1000), "response": reply[:4000]}
    if error is not None:
        result["error"] = error
    return result


async def run_single(db: Database, budgets: Budgets, profile: dict, index: int, runtime_id: str | None) -> dict:
    tests = _tests(profile)
    if not 0 <= index < len(tests):
        raise Invalid(f"testIndex must be between 0 and {len(tests) - 1}" if tests else
                      "This profile has no smoke tests")
    model = await _model(db, profile, runtime_id)
    return await _run_one(db, budgets, profile, model, tests[index])


async def run_all(db: Database, budgets: Budgets, profile: dict, runtime_id: str | None) -> dict:
    model = await _model(db, profile, runtime_id)
    results = [await _run_one(db, budgets, profile, model, test) for test in _tests(profile)]
    passed = sum(1 for r in results if r["passed"])
    runtime = model.runtime_id or runtime_id or "default"
    report = {"profileId": profile["id"], "profileName": profile["name"], "runtimeId": runtime,
              "model": model.model, "results": results, "totalPassed": passed,
              "totalFailed": len(results) - passed, "total": len(results), "passed": passed}
    await store.save_report(db, profile["id"], runtime, report)
    return report
