"""Permission requests through delivery channels: sent to webhooks, Telegram and Slack, answered
by a signed webhook callback or a Telegram button, and the same run goes on.

Real daemon, real runs through litellm and the fake provider, loopback receivers standing in for
the webhook endpoint and the Telegram bot API.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time

import httpx
import pytest

from tests.engine.test_approvals import start_task, tool_messages, wait_for_request
from tests.helpers.sse import iter_events

SECRET = "callback-secret-for-webhooks-42"
TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ"
TG_SECRET = "telegram-webhook-secret-77"
CHAT = "555"


@pytest.fixture
def ask(daemon, client):
    """Ask for a tool call through the real Permissions engine (no task): returns the future of
    its Decision. Requests left open are dismissed at the end, so no waiter outlives the test."""
    futures = []

    def ask(args: dict, tool: str = "create_task"):
        future = asyncio.run_coroutine_threadsafe(
            daemon.app.state.permissions.check_tool(tool=tool, args=args), daemon.loop)
        futures.append(future)
        return future

    yield ask
    admin = {"X-API-Key": daemon.api_key}  # works whether or not the test left keys required
    for item in client.get("/api/notifications/pending-approvals", headers=admin).json():
        client.delete(f"/api/notifications/{item['notificationId']}", headers=admin)
    for future in futures:
        future.result(30)


# ---- helpers ---------------------------------------------------------------------------

def channel(client, channel_type: str, config: dict, direction: str = "bidirectional") -> dict:
    r = client.post("/api/channels", json={"name": channel_type, "channelType": channel_type,
                                           "config": config, "direction": direction})
    assert r.status_code == 201, r.text
    return r.json()


def webhook(client, receiver, direction: str = "bidirectional", **config) -> dict:
    return channel(client, "webhook", {"url": f"{receiver.url}/hook", "secret": SECRET, **config}, direction)


def telegram(client, receiver, direction: str = "bidirectional", chat_id=CHAT) -> dict:
    return channel(client, "telegram", {"botToken": TOKEN, "chatId": chat_id, "webhookSecret": TG_SECRET,
                                        "apiBase": receiver.url}, direction)


def approve_through(client, *channels: dict) -> None:
    r = client.put("/api/permissions/settings", json={"approvalChannels": [c["id"] for c in channels]})
    assert r.status_code == 200, r.text


def received(receiver, path: str, count: int = 1, timeout: float = 20) -> list[dict]:
    """The first `count` requests the receiver got on `path` (waits for them)."""
    deadline = time.monotonic() + timeout
    while True:
        with receiver.lock:
            hits = [r for r in receiver.requests if r["path"] == path]
        if len(hits) >= count:
            return hits
        if time.monotonic() > deadline:
            raise AssertionError(f"{path}: {len(hits)} requests, wanted {count}")
        time.sleep(0.02)


def pending_for(daemon, tool_input: dict) -> dict:
    """The pending approval with this input, read from the pending-approvals SSE stream."""
    with httpx.stream("GET", f"{daemon.url}/api/notifications/pending-approvals/stream", timeout=60) as r:
        for event in iter_events(r.iter_lines()):
            items = [i for i in event.json() if i["toolInput"] == tool_input]
            if items:
                return items[0]
    raise AssertionError("the stream ended before the request was pending")


def signed(body, secret: str = SECRET, *, ts: int | None = None) -> tuple[bytes, dict]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    signature = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return raw, {"content-type": "application/json", "x-stagent-signature": signature,
                 "x-stagent-timestamp": str(ts if ts is not None else int(time.time()))}


def callback(client, channel_id: str, body, **sign_args) -> httpx.Response:
    raw, headers = signed(body, **sign_args)
    return client.post(f"/api/channels/{channel_id}/callback", content=raw, headers=headers)


def is_pending(client, notification_id: str) -> bool:
    return any(i["notificationId"] == notification_id
               for i in client.get("/api/notifications/pending-approvals").json())


def press(client, channel_id: str, data: str, *, query_id: str = "q1", chat_id: int = 555,
          is_bot: bool = False, update_id: int = 1) -> httpx.Response:
    update = {"update_id": update_id, "callback_query": {
        "id": query_id, "data": data, "chat_instance": "1",
        "from": {"id": 9, "is_bot": is_bot, "first_name": "Ada"},
        "message": {"message_id": 1, "date": 0, "chat": {"id": chat_id, "type": "private"}}}}
    return client.post(f"/api/channels/inbound/telegram?configId={channel_id}&secret={TG_SECRET}", json=update)


def button_data(send_message: dict) -> dict[str, str]:
    [row] = send_message["json"]["reply_markup"]["inline_keyboard"]
    return {button["text"]: button["callback_data"] for button in row}


def answers(receiver) -> list[dict]:
    with receiver.lock:
        return [r["json"] for r in receiver.requests if r["path"] == f"/bot{TOKEN}/answerCallbackQuery"]


def answered(receiver, query_id: str) -> str:
    """The text the press `query_id` was answered with (waits for it)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        texts = [a["text"] for a in answers(receiver) if a["callback_query_id"] == query_id]
        if texts:
            return texts[-1]
        time.sleep(0.02)
    raise AssertionError(f"callback query {query_id} was not answered")


