"""Chat from a channel: a bidirectional Telegram or Slack channel's messages are conversation turns
and the replies go back to the channel; `pollUpdates` Telegram channels are read by a poll loop."""

from __future__ import annotations

from tests.api.test_channels import SIGNING, TG_SECRET, TOKEN, create, slack_message, slack_post, tg_update
from tests.helpers.scheduling import wait_until as wait_for


def sent_messages(receiver) -> list[dict]:
    return [r["json"] for r in list(receiver.requests) if r["path"] == f"/bot{TOKEN}/sendMessage"]


def telegram_channel(client, receiver, **extra) -> dict:
    config = {"botToken": TOKEN, "chatId": "555", "webhookSecret": TG_SECRET, "apiBase": receiver.url}
    return create(client, "telegram", {**config, **extra.pop("config", {})}, **extra)


def post_update(client, channel, update) -> None:
    r = client.post(f"/api/channels/inbound/telegram?configId={channel['id']}&secret={TG_SECRET}", json=update)
    assert r.json() == {"ok": True}


def test_telegram_message_is_answered_in_its_chat_and_keeps_the_conversation(client, receiver, llm_env):
    channel = telegram_channel(client, receiver, direction="bidirectional")
    llm_env.enqueue_text("Hello Ada, two tasks are running.")
    post_update(client, channel, tg_update(1, "what is running?"))
    first = wait_for(lambda: sent_messages(receiver))
    assert first == [{"chat_id": "555", "text": "Hello Ada, two tasks are running."}]

    llm_env.enqueue_text("You asked what is running.")
    post_update(client, channel, tg_update(2, "what did I ask?"))
    wait_for(lambda: len(sent_messages(receiver)) == 2)
    prompt = [m["content"] for m in llm_env.requests[-1]["messages"] if m["role"] != "system"]
    assert prompt == ["what is running?", "Hello Ada, two tasks are running.", "what did I ask?"]

    conversations = client.get("/api/chat/conversations").json()
    assert [c["title"] for c in conversations] == ["Telegram: Ada L"]


def test_outbound_channels_store_messages_without_answering(client, daemon, receiver, llm_env):
    channel = telegram_channel(client, receiver)  # direction defaults to outbound
    post_update(client, channel, tg_update(1, "anyone there?"))
    deliveries = client.get(f"/api/channels/{channel['id']}/deliveries").json()
    assert deliveries == [] and llm_env.requests == []
    assert client.get("/api/chat/conversations").json() == []


def test_a_reply_that_cannot_be_made_says_why(client, receiver, monkeypatch):
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_API_BASE", "STAGENT_DEFAULT_MODEL"):
        monkeypatch.delenv(name, raising=False)
    channel = telegram_channel(client, receiver, direction="bidirectional")
    post_update(client, channel, tg_update(1, "hello?"))
    [message] = wait_for(lambda: sent_messages(receiver))
    assert message["chat_id"] == "555"
    assert message["text"].startswith("stagent could not answer: ")
    assert "provider" in message["text"].lower()


def test_poll_updates_channel_is_read_by_the_daemon_and_stops_when_turned_off(client, daemon, receiver, llm_env):
    receiver.answer("/getUpdates", (200, {"ok": True, "result": [tg_update(40, "polled hello")]}))
    llm_env.enqueue_text("Hi from the poller.")
    channel = telegram_channel(client, receiver, direction="bidirectional", config={"pollUpdates": True})
    wait_for(lambda: sent_messages(receiver))
    assert sent_messages(receiver) == [{"chat_id": "555", "text": "Hi from the poller."}]
    polls = [r["json"] for r in list(receiver.requests) if r["path"].endswith("/getUpdates")]
    assert polls[0]["timeout"] == 25 and polls[1]["offset"] == 41  # long poll, then confirm
    supervisor = daemon.app.state.supervisor
    assert supervisor.names("telegram-poll:") == [f"telegram-poll:{channel['id']}"]

    r = client.patch(f"/api/channels/{channel['id']}", json={"config": {"pollUpdates": False}})
    assert r.status_code == 200, r.text
    assert supervisor.names("telegram-poll:") == []


