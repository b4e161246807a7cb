"""Migration m002: schedules (cron and heartbeat) and their claimed firings."""

from __future__ import annotations

import sqlite3

from .migrations_lib import run_script


def m002_scheduler(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        CREATE TABLE schedules (
            id TEXT PRIMARY KEY,
            project_id TEXT REFERENCES projects(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            prompt TEXT NOT NULL,
            action TEXT,
            cron_expression TEXT NOT NULL,
            time_zone TEXT,
            assigned_agent TEXT,
            agent_profile TEXT,
            model_id TEXT,
            recurs INTEGER NOT NULL DEFAULT 1,
            status TEXT NOT NULL DEFAULT 'active',
            max_firings INTEGER,
            firing_count INTEGER NOT NULL DEFAULT 0,
            expires_at TEXT,
            last_fired_at TEXT,
            next_fire_at TEXT,
            missed_policy TEXT NOT NULL DEFAULT 'skip',
            overlap_policy TEXT NOT NULL DEFAULT 'skip',
            type TEXT NOT NULL DEFAULT 'scheduled',
            heartbeat_checklist TEXT,
            active_hours_start INTEGER,
            active_hours_end INTEGER,
            active_timezone TEXT NOT NULL DEFAULT 'UTC',
            suppression_count INTEGER NOT NULL DEFAULT 0,
            last_action_at TEXT,
            heartbeat_budget_per_day INTEGER,
            heartbeat_spent_today INTEGER NOT NULL DEFAULT 0,
            heartbeat_budget_reset_at TEXT,
            delivery_channels TEXT,
            failure_streak INTEGER NOT NULL DEFAULT 0,
            last_failure_reason TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        -- The scheduler's ordered index: the next due active schedule is one index probe.
        CREATE INDEX schedules_due ON schedules(next_fire_at) WHERE status = 'active';

        -- One row per claimed slot: UNIQUE(schedule_id, slot) is what makes a slot fire once,
        -- across crashes and restarts. The claim commits before the run starts.
        CREATE TABLE schedule_firings (
            id TEXT PRIMARY KEY,
            schedule_id TEXT NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
            slot TEXT NOT NULL,
            number INTEGER NOT NULL,
            task_id TEXT REFERENCES tasks(id) ON DELETE SET NULL,
            outcome TEXT NOT NULL,
            reason TEXT,
            fired_at TEXT NOT NULL,
            UNIQUE (schedule_id, slot)
        );

        -- The tools a task's agent may use (JSON list of names); NULL: the default set.
        -- A scheduled built-in action (audit_workflows, ...) runs with its own fixed set.
        ALTER TABLE tasks ADD COLUMN tool_names TEXT;
        """,
    )
