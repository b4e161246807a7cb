"""/api/channels: CRUD with masked secrets, real deliveries to loopback receivers with retries,
the test send, and the signed inbound routes (Slack, Telegram webhook and poll)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sqlite3
import time

import pytest

from stagent.db.rows import now_iso
from tests.conftest import Daemon
from tests.helpers.servers import free_port

TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ"
SIGNING = "slack-signing-secret-0123456789"
HOOK_SECRET = "hmac-secret-for-webhooks-42"
TG_SECRET = "telegram-webhook-secret-77"


@pytest.fixture
def channels(daemon):
    """The daemon's delivery engine, with retry delays short enough for a test."""
    engine = daemon.app.state.channels
    engine.retry_delays = (0.05, 0.1)
    return engine


def run(daemon, coro):
    return asyncio.run_coroutine_threadsafe(coro, daemon.loop).result(30)


def create(client, channel_type: str, config: dict, name: str = "ch", **extra) -> dict:
    r = client.post("/api/channels", json={"name": name, "channelType": channel_type, "config": config, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def webhook(client, receiver, **config) -> dict:
    return create(client, "webhook", {"url": f"{receiver.url}/hook", **config})


def wait_deliveries(client, channel_id: str, *, done: int = 1, timeout: float = 20) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        rows = client.get(f"/api/channels/{channel_id}/deliveries").json()
        if len([d for d in rows if d["status"] != "pending"]) >= done:
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"deliveries still pending: {rows}")
        time.sleep(0.05)


def db_rows(daemon, sql: str, params=()) -> list:
    with sqlite3.connect(daemon.data_dir / "stagent.db") as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql, params).fetchall()


# ---- CRUD and masking ------------------------------------------------------------------

def test_create_list_get_mask_every_secret(client, daemon):
    slack = create(client, "slack", {"webhookUrl": "https://hooks.slack.com/services/T0/B0/slackhooksecret",
                                     "signingSecret": SIGNING, "botToken": "xoxb-bot-token-9876"}, "Slack")
    assert (slack["status"], slack["testStatus"], slack["direction"]) == ("active", "untested", "outbound")
    assert slack["config"] == {"webhookUrl": "https://hooks.slack.com/****cret",
                               "signingSecret": "****6789", "botToken": "****9876"}
    telegram = create(client, "telegram", {"botToken": TOKEN, "chatId": -1001234, "webhookSecret": TG_SECRET},
                      "TG", direction="bidirectional")
    assert telegram["config"] == {"botToken": "****wxYZ", "chatId": -1001234, "webhookSecret": "****t-77"}
    assert telegram["direction"] == "bidirectional"
    hook = create(client, "webhook", {"url": "https://example.test/in", "secret": HOOK_SECRET,
                                      "headers": {"Authorization": "Bearer sk-live-abcdef", "X-Team": "blue"}}, "Hook")
    assert hook["config"] == {"url": "https://example.test/in", "secret": "****s-42",
                              "headers": {"Authorization": "****cdef", "X-Team": "blue"}}

    listed = client.get("/api/channels")
    assert [c["name"] for c in listed.json()] == ["Hook", "TG", "Slack"]  # newest first
    assert client.get(f"/api/channels/{telegram['id']}").json() == telegram
    for text in (listed.text, client.get(f"/api/channels/{slack['id']}").text):
        for secret in (SIGNING, TOKEN, TG_SECRET, HOOK_SECRET, "sk-live-abcdef", "xoxb-bot-token-9876",
                       "slackhooksecret"):
            assert secret not in text
    stored = json.loads(db_rows(daemon, "SELECT config FROM channel_configs WHERE id = ?", (telegram["id"],))[0][0])
    assert stored["botToken"] == TOKEN  # kept in full, for sending


