"""A real `stagent serve` subprocess: starting it, and waiting for its background litellm warm-up."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from .common import STAGENT_BIN
from .httpclient import http_get
from .probes import vm_rss_mb
from .session import BenchSession


def spawn_stagent(session: BenchSession, name: str, data_dir: Path, port: int, core: str | None,
                  env=None) -> subprocess.Popen:
    """`stagent serve --port P --data-dir D`, stderr to <tmp>/<name>.log."""
    err = session.tmp / f"{name}.log"
    return session.children.spawn(
        [str(STAGENT_BIN), "serve", "--port", str(port), "--data-dir", str(data_dir)],
        core, stdout=subprocess.DEVNULL, stderr=open(err, "w"), stdin=subprocess.DEVNULL,
        env=env, cwd=session.tmp)


def wait_warm(session: BenchSession, proc: subprocess.Popen, logname: str, timeout: float = 20.0,
              probe_port: int | None = None, probe_latencies: list | None = None) -> float | None:
    """Wait for the daemon's 'litellm loaded' log line; then for the RSS to settle.

    With probe_port, time a GET /api/projects every 50 ms meanwhile (is the daemon responsive
    while litellm is imported in the background?)."""
    t0 = time.perf_counter()
    log = session.tmp / f"{logname}.log"
    seen = None
    while time.perf_counter() - t0 < timeout and proc.poll() is None:
        if "litellm loaded" in log.read_text(errors="replace"):
            seen = time.perf_counter()
            break
        if probe_port is not None and probe_latencies is not None:
            r0 = time.perf_counter()
            try:
                status, _ = http_get(probe_port, "/api/projects", timeout=5.0)
                if status == 200:
                    probe_latencies.append(time.perf_counter() - r0)
            except (OSError, ValueError, IndexError):
                pass
        time.sleep(0.05)
    # RSS settled: three samples 100 ms apart within 1 MB (bounded to 3 s).
    last, stable = None, 0
    for _ in range(30):
        rss = vm_rss_mb(proc.pid)
        if last is not None and rss is not None and abs(rss - last) < 1.0:
            stable += 1
            if stable >= 3:
                break
        else:
            stable = 0
        last = rss
        time.sleep(0.1)
    return seen
