"""The state one bench run shares between its sections: temp dir, child processes, results, the log
lines, and the (bounded) wait for the machine to go quiet before each measurement."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from .probes import ForeignLoad
from .processes import Children


class BenchSession:
    def __init__(self, quick: bool):
        self.quick = quick
        self.children = Children()
        self.tmp = Path(tempfile.mkdtemp(prefix="stagent-bench-"))
        self.results: dict = {}
        self.wrk = shutil.which("wrk")
        self.quiet_budget = 3.0 if quick else 60.0  # total seconds we may wait for an idle machine

    def log(self, msg: str) -> None:
        print(f"  [{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    def wait_quiet(self) -> None:
        """Before a measurement: wait (bounded) for other processes to go quiet; go on regardless."""
        deadline = time.perf_counter() + min(5.0, self.quiet_budget)
        t0 = time.perf_counter()
        while time.perf_counter() < deadline:
            probe = ForeignLoad()
            probe.start()
            time.sleep(0.5)
            if probe.stop() < 0.1:
                break
        self.quiet_budget -= time.perf_counter() - t0

    def foreign_note(self, cores: float) -> str:
        self.results["max_foreign_cores"] = max(self.results.get("max_foreign_cores", 0.0), cores)
        return f"  [other processes used {cores:.2f} cores]" if cores >= 0.05 else ""

    def logfile(self, name: str):
        return open(self.tmp / f"{name}.log", "w")