# ---- the setting -----------------------------------------------------------------------

def test_approval_channels_setting(client, receiver):
    hook = webhook(client, receiver)
    assert client.get("/api/permissions/settings").json() == {"requestTimeoutSeconds": 600.0,
                                                              "approvalChannels": []}
    for bad in (["ghost"], [hook["id"], "ghost"], [""]):
        r = client.put("/api/permissions/settings", json={"approvalChannels": bad})
        assert r.status_code == 400 and "Unknown delivery channel" in r.json()["error"]
    for bad in ("x", [1], None, {"id": hook["id"]}, ["c"] * 51):
        r = client.put("/api/permissions/settings", json={"approvalChannels": bad})
        assert r.status_code == 400 and "approvalChannels" in r.json()["error"]["fieldErrors"]
    # A refused channel list saves nothing else from the same body either.
    r = client.put("/api/permissions/settings", json={"approvalChannels": ["ghost"], "requestTimeoutSeconds": 5})
    assert r.status_code == 400
    assert client.get("/api/permissions/settings").json()["requestTimeoutSeconds"] == 600.0

    r = client.put("/api/permissions/settings", json={"approvalChannels": [hook["id"], hook["id"]]})
    assert r.json() == {"requestTimeoutSeconds": 600.0, "approvalChannels": [hook["id"]]}
    r = client.put("/api/permissions/settings", json={"requestTimeoutSeconds": 60})  # the other field stays
    assert r.json() == {"requestTimeoutSeconds": 60.0, "approvalChannels": [hook["id"]]}
    assert client.put("/api/permissions/settings", json={}).json() == r.json()
    assert client.put("/api/permissions/settings", json={"approvalChannels": []}).json()["approvalChannels"] == []


def test_only_requests_made_while_channels_are_set_are_sent(daemon, client, receiver, ask):
    hook = webhook(client, receiver)
    ask({"title": "quiet"})
    pending_for(daemon, {"title": "quiet"})
    approve_through(client, hook)
    ask({"title": "loud"})
    # Requests are sent in the order they were made: when the second has arrived, the first
    # would have too.
    [sent] = received(receiver, "/hook")
    assert sent["json"]["metadata"]["toolInput"] == {"title": "loud"}
    assert len(client.get(f"/api/channels/{hook['id']}/deliveries").json()) == 1


# ---- webhook ---------------------------------------------------------------------------

