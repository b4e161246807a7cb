"""The tab's one live stream: across a daemon restart it reconnects and resumes from its last
event id, so the task log loses no line and shows none twice."""

from __future__ import annotations

from stagent.app import create_app
from tests.api.test_logs import append_lines, make_task
from tests.helpers.servers import ThreadedServer
from tests.ui.conftest import expect, open_page


def restart(daemon) -> None:
    """The same daemon (port, data dir) stopped and started again, as after an upgrade. The
    shutdown event is what SIGTERM sets in `stagent serve`: open streams end cleanly."""
    daemon.loop.call_soon_threadsafe(daemon.app.state.sse_shutdown.set)
    daemon.server.stop()
    daemon.app = create_app(daemon.config)
    daemon.server = ThreadedServer(daemon.app, daemon.port).start()


def test_the_log_survives_a_daemon_restart_without_gaps_or_repeats(page, daemon, client):
    task = make_task(client, "long job")
    append_lines(daemon, task["id"], 3, event="note")
    open_page(page, f"/tasks/{task['id']}")
    lines = page.get_by_role("log", name="Task log").locator(".line-note")
    expect(lines).to_have_count(3)  # history
    append_lines(daemon, task["id"], 2, event="note", start=3)
    expect(lines).to_have_count(5)  # live

    restart(daemon)
    append_lines(daemon, task["id"], 3, event="note", start=5)  # written while the tab is away
    expect(page.locator("#live")).to_have_attribute("data-status", "live")
    expect(lines).to_have_count(8)
    shown = [text.rsplit(" ", 1)[1] for text in lines.all_inner_texts()]
    assert shown == [f'{{"n":{n}}}' for n in range(8)]  # each line once, in order
    append_lines(daemon, task["id"], 1, event="note", start=8)
    expect(lines).to_have_count(9)
    # Should the browser retry while the port is closed, it logs the refused connection.
    page.problems[:] = [p for p in page.problems if "ERR_CONNECTION_REFUSED" not in p]
