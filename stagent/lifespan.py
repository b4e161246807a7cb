"""Ordered start-up and shutdown of everything long-lived.

Start: data dir (locked) → a restore a crash cut off is finished or undone (snapshots journal)
→ db → migrate → snapshots (their own lifetime) → `Runtime.start`: → keys → the engines, built in dependency order with real
references to each other (`Engines`) → log bus → runner, which ends the runs a crash cut off as
failed/`interrupted` → channel delivery (resumes pending deliveries), channel approvals, channel
chat → workflow engine (active runs continue) → Lars (approvals wait again) → background jobs
(stream shutdown, key-usage flush, workflow triggers, scheduler, litellm warm-up).

Shutdown: the workflow engine stops driving before the step tasks end, so runs stay resumable;
live runs end as failed/`interrupted`; the scheduler and the channels stop, so nothing fires,
queues a delivery or polls a channel after that; the MCP servers' sessions close; the supervisor
cancels what is left; the log buffer is flushed, key usage written, litellm's clients closed, the
db closed.

`Runtime` holds the engines over the open database: a snapshot restore suspends it (engines
stopped, connections closed), swaps the files and resumes it; seed and clear reload it. Every
in-memory state is rebuilt that way instead of being patched.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import logging
import os

import anyio

from .api._sse import FrameCache
from .config import Config
from .db import Database
from .db.migrations import migrate
from .engine.agent import llm
from .engine.agent.mcp_client import McpClients
from .engine.channels.approvals import ChannelApprovals
from .engine.channels.chat import ChannelChat
from .engine.channels.delivery import ChannelDelivery
from .engine.chat.conversation import ConversationEngine
from .engine.documents.processor import Documents
from .engine.governance.budgets import Budgets
from .engine.governance.permissions import Permissions
from .engine.handoffs.engine import Handoffs
from .engine.lars.engine import Lars
from .engine.learning.context import LearnedContext
from .engine.logbus import LogBus
from .engine.memory.reflect import Reflection
from .engine.schedules.scheduler import Scheduler
from .engine.snapshots.auto import AutoBackup
from .engine.snapshots.engine import RuntimeControl, Snapshots
from .engine.snapshots.journal import Journal
from .engine.supervisor import Supervisor
from .engine.tables.triggers import TableTriggers
from .engine.tasks.runner import Runner
from .engine.workflows.blueprints import BlueprintRegistry
from .engine.workflows.engine import WorkflowEngine
from .engine.workflows.triggers import WorkflowTriggers
from .events import EventBus
from .security import KeyCache
from .store import keys as key_store
from .store import settings

log = logging.getLogger("stagent")


class Engines:
    """Every long-lived engine, each built after what it needs and handed the real thing.

    Building does no I/O; `start` recovers what a stop or crash left and subscribes to events;
    `stop` ends them in the order the module docstring gives. Each is published as
    `app.state.<attribute>`, the API's handle on it.
    """

    def __init__(self, db: Database, config: Config):
        self.db = db
        self.events = events = EventBus()
        self.logbus = logbus = LogBus(db)
        self.supervisor = supervisor = Supervisor()
        self.permissions = permissions = Permissions(db, events)
        self.budgets = budgets = Budgets(db, events)
        self.mcp_clients = mcp_clients = McpClients(db, supervisor, log_dir=config.data_dir / "mcp-logs")
        self.runner = runner = Runner(db, logbus, events, supervisor, permissions=permissions, budgets=budgets,
                                      mcp=mcp_clients, retry_base_delay=config.llm_retry_base_delay)
        self.conversations = conversations = ConversationEngine(db, runner, permissions, budgets,
                                                                retry_base_delay=config.llm_retry_base_delay)
        self.channels = channels = ChannelDelivery(db, supervisor)
        self.channel_approvals = ChannelApprovals(db, events, permissions, channels, supervisor, config.base_url)
        self.channel_chat = ChannelChat(db, conversations, channels, runner, supervisor)
        # Before the scheduler and the triggers: a workflow's schedule fires by starting it.
        self.workflows = workflows = WorkflowEngine(db, runner, events, logbus, supervisor, permissions)
        self.scheduler = scheduler = Scheduler(db, runner, events, logbus, supervisor, deliver=channels.deliver,
                                               start_workflow=workflows.start)
        self.workflow_triggers = WorkflowTriggers(db, events, supervisor, scheduler, workflows)
        self.table_triggers = TableTriggers(db, events, supervisor, runner, workflows)  # row changes start runs
        self.blueprints = BlueprintRegistry(config.data_dir / "blueprints")
        self.lars = Lars(db, events, permissions, supervisor, conversations, runner, scheduler, channels, workflows)
        # memory, learned context, handoffs (docs/decisions: memory-and-handoffs)
        self.learned_context = learned = LearnedContext(db, events)
        self.handoffs = Handoffs(db, events, runner, supervisor)
        self.reflection = Reflection(db, events, budgets, supervisor, learned)
        # text extraction of documents (docs/decisions/023-documents.md)
        self.documents = Documents(db, supervisor, config.data_dir)

    def publish(self, state) -> None:
        for name, engine in vars(self).items():
            setattr(state, name, engine)

    async def start(self) -> None:
        """Everything but the background jobs of the triggers and the scheduler (start_jobs)."""
        await self.logbus.start()
        await self.runner.recover_interrupted()
        await self.channels.start()  # resumes deliveries a crash left pending
        self.channel_approvals.start()
        await self.channel_chat.start()
        self.workflows.open()
        await self.workflows.recover()  # active runs continue; finished steps are not re-run
        await self.lars.recover()  # approvals wait again; actions a crash cut off are FAILED
        self.handoffs.start()  # accepted handoffs a stop left become tasks; pending ones expire
        self.reflection.start()
        await self.documents.start()  # extractions a stop or crash cut off run again
        self.table_triggers.start()

    def start_jobs(self, *, scheduler: bool) -> None:
        self.workflow_triggers.start()
        if scheduler:
            self.scheduler.start()

    async def stop(self) -> None:
        """Safe after a partial start: each stop only ends what its start began."""
        await self.handoffs.stop()  # before runs end: an interrupted run starts no handoff task
        await self.reflection.stop()
        await self.table_triggers.stop()  # before runs end: no trigger starts a run while they stop
        await self.workflow_triggers.stop()
        await self.workflows.stop()  # before the step tasks end: runs stay resumable
        await self.runner.interrupt_all()
        # Nothing may fire, queue a delivery or poll a channel after channels stop.
        await self.scheduler.stop()
        await self.channel_chat.stop()
        await self.channel_approvals.stop()
        await self.channels.stop()
        await self.mcp_clients.stop()  # after the runs: each MCP server's session closes in order
        await self.supervisor.shutdown()  # the rest: Lars's turns and waits, the lifespan's own jobs
        await self.logbus.stop()


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


async def _open_database(db: Database, config: Config) -> None:
    await db.open()
    await db.write_raw(migrate)
    for suffix in ("", "-wal", "-shm"):
        path = config.db_path.with_name(config.db_path.name + suffix)
        with contextlib.suppress(OSError):
            os.chmod(path, 0o600)  # provider keys live in this file


async def _load_keys(db: Database, keys: KeyCache, config: Config) -> None:
    await key_store.load_cache(db, keys)
    await key_store.prune_sessions(db, keys)
    await key_store.ensure_initial_key(db, keys, config.api_key_path)
    keys.require_api_key = (await settings.value(db, "security.requireApiKey")) == "true"


class Runtime:
    """The engines over the open database, stoppable and startable in place: a snapshot restore
    suspends it, swaps the database files and resumes it, which rebuilds every in-memory state
    (key cache, settings, log sequence, SSE frame cache, scheduler timers) and re-runs recovery."""

    def __init__(self, state, db: Database, config: Config):
        self.state, self.db, self.config = state, db, config
        self.engines: Engines | None = None
        self._clock = None  # the scheduler's clock, kept across a restore (tests move it)
        self._scheduler_running = config.scheduler

    async def start(self) -> None:
        state, db, config = self.state, self.db, self.config
        await _load_keys(db, state.keys, config)
        self.engines = engines = Engines(db, config)
        if self._clock is not None:
            engines.scheduler.clock = self._clock
        engines.publish(state)
        await engines.start()
        state.sse_frames = FrameCache()
        state.sse_shutdown = anyio.Event()
        supervisor = engines.supervisor
        supervisor.start("sse-shutdown", _close_streams_on_shutdown(state.sse_shutdown, engines.runner, engines.logbus))
        supervisor.start("key-usage", _every(30, lambda: key_store.flush_usage(db, state.keys)))
        engines.scheduler.tickers.append(AutoBackup(state.snapshots))
        engines.start_jobs(scheduler=self._scheduler_running)

    async def stop(self) -> None:
        if self.engines is not None:
            self._clock = self.engines.scheduler.clock
            self._scheduler_running = self.engines.supervisor.running("scheduler")
            await self.engines.stop()
            # Open streams follow the old bus: end them, their clients reconnect to the new one.
            self.engines.logbus.close_subscribers()
            self.state.sse_shutdown.set()
            self.engines = None
        # The /mcp endpoint starts lazily under the engines' supervisor: the next call starts it anew.
        self.state.mcp_endpoint = None
        await key_store.flush_usage(self.db, self.state.keys)

    async def suspend(self) -> None:
        """For a restore: nothing runs and no connection is open when this returns."""
        try:
            await self.stop()
        finally:
            await self.db.close(reopening=True)

    async def resume(self) -> None:
        await _open_database(self.db, self.config)
        await self.start()

    async def reload(self) -> None:
        """After the data changed under the engines (seed, clear): rebuild them in place."""
        await self.stop()
        await self.start()


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
    runtime = Runtime(state, db, config)
    snapshots: Snapshots | None = None
    try:
        await asyncio.to_thread(Journal(config.data_dir).recover)  # a restore a crash cut off
        await _open_database(db, config)
        state.openapi = None
        state.loop = asyncio.get_running_loop()
        state.snapshots = snapshots = Snapshots(db, config.data_dir, RuntimeControl(runtime.suspend, runtime.resume, runtime.reload),
                                                now=lambda: state.scheduler.clock.now())
        await snapshots.start()
        await runtime.start()
        if config.warm_llm:
            runtime.engines.supervisor.start("llm-warmup", _warm_llm())
        yield
    finally:
        if snapshots is not None:
            await snapshots.stop()
        await runtime.stop()
        await llm.close_clients()
        await db.close()
        os.close(lock_fd)
