"""Stan's slash commands: a table of name -> handler, each answering without calling the model.

`/compact` is the one command that may call the model (for the summary) — and only when there
is something to summarise. A message is a command when it starts with `/` and a letter;
an unknown command gets the list of the known ones.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ...errors import ApiError, NotFound
from ...store import schedules as schedule_store
from ..schedules import heartbeat as heartbeat_checks
from ..stan import session as stan_engine

_COMMAND = re.compile(r"^\s*/([A-Za-z][\w-]*)(?:\s+(.*))?$", re.S)


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    description: str
    run: Callable[[stan_engine.Stan, str], Awaitable[str]]


COMMANDS: dict[str, Command] = {}


def command(name: str, usage: str, description: str):
    def register(fn):
        COMMANDS[name] = Command(name, usage, description, fn)
        return fn

    return register


def parse(message: str) -> tuple[str, str] | None:
    match = _COMMAND.match(message)
    if match is None:
        return None
    return match.group(1).lower(), (match.group(2) or "").strip()


def is_command(message: str) -> bool:
    return parse(message) is not None


def _answer(name: str, content: str) -> dict:
    return {"content": content, "isComplete": True, "toolCalls": [], "resources": {}, "command": name}


async def run(stan: stan_engine.Stan, message: str) -> dict | None:
    """The command's reply, or None when the message is not a command."""
    parsed = parse(message)
    if parsed is None:
        return None
    name, argument = parsed
    spec = COMMANDS.get(name)
    if spec is None:
        return _answer(name, f"Unknown command /{name}.\n\n" + _command_list())
    try:
        return _answer(name, await spec.run(stan, argument))
    except ApiError as exc:  # e.g. /resume of an unknown id: the reason, not an HTTP error
        return _answer(name, exc.message)


def _command_list() -> str:
    return "Available commands:\n" + "\n".join(f"  {c.usage:<22} {c.description}" for c in COMMANDS.values())


@command("help", "/help", "Show these commands")
async def help_command(stan, argument):
    return _command_list()


@command("new", "/new", "Start a new conversation (same model and active workflow)")
async def new_command(stan, argument):
    previous = await stan.current() or {}
    try:
        session = await stan.start(model_id=previous.get("modelId"),
                                   active_workflow_id=previous.get("activeWorkflowId"))
    except NotFound:  # the active workflow was deleted since: start without one
        session = await stan.start(model_id=previous.get("modelId"))
    return f"Started a new conversation with {stan_engine.model_name(session['modelId'])}."


@command("model", "/model <id>", "Show or switch the model of this session")
async def model_command(stan, argument):
    session = await stan.current()
    if session is None:
        return stan_engine.NO_SESSION
    if not argument:
        return f"Current model: {stan_engine.model_name(session['modelId'])} ({session['modelId']})."
    await stan.set_model(argument)
    return f"Model switched to {stan_engine.model_name(argument)} ({argument})."


@command("personality", "/personality <p>", "Show or set the personality: "
         + ", ".join(stan_engine.PERSONALITIES))
async def personality_command(stan, argument):
    if not argument:
        return f"Current personality: {await stan.personality()}."
    await stan.set_personality(argument)  # an unknown one: its error message is the answer
    return f"Personality set to {argument}."


@command("skills", "/skills", "List the built-in and your own skills")
async def skills_command(stan, argument):
    skills = await stan.skills()
    lines = ["System skills:"] + [f"  {s['name']} ({s['category']}): {s['description']}" for s in skills["system"]]
    lines.append("Your skills:")
    lines += [f"  {s['name']} ({s['category']}{', inactive' if not s.get('active', True) else ''}): "
              f"{s['description']}" for s in skills["user"]] or ["  none yet (POST /api/v1/stan/skills)"]
    return "\n".join(lines)


@command("context", "/context", "Show how much of the model's context window is used")
async def context_command(stan, argument):
    stats = await stan.context()
    if not stats["active"]:
        return stats["message"] + "."
    advice = " Run /compact to summarise older messages." if stats["needsCompaction"] else ""
    return (f"Context: {stats['totalTokens']} of {stats['maxTokens']} tokens used "
            f"({stats['usagePercentage']}%), {stats['availableTokens']} available.{advice}")


@command("compact", "/compact", "Summarise older messages to free context")
async def compact_command(stan, argument):
    result = await stan.compact()
    if not result["compacted"]:
        return "Nothing to compact yet: the conversation is short."
    return f"Compacted {result['messagesCompacted']} messages into a summary."


@command("conversations", "/conversations", "List your recent conversations")
async def conversations_command(stan, argument):
    rows = await stan.conversations(limit=20)
    if not rows:
        return "No conversations yet."
    return "Recent conversations (resume one with /resume <id>):\n" + "\n".join(
        f"  {c['id']}  {c['title'] or '(untitled)'}  [{c['mode']}, {c['messageCount']} messages, "
        f"{c['updatedAt']}]" for c in rows)


@command("resume", "/resume <id>", "Resume a past conversation")
async def resume_command(stan, argument):
    if not argument:
        return "Usage: /resume <id> (see /conversations for the ids)."
    result = await stan.resume(argument)
    return (f"Resumed '{result['title'] or '(untitled)'}' ({result['mode']}, {result['modelName']}): "
            f"{result['messagesReloaded']} of {result['messageCount']} messages reloaded.")


@command("tasks", "/tasks", "List scheduled tasks")
async def tasks_command(stan, argument):
    rows = await schedule_store.list_schedules(stan.db, "scheduled")
    if not rows:
        return "No scheduled tasks yet."
    return "Scheduled tasks:\n" + "\n".join(
        f"  {r['name']}  [{r['cronExpression']}, {r['status']}"
        f"{', next ' + r['nextFireAt'] if r['nextFireAt'] else ''}]  ({r['id']})" for r in rows[:50])


@command("heartbeat", "/heartbeat", "Show the heartbeat configuration and its last run")
async def heartbeat_command(stan, argument):
    config = await heartbeat_checks.load_config(stan.db)
    state = "enabled" if config["enabled"] else "disabled"
    lines = [f"Heartbeat {state}: every {config['intervalMinutes']} minutes, checks: "
             f"{', '.join(config['checks']) or 'none'}."]
    runs = await heartbeat_checks.list_runs(stan.db, limit=1)
    if not runs:
        lines.append("It has not run yet.")
    else:
        issues = "; ".join(f"{i.get('check')}: {i.get('message')}" for i in runs[0]["issues"])
        lines.append(f"Last run {runs[0]['startedAt']}: {'healthy' if runs[0]['healthy'] else 'issues found'}"
                     + (f" ({issues})" if issues else "") + ".")
    return "\n".join(lines)
