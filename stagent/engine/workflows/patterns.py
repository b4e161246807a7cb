"""The six execution patterns, over a Run (engine/workflow_run.py).

Each executor is resumable: it asks the Run for every step, and the Run answers a finished
step from its stored state instead of running it again. So the same code starts a run,
continues it after a pause or a restart, and carries out a retry (the retried steps' states
were cleared). An executor returns the loop's stop reason (or None) when the run completed,
and raises WorkflowFailed, RunPaused or RunInterrupted otherwise.

Semantics are the original's (stagent-behaviour.md §2.3); a checkpoint is a gate on a step of
a one-after-another pattern (sequence, checkpoint, planner-executor).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from . import prompts as prompts
from .definition import ordered_steps
from .run import Outcome, Run, WorkflowFailed

PARALLEL_LIMIT = 3          # branches at a time, as the original
DEFAULT_SWARM_LIMIT = 2     # workers at a time unless swarmConfig says otherwise


async def execute(run: Run) -> str | None:
    if run.pattern == "loop":
        return await loop(run)
    if run.pattern == "parallel":
        await parallel(run)
    elif run.pattern == "swarm":
        await swarm(run)
    else:
        await one_after_another(run)
    return None


async def one_after_another(run: Run) -> None:
    """sequence, checkpoint and planner-executor: steps in order. Each step gets the previous
    output before its prompt; under planner-executor every step after the plan gets the plan.
    The first step that runs a prompt gets the trigger input (and, under planner-executor,
    writes the plan): a checkpoint with no prompt before it only passes outputs on."""
    planner = run.pattern == "planner-executor"
    previous: str | None = None  # the last agent step's output; None until one has run
    plan = ""
    for step in ordered_steps(run.definition):
        if not run.finished(step):
            await run.check_pause()
        outcome = await run.step(step, _chained(run, planner, plan, previous), previous=previous, gates=True)
        if not outcome.ok:
            raise WorkflowFailed(f'Step "{prompts.step_name(step)}" failed: {outcome.error}')
        if outcome.ran:
            if planner and previous is None:
                plan = outcome.result
            previous = outcome.result


def _chained(run: Run, planner: bool, plan: str, previous: str | None) -> Callable[[str], str]:
    if previous is None:  # no agent step has run yet: this one starts the run
        return run.with_input
    if planner:
        return lambda own: prompts.after_plan(plan, own)
    return lambda own: prompts.after_previous(previous, own)


async def fan_out(run: Run, steps: list[dict], limit: int, compose_for: Callable[[dict], Callable[[str], str]]
                  ) -> list[Outcome]:
    """Run `steps` at most `limit` at a time. A pause lets the running ones finish and starts
    no more; a resume runs the rest."""
    outcomes: dict[str, Outcome] = {}
    semaphore = asyncio.Semaphore(limit)

    async def one(step: dict) -> Outcome | None:
        async with semaphore:
            if not run.finished(step) and await run.is_paused():
                return None
            return await run.step(step, compose_for(step))

    while True:
        pending = [s for s in steps if s["id"] not in outcomes]
        results = await asyncio.gather(*(one(s) for s in pending), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        outcomes.update({s["id"]: r for s, r in zip(pending, results, strict=True) if r is not None})
        if len(outcomes) == len(steps):
            return [outcomes[s["id"]] for s in steps]
        await run.check_pause()  # raises while paused; resumed meanwhile: run the rest


def _failures(steps: list[dict], outcomes: list[Outcome]) -> str:
    return "; ".join(f"{prompts.step_name(s)}: {o.error or 'Task did not complete successfully'}"
                     for s, o in zip(steps, outcomes, strict=True) if not o.ok)


async def parallel(run: Run) -> None:
    """Branches (no dependsOn) at once, 3 at a time, each with only its own prompt; then the
    one synthesis step with every branch's output."""
    steps = run.definition["steps"]
    branches = [s for s in steps if not s.get("dependsOn")]
    synthesis = next(s for s in steps if s.get("dependsOn"))
    await run.wait_for_dependencies(synthesis)
    outcomes = await fan_out(run, branches, PARALLEL_LIMIT, lambda _step: run.with_input)
    await _join(run, branches, outcomes, synthesis, prompts.synthesis,
                group="Parallel branches", role="Synthesis")


