"""Stagent chat (/api/chat): a user message in, the assistant's turn out as a stream of events.

A reply is one ConversationEngine.send with the Stagent chat tools (chat_tools.py) and, as
extra system context, the conversation's project and the @-mentioned entities. A conversation
that names a profile (`agentProfile`) gets it as a task run does: its SKILL.md, learned context
and memories in the prompt, its `allowedTools` over every tool but chat's own stagent tools,
its policy in front of the permission checks, its maxTurns, model override and MCP servers. Its `done`
event also carries the quick-access links of what the reply touched or named. The turn runs
under the supervisor as `chat-turn:<conversation id>:<id>`, so a client that goes away does
not cut it short: the reply is stored either way.

Invariant: a turn that cannot start (unknown conversation, a reply still in progress, no
provider, a budget cap) raises before any event, so the caller can still answer with a plain
error; once the first event is out, a failure arrives as an `error` event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from ...db import Database
from ...db.rows import new_id
from ...errors import ApiError
from ..agent.tools import TASK_TOOLS, ToolSet
from ..memory.prompt import knowledge
from ..profiles import runs as profile_runs
from . import chat_tools


class StagentChat:
    """Stateless over the database and the engines: build one per request."""

    def __init__(self, db: Database, conversations, runner, supervisor) -> None:
        self.db = db
        self.conversations = conversations
        self.runner = runner
        self.supervisor = supervisor

    async def reply(self, conversation_id: str, content: str, mentions: list[dict] | None = None) -> ChatReply:
        """Start the assistant's turn and wait for its first event; raises what stopped it
        from starting."""
        conv = await self.conversations.get(conversation_id)
        extra = [f"This conversation belongs to project {conv['projectId']}."] if conv.get("projectId") else []
        folder = await chat_tools.working_dir(self.db, conv)
        if folder is not None:
            extra.append(f"The project's working directory is {folder}; your file, search and shell "
                         "tools work there (paths are relative to it).")
        if mentions:
            extra.append(await chat_tools.describe_mentions(self.db, mentions))
        tool_context = chat_tools.ChatToolContext(self.db, self.runner, conv, working_dir=folder)
        profile = await self._profile(conv)
        shape = profile_runs.RunShape(profile, (profile or {}).get("maxTurns"))
        tools = await chat_tools.tool_set(tool_context, getattr(self.runner, "mcp", None), shape.mcp_servers)
        if profile is not None:
            extra.append(profile_runs.system_prompt("", profile, conv.get("runtimeId")).strip())
            extra.append((await knowledge(self.db, {"agentProfile": profile["id"], "title": content})).strip())
            # chat's own workspace tools (projects, tasks...) stay, as the original's mcp__stagent__* did
            own = {t.name for t in tools if chat_tools.CHAT_TOOLS.get(t.name) is t and TASK_TOOLS.get(t.name) is not t}
            limited = shape.tools(ToolSet("chat", (t for t in tools if t.name not in own)))
            tools = ToolSet("chat", [*(t for t in tools if t.name in own), *limited])
        queue: asyncio.Queue = asyncio.Queue()
        streamed: list[str] = []
        recent = asyncio.ensure_future(chat_tools.recent_entities(self.db))
        recent.add_done_callback(lambda f: f.cancelled() or f.exception())  # a turn may never reach `done`

        async def sink(event: dict) -> None:
            if event["type"] == "delta":
                streamed.append(event["content"])
            elif event["type"] == "done":
                event = {**event, "quickAccess": await chat_tools.quick_access(
                    recent, tool_context.touched, "".join(streamed))}
            queue.put_nowait(event)

        failures: list[ApiError] = []

        async def turn() -> None:
            try:
                await self.conversations.send(conversation_id, content, tools=tools,
                                              tool_context=tool_context, max_steps=shape.max_turns,
                                              permissions=shape.permissions(self.conversations.permissions),
                                              system_extra="\n\n".join(p for p in extra if p), on_event=sink)
            except ApiError as exc:  # before the first event: the caller's error; after it: an error event
                failures.append(exc)
            finally:
                recent.cancel()
                queue.put_nowait(None)

        name = f"chat-turn:{conversation_id}:{new_id()}"
        self.supervisor.start(name, turn())
        first = await queue.get()
        if first is None:  # the turn could not start
            raise failures[0] if failures else ApiError("The reply could not start; see the daemon log.")
        return ChatReply(self.supervisor, name, queue, first)


    async def _profile(self, conv: dict) -> dict | None:
        """The conversation's profile (None when it names none, or its profile is gone)."""
        registry = getattr(self.runner, "profiles", None)
        if not conv.get("agentProfile") or registry is None:
            return None
        return await registry.find(conv["agentProfile"], conv.get("projectId"))


class ChatReply:
    """A started turn: its events in order, from the first to `done` or `error`."""

    def __init__(self, supervisor, name: str, queue: asyncio.Queue, first: dict) -> None:
        self.supervisor = supervisor
        self.name = name
        self.queue = queue
        self.first = first

    async def events(self, stop: asyncio.Event) -> AsyncIterator[dict]:
        """When `stop` is set (the daemon is stopping) the turn is cancelled; its `error` event
        still comes through."""
        stopping = object()  # queued on stop, so waiting for an event costs one queue.get and no more

        async def watch_stop() -> None:
            await stop.wait()
            self.queue.put_nowait(stopping)

        watcher = asyncio.ensure_future(watch_stop())
        try:
            event = self.first
            while event is not None:
                if event is stopping:  # end the turn; it sends its error event, then None
                    await self.supervisor.cancel(self.name)
                    event = await self.queue.get()
                    continue
                yield event
                if event["type"] in ("done", "error"):
                    return
                event = await self.queue.get()
        finally:
            watcher.cancel()
