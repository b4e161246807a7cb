"""Migration m003: delivery channels, their outbound deliveries and stored inbound messages."""

from __future__ import annotations

import sqlite3

from .migrations_lib import run_script


def m003_channels(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        CREATE TABLE channel_configs (
            id TEXT PRIMARY KEY,
            channel_type TEXT NOT NULL,
            name TEXT NOT NULL,
            config TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'active',
            test_status TEXT NOT NULL DEFAULT 'untested',
            direction TEXT NOT NULL DEFAULT 'outbound',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        -- One row per (message, channel), written pending BEFORE the first send so a crash
        -- never loses a delivery. No foreign key: a delivery to a channel id that does not
        -- exist is recorded as failed; deleting a channel deletes its rows by hand.
        CREATE TABLE channel_deliveries (
            id TEXT PRIMARY KEY,
            channel_id TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            format TEXT NOT NULL DEFAULT 'text',
            metadata TEXT,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            next_attempt_at TEXT,
            source TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            delivered_at TEXT
        );
        CREATE INDEX channel_deliveries_channel ON channel_deliveries(channel_id, created_at);
        CREATE INDEX channel_deliveries_pending ON channel_deliveries(next_attempt_at)
            WHERE status = 'pending';
        CREATE INDEX channel_deliveries_failed ON channel_deliveries(updated_at)
            WHERE status = 'failed';

        -- Messages received from Slack/Telegram. UNIQUE makes retried webhooks and re-read
        -- polls idempotent.
        CREATE TABLE channel_inbound (
            id TEXT PRIMARY KEY,
            channel_id TEXT NOT NULL REFERENCES channel_configs(id) ON DELETE CASCADE,
            external_message_id TEXT NOT NULL,
            external_thread_id TEXT,
            sender_id TEXT,
            sender_name TEXT,
            text TEXT NOT NULL,
            raw TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (channel_id, external_message_id)
        );
        """,
    )
