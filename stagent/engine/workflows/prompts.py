"""What each workflow step is told: the original's prompt shapes, and a step's effective fields.

The texts follow the original engine (stagent-behaviour.md §2.3): the previous output or the
plan goes before a step's own prompt, a synthesis or refinery gets labelled sections, a loop
iteration names its number and the completion signal.

A step's fields may come from the catalog's keys or from Stan's `config` (a node edited with
set_node_config): `prompt` / `config.prompt`, `agentProfile` / `config.profile`,
`modelId` / `config.model`, `assignedAgent` / `config.runtime`. The catalog's key wins when set.
"""

from __future__ import annotations

from ..agent.document_prompt import documents_block, earlier_outputs_block

LOOP_SIGNAL = "LOOP_COMPLETE"
SEPARATOR = "\n\n---\n\n"


def _config(step: dict) -> dict:
    config = step.get("config")
    return config if isinstance(config, dict) else {}


def _first_text(*values) -> str | None:
    for value in values:
        if isinstance(value, str) and value.strip():
            return value
    return None


def step_name(step: dict) -> str:
    return _first_text(step.get("name"), step.get("id")) or "Step"


def step_prompt(step: dict) -> str:
    return _first_text(step.get("prompt"), _config(step).get("prompt")) or ""


def step_profile(step: dict) -> str | None:
    config = _config(step)
    return _first_text(step.get("agentProfile"), config.get("profile"), config.get("agentProfile"))


def step_model(step: dict) -> str | None:
    config = _config(step)
    return _first_text(step.get("modelId"), config.get("model"), config.get("modelId"))


def step_runtime(step: dict) -> str | None:
    config = _config(step)
    return _first_text(step.get("assignedAgent"), config.get("runtime"), config.get("assignedAgent"))


def is_gate(step: dict) -> bool:
    """A human checkpoint before the step: the catalog's `requiresApproval`, or a Stan
    `approval` node. A gate with no prompt of its own passes the previous output on."""
    return step.get("type") == "approval" or step.get("requiresApproval") is True


# ---- prompt shapes -------------------------------------------------------------------------

def with_trigger_input(input_text: str | None, prompt: str) -> str:
    if not input_text:
        return prompt
    return f"Trigger input:\n{input_text}{SEPARATOR}{prompt}"


def after_previous(previous: str, prompt: str) -> str:
    if not previous:
        return prompt
    return f"Previous step output:\n{previous}{SEPARATOR}{prompt}"


def after_plan(plan: str, prompt: str) -> str:
    return f"Plan from planner:\n{plan}{SEPARATOR}{prompt}"


def synthesis(branch_outputs: list[tuple[str, str]], prompt: str) -> str:
    sections = [f"Branch {i} - {name}:\n{result.strip()}" for i, (name, result) in enumerate(branch_outputs, 1)]
    return "\n".join([
        "You are synthesizing the completed results of parallel research branches.",
        "",
        "Parallel branch outputs:",
        SEPARATOR.join(sections),
        "",
        "---",
        "",
        prompt,
    ])


def swarm_worker(mayor_name: str, mayor_result: str, worker_name: str, prompt: str) -> str:
    return "\n".join([
        "You are one worker in a governed multi-agent swarm.",
        "",
        f"{mayor_name}:",
        mayor_result.strip(),
        "",
        f"{worker_name} assignment:",
        prompt.strip(),
        "",
        "Complete only your assigned slice. Return concrete findings the refinery can merge.",
    ])


def swarm_refinery(mayor_name: str, mayor_result: str, worker_outputs: list[tuple[str, str]], prompt: str) -> str:
    sections = [f"Worker {i} - {name}:\n{result.strip()}" for i, (name, result) in enumerate(worker_outputs, 1)]
    return "\n".join([
        "You are the refinery for a governed multi-agent swarm.",
        "",
        f"{mayor_name}:",
        mayor_result.strip(),
        "",
        "Worker outputs:",
        SEPARATOR.join(sections),
        "",
        "---",
        "",
        prompt.strip(),
    ])


def loop_iteration(template: str, previous: str, iteration: int, max_iterations: int) -> str:
    parts = [f"Iteration {iteration} of {max_iterations}."]
    if previous:
        parts.append(f"\nPrevious iteration output:\n{previous}")
    parts.append(f"\n---\n\n{template}")
    parts.append(f'\nWhen you are fully satisfied with the result, include "{LOOP_SIGNAL}" in your response.')
    return "".join(parts)


def signalled(output: str, signals: list[str] | None) -> bool:
    """Case-insensitive substring match of any completion signal (default LOOP_COMPLETE)."""
    lowered = output.lower()
    return any(signal.lower() in lowered for signal in (signals or [LOOP_SIGNAL]))


def checkpoint_body(previous: str | None, input_text: str | None = None) -> str:
    """What the person deciding sees: the last agent step's output, or before any agent step
    ran (previous None) the run's trigger input."""
    if previous is not None:
        return f"Previous step output:\n{previous[:500]}"
    if input_text:
        return f"Trigger input:\n{input_text[:500]}"
    return "No previous step output: this checkpoint comes before the first agent step."


def documents_context(documents: list[dict], earlier_outputs: list[dict] = ()) -> str:
    """The documents bound to the workflow (or the step) and those the step lists in its
    `documentIds` (small ones whole, larger ones named: engine/agent/document_prompt.py), and
    the output documents earlier steps of the run saved, as context before the prompt."""
    blocks = [documents_block(documents, "Workflow documents"), earlier_outputs_block(list(earlier_outputs))]
    return "\n\n".join(b for b in blocks if b)
