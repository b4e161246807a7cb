"""The reply in progress: cancel it (POST …/cancel), and read it again from an event id
(GET …/stream), as a client does that left the page or reloaded it (decision 016)."""

from __future__ import annotations

import queue
import threading

import httpx

from tests.helpers.sse import iter_events

CONV = "/api/chat/conversations"


def new_conversation(client) -> dict:
    return client.post(CONV, json={"runtimeId": "openai-direct"}).json()


def read_reply(daemon, conversation_id: str, content: str, into: queue.Queue) -> threading.Thread:
    """POST a message in a thread; every event of its SSE answer goes into `into`, then None."""

    def reader() -> None:
        try:
            with httpx.stream("POST", f"{daemon.url}{CONV}/{conversation_id}/messages",
                              json={"content": content}, timeout=60) as r:
                assert r.status_code == 200, r.read()
                for event in iter_events(r.iter_lines()):
                    into.put(event.json())
        finally:
            into.put(None)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    return thread


def drain(events: queue.Queue) -> list[dict]:
    out = []
    while (event := events.get(timeout=30)) is not None:
        out.append(event)
    return out


def wait_for(events: queue.Queue, kind: str) -> list[dict]:
    seen = []
    while True:
        event = events.get(timeout=30)
        assert event is not None, f"the stream ended before a {kind!r} event: {seen}"
        seen.append(event)
        if event["type"] == kind:
            return seen


def stream(daemon, conversation_id: str, **kwargs) -> httpx.Response:
    return httpx.get(f"{daemon.url}{CONV}/{conversation_id}/stream", timeout=60, **kwargs)


def test_cancel_stops_the_reply_in_progress_and_stores_it_as_interrupted(daemon, client, llm_env):
    conv = new_conversation(client)
    llm_env.enqueue_hang("still going", chunk_delay=0.05)
    events: queue.Queue = queue.Queue()
    read_reply(daemon, conv["id"], "talk for a long time", events)
    wait_for(events, "delta")
    assert client.get(f"{CONV}/{conv['id']}").json()["replying"] is True

    r = client.post(f"{CONV}/{conv['id']}/cancel")
    assert r.status_code == 200, r.text
    assert r.json() == {"ok": True, "cancelled": True}
    rest = drain(events)
    assert rest[-1]["type"] == "error" and "cancelled" in rest[-1]["message"]
    messages = client.get(f"{CONV}/{conv['id']}/messages?includeSteps=true").json()
    assert [(m["role"], m["status"]) for m in messages] == [("user", "complete"), ("assistant", "error")]
    assert messages[1]["content"] and " ".join(["still going"] * 300).startswith(messages[1]["content"])
    assert client.get(f"{CONV}/{conv['id']}").json()["replying"] is False

    # Nothing in progress any more: a second cancel changes nothing; the next message is accepted.
    assert client.post(f"{CONV}/{conv['id']}/cancel").json() == {"ok": True, "cancelled": False}
    llm_env.enqueue_text("Back again.")
    events = queue.Queue()
    read_reply(daemon, conv["id"], "hello", events)
    assert drain(events)[-1]["type"] == "done"


def test_cancel_of_an_unknown_conversation_is_404(client):
    r = client.post(f"{CONV}/nope/cancel")
    assert r.status_code == 404 and "error" in r.json()


def test_the_reply_in_progress_can_be_read_again_from_an_event_id(daemon, client, llm_env):
    conv = new_conversation(client)
    assert stream(daemon, conv["id"]).status_code == 204  # nothing in progress
    gate = threading.Event()
    llm_env.enqueue_text("Written while you were away.", gate=gate, chunk_delay=0.01)
    events: queue.Queue = queue.Queue()
    read_reply(daemon, conv["id"], "take your time", events)
    [first] = wait_for(events, "status")  # "connecting": the provider holds the reply behind the gate

    replayed: queue.Queue = queue.Queue()

    def follow(**kwargs) -> None:
        with httpx.stream("GET", f"{daemon.url}{CONV}/{conv['id']}/stream", timeout=60, **kwargs) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            for event in iter_events(r.iter_lines()):
                replayed.put((event.id, event.json()))
        replayed.put(None)

    from_start = threading.Thread(target=follow, daemon=True)
    from_start.start()
    assert replayed.get(timeout=30) == (str(first["eventId"]), first)  # what was sent so far, first
    gate.set()
    original = [first, *drain(events)]
    assert original[-1]["type"] == "done"
    again = []
    while (item := replayed.get(timeout=30)) is not None:
        again.append(item[1])
    assert [first, *again] == [{k: v for k, v in e.items() if k != "quickAccess"} for e in original]
    assert "".join(e["content"] for e in again if e["type"] == "delta") == "Written while you were away."
    assert stream(daemon, conv["id"]).status_code == 204  # the turn is over: its messages tell it


def test_the_stream_resumes_after_last_event_id(daemon, client, llm_env):
    conv = new_conversation(client)
    gate = threading.Event()
    llm_env.enqueue_tool_call("list_projects", {}, call_id="p1")  # read-only: runs without asking
    llm_env.enqueue_text("one two three", gate=gate)
    events: queue.Queue = queue.Queue()
    read_reply(daemon, conv["id"], "count", events)
    first = wait_for(events, "tool_call")[-1]
    wait_for(events, "tool_result")
    got: queue.Queue = queue.Queue()

    def follow() -> None:
        with httpx.stream("GET", f"{daemon.url}{CONV}/{conv['id']}/stream", timeout=60,
                          headers={"Last-Event-ID": str(first["eventId"])}) as r:
            for event in iter_events(r.iter_lines()):
                got.put(event.json())
        got.put(None)

    threading.Thread(target=follow, daemon=True).start()
    assert got.get(timeout=30)["type"] == "tool_result"  # the event after the cursor, then on
    gate.set()
    resumed = drain(got)
    assert resumed and all(e["eventId"] > first["eventId"] for e in resumed)
    assert resumed[-1]["type"] == "done"
    assert "".join(e["content"] for e in resumed if e["type"] == "delta").endswith("one two three")


def test_stream_rejects_bad_cursors_and_unknown_conversations(daemon, client):
    conv = new_conversation(client)
    assert stream(daemon, conv["id"], params={"after": "x"}).status_code == 400
    assert stream(daemon, conv["id"], params={"after": "-1"}).status_code == 400
    assert stream(daemon, conv["id"], headers={"Last-Event-ID": "a.b"}).status_code == 400
    assert stream(daemon, "nope").status_code == 404


def test_cancel_while_a_tool_call_waits_for_approval_closes_the_request(daemon, client, llm_env):
    conv = new_conversation(client)
    llm_env.enqueue_tool_call("create_task", {"title": "Not yet"}, call_id="c1")  # asks first
    events: queue.Queue = queue.Queue()
    read_reply(daemon, conv["id"], "make a task", events)
    asked = wait_for(events, "permission_request")[-1]
    assert [a["notificationId"] for a in client.get("/api/notifications/pending-approvals").json()] == [
        asked["requestId"]]
    assert client.post(f"{CONV}/{conv['id']}/cancel").json() == {"ok": True, "cancelled": True}
    assert drain(events)[-1]["type"] == "error"
    assert client.get("/api/notifications/pending-approvals").json() == []  # nothing left waiting
    assert not any(t["title"] == "Not yet" for t in client.get("/api/tasks").json())