def test_a_signed_webhook_callback_allows_and_the_same_run_completes(daemon, client, receiver, llm_env):
    hook = webhook(client, receiver)
    approve_through(client, hook)
    llm_env.enqueue_tool_call("create_task", {"title": "Follow up with Ana"}, call_id="c1")
    llm_env.enqueue_text("Created the follow-up.")
    task = start_task(client)

    [sent] = received(receiver, "/hook")
    request = wait_for_request(daemon.url, task["id"])
    callback_url = f"{daemon.url}/api/channels/{hook['id']}/callback"
    assert sent["json"]["subject"] == "Permission required: create_task"
    assert sent["json"]["metadata"] == {
        "type": "permission_required", "notificationId": request["notificationId"],
        "toolName": "create_task", "toolInput": {"title": "Follow up with Ana"}, "taskId": task["id"],
        "conversationId": None, "expiresAt": request["expiresAt"],
        "actions": ["allow_once", "always_allow", "deny"], "callbackUrl": callback_url}
    body = sent["json"]["body"]
    assert "Task: Plan the follow-ups" in body and '{"title": "Follow up with Ana"}' in body
    expected = "sha256=" + hmac.new(SECRET.encode(), sent["raw"], hashlib.sha256).hexdigest()
    assert sent["headers"]["x-stagent-signature"] == expected

    answer = {"notificationId": request["notificationId"], "action": "allow_once"}
    # A wrong signature, another secret, a stale or missing timestamp: 403, and nothing changes.
    raw, headers = signed(answer)
    for bad_headers in ({**headers, "x-stagent-signature": "sha256=" + "0" * 64},
                        signed(answer, "another-secret")[1],
                        signed(answer, ts=int(time.time()) - 301)[1],
                        signed(answer, ts=int(time.time()) + 301)[1],
                        {**headers, "x-stagent-timestamp": b"\xb2"},
                        {k: v for k, v in headers.items() if k != "x-stagent-timestamp"},
                        {k: v for k, v in headers.items() if k != "x-stagent-signature"}):
        r = client.post(f"/api/channels/{hook['id']}/callback", content=raw, headers=bad_headers)
        assert (r.status_code, r.json()) == (403, {"error": "Invalid signature"})
    tampered = json.dumps({**answer, "action": "always_allow"}).encode()
    assert client.post(f"/api/channels/{hook['id']}/callback", content=tampered, headers=headers).status_code == 403
    assert is_pending(client, request["notificationId"]) and len(llm_env.requests) == 1

    r = client.post(callback_url, content=raw, headers=headers)
    assert (r.status_code, r.json()) == (200, {"success": True, "behavior": "allow", "permissionPattern": None})
    done = daemon.wait_for_status(task["id"], {"completed", "failed"})
    assert done["status"] == "completed" and done["result"] == "Created the follow-up."
    assert [t["title"] for t in client.get("/api/tasks").json()].count("Follow up with Ana") == 1
    assert len(llm_env.requests) == 2  # one run: the answer continued it
    assert client.get("/api/permissions").json() == {"permissions": []}
    again = callback(client, hook["id"], {**answer, "action": "deny"})
    assert (again.status_code, again.json()) == (409, {"error": "Already responded"})


def test_a_webhook_denial_with_a_message_is_told_to_the_model(daemon, client, receiver, llm_env):
    hook = webhook(client, receiver)
    approve_through(client, hook)
    llm_env.enqueue_tool_call("create_task", {"title": "Spam everyone"}, call_id="c1")
    llm_env.enqueue_text("Understood.")
    task = start_task(client)
    [sent] = received(receiver, "/hook")
    r = callback(client, hook["id"], {"notificationId": sent["json"]["metadata"]["notificationId"],
                                      "action": "deny", "message": "Not today"})
    assert r.json() == {"success": True, "behavior": "deny", "permissionPattern": None}
    assert daemon.wait_for_status(task["id"], {"completed", "failed"})["status"] == "completed"
    assert tool_messages(llm_env.requests[1]) == ["Permission denied: Not today"]
    assert not any(t["title"] == "Spam everyone" for t in client.get("/api/tasks").json())


def test_a_webhook_always_allow_saves_the_pattern(daemon, client, receiver, ask):
    hook = webhook(client, receiver)
    approve_through(client, hook)
    decision = ask({"title": "Invoice"})
    [sent] = received(receiver, "/hook")
    r = callback(client, hook["id"], {"notificationId": sent["json"]["metadata"]["notificationId"],
                                      "action": "always_allow"})
    assert r.json() == {"success": True, "behavior": "allow", "permissionPattern": "create_task"}
    assert decision.result(30).allowed is True
    assert client.get("/api/permissions").json() == {"permissions": ["create_task"]}


