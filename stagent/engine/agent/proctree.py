"""Every process a shell command started, found and killed, also those that left its process
group (`setsid`, a daemon's double fork).

A command's processes are recognised two ways, read from /proc:
- its marker: run_command puts `STAGENT_COMMAND_ID=<random>` into the command's environment,
  and every process it starts inherits it, whoever its parent is now (an orphan is adopted by
  init or a subreaper, and its session and group may be its own);
- its descendants: the children, transitively, of the command's shell while it still runs and
  of every process already found (for a process that emptied its environment, `env -i`).

Killing: what is found is stopped (SIGSTOP) first, so nothing forks while the tree is read
again; when a reading finds nothing new, everything found and the command's process group get
SIGKILL; then the search repeats until nothing of the command is left alive (a bounded number
of rounds). No process-wide state (no subreaper): the daemon's other children are untouched.

Linux only (/proc); elsewhere only the process group is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
from collections import defaultdict

MARKER = "STAGENT_COMMAND_ID"
ROUNDS = 20  # searches per kill; each one after the first only finds what forked meanwhile


def new_marker() -> tuple[str, str]:
    """(variable name, value) to put into one command's environment."""
    return MARKER, secrets.token_hex(12)


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:  # gone meanwhile, or another user's process
        return None


def start_time(pid: int) -> int:
    """When the process started (clock ticks since boot; 0 when it cannot be read)."""
    stat = _read(f"/proc/{pid}/stat")
    fields = stat.rsplit(b")", 1)[-1].split() if stat else []
    return int(fields[19]) if len(fields) > 19 else 0


def find(marker_value: str, roots: set[int], since: int = 0) -> set[int]:
    """The live processes that carry the marker, or are one of `roots`, or descend from those.
    Processes started before `since` (the command's shell) cannot be the command's: their
    environment is not read."""
    needle = f"{MARKER}={marker_value}".encode()
    me = os.getpid()
    children: dict[int, list[int]] = defaultdict(list)
    alive: set[int] = set()
    marked: set[int] = set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return set()
    for name in entries:
        if not name.isdigit() or int(name) == me:
            continue
        pid = int(name)
        stat = _read(f"/proc/{pid}/stat")
        if stat is None:
            continue
        fields = stat.rsplit(b")", 1)[-1].split()
        if len(fields) < 20 or fields[0] in (b"Z", b"X"):  # a zombie is dead already
            continue
        if int(fields[19]) < since:
            continue
        alive.add(pid)
        children[int(fields[1])].append(pid)
        environ = _read(f"/proc/{pid}/environ")
        if environ and needle in environ:
            marked.add(pid)
    found = marked | (roots & alive)
    stack = list(found)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _signal(pids: set[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def kill_group(pgid: int, signum: int = signal.SIGKILL) -> None:
    """Signal every process of the command's group (gone already: nothing to do)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def kill_tree(marker_value: str, shell_pid: int | None, pgid: int, since: int = 0) -> None:
    """Kill the command's group and every process of the command (see the module's doc).
    `shell_pid` is the command's shell while it has not been reaped (None after: its pid may
    belong to someone else by then). Blocking (reads /proc): run it in a worker thread."""
    roots = {shell_pid} if shell_pid is not None else set()
    found: set[int] = set()
    kill_group(pgid, signal.SIGSTOP)
    for _ in range(ROUNDS):  # freeze everything, so the tree stops changing
        new = find(marker_value, roots | found, since) - found
        if not new:
            break
        _signal(new, signal.SIGSTOP)
        found |= new
    kill_group(pgid)
    for _ in range(ROUNDS):  # then kill it, until nothing of it is left
        if not found:
            return
        _signal(found, signal.SIGKILL)
        found = find(marker_value, found, since)


async def wait_exit(proc) -> int | None:
    """Wait until the command's shell has ended; its status, or None when not known yet.
    asyncio's `proc.wait()` also waits until every copy of the output pipes is closed, which a
    background process that outlives the shell keeps open: this watches the shell alone (a
    pidfd), so what it left behind can be killed as soon as it ends."""
    if proc.returncode is not None:
        return proc.returncode
    try:
        fd = os.pidfd_open(proc.pid)
    except ProcessLookupError:  # ended and reaped already
        return proc.returncode
    except (AttributeError, OSError):  # no pidfd here (old kernel, not Linux): pipes and all
        return await proc.wait()
    loop = asyncio.get_running_loop()
    ended = loop.create_future()
    loop.add_reader(fd, lambda: ended.done() or ended.set_result(None))
    try:
        await ended
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    return proc.returncode
