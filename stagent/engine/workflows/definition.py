"""What a runnable workflow definition is: the catalog's rules, plus Stan's step types, and
the order the one-after-another patterns run steps in.

Invariant: a definition that passes `validate_definition` can be run by its pattern; a draft
may be stored incomplete (store/workflows.py), but is checked here before it is created through
the API and again, in the claiming transaction, before each run starts.
"""

from __future__ import annotations

import heapq
import json
from typing import Any

from ...errors import Invalid
from ...sanitize import scrub_json
from ...store.workflows import PATTERNS
from ..agent.providers import RUNTIME_IDS
from .prompts import is_gate, step_prompt

MAX_STEPS = 100     # a workflow is a handful of agent steps; this bounds every check and run
MAX_TRIGGERS = 20
MAX_STEP_BUDGET_USD = 10_000  # the tasks' own maximum (store/tasks.MAX_BUDGET_USD)
MIN_BRANCHES, MAX_BRANCHES = 2, 5
MIN_WORKERS, MAX_WORKERS = 2, 5
STEP_TYPES = ("agent", "approval")
ON_INTERRUPT = ("retry", "fail")
MAX_CHECKPOINT_TIMEOUT = 7 * 24 * 3600


def parse_definition(value: Any) -> dict:
    """A definition as sent: an object, or the JSON text the catalog stores (both accepted)."""
    if isinstance(value, str):
        try:
            value = scrub_json(json.loads(value))  # an escaped lone surrogate becomes U+FFFD
        except (ValueError, RecursionError):
            raise Invalid("definition must be a JSON object (or its JSON text)") from None
    if not isinstance(value, dict):
        raise Invalid("definition must be a JSON object (or its JSON text)")
    return value


def check_limits(definition: dict) -> None:
    """The size caps, checked before anything that grows with the number of steps."""
    steps, triggers = definition.get("steps"), definition.get("triggers")
    if isinstance(steps, list) and len(steps) > MAX_STEPS:
        raise Invalid(f"A workflow has at most {MAX_STEPS} steps")
    if isinstance(triggers, list) and len(triggers) > MAX_TRIGGERS:
        raise Invalid(f"A workflow has at most {MAX_TRIGGERS} triggers")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_step(step: Any, index: int, seen: set[str]) -> None:
    if not isinstance(step, dict):
        raise Invalid(f"Step {index + 1} must be an object")
    step_id = step.get("id")
    if not isinstance(step_id, str) or not step_id.strip():
        raise Invalid(f"Step {index + 1} needs an id (a non-empty string)")
    if step_id in seen:
        raise Invalid(f"Step id '{step_id}' is used twice")
    seen.add(step_id)
    for key in ("name", "prompt", "agentProfile", "modelId"):
        if step.get(key) is not None and not isinstance(step[key], str):
            raise Invalid(f"Step '{step_id}': {key} must be a string")
    if step.get("type", "agent") not in STEP_TYPES:
        raise Invalid(f"Step '{step_id}': type must be one of: {', '.join(STEP_TYPES)}")
    if not isinstance(step.get("requiresApproval", False), bool):
        raise Invalid(f"Step '{step_id}': requiresApproval must be a boolean")
    for key in ("dependsOn", "documentIds"):
        value = step.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            raise Invalid(f"Step '{step_id}': {key} must be a list of strings")
    if step.get("config") is not None and not isinstance(step["config"], dict):
        raise Invalid(f"Step '{step_id}': config must be an object")
    budget = step.get("budgetUsd")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int | float)
                               or not 0 < budget <= MAX_STEP_BUDGET_USD):
        raise Invalid(f"Step '{step_id}': budgetUsd must be a number above 0 and at most {MAX_STEP_BUDGET_USD:g}")
    runtime = step.get("assignedAgent")
    if runtime is not None and runtime not in RUNTIME_IDS:
        raise Invalid(f"Step '{step_id}': unknown runtime '{runtime}'. Use one of: {', '.join(RUNTIME_IDS)}")