def test_callback_status_codes(daemon, client, receiver, ask):
    hook = webhook(client, receiver)
    other = webhook(client, receiver)
    outbound = webhook(client, receiver, direction="outbound")
    unsigned = channel(client, "webhook", {"url": f"{receiver.url}/plain"})
    tg = telegram(client, receiver)
    approve_through(client, hook, outbound)
    decision = ask({"title": "status codes"})
    sent = received(receiver, "/hook", 2)
    request_id = sent[0]["json"]["metadata"]["notificationId"]
    answer = {"notificationId": request_id, "action": "allow_once"}

    def status(channel_id, body=answer, **sign_args):
        r = callback(client, channel_id, body, **sign_args)
        return r.status_code, r.json()

    assert status("ghost") == (404, {"error": "Channel not found"})
    assert status(tg["id"]) == (400, {"error": "Channel is not a webhook channel"})
    assert status(unsigned["id"])[0] == 401
    assert status(hook["id"], secret="wrong") == (403, {"error": "Invalid signature"})
    code, error = status(outbound["id"])  # it was sent the request, but only as information
    assert code == 403 and "bidirectional" in error["error"]
    for bad in (b"{bad", b"[]", {"notificationId": request_id}, {"action": "allow_once"},
                {**answer, "action": "allow"}, {**answer, "notificationId": 7}, {**answer, "message": 1}):
        assert status(hook["id"], bad)[0] == 400, bad
    assert status(hook["id"], {**answer, "notificationId": "ghost"}) == (404, {"error": "Permission request not found"})
    # A channel answers only the requests it was sent.
    assert status(other["id"]) == (404, {"error": "Permission request not found"})
    assert is_pending(client, request_id) and not decision.done()

    assert status(hook["id"]) == (200, {"success": True, "behavior": "allow", "permissionPattern": None})
    assert decision.result(30).allowed is True
    assert status(hook["id"]) == (409, {"error": "Already responded"})
    client.patch(f"/api/channels/{hook['id']}", json={"status": "disabled"})
    assert status(hook["id"]) == (403, {"error": "Channel is not active"})


def test_the_callback_needs_no_api_key_when_keys_are_required(daemon, client, receiver, ask):
    hook = webhook(client, receiver)
    approve_through(client, hook)
    admin = {"X-API-Key": daemon.api_key}
    assert client.put("/api/settings/security", json={"requireApiKey": True}, headers=admin).status_code == 200
    decision = ask({"title": "keyless"})
    [sent] = received(receiver, "/hook")
    answer = {"notificationId": sent["json"]["metadata"]["notificationId"], "action": "deny"}
    assert client.get(f"/api/channels/{hook['id']}").status_code == 401  # everything else still needs one
    assert client.post(f"/api/channels/{hook['id']}/test").status_code == 401
    assert callback(client, hook["id"], answer, secret="wrong").status_code == 403
    assert callback(client, hook["id"], answer).status_code == 200
    assert decision.result(30).allowed is False
    client.put("/api/settings/security", json={"requireApiKey": False}, headers=admin)


# ---- Telegram --------------------------------------------------------------------------

def test_a_telegram_button_denies_and_the_run_goes_on(daemon, client, receiver, llm_env):
    tg = telegram(client, receiver)
    approve_through(client, tg)
    llm_env.enqueue_tool_call("create_task", {"title": "Spam everyone"}, call_id="c1")
    llm_env.enqueue_text("Understood, I will not create it.")
    task = start_task(client)

    [sent] = received(receiver, f"/bot{TOKEN}/sendMessage")
    request = wait_for_request(daemon.url, task["id"])
    rid = request["notificationId"]
    assert sent["json"]["chat_id"] == CHAT
    assert sent["json"]["text"].startswith("Permission required: create_task\n\nTask: Plan the follow-ups")
    assert button_data(sent) == {"Allow once": f"p:{rid}:a", "Always allow": f"p:{rid}:A", "Deny": f"p:{rid}:d"}
    assert all(len(data.encode()) <= 64 for data in button_data(sent).values())

    assert press(client, tg["id"], button_data(sent)["Deny"]).json() == {"ok": True}
    done = daemon.wait_for_status(task["id"], {"completed", "failed"})
    assert done["status"] == "completed" and done["result"] == "Understood, I will not create it."
    assert tool_messages(llm_env.requests[1]) == ["Permission denied: The user denied this tool call"]
    assert not any(t["title"] == "Spam everyone" for t in client.get("/api/tasks").json())
    assert answered(receiver, "q1") == "Denied: create_task"
    # Telegram re-sends an update it thinks was lost; the second press changes nothing.
    press(client, tg["id"], button_data(sent)["Allow once"], query_id="q2", update_id=2)
    assert answered(receiver, "q2") == "Already answered"
    assert client.get("/api/permissions").json() == {"permissions": []}


