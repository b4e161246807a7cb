"""The run order of the one-after-another patterns and the definition's size caps (pure
functions of engine/workflows/definition.py; the HTTP answers are in tests/api/test_workflows.py)."""

from __future__ import annotations

import pytest

from stagent.engine.workflows.definition import MAX_STEPS, MAX_TRIGGERS, ordered_steps, validate_definition
from stagent.errors import Invalid


def step(i: str, *depends: str) -> dict:
    return {"id": i, "prompt": f"do {i}", **({"dependsOn": list(depends)} if depends else {})}


def ids(steps: list[dict]) -> list[str]:
    return [s["id"] for s in steps]


def test_list_order_is_kept_and_a_step_comes_after_what_it_depends_on():
    assert ids(ordered_steps({"steps": [step("a"), step("b"), step("c")]})) == ["a", "b", "c"]
    # c connected before a (Stan connects nodes in any order): the earliest listed ready step goes first
    assert ids(ordered_steps({"steps": [step("a", "c"), step("b"), step("c")]})) == ["b", "c", "a"]
    assert ids(ordered_steps({"steps": [step("x", "z"), step("y", "z"), step("z")]})) == ["z", "x", "y"]
    assert ids(ordered_steps({"steps": [step("a", "b", "b"), step("b")]})) == ["b", "a"]  # a repeated dependency


def test_a_backwards_chain_of_the_maximum_length_is_reversed():
    chain = [step(f"s{i}", f"s{i + 1}") for i in range(MAX_STEPS - 1)] + [step(f"s{MAX_STEPS - 1}")]
    assert ids(ordered_steps({"steps": chain})) == [f"s{i}" for i in reversed(range(MAX_STEPS))]
    validate_definition({"pattern": "sequence", "steps": chain})


def test_steps_in_or_after_a_cycle_are_left_out_and_named_by_validation():
    steps = [step("a"), step("b", "c"), step("c", "b"), step("d", "c")]
    assert ids(ordered_steps({"steps": steps})) == ["a"]
    with pytest.raises(Invalid) as refused:
        validate_definition({"pattern": "sequence", "steps": steps})
    assert refused.value.message == "Steps depend on each other in a cycle: 'b', 'c', 'd'"


def test_too_many_steps_or_triggers_are_refused_before_anything_else():
    chain = [step(f"s{i}", f"s{i + 1}") for i in range(6000)] + [step("s6000")]
    with pytest.raises(Invalid) as refused:
        validate_definition({"pattern": "sequence", "steps": chain})
    assert refused.value.message == f"A workflow has at most {MAX_STEPS} steps"
    triggers = [{"id": f"t{i}", "type": "webhook-trigger"} for i in range(MAX_TRIGGERS + 1)]
    with pytest.raises(Invalid) as refused:
        validate_definition({"pattern": "sequence", "steps": [step("a")], "triggers": triggers})
    assert refused.value.message == f"A workflow has at most {MAX_TRIGGERS} triggers"