def _check_loop(definition: dict) -> None:
    config = definition.get("loopConfig")
    if not isinstance(config, dict) or not _number(config.get("maxIterations")) \
            or config["maxIterations"] < 1 or config["maxIterations"] != int(config["maxIterations"]):
        raise Invalid("Loop pattern requires loopConfig with maxIterations >= 1")
    budget = config.get("timeBudgetMs")
    if budget is not None and (not _number(budget) or budget <= 0):
        raise Invalid("loopConfig.timeBudgetMs must be a positive number of milliseconds")
    signals = config.get("completionSignals")
    if signals is not None and (not isinstance(signals, list) or not all(isinstance(s, str) and s for s in signals)):
        raise Invalid("loopConfig.completionSignals must be a list of non-empty strings")
    if config.get("assignedAgent") is not None and config["assignedAgent"] not in RUNTIME_IDS:
        raise Invalid(f"loopConfig: unknown runtime '{config['assignedAgent']}'. Use one of: {', '.join(RUNTIME_IDS)}")
    if config.get("agentProfile") is not None and not isinstance(config["agentProfile"], str):
        raise Invalid("loopConfig.agentProfile must be a string")


def _check_parallel(steps: list[dict]) -> None:
    branches = [s for s in steps if not s.get("dependsOn")]
    joins = [s for s in steps if s.get("dependsOn")]
    if len(joins) != 1:
        raise Invalid("Parallel pattern requires branch steps and exactly one synthesis step")
    if len(branches) < MIN_BRANCHES:
        raise Invalid(f"Parallel pattern requires at least {MIN_BRANCHES} branch steps")
    if len(branches) > MAX_BRANCHES:
        raise Invalid(f"Parallel pattern supports at most {MAX_BRANCHES} branch steps")
    if any(is_gate(s) for s in steps):
        raise Invalid("Parallel steps cannot require approval")
    depends = joins[0]["dependsOn"]
    if len(depends) != len(set(depends)) or set(depends) != {b["id"] for b in branches}:
        raise Invalid("Parallel synthesis step must depend on every branch exactly once")


def _check_swarm(definition: dict, steps: list[dict]) -> None:
    if len(steps) < 4:
        raise Invalid("Swarm pattern requires a mayor step, 2-5 worker steps, and a refinery step")
    workers = len(steps) - 2
    if workers > MAX_WORKERS:
        raise Invalid(f"Swarm pattern supports at most {MAX_WORKERS} worker steps")
    if any(is_gate(s) for s in steps):
        raise Invalid("Swarm steps cannot require approval")
    if any(s.get("dependsOn") for s in steps):
        raise Invalid("Swarm steps use fixed mayor/worker/refinery ordering and cannot declare dependencies")
    config = definition.get("swarmConfig")
    if config is not None and not isinstance(config, dict):
        raise Invalid("swarmConfig must be an object")
    limit = (config or {}).get("workerConcurrencyLimit")
    if limit is not None and (not _number(limit) or limit != int(limit) or not 1 <= limit <= workers):
        raise Invalid(f"Swarm worker concurrency limit must be between 1 and {workers}")


def _check_order(steps: list[dict]) -> None:
    ids = {s["id"] for s in steps}
    for step in steps:
        for dep in step.get("dependsOn") or []:
            if dep not in ids:
                raise Invalid(f"Step '{step['id']}' depends on unknown step '{dep}'")
            if dep == step["id"]:
                raise Invalid(f"Step '{step['id']}' cannot depend on itself")
    ordered = {s["id"] for s in ordered_steps({"steps": steps})}
    stuck = [s["id"] for s in steps if s["id"] not in ordered]
    if stuck:
        named = ", ".join(f"'{i}'" for i in stuck[:10]) + (f" and {len(stuck) - 10} more" if len(stuck) > 10 else "")
        raise Invalid(f"Steps depend on each other in a cycle: {named}")