@pytest.mark.parametrize("body", [
    {},
    {"channelType": "webhook", "config": {"url": "http://x.test"}},
    {"name": "  ", "channelType": "webhook", "config": {"url": "http://x.test"}},
    {"name": "n", "config": {"url": "http://x.test"}},
    {"name": "n", "channelType": "email", "config": {}},
    {"name": "n", "channelType": "webhook"},
    {"name": "n", "channelType": "webhook", "config": "http://x.test"},
    {"name": "n", "channelType": "slack", "config": {}},
    {"name": "n", "channelType": "slack", "config": {"webhookUrl": "ftp://hooks.slack.com/x"}},
    {"name": "n", "channelType": "telegram", "config": {"botToken": TOKEN}},
    {"name": "n", "channelType": "telegram", "config": {"chatId": "1"}},
    {"name": "n", "channelType": "telegram", "config": {"botToken": "../../evil", "chatId": "1"}},
    {"name": "n", "channelType": "telegram", "config": {"botToken": TOKEN, "chatId": "1", "apiBase": "file:///x"}},
    {"name": "n", "channelType": "webhook", "config": {}},
    {"name": "n", "channelType": "webhook", "config": {"url": "javascript:alert(1)"}},
    {"name": "n", "channelType": "webhook", "config": {"url": "http://x.test", "headers": {"Host": "y"}}},
    {"name": "n", "channelType": "webhook", "config": {"url": "http://x.test", "headers": {"X-A": "1\r\nX-B: 2"}}},
    {"name": "n", "channelType": "webhook", "config": {"url": "http://x.test", "headers": ["X-A"]}},
    {"name": "n", "channelType": "webhook", "config": {"url": "http://x.test", "secret": ""}},
])
def test_create_rejects_bad_input(client, body):
    r = client.post("/api/channels", json=body)
    assert r.status_code == 400, r.text
    assert "fieldErrors" in r.json()["error"]
    assert client.get("/api/channels").json() == []


