"""`stagent serve` takes the TCP peer as the caller: an X-Forwarded-For header sent from this
machine changes nothing (uvicorn's proxy-header rewriting is off)."""

from __future__ import annotations

import httpx

from tests.helpers.processes import daemon_process
from tests.helpers.servers import free_port


def test_a_forwarded_for_header_does_not_change_who_the_caller_is(tmp_path, fake):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with daemon_process(tmp_path / "data", port, fake):
        plain = httpx.get(f"{base}/api/projects", timeout=30)
        forwarded = httpx.get(f"{base}/api/projects", headers={"X-Forwarded-For": "203.0.113.9"}, timeout=30)
    assert plain.status_code == 200
    assert forwarded.status_code == 200, forwarded.text  # still the local user, not "another machine"
