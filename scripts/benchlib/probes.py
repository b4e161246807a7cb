"""What the machine and its processes are doing: /proc probes (RSS, CPU time, mapped libraries),
CPU used by other processes, and the versions printed in the header."""

from __future__ import annotations

import os
import platform
import resource
import shutil
import sqlite3
import subprocess
import time


def _stat_fields(pid: int | str) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (fields[1] = ppid, [11]/[12] = utime/stime)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def _cpu_of(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def vm_rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process, all threads included."""
    try:
        return _cpu_of(_stat_fields(pid))
    except (OSError, IndexError, ValueError):
        return None


def maps_contain(pid: int, needles: tuple[str, ...]) -> list[str]:
    found = set()
    try:
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                for n in needles:
                    if n in line:
                        found.add(n)
    except OSError:
        pass
    return sorted(found)


class ForeignLoad:
    """CPU used by processes outside this benchmark's process tree during a window (other users of the machine)."""

    def __init__(self) -> None:
        self.before: dict[int, float] = {}
        self.t0 = 0.0

    @staticmethod
    def _snapshot() -> dict[int, tuple[int, float]]:
        out = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                fields = _stat_fields(entry)
                out[int(entry)] = (int(fields[1]), _cpu_of(fields))
            except (OSError, IndexError, ValueError):
                continue
        return out

    def start(self) -> None:
        self.before = {pid: cpu for pid, (_, cpu) in self._snapshot().items()}
        self.t0 = time.perf_counter()

    def stop(self) -> float:
        """Average number of cores busy with foreign processes since start()."""
        snap = self._snapshot()
        wall = max(1e-6, time.perf_counter() - self.t0)
        ours = {os.getpid()}
        changed = True
        for _ in range(20):  # bounded: our tree is a few levels deep
            if not changed:
                break
            changed = False
            for pid, (ppid, _) in snap.items():
                if ppid in ours and pid not in ours:
                    ours.add(pid)
                    changed = True
        busy = 0.0
        for pid, (_, cpu) in snap.items():
            if pid in ours:
                continue
            busy += cpu - self.before.get(pid, 0.0)
        return max(0.0, busy / wall)


def machine_info() -> dict:
    """CPUs, Python, SQLite, library and wrk versions, fd limit: the header and the JSON's `machine`."""
    from importlib.metadata import version  # here, not at the top: helper processes never need it

    versions = {}
    for mod in ("uvicorn", "starlette", "sse_starlette", "aiosqlite", "uvloop", "httptools"):
        try:
            versions[mod] = version(mod.replace("_", "-"))
        except Exception:
            versions[mod] = None
    wrk = shutil.which("wrk")
    wrk_v = None
    if wrk:
        try:
            wrk_v = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=5).stdout.split("[")[0].strip()
        except (OSError, subprocess.TimeoutExpired):
            pass
    return {"nproc": os.cpu_count(), "affinity": sorted(os.sched_getaffinity(0)), "python": platform.python_version(),
            "platform": platform.platform(), "sqlite": sqlite3.sqlite_version, "packages": versions, "wrk": wrk_v,
            "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0]}
