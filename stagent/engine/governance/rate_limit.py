"""Per-workspace request limits of the Lars API: a sliding one-minute window per (workspace, bucket).

The daemon is one process on one event loop, and `hit` never awaits, so checking and counting a
request is atomic: of 70 concurrent requests against a limit of 60, exactly 60 are admitted.
Windows are measured on the monotonic clock (a wall-clock jump neither frees nor freezes a
window); the wall clock only turns "when the window frees" into the epoch second of
`X-RateLimit-Reset`. Both clocks are injectable (tests move them instead of sleeping).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset: int        # epoch second when the oldest counted request leaves the window
    retry_after: int  # seconds until a request will be admitted again (0 when allowed)

    def headers(self) -> dict[str, str]:
        headers = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
                   "X-RateLimit-Reset": str(self.reset)}
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class RateLimiter:
    def __init__(self, limits: dict[str, int], *, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time):
        self.limits = dict(limits)
        self.window = window
        self.clock = clock            # the windows
        self.wall_clock = wall_clock  # X-RateLimit-Reset only
        self._hits: dict[tuple[str, str], deque[float]] = {}

    def hit(self, workspace: str, bucket: str) -> RateDecision:
        """Count one request of `bucket` for `workspace`, unless the window is full."""
        limit = self.limits[bucket]
        now = self.clock()
        hits = self._hits.setdefault((workspace, bucket), deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        allowed = len(hits) < limit
        if allowed:
            hits.append(now)
        frees_in = (hits[0] if hits else now) + self.window - now
        return RateDecision(allowed, limit, limit - len(hits), math.ceil(self.wall_clock() + frees_in),
                            0 if allowed else max(1, math.ceil(frees_in)))

    def reset(self) -> None:
        self._hits.clear()