def test_poll_updates_must_be_a_boolean(client, receiver):
    r = client.post("/api/channels", json={"name": "tg", "channelType": "telegram", "config": {
        "botToken": TOKEN, "chatId": "1", "pollUpdates": "yes"}})
    assert r.status_code == 400
    assert "pollUpdates" in r.text
    assert client.get("/api/channels").json() == []


def test_strangers_are_not_answered(client, daemon, receiver, llm_env):
    channel = telegram_channel(client, receiver, direction="bidirectional", config={"chatId": "1000"})
    post_update(client, channel, tg_update(1, "list your tasks"))  # chat 555 found the bot
    post_update(client, channel, tg_update(2, "hello?"))
    stored = client.get(f"/api/channels/{channel['id']}/deliveries").json()
    assert stored == [] and llm_env.requests == [] and sent_messages(receiver) == []
    assert client.get("/api/chat/conversations").json() == []


def test_a_username_chat_id_matches_the_senders_chat(client, receiver, llm_env):
    channel = telegram_channel(client, receiver, direction="bidirectional", config={"chatId": "@ada"})
    update = tg_update(1, "hi")
    update["message"]["chat"]["username"] = "ada"
    llm_env.enqueue_text("Hi Ada.")
    post_update(client, channel, update)
    assert wait_for(lambda: sent_messages(receiver)) == [{"chat_id": "555", "text": "Hi Ada."}]


def test_a_long_reply_is_cut_to_what_telegram_accepts(client, receiver, llm_env):
    channel = telegram_channel(client, receiver, direction="bidirectional")
    llm_env.enqueue_text("".join(f"line {n}. " for n in range(600)))  # 5,000+ characters
    post_update(client, channel, tg_update(1, "write a lot"))
    [message] = wait_for(lambda: sent_messages(receiver))
    assert len(message["text"]) == 4096 and message["text"].endswith("(truncated; the whole text is in stagent)")


def test_a_tool_call_waiting_for_approval_is_announced(client, daemon, receiver, llm_env):
    channel = telegram_channel(client, receiver, direction="bidirectional")
    llm_env.enqueue_tool_call("create_task", {"title": "from telegram"})
    llm_env.enqueue_text("Created it.")
    post_update(client, channel, tg_update(1, "make a task"))
    [notice] = wait_for(lambda: sent_messages(receiver))
    assert notice["text"].startswith("Waiting for your approval of create_task")
    [request] = wait_for(lambda: client.get("/api/notifications/pending-approvals").json())
    r = client.post(f"/api/notifications/{request['notificationId']}/respond", json={"behavior": "allow"})
    assert r.status_code == 200, r.text
    wait_for(lambda: len(sent_messages(receiver)) == 2)
    assert sent_messages(receiver)[1]["text"] == "Created it."


def test_slack_answers_only_allowed_senders(client, receiver, llm_env):
    channel = create(client, "slack", {"webhookUrl": f"{receiver.url}/slack", "signingSecret": SIGNING,
                                       "allowedUserIds": ["U1"]}, direction="bidirectional")
    llm_env.enqueue_text("Hello from stagent.")
    assert slack_post(client, channel["id"], slack_message("hi", user="U2", ts="1.0")).status_code == 200
    assert slack_post(client, channel["id"], slack_message("hi", ts="2.0")).status_code == 200  # from U1
    wait_for(lambda: [r for r in list(receiver.requests) if r["path"] == "/slack"])
    assert [r["json"] for r in receiver.requests if r["path"] == "/slack"] == [{"text": "Hello from stagent."}]
    assert len(llm_env.requests) == 1
    r = client.post("/api/channels", json={"name": "s", "channelType": "slack", "config": {
        "webhookUrl": "https://hooks.slack.com/services/T/B/C", "allowedUserIds": "U1"}})
    assert r.status_code == 400 and "allowedUserIds" in r.text
