"""Waiting for something the daemon does in the background, with a bound."""

from __future__ import annotations

import time


def wait_for(check, timeout: float = 30, what: str = "condition"):
    """check()'s first truthy value; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