def test_create_rejects_malformed_json(client):
    r = client.post("/api/channels", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "formErrors" in r.json()["error"]


def test_patch_merges_config_and_keeps_round_tripped_secrets(client, daemon, receiver):
    channel = webhook(client, receiver, secret=HOOK_SECRET, headers={"Authorization": "Bearer tok-123456"})
    assert client.post(f"/api/channels/{channel['id']}/test").json() == {"testStatus": "ok"}

    # The UI sends back exactly what it got: nothing changes, the test result stays.
    r = client.patch(f"/api/channels/{channel['id']}", json={"name": " Renamed ", "config": channel["config"]})
    assert r.status_code == 200
    assert (r.json()["name"], r.json()["testStatus"]) == ("Renamed", "ok")
    stored = json.loads(db_rows(daemon, "SELECT config FROM channel_configs")[0][0])
    assert stored["secret"] == HOOK_SECRET and stored["headers"]["Authorization"] == "Bearer tok-123456"

    # A real change merges into the stored config and makes the channel untested again.
    r = client.patch(f"/api/channels/{channel['id']}", json={"config": {"headers": {"X-Team": "red"}}})
    assert r.json()["testStatus"] == "untested"
    assert r.json()["config"] == {"url": f"{receiver.url}/hook", "secret": "****s-42", "headers": {"X-Team": "red"}}
    # null removes a key; a masked value that is not the stored secret's mask is refused.
    assert "secret" not in client.patch(f"/api/channels/{channel['id']}",
                                        json={"config": {"secret": None}}).json()["config"]
    r = client.patch(f"/api/channels/{channel['id']}", json={"config": {"secret": "****abcd"}})
    assert r.status_code == 400 and "config" in r.json()["error"]["fieldErrors"]

    r = client.patch(f"/api/channels/{channel['id']}", json={"status": "disabled", "direction": "bidirectional"})
    assert (r.json()["status"], r.json()["direction"]) == ("disabled", "bidirectional")


@pytest.mark.parametrize("body", [
    {"status": "paused"}, {"direction": "inbound"}, {"name": ""}, {"name": "   "}, {"name": None},
    {"config": "x"}, {"config": {"url": "gopher://x"}}, {"status": None},
])
def test_patch_rejects_bad_input_and_changes_nothing(client, receiver, body):
    channel = webhook(client, receiver)
    r = client.patch(f"/api/channels/{channel['id']}", json=body)
    assert r.status_code == 400, r.text
    assert client.get(f"/api/channels/{channel['id']}").json() == channel


def test_unknown_channel_is_404_everywhere(client):
    not_found = {"error": "Channel not found"}
    for method, path in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/test"), ("GET", "/deliveries")):
        r = client.request(method, f"/api/channels/ghost{path}", json={"name": "x"} if method == "PATCH" else None)
        assert (r.status_code, r.json()) == (404, not_found), (method, path)


def test_delete_removes_channel_and_its_deliveries(client, daemon, receiver, channels):
    channel = webhook(client, receiver)
    run(daemon, channels.deliver([channel["id"]], "s", "b"))
    wait_deliveries(client, channel["id"])
    assert client.delete(f"/api/channels/{channel['id']}").json() == {"deleted": True}
    assert client.get(f"/api/channels/{channel['id']}").status_code == 404
    assert db_rows(daemon, "SELECT * FROM channel_deliveries") == []
    assert client.delete(f"/api/channels/{channel['id']}").status_code == 404


# ---- the test send ---------------------------------------------------------------------

def test_test_send_succeeds_and_is_stored(client, receiver):
    channel = webhook(client, receiver, secret=HOOK_SECRET)
    r = client.post(f"/api/channels/{channel['id']}/test")
    assert (r.status_code, r.json()) == (200, {"testStatus": "ok"})
    sent = receiver.requests[-1]
    assert sent["json"]["metadata"] == {"test": True} and sent["json"]["source"] == "stagent"
    assert sent["headers"]["x-stagent-signature"] == "sha256=" + hmac.new(
        HOOK_SECRET.encode(), sent["raw"], hashlib.sha256).hexdigest()
    assert client.get(f"/api/channels/{channel['id']}").json()["testStatus"] == "ok"


def test_test_send_failure_is_502_with_the_reason(client, receiver):
    tg = create(client, "telegram", {"botToken": TOKEN, "chatId": "42", "apiBase": receiver.url})
    receiver.answer("/sendMessage", (400, {"ok": False, "description": "Bad Request: chat not found"}))
    r = client.post(f"/api/channels/{tg['id']}/test")
    assert r.status_code == 502
    assert r.json()["testStatus"] == "failed" and "chat not found" in r.json()["error"]
    assert TOKEN not in r.text
    assert client.get(f"/api/channels/{tg['id']}").json()["testStatus"] == "failed"

    unreachable = create(client, "webhook", {"url": f"http://127.0.0.1:{free_port()}/gone"})
    r = client.post(f"/api/channels/{unreachable['id']}/test")
    assert r.status_code == 502 and r.json()["testStatus"] == "failed" and r.json()["error"]


# ---- outbound deliveries ---------------------------------------------------------------

def test_webhook_delivery_is_signed_and_carries_custom_headers(client, daemon, receiver, channels):
    channel = webhook(client, receiver, secret=HOOK_SECRET, headers={"X-Team": "blue"})
    ids = run(daemon, channels.deliver([channel["id"]], "Daily report", "All good",
                                       metadata={"scheduleId": "s1"}, source="schedule:s1"))
    [delivery] = wait_deliveries(client, channel["id"])
    assert ids == [delivery["id"]]
    assert (delivery["status"], delivery["attempts"], delivery["source"]) == ("delivered", 1, "schedule:s1")
    assert delivery["deliveredAt"] is not None
    [sent] = receiver.requests
    payload = sent["json"]
    assert {k: payload[k] for k in ("subject", "body", "format", "metadata", "source")} == {
        "subject": "Daily report", "body": "All good", "format": "text",
        "metadata": {"scheduleId": "s1"}, "source": "stagent"}
    assert payload["timestamp"].endswith("Z")
    assert sent["headers"]["x-team"] == "blue"
    assert sent["headers"]["x-stagent-delivery"] == delivery["id"]  # lets the receiver drop a repeat
    expected = hmac.new(HOOK_SECRET.encode(), sent["raw"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(sent["headers"]["x-stagent-signature"], f"sha256={expected}")
    assert abs(int(sent["headers"]["x-stagent-timestamp"]) - time.time()) < 600


def test_webhook_without_secret_is_not_signed(client, daemon, receiver, channels):
    channel = webhook(client, receiver)
    run(daemon, channels.deliver([channel["id"]], "s", "b"))
    wait_deliveries(client, channel["id"])
    assert "x-stagent-signature" not in receiver.requests[0]["headers"]


def test_slack_delivery_posts_text(client, daemon, receiver, channels):
    channel = create(client, "slack", {"webhookUrl": f"{receiver.url}/services/T/B/x"})
    run(daemon, channels.deliver([channel["id"]], "Heads up", "Build failed"))
    [delivery] = wait_deliveries(client, channel["id"])
    assert delivery["status"] == "delivered"
    assert receiver.requests[0]["path"] == "/services/T/B/x"
    assert receiver.requests[0]["json"] == {"text": "Heads up\n\nBuild failed"}


def test_telegram_delivery_calls_send_message(client, daemon, receiver, channels):
    channel = create(client, "telegram", {"botToken": TOKEN, "chatId": "-100200", "apiBase": receiver.url + "/"})
    run(daemon, channels.deliver([channel["id"]], "Heads up", "Build failed"))
    [delivery] = wait_deliveries(client, channel["id"])
    assert delivery["status"] == "delivered"
    assert receiver.requests[0]["path"] == f"/bot{TOKEN}/sendMessage"
    assert receiver.requests[0]["json"] == {"chat_id": "-100200", "text": "Heads up\n\nBuild failed"}


def test_failures_are_retried_until_delivered(client, daemon, receiver, channels):
    channel = webhook(client, receiver)
    receiver.answer("/hook", (500, {"error": "down"}), (503, {"error": "still down"}))
    run(daemon, channels.deliver([channel["id"]], "s", "b"))
    [delivery] = wait_deliveries(client, channel["id"])
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 3)
    assert len(receiver.requests) == 3


def test_a_receiver_that_always_fails_ends_failed(client, daemon, receiver, channels):
    channel = webhook(client, receiver)
    receiver.answer("/hook", *[(500, {"error": "boom"})] * 5)
    since = now_iso()
    run(daemon, channels.deliver([channel["id"]], "s", "b", source="heartbeat"))
    [delivery] = wait_deliveries(client, channel["id"])
    assert (delivery["status"], delivery["attempts"]) == ("failed", 3)
    assert "500" in delivery["lastError"] and "boom" in delivery["lastError"]
    assert len(receiver.requests) == 3
    failures = run(daemon, channels.recent_failures(since))
    assert [(f["id"], f["channelName"], f["source"]) for f in failures] == [(delivery["id"], "ch", "heartbeat")]
    assert run(daemon, channels.recent_failures(now_iso())) == []


def test_refusals_and_redirects_are_not_retried(client, daemon, receiver, channels):
    channel = webhook(client, receiver)
    receiver.answer("/hook", (401, {"error": "bad token"}), (302, "moved"))
    run(daemon, channels.deliver([channel["id"]], "s", "b"))
    run(daemon, channels.deliver([channel["id"]], "s", "b"))
    rows = wait_deliveries(client, channel["id"], done=2)
    assert sorted((d["status"], d["attempts"]) for d in rows) == [("failed", 1), ("failed", 1)]
    assert any("redirect" in d["lastError"] for d in rows)
    assert len(receiver.requests) == 2


def test_disabled_and_unknown_channels_are_recorded_failed_without_sending(client, daemon, receiver, channels):
    off = webhook(client, receiver)
    client.patch(f"/api/channels/{off['id']}", json={"status": "disabled"})
    on = webhook(client, receiver)
    ids = run(daemon, channels.deliver([off["id"], "ghost", on["id"], on["id"]], "s", "b"))
    assert len(ids) == 3  # one per distinct channel
    [off_delivery] = client.get(f"/api/channels/{off['id']}/deliveries").json()
    assert (off_delivery["status"], off_delivery["attempts"], off_delivery["lastError"]) == (
        "failed", 0, "Channel is disabled")
    ghost = db_rows(daemon, "SELECT status, last_error FROM channel_deliveries WHERE channel_id = 'ghost'")
    assert [tuple(r) for r in ghost] == [("failed", "Channel not found")]
    wait_deliveries(client, on["id"])
    assert len(receiver.requests) == 1


def test_pending_deliveries_are_resumed_at_start(tmp_path, receiver):
    first = Daemon(tmp_path / "data")
    try:
        channel = create(first.client, "webhook", {"url": f"{receiver.url}/hook"})
    finally:
        first.stop()
    with sqlite3.connect(tmp_path / "data" / "stagent.db") as conn:  # as a crash would leave it
        conn.execute("INSERT INTO channel_deliveries (id, channel_id, subject, body, status, attempts, last_error, "
                     "next_attempt_at, created_at, updated_at) VALUES ('d1', ?, 'left', 'behind', 'pending', 1, "
                     "'timeout', ?, ?, ?)", (channel["id"], now_iso(), now_iso(), now_iso()))
    second = Daemon(tmp_path / "data")
    try:
        [delivery] = wait_deliveries(second.client, channel["id"])
        assert (delivery["id"], delivery["status"], delivery["attempts"]) == ("d1", "delivered", 2)
        assert receiver.requests[0]["json"]["subject"] == "left"
    finally:
        second.stop()


# ---- inbound: Slack --------------------------------------------------------------------

def slack_post(client, channel_id, payload, *, secret=SIGNING, ts=None, raw=None):
    raw = raw if raw is not None else json.dumps(payload).encode()
    ts = str(int(time.time()) if ts is None else ts)
    signature = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:".encode() + raw, hashlib.sha256).hexdigest()
    return client.post(f"/api/channels/inbound/slack?configId={channel_id}", content=raw,
                       headers={"content-type": "application/json", "x-slack-request-timestamp": ts,
                                "x-slack-signature": signature})


def slack_message(text="hello", ts="1700000000.000100", **event):
    return {"type": "event_callback", "event": {"type": "message", "text": text, "user": "U1",
                                                "channel": "C1", "ts": ts, **event}}


@pytest.fixture
def slack(client):
    return create(client, "slack", {"webhookUrl": "https://hooks.slack.com/services/T/B/C",
                                    "signingSecret": SIGNING}, direction="bidirectional")


def test_slack_url_verification_and_signed_messages(client, daemon, slack):
    received = []

    async def hook(event):
        received.append(event)

    daemon.app.state.channels.on_inbound = hook
    r = slack_post(client, slack["id"], {"type": "url_verification", "challenge": "c-123"})
    assert (r.status_code, r.json()) == (200, {"challenge": "c-123"})
    for _ in range(2):  # Slack retries: stored and handed on once
        r = slack_post(client, slack["id"], slack_message("deploy please", thread_ts="1699.1"))
        assert (r.status_code, r.json()) == (200, {"ok": True})
    assert slack_post(client, slack["id"], slack_message("bot talk", ts="2.0", bot_id="B9")).json() == {"ok": True}
    rows = db_rows(daemon, "SELECT text, external_thread_id, sender_id FROM channel_inbound")
    assert [tuple(r) for r in rows] == [("deploy please", "1699.1", "U1")]
    deadline = time.monotonic() + 10
    while not received and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [(e["text"], e["channelId"], e["channelType"]) for e in received] == [
        ("deploy please", slack["id"], "slack")]


def test_slack_rejects_bad_stale_and_unsigned_requests(client, daemon, slack):
    assert slack_post(client, slack["id"], slack_message(), secret="wrong-secret").status_code == 403
    assert slack_post(client, slack["id"], slack_message(), ts=int(time.time()) - 600).status_code == 403
    r = client.post(f"/api/channels/inbound/slack?configId={slack['id']}", json=slack_message())
    assert (r.status_code, r.json()) == (403, {"error": "Invalid signature"})
    assert db_rows(daemon, "SELECT * FROM channel_inbound") == []


def test_slack_status_codes(client, slack):
    assert slack_post(client, slack["id"], None, raw=b"{not json").status_code == 400
    assert slack_post(client, slack["id"], None, raw=b"[1]").status_code == 400
    assert client.post("/api/channels/inbound/slack", json={}).status_code == 400
    r = slack_post(client, "ghost", slack_message())
    assert (r.status_code, r.json()) == (404, {"error": "Channel not found"})
    unsigned = create(client, "slack", {"webhookUrl": "https://hooks.slack.com/services/T/B/D"})
    assert slack_post(client, unsigned["id"], slack_message()).status_code == 401
    other = create(client, "webhook", {"url": "http://x.test", "secret": SIGNING})
    r = slack_post(client, other["id"], slack_message())
    assert (r.status_code, r.json()) == (400, {"error": "Channel is not a Slack channel"})


# ---- inbound: Telegram -----------------------------------------------------------------

def tg_update(update_id=1, text="hi", is_bot=False, message_id=None):
    return {"update_id": update_id, "message": {
        "message_id": message_id or update_id, "date": 0, "text": text, "chat": {"id": 555, "type": "private"},
        "from": {"id": 9, "is_bot": is_bot, "first_name": "Ada", "last_name": "L"}}}


@pytest.fixture
def telegram(client, receiver):
    return create(client, "telegram", {"botToken": TOKEN, "chatId": "555", "webhookSecret": TG_SECRET,
                                       "apiBase": receiver.url}, direction="bidirectional")


def test_telegram_webhook_secret(client, daemon, telegram):
    url = f"/api/channels/inbound/telegram?configId={telegram['id']}"
    assert client.post(url + f"&secret={TG_SECRET}", json=tg_update(1, "from query")).json() == {"ok": True}
    r = client.post(url, json=tg_update(2, "from header"), headers={"x-telegram-bot-api-secret-token": TG_SECRET})
    assert r.json() == {"ok": True}
    assert client.post(url + f"&secret={TG_SECRET}", json=tg_update(3, "beep", is_bot=True)).json() == {"ok": True}
    rows = db_rows(daemon, "SELECT text, sender_name, external_thread_id FROM channel_inbound ORDER BY text")
    assert [tuple(r) for r in rows] == [("from header", "Ada L", "555"), ("from query", "Ada L", "555")]

    for bad in ("&secret=wrong", "", f"&secret={TG_SECRET}x"):
        r = client.post(url + bad, json=tg_update(4, "intruder"))
        assert (r.status_code, r.json()) == (403, {"error": "Invalid secret"})
    assert len(db_rows(daemon, "SELECT * FROM channel_inbound")) == 2


def test_telegram_webhook_status_codes(client, telegram):
    url = f"/api/channels/inbound/telegram?configId={telegram['id']}&secret={TG_SECRET}"
    assert client.post(url, content=b"{bad", headers={"content-type": "application/json"}).status_code == 400
    assert client.post("/api/channels/inbound/telegram", json=tg_update()).status_code == 400
    assert client.post("/api/channels/inbound/telegram?configId=ghost&secret=x", json={}).status_code == 404
    no_secret = create(client, "telegram", {"botToken": TOKEN, "chatId": "1"})
    r = client.post(f"/api/channels/inbound/telegram?configId={no_secret['id']}&secret=x", json=tg_update())
    assert r.status_code == 401


def test_telegram_poll_reads_and_confirms_updates(client, daemon, receiver, telegram):
    url = f"/api/channels/inbound/telegram/poll?configId={telegram['id']}"
    internal = {"x-stagent-internal": "poll"}
    receiver.answer("/getUpdates", (200, {"ok": True, "result": [tg_update(10, "one"), tg_update(11, "bot", True)]}),
                    (200, {"ok": True, "result": True}), (200, {"ok": True, "result": []}))
    r = client.post(url, headers=internal)
    assert (r.status_code, r.json()) == (200, {"processed": 1, "total": 2, "nextOffset": 12})
    calls = [q for q in receiver.requests if q["path"] == f"/bot{TOKEN}/getUpdates"]
    assert [c["json"].get("offset") for c in calls] == [None, 12]  # read, then confirm
    assert client.post(url, headers=internal, json={"offset": 12}).json() == {
        "processed": 0, "total": 0, "nextOffset": 12}
    assert [r["text"] for r in db_rows(daemon, "SELECT text FROM channel_inbound")] == ["one"]


def test_telegram_poll_status_codes(client, receiver, telegram):
    url = f"/api/channels/inbound/telegram/poll?configId={telegram['id']}"
    internal = {"x-stagent-internal": "poll"}
    assert client.post(url).status_code == 401
    assert client.post(url, headers={"x-stagent-internal": "nope"}).status_code == 401
    assert client.post("/api/channels/inbound/telegram/poll?configId=ghost", headers=internal).status_code == 404
    assert client.post(url, headers=internal, json={"offset": "x"}).status_code == 400
    assert client.post("/api/channels/inbound/telegram/poll", headers=internal).status_code == 400
    slack = create(client, "slack", {"webhookUrl": "https://hooks.slack.com/services/T/B/C"})
    r = client.post(f"/api/channels/inbound/telegram/poll?configId={slack['id']}", headers=internal)
    assert (r.status_code, r.json()) == (400, {"error": "Channel is not a Telegram channel"})
    receiver.answer("/getUpdates", (401, {"ok": False, "description": "Unauthorized"}))
    r = client.post(url, headers=internal)
    assert r.status_code == 502 and "Unauthorized" in r.json()["error"] and TOKEN not in r.text
    client.patch(f"/api/channels/{telegram['id']}", json={"status": "disabled"})
    r = client.post(url, headers=internal)
    assert (r.status_code, r.json()) == (403, {"error": "Channel is not active"})
