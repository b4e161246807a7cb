"""The blueprint format: its pydantic schema, the templating rules and variable values.

Templating is the original's: `{{#if var}}…{{/if}}` blocks are dropped when the variable is
falsy (missing, null, "" or false), `{{var}}` is substituted (missing → empty), then runs of
3+ newlines collapse. Blocks must balance and nest at most MAX_IF_DEPTH deep (checked when a
blueprint is registered); rendering is one pass over the template. A step's `condition`
(`"{{includeData}}"` or just `includeData`) skips the step when it renders falsy. Decision 014.
"""

from __future__ import annotations

import contextlib
import math
import re
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from ...errors import Invalid

MAX_YAML_BYTES = 256 * 1024
MAX_YAML_DEPTH = 32  # a blueprint needs 5 levels; libyaml's C composer recurses once per level
MAX_IF_DEPTH = 10
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# ---- the schema ----------------------------------------------------------------------------

def _scalar_text(value: Any) -> Any:
    # YAML reads `value: 1` as a number; an option's value and label are text.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_scalar_text)]
Number = int | float


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, alias_generator=to_camel, populate_by_name=True, extra="ignore")


class Option(_Model):
    value: Text = Field(min_length=1, max_length=200)
    label: Text = Field(min_length=1, max_length=200)


class Variable(_Model):
    id: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)
    type: Literal["text", "textarea", "select", "number", "boolean", "file"]
    label: str = Field(min_length=1, max_length=200)
    description: str | None = None
    required: bool = False
    default: str | bool | Number | None = None
    placeholder: str | None = None
    options: list[Option] | None = None
    min: Number | None = None
    max: Number | None = None


class Step(_Model):
    name: str = Field(min_length=1, max_length=200)
    profile_id: str = Field(min_length=1, max_length=100)
    prompt_template: str = Field(min_length=1, max_length=50_000)
    requires_approval: bool = False
    expected_output: str | None = Field(default=None, max_length=5000)
    condition: str | None = Field(default=None, max_length=1000)


class Blueprint(_Model):
    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=100)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$", max_length=50)
    domain: Literal["work", "personal"] = "work"
    tags: list[str] = Field(default_factory=list, max_length=50)
    pattern: Literal["sequence", "planner-executor", "checkpoint"]
    variables: list[Variable] = Field(default_factory=list, max_length=50)
    steps: list[Step] = Field(min_length=1, max_length=50)
    author: str | None = None
    source: str | None = Field(default=None, pattern=r"^https?://\S+$", max_length=2000)
    estimated_duration: str | None = None
    difficulty: Literal["beginner", "intermediate", "advanced"] | None = None
    chat_prompt: str | None = None

    def to_json(self, *, is_builtin: bool) -> dict:
        return {**self.model_dump(by_alias=True, exclude_none=True), "isBuiltin": is_builtin}


# ---- templating ----------------------------------------------------------------------------

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# Group 1: `{{#if name}}` opens a block, group 2: `{{/if}}` closes one, group 3: `{{name}}`.
_TAG = re.compile(r"\{\{\s*(?:#if\s+(" + _NAME + r")|(/if)|(" + _NAME + r"))\s*\}\}")
# Anything else that looks like a block tag (`{{#if}}`, `{{#each x}}`, `{{/iff}}`) would reach
# the prompt verbatim.
_OTHER_BLOCK_TAG = re.compile(r"\{\{\s*[#/][^{}\n]{0,40}(?:\}\})?")


def truthy(value: Any) -> bool:
    """Falsy: missing, null, "" or false; 0 is a value (`0 == False` in Python, so no `in`)."""
    return not (value is None or value is False or (isinstance(value, str) and value == ""))


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def render(template: str, values: dict) -> str:
    """One pass: text is kept while no enclosing block is falsy. Registration refuses unbalanced
    blocks; here a stray `{{/if}}` is dropped and an unclosed block runs to the end."""
    parts: list[str] = []
    depth = 0
    hidden_from = 0  # the depth of the outermost falsy block we are in; 0: none
    position = 0
    for tag in _TAG.finditer(template):
        if not hidden_from:
            parts.append(template[position:tag.start()])
        position = tag.end()
        opens, closes, variable = tag.groups()
        if opens:
            depth += 1
            if not hidden_from and not truthy(values.get(opens)):
                hidden_from = depth
        elif closes:
            if depth:
                if hidden_from == depth:
                    hidden_from = 0
                depth -= 1
        elif not hidden_from:
            parts.append(as_text(values.get(variable)))
    if not hidden_from:
        parts.append(template[position:])
    return re.sub(r"\n{3,}", "\n\n", "".join(parts)).strip()


def template_problem(template: str) -> str | None:
    """What is wrong with the template's blocks (unbalanced, too deep, not a block tag), or None."""
    open_names: list[str] = []
    position = 0
    for tag in [*_TAG.finditer(template), None]:
        other = _OTHER_BLOCK_TAG.search(template, position, tag.start() if tag else len(template))
        if other:
            return f"{other.group()} is not a block tag ({{{{#if name}}}}…{{{{/if}}}} is)"
        if tag is None:
            break
        position = tag.end()
        opens, closes, _ = tag.groups()
        if opens:
            open_names.append(opens)
            if len(open_names) > MAX_IF_DEPTH:
                return f"{{{{#if}}}} blocks nested deeper than {MAX_IF_DEPTH}"
        elif closes:
            if not open_names:
                return "{{/if}} without an {{#if …}} before it"
            open_names.pop()
    if open_names:
        return f"{{{{#if {open_names[-1]}}}}} is never closed by {{{{/if}}}}"
    return None


