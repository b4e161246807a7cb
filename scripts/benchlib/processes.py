"""Child processes: spawning them pinned to a core, stopping every one by pid, reading their output
line by line, and the command line that re-invokes bench.py as a helper role."""

from __future__ import annotations

import queue
import shutil
import signal
import subprocess
import sys
import threading
import time

from .common import BENCH_SCRIPT

try:
    import ctypes
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # pragma: no cover - not Linux
    _prctl = None


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it if the bench dies (even by SIGKILL). Kept across exec."""
    if _prctl is not None:
        _prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


def helper_cmd(role: str, *args) -> list[str]:
    """`python bench.py ROLE ARGS...`: one of the bench's own helper processes (see bench.py's ROLES)."""
    return [sys.executable, str(BENCH_SCRIPT), role, *map(str, args)]


class Children:
    """Every process this run started, stopped by pid in `stop_all` (SIGTERM, then SIGKILL)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def spawn(self, cmd: list[str], core: str | None, **kw) -> subprocess.Popen:
        if core is not None and shutil.which("taskset"):
            cmd = ["taskset", "-c", core, *cmd]  # taskset execs: the pid is the command's pid
        proc = subprocess.Popen(cmd, preexec_fn=_die_with_parent, **kw)
        self.procs.append(proc)
        return proc

    @staticmethod
    def stop(proc: subprocess.Popen, timeout: float = 15.0) -> float | None:
        """SIGTERM and wait; SIGKILL after `timeout`. Returns seconds to exit after SIGTERM."""
        if proc.poll() is not None:
            return 0.0
        t0 = time.perf_counter()
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=timeout)
            return time.perf_counter() - t0
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            return None
        except ProcessLookupError:
            return 0.0

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                self.stop(proc, timeout=10)
        for proc in self.procs:
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                try:
                    if stream:
                        stream.close()
                except OSError:
                    pass


class LineReader:
    """Lines of a child's stdout, read by a daemon thread, with a timeout on each read."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.q: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        for line in self.proc.stdout:
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def expect(self, prefix: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no '{prefix}' line within {timeout:.0f} s")
            try:
                line = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"helper exited (rc={self.proc.poll()}) before '{prefix}'")
            if line.startswith(prefix):
                return line[len(prefix):].strip()

    def send(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