def test_always_allow_from_a_polled_button_saves_the_pattern(daemon, client, receiver, llm_env):
    tg = telegram(client, receiver)
    approve_through(client, tg)
    llm_env.enqueue_tool_call("create_task", {"title": "Follow up"}, call_id="c1")
    llm_env.enqueue_text("Done.")
    task = start_task(client)
    [sent] = received(receiver, f"/bot{TOKEN}/sendMessage")
    update = {"update_id": 40, "callback_query": {
        "id": "q9", "data": button_data(sent)["Always allow"], "from": {"id": 9, "is_bot": False},
        "message": {"message_id": 1, "chat": {"id": int(CHAT)}}}}
    receiver.answer("/getUpdates", (200, {"ok": True, "result": [update]}), (200, {"ok": True, "result": True}))
    r = client.post(f"/api/channels/inbound/telegram/poll?configId={tg['id']}", headers={"x-stagent-internal": "poll"})
    assert r.json() == {"processed": 1, "total": 1, "nextOffset": 41}
    assert daemon.wait_for_status(task["id"], {"completed", "failed"})["status"] == "completed"
    assert any(t["title"] == "Follow up" for t in client.get("/api/tasks").json())
    assert client.get("/api/permissions").json() == {"permissions": ["create_task"]}
    assert answered(receiver, "q9") == "Always allowed: create_task"


def test_presses_that_cannot_decide_are_answered_and_change_nothing(daemon, client, receiver, ask):
    tg = telegram(client, receiver)
    watcher = telegram(client, receiver, direction="outbound")
    stranger = telegram(client, receiver)  # bidirectional, but not an approval channel
    approve_through(client, tg, watcher)
    decision = ask({"title": "careful"})
    sent = received(receiver, f"/bot{TOKEN}/sendMessage", 2)
    [interactive] = [s for s in sent if "reply_markup" in s["json"]]
    [plain] = [s for s in sent if "reply_markup" not in s["json"]]
    rid = button_data(interactive)["Allow once"].split(":")[1]
    assert f"Answer in stagent: {daemon.url}/inbox" in plain["json"]["text"]

    allow = f"p:{rid}:a"
    press(client, tg["id"], allow, query_id="other-chat", chat_id=666)
    press(client, tg["id"], allow, query_id="bot", is_bot=True)
    press(client, tg["id"], "something-else", query_id="foreign")
    press(client, tg["id"], f"p:{rid}:x", query_id="bad-code")
    press(client, watcher["id"], allow, query_id="outbound")
    press(client, stranger["id"], allow, query_id="stranger")
    assert answered(receiver, "other-chat") == "Decisions are taken only from the channel's own chat"
    assert answered(receiver, "bot") == "Decisions are taken only from the channel's own chat"
    assert answered(receiver, "foreign") == "Unknown button"
    assert answered(receiver, "bad-code") == "Unknown button"
    assert answered(receiver, "outbound") == "This channel does not accept decisions"
    assert answered(receiver, "stranger") == "This request no longer exists"
    assert is_pending(client, rid) and not decision.done()

    client.patch(f"/api/channels/{tg['id']}", json={"status": "disabled"})
    assert press(client, tg["id"], allow, query_id="disabled").json() == {"ok": True}
    assert is_pending(client, rid)
    client.patch(f"/api/channels/{tg['id']}", json={"status": "active"})
    press(client, tg["id"], allow, query_id="ok")
    assert answered(receiver, "ok") == "Allowed once: create_task"
    assert decision.result(30).allowed is True
    assert "disabled" not in {a["callback_query_id"] for a in answers(receiver)}


# ---- Slack and outbound channels -------------------------------------------------------

def test_slack_and_outbound_channels_get_the_request_as_text(daemon, client, receiver, ask):
    slack = channel(client, "slack", {"webhookUrl": f"{receiver.url}/slack"}, "outbound")
    watcher = webhook(client, receiver, direction="outbound")
    approve_through(client, slack, watcher)
    decision = ask({"title": "Tell me"})
    [to_slack] = received(receiver, "/slack")
    [to_hook] = received(receiver, "/hook")
    text = to_slack["json"]["text"]
    assert text.startswith("Permission required: create_task\n\nIn stagent\nTool: create_task")
    assert f"Answer in stagent: {daemon.url}/inbox" in text
    metadata = to_hook["json"]["metadata"]
    assert metadata["toolInput"] == {"title": "Tell me"} and metadata["taskId"] is None
    assert "actions" not in metadata and "callbackUrl" not in metadata
    assert not decision.done()
