"""Paths, pinning, and small helpers shared by the bench and its helper processes."""

from __future__ import annotations

import asyncio
import json
import resource
import socket
import sys
from pathlib import Path

SCRIPTS_DIR = Path(__file__).resolve().parent.parent
ROOT = SCRIPTS_DIR.parent
BENCH_SCRIPT = SCRIPTS_DIR / "bench.py"  # the entry point, re-invoked as `bench.py _ROLE ...` for helpers
VENV_BIN = Path(sys.executable).parent
STAGENT_BIN = VENV_BIN / "stagent"
RESULTS_DIR = ROOT / "bench-results"
SERVER_CORE, CLIENT_CORE = "0", "1"
TEXT_CHUNK = "The quick brown fox jumps over the lazy dog; streaming delta."  # ~60 chars, one LLM delta


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def fmt(value, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    return f"{value:,}{unit}"


def tail(path: Path, n: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def last_json_line(out: str, prefix: str = "RESULT ") -> object | None:
    """The JSON after `prefix` on the last line of a helper's output that starts with it, or None."""
    lines = [ln for ln in out.splitlines() if ln.startswith(prefix)]
    return json.loads(lines[-1][len(prefix):]) if lines else None


def run_event_loop(coro):
    try:
        import uvloop
        return uvloop.run(coro)
    except ImportError:  # pragma: no cover - uvicorn[standard] ships it
        return asyncio.run(coro)