def _condition_source(condition: str) -> str:
    """`includeData` means the same as `{{includeData}}`."""
    condition = condition.strip()
    return "{{" + condition + "}}" if re.fullmatch(_NAME, condition) else condition


def condition_met(condition: str | None, values: dict) -> bool:
    if condition is None:
        return True
    return render(_condition_source(condition), values) not in ("", "false")


def _referenced(template: str) -> set[str]:
    return {tag.group(1) or tag.group(3) for tag in _TAG.finditer(template) if not tag.group(2)}


# ---- variable values -----------------------------------------------------------------------

def coerce(variable: Variable, value: Any) -> Any:
    """The value as its type wants it; ValueError with what is wrong."""
    kind = variable.type
    if kind in ("text", "textarea", "file"):
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ValueError("must be text")
        return value if isinstance(value, str) else as_text(value)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ValueError("must be true or false")
    if kind == "select":
        choices = [o.value for o in variable.options or []]
        text = as_text(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else None
        if text not in choices:
            raise ValueError(f"must be one of: {', '.join(choices)}")
        return text
    number: Any = value  # number
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = float(value.strip())
    if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
        raise ValueError("must be a number")
    if isinstance(number, float) and number.is_integer() and abs(number) < 2**53:
        number = int(number)
    if variable.min is not None and number < variable.min:
        raise ValueError(f"must be at least {as_text(variable.min)}")
    if variable.max is not None and number > variable.max:
        raise ValueError(f"must be at most {as_text(variable.max)}")
    return number


def resolve_values(blueprint: Blueprint, given: dict) -> dict:
    """Defaults applied, types checked; Invalid naming every variable that is missing or wrong."""
    declared = {v.id for v in blueprint.variables}
    unknown = sorted(set(given) - declared)
    if unknown:
        takes = ", ".join(v.id for v in blueprint.variables) or "none"
        raise Invalid(f"Unknown variable{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)} "
                      f"(this blueprint's variables: {takes})")
    values: dict[str, Any] = {}
    missing, problems = [], []
    for variable in blueprint.variables:
        raw = given.get(variable.id)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if variable.default is not None:
                values[variable.id] = coerce(variable, variable.default)  # valid: checked at load
            elif variable.required:
                missing.append(variable.id)
            else:
                values[variable.id] = None
            continue
        try:
            values[variable.id] = coerce(variable, raw)
        except ValueError as exc:
            problems.append(f'Variable "{variable.id}" {exc}')
    if missing:
        problems.insert(0, f"Missing required variable{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
    if problems:
        raise Invalid("; ".join(problems))
    return values


# ---- reading a blueprint -------------------------------------------------------------------

def _invalid(detail: str) -> Invalid:
    return Invalid(f"Invalid blueprint: {detail}")


_TOO_DEEP = f"nested too deeply (more than {MAX_YAML_DEPTH} levels)"


def _refuse_what_the_loader_must_not_see(text: str) -> None:
    """One pass over the parse events (a flat stream: the parser does not recurse) before
    anything is built. Aliases could expand a small file into a huge structure, and deep nesting
    makes the C composer recurse until the process crashes (60,000 `[` are enough)."""
    depth = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise _invalid(_TOO_DEEP)
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            raise _invalid("YAML aliases (*name) are not supported")


def _load_yaml(text: str) -> Any:
    if len(text.encode()) > MAX_YAML_BYTES:
        raise _invalid(f"the YAML is larger than {MAX_YAML_BYTES // 1024} KB")
    try:
        _refuse_what_the_loader_must_not_see(text)
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise _invalid(f"not valid YAML ({' '.join(str(exc).split())})") from None
    except RecursionError:  # the depth limit should make this unreachable
        raise _invalid(_TOO_DEEP) from None


def _check(blueprint: Blueprint) -> None:
    """What the field types cannot say: ids unique, options present, defaults valid, templates
    naming declared variables."""
    seen: set[str] = set()
    for i, variable in enumerate(blueprint.variables):
        where = f"variables.{i}"
        if variable.id in seen:
            raise _invalid(f'{where}.id: "{variable.id}" is declared twice')
        seen.add(variable.id)
        if variable.type == "select" and not variable.options:
            raise _invalid(f"{where}.options: a select variable needs at least one option")
        if variable.min is not None and variable.max is not None and variable.min > variable.max:
            raise _invalid(f"{where}.min: greater than max")
        if variable.default is not None:
            try:
                coerce(variable, variable.default)
            except ValueError as exc:
                raise _invalid(f"{where}.default: {exc}") from None
    for i, step in enumerate(blueprint.steps):
        for field, template in (("promptTemplate", step.prompt_template), ("expectedOutput", step.expected_output),
                                ("condition", _condition_source(step.condition) if step.condition else None)):
            unknown = sorted(_referenced(template or "") - seen)
            problem = template_problem(template or "") or (
                f"unknown variable {', '.join(unknown)}" if unknown else None)
            if problem:
                raise _invalid(f'steps.{i}.{field}: {problem} (step "{step.name}")')


def parse_blueprint(text: str) -> Blueprint:
    data = _load_yaml(text)
    if not isinstance(data, dict):
        raise _invalid("expected a YAML mapping (id, name, version, pattern, steps, …)")
    try:
        blueprint = Blueprint.model_validate(data)
    except ValidationError as exc:
        details = []
        for err in exc.errors(include_url=False)[:3]:
            where = ".".join(str(p) for p in err["loc"])
            details.append(f"{where}: {err['msg']}" if where else err["msg"])
        raise _invalid("; ".join(details)) from None
    _check(blueprint)
    return blueprint