async def _join(run: Run, members: list[dict], outcomes: list[Outcome], join: dict,
                join_prompt: Callable[[list[tuple[str, str]], str], str], *, group: str, role: str) -> None:
    """The fan-in of parallel and swarm: the joining step is blocked when a member failed, else
    it runs with every member's output. `group` is e.g. "Parallel branches"."""
    failed = _failures(members, outcomes)
    if failed:
        await run.block(join, f"Blocked by failed {group.split()[-1]}: {failed}")
        raise WorkflowFailed(f"{group} failed: {failed}")
    if not run.finished(join):
        await run.check_pause()
    outputs = [(prompts.step_name(s), o.result) for s, o in zip(members, outcomes, strict=True)]
    outcome = await run.step(join, lambda own: join_prompt(outputs, own))
    if not outcome.ok:
        raise WorkflowFailed(f'{role} step "{prompts.step_name(join)}" failed: {outcome.error}')


def swarm_limit(definition: dict) -> int:
    workers = len(definition["steps"]) - 2
    limit = (definition.get("swarmConfig") or {}).get("workerConcurrencyLimit") or DEFAULT_SWARM_LIMIT
    return max(1, min(int(limit), max(workers, 1)))


async def swarm(run: Run) -> None:
    """The mayor alone, then the workers (each with the mayor's output and its assignment),
    then the refinery with the mayor's output and every worker's."""
    steps = run.definition["steps"]
    mayor, workers, refinery = steps[0], steps[1:-1], steps[-1]
    mayor_name = prompts.step_name(mayor)
    if not run.finished(mayor):
        await run.check_pause()
    planned = await run.step(mayor, run.with_input)
    if not planned.ok:
        raise WorkflowFailed(f'Mayor step "{mayor_name}" failed: {planned.error}')
    await run.wait_for_dependencies(refinery)

    def worker_prompt(worker: dict) -> Callable[[str], str]:
        return lambda own: prompts.swarm_worker(mayor_name, planned.result, prompts.step_name(worker), own)

    outcomes = await fan_out(run, workers, swarm_limit(run.definition), worker_prompt)
    await _join(run, workers, outcomes, refinery,
                lambda outputs, own: prompts.swarm_refinery(mayor_name, planned.result, outputs, own),
                group="Swarm workers", role="Refinery")


async def loop(run: Run) -> str:
    """The first step's prompt, again and again, each iteration seeing the previous one's
    output, until the model signals completion, the iteration cap, or the time budget."""
    config = run.definition["loopConfig"]
    template = run.definition["steps"][0]
    step = {**template, "agentProfile": config.get("agentProfile") or prompts.step_profile(template),
            "assignedAgent": config.get("assignedAgent") or prompts.step_runtime(template)}
    max_iterations = int(config["maxIterations"])
    budget_ms = config.get("timeBudgetMs")
    signals = config.get("completionSignals")
    previous = ""
    for n in range(1, max_iterations + 1):
        if not run.finished(step, n):
            await run.check_pause("human_pause")
            if budget_ms and run.elapsed_ms() >= budget_ms:
                return "time_budget"
        outcome = await run.step(
            step, lambda own, n=n, previous=previous: prompts.loop_iteration(
                run.with_input(own), previous, n, max_iterations),
            iteration=n, title=f"[Workflow] Loop Iteration {n}")
        if not outcome.ok:
            raise WorkflowFailed(f"Loop iteration {n} failed: {outcome.error}", stop_reason="error")
        previous = outcome.result
        if prompts.signalled(previous, signals):
            return "agent_signaled"
    return "max_iterations"