def validate_definition(definition: Any) -> dict:
    """Raise Invalid (a plain message, as the catalog answers 400) unless the definition can run."""
    definition = parse_definition(definition)
    steps = definition.get("steps")
    if not definition.get("pattern") or not isinstance(steps, list) or not steps:
        raise Invalid("Definition must include pattern and at least one step")
    check_limits(definition)
    pattern = definition["pattern"]
    if pattern not in PATTERNS:
        raise Invalid(f"Pattern must be one of: {', '.join(PATTERNS)}")
    seen: set[str] = set()
    for index, step in enumerate(steps):
        _check_step(step, index, seen)
    if definition.get("onInterrupt", "retry") not in ON_INTERRUPT:
        raise Invalid(f"onInterrupt must be one of: {', '.join(ON_INTERRUPT)}")
    timeout = definition.get("checkpointTimeoutSeconds")
    if timeout is not None and (not _number(timeout) or not 0 < timeout <= MAX_CHECKPOINT_TIMEOUT):
        raise Invalid(f"checkpointTimeoutSeconds must be a number of seconds from 1 to {MAX_CHECKPOINT_TIMEOUT}")
    for config_key in ("loopConfig", "swarmConfig"):
        if definition.get(config_key) is not None and not isinstance(definition[config_key], dict):
            raise Invalid(f"{config_key} must be an object")
    limit = (definition.get("swarmConfig") or {}).get("workerConcurrencyLimit")
    if limit is not None and (not _number(limit) or limit != int(limit) or limit < 1):
        raise Invalid("swarmConfig.workerConcurrencyLimit must be a positive integer")
    if definition.get("triggers") is not None and (
            not isinstance(definition["triggers"], list) or not all(isinstance(t, dict) for t in definition["triggers"])):
        raise Invalid("triggers must be a list of objects")
    if definition.get("sourceTaskId") is not None and not isinstance(definition["sourceTaskId"], str):
        raise Invalid("sourceTaskId must be a string")
    if definition.get("loopConfig") is not None or pattern == "loop":
        _check_loop(definition)
    for step in steps[:1] if pattern == "loop" else steps:
        if not step_prompt(step).strip() and (pattern == "loop" or not is_gate(step)):
            raise Invalid(f"Step '{step['id']}' has no prompt")
    if pattern == "parallel":
        _check_parallel(steps)
    elif pattern == "swarm":
        _check_swarm(definition, steps)
    else:
        if pattern == "planner-executor" and len(steps) < 2:
            raise Invalid("Planner-Executor requires at least 2 steps (planner + executor)")
        _check_order(steps)
    return definition


def ordered_steps(definition: dict) -> list[dict]:
    """The steps in run order for the one-after-another patterns: as listed, except that a step
    comes after the steps it `dependsOn` (Stan connects nodes in any order). A topological sort
    that always takes the earliest listed step that is ready, so it is linear in steps plus
    dependencies. A step in a cycle, or after one, or depending on an unknown step is left out
    (validate_definition refuses those)."""
    steps = definition["steps"]
    position: dict[str, int] = {}
    for index, step in enumerate(steps):
        position.setdefault(step["id"], index)
    unmet = [0] * len(steps)
    dependents: list[list[int]] = [[] for _ in steps]
    for index, step in enumerate(steps):
        for dep in set(step.get("dependsOn") or []):
            unmet[index] += 1  # an unknown or self dependency is never met
            if dep in position and dep != step["id"]:
                dependents[position[dep]].append(index)
    ready = [index for index, count in enumerate(unmet) if count == 0]
    heapq.heapify(ready)
    order: list[dict] = []
    while ready:
        index = heapq.heappop(ready)
        order.append(steps[index])
        for later in dependents[index]:
            unmet[later] -= 1
            if unmet[later] == 0:
                heapq.heappush(ready, later)
    return order
