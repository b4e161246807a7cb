"""Ordered start-up and shutdown of everything long-lived.

Start: data dir (locked) → db → migrate → keys → log bus → runner, which ends the runs a crash
cut off as failed/`interrupted` → background jobs (litellm warm-up, key-usage flush). Shutdown runs in reverse: live runs end
as failed/`interrupted`, background tasks are cancelled, the log buffer is flushed, the db closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import logging
import os

import anyio

from .api.logs import FrameCache
from .db import Database
from .db.migrations import migrate
from .engine.agent import llm
from .engine.channels.approvals import ChannelApprovals
from .engine.channels.chat import ChannelChat
from .engine.channels.delivery import ChannelDelivery
from .engine.chat.conversation import ConversationEngine
from .engine.governance.budgets import Budgets
from .engine.governance.permissions import Permissions
from .engine.lars.engine import Lars
from .engine.logbus import LogBus
from .engine.schedules.scheduler import Scheduler
from .engine.supervisor import Supervisor
from .engine.tasks.runner import Runner
from .engine.workflows.blueprints import BlueprintRegistry
from .engine.workflows.engine import WorkflowEngine
from .engine.workflows.triggers import WorkflowTriggers
from .events import EventBus
from .store import keys as key_store
from .store import settings

log = logging.getLogger("stagent")


async def _every(seconds: float, fn) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await fn()
        except Exception:  # pragma: no cover - a periodic job must not die
            log.exception("periodic job failed")


async def _close_streams_on_shutdown(event: anyio.Event, runner: Runner, logbus: LogBus) -> None:
    # sse-starlette sets the event when the server starts shutting down, before it drains the
    # connections: end the runs first, so open streams still deliver their final lines.
    await event.wait()
    await runner.interrupt_all()
    logbus.close_subscribers()


async def _warm_llm() -> None:
    await llm.ensure_loaded()
    # litellm brings ~300k long-lived objects; frozen, full collections stop walking them on
    # every pass (measured: p99 of a task GET from ~150 ms to ~10 ms under load).
    gc.collect()
    gc.freeze()
    log.info("litellm loaded")


class DataDirInUse(RuntimeError):
    pass


def lock_data_dir(data_dir) -> int:
    """Hold an exclusive lock on <data dir>/stagent.lock for the daemon's lifetime.

    A second daemon on the same data would mark the first one's running tasks as interrupted
    and race its scheduler; it refuses to start instead. Returns the fd (closing releases it).
    """
    fd = os.open(data_dir / "stagent.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise DataDirInUse(f"Another stagent (pid {holder}) is already using {data_dir}; stop it, "
                           "or start this one with another --data-dir.") from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


@contextlib.asynccontextmanager
async def lifespan(app):
    state = app.state
    config = state.config
    # Fewer young-generation passes: a request allocates many short-lived objects.
    gc.set_threshold(5000, 10, 10)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(config.data_dir, 0o700)
    lock_fd = lock_data_dir(config.data_dir)

    db = Database(config.db_path)
    try:
        await db.open()
        await db.write_raw(migrate)
        for suffix in ("", "-wal", "-shm"):
            path = config.db_path.with_name(config.db_path.name + suffix)
            with contextlib.suppress(OSError):
                os.chmod(path, 0o600)  # provider keys live in this file

        await key_store.load_cache(db, state.keys)
        await key_store.prune_sessions(db, state.keys)
        await key_store.ensure_initial_key(db, state.keys, config.api_key_path)
        state.keys.require_api_key = (await settings.value(db, "security.requireApiKey")) == "true"

        events = EventBus()
        logbus = LogBus(db)
        await logbus.start()
        supervisor = Supervisor()
        permissions = Permissions(db, events)
        budgets = Budgets(db, events)
        runner = Runner(db, logbus, events, supervisor, permissions=permissions, budgets=budgets)
        await runner.recover_interrupted()
        state.db, state.events, state.logbus, state.supervisor, state.runner = db, events, logbus, supervisor, runner
        state.permissions, state.budgets = permissions, budgets
        state.conversations = ConversationEngine(db, runner, permissions, budgets)
        state.channels = ChannelDelivery(db, supervisor)
        await state.channels.start()  # resumes deliveries a crash left pending
        state.channel_approvals = ChannelApprovals(db, events, permissions, state.channels, supervisor, config.base_url).start()
        state.channel_chat = await ChannelChat(db, state.conversations, state.channels, runner, supervisor).start()
        state.scheduler = Scheduler(db, runner, events, logbus, supervisor, deliver=state.channels.deliver)
        state.workflows = WorkflowEngine(db, runner, events, logbus, supervisor, permissions).open()
        await state.workflows.recover()  # active runs continue; finished steps are not re-run
        state.blueprints = BlueprintRegistry(config.data_dir / "blueprints")
        # Runs start through the workflow engine, looked up when needed (it may be set up later).
        state.workflow_triggers = WorkflowTriggers(db, state.scheduler, lambda: getattr(state, "workflows", None))
        state.scheduler.start_workflow = state.workflow_triggers.start_workflow
        # Lars runs RUN_WORKFLOW through the workflow engine, looked up when an action runs.
        state.lars = Lars(db, events, permissions, supervisor, state.conversations, runner, state.scheduler,
                          state.channels, lambda: getattr(state, "workflows", None))
        await state.lars.recover()  # approvals wait again; actions a crash cut off are FAILED
        state.openapi = None
        state.loop = asyncio.get_running_loop()
        state.sse_frames = FrameCache()
        state.sse_shutdown = anyio.Event()

        supervisor.start("sse-shutdown", _close_streams_on_shutdown(state.sse_shutdown, runner, logbus))
        supervisor.start("key-usage", _every(30, lambda: key_store.flush_usage(db, state.keys)))
        supervisor.start("workflow-triggers-sync", state.workflow_triggers.sync_all())
        supervisor.start("workflow-triggers-follow", state.workflow_triggers.follow_edits(events))
        if config.scheduler:
            state.scheduler.start()
        if config.warm_llm:
            supervisor.start("llm-warmup", _warm_llm())
        yield
    finally:
        runner = getattr(state, "runner", None)
        if runner is not None:
            if getattr(state, "workflows", None) is not None:
                await state.workflows.stop()  # before the step tasks end: runs stay resumable
            await runner.interrupt_all()
            # Nothing may queue a delivery or poll a channel after channels stop.
            for job in ("scheduler", "scheduler-runs", "scheduler-queues", *state.supervisor.names("telegram-poll:")):
                await state.supervisor.cancel(job)
            if getattr(state, "channels", None) is not None:
                await state.channels.stop()
            await state.supervisor.shutdown()
            await state.logbus.stop()
            await key_store.flush_usage(db, state.keys)
            await llm.close_clients()
        await db.close()
        os.close(lock_fd)
