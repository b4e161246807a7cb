"""The Stan heartbeat: its one global configuration, the checks it runs, the runs it records.

The configuration (enabled, checks, intervalMinutes) lives in `settings`. A run executes the
configured checks against real local state, records itself in `stan_heartbeat_runs`, and leaves
one `heartbeat_alert` notification when it finds a problem the previous run did not have (or a
worse one), so a problem that persists is reported once, not on every tick.

Checks only read, except `models`, which keeps its last probe in settings:
- workflows:   failed tasks (24 h), tasks `running` with no log line for 30 min, failed or
               stalled workflows (when that table exists);
- deployments: schedules overdue by 5 min or whose last 3 finished firings failed, and failed
               channel deliveries (24 h), each only when its table exists;
- credits:     a provider is configured; month-to-date spend from the usage ledger (against the
               monthly budget when one is set);
- models:      one-token requests to each model the daemon uses; only when probing (manual runs,
               and at most once per local calendar day on scheduled ticks), else the last result.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from ...db import Database
from ...db.rows import dumps, loads, to_iso
from ...errors import Invalid
from ...events import EventBus, NotificationCreated
from ...store import heartbeat as store
from ...store import notifications, settings
from ...store import usage as usage_store
from ..agent import llm, providers
from .parse import local_zone_name, zone

log = logging.getLogger("stagent.heartbeat")

AVAILABLE_CHECKS = ("workflows", "deployments", "credits", "models")
MIN_INTERVAL_MINUTES, MAX_INTERVAL_MINUTES = 5, 7 * 24 * 60
TRIGGERS = ("manual", "scheduled")
NOTIFICATION_TYPE = "heartbeat_alert"
FAILED_WINDOW = timedelta(hours=24)
STUCK_AFTER = timedelta(minutes=30)
OVERDUE_AFTER = timedelta(minutes=5)
PROBE_TIMEOUT = 15.0
HISTORY_KEPT = 1000
SEVERITY = {"ok": 0, "warn": 1, "error": 2}
KEYS = {"enabled": "stan.heartbeat.enabled", "checks": "stan.heartbeat.checks",
        "intervalMinutes": "stan.heartbeat.intervalMinutes", "probe": "stan.heartbeat.modelsProbe",
        "deliveryChannels": "stan.heartbeat.deliveryChannels"}


# ---- configuration -------------------------------------------------------------------------

def _default(key: str) -> str:
    return settings.REGISTRY[key].default


async def load_config(db: Database) -> dict:
    """{enabled, checks, intervalMinutes, availableChecks}; a damaged stored value reads as its default."""
    values = await settings.resolve_many(db, [KEYS["enabled"], KEYS["checks"], KEYS["intervalMinutes"],
                                              KEYS["deliveryChannels"]])
    checks = loads(values[KEYS["checks"]][0])
    if not isinstance(checks, list) or not all(c in AVAILABLE_CHECKS for c in checks):
        checks = loads(_default(KEYS["checks"]))
    interval = values[KEYS["intervalMinutes"]][0]
    if not interval.isdigit() or not MIN_INTERVAL_MINUTES <= int(interval) <= MAX_INTERVAL_MINUTES:
        interval = _default(KEYS["intervalMinutes"])
    return {"enabled": values[KEYS["enabled"]][0] == "true", "checks": checks,
            "intervalMinutes": int(interval), "availableChecks": list(AVAILABLE_CHECKS),
            "deliveryChannels": loads(values[KEYS["deliveryChannels"]][0]) or []}


def check_names(checks: list[str]) -> list[str]:
    """The checks in the order given, each once; Invalid names the first unknown one."""
    for name in checks:
        if name not in AVAILABLE_CHECKS:
            raise Invalid(f"Unknown check '{name}'. Available checks: {', '.join(AVAILABLE_CHECKS)}.")
    return list(dict.fromkeys(checks))


async def save_config(db: Database, *, enabled: bool | None = None, checks: list[str] | None = None,
                      interval_minutes: int | None = None, delivery_channels: list[str] | None = None) -> dict:
    """Change the fields given (None keeps one) and return the whole configuration."""
    values: dict[str, str] = {}
    if enabled is not None:
        values[KEYS["enabled"]] = "true" if enabled else "false"
    if checks is not None:
        values[KEYS["checks"]] = dumps(check_names(checks))
    if interval_minutes is not None:
        if isinstance(interval_minutes, bool) or not MIN_INTERVAL_MINUTES <= interval_minutes <= MAX_INTERVAL_MINUTES:
            raise Invalid(f"intervalMinutes must be an integer from {MIN_INTERVAL_MINUTES} to {MAX_INTERVAL_MINUTES}.")
        values[KEYS["intervalMinutes"]] = str(interval_minutes)
    if delivery_channels is not None:
        values[KEYS["deliveryChannels"]] = dumps(list(dict.fromkeys(delivery_channels)))
    if values:
        await settings.set_many(db, values)
    return await load_config(db)


# ---- helpers ---------------------------------------------------------------------------------

def _names(rows, limit: int = 3) -> str:
    names = [f"'{(r[0] or '?')[:60]}'" for r in rows[:limit]]
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return ", ".join(names) + more


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def _worst(findings: list[tuple[str, str]], healthy: str) -> tuple[str, str]:
    if not findings:
        return "ok", healthy
    status = max((s for s, _ in findings), key=SEVERITY.__getitem__)
    return status, "; ".join(message for _, message in findings)


# ---- the checks ------------------------------------------------------------------------------

def _workflows(conn, now: datetime) -> tuple[str, str]:
    since, stale = to_iso(now - FAILED_WINDOW), to_iso(now - STUCK_AFTER)
    findings: list[tuple[str, str]] = []
    failed = store.failed_task_titles_in(conn, since)
    if failed:
        findings.append(("warn", f"{_plural(len(failed), 'task')} failed in the last 24 h: {_names(failed)}"))
    stuck = store.quiet_running_tasks_in(conn, stale)
    if stuck:
        findings.append(("error", f"{_plural(len(stuck), 'task')} running with no activity for over 30 min: "
                                  f"{_names(stuck)} (quiet since {stuck[0][1]})"))
    subject = "tasks"
    if "workflows" in store.tables_in(conn):
        subject = "tasks or workflows"
        columns = store.columns_in(conn, "workflows")
        if {"name", "status", "updated_at"} <= columns:
            failed_wf = store.failed_workflow_names_in(conn, since)
            if failed_wf:
                findings.append(("warn", f"{_plural(len(failed_wf), 'workflow')} failed in the last 24 h: "
                                         f"{_names(failed_wf)}"))
            # Active with nothing queued or running for 30 min: its engine is no longer driving it.
            stalled = store.stalled_workflow_names_in(conn, stale, to_iso(now) if "resume_at" in columns else None)
            if stalled:
                findings.append(("error", f"{_plural(len(stalled), 'workflow')} active with no step running "
                                          f"for over 30 min: {_names(stalled)}"))
    return _worst(findings, f"All workflows healthy: no {subject} failed in the last 24 h, none stuck")


def _deployments(conn, now: datetime) -> tuple[str, str]:
    tables = store.tables_in(conn)
    findings: list[tuple[str, str]] = []
    healthy = ["No schedules yet"]
    if "schedules" in tables and store.any_schedule_in(conn):
        overdue = store.overdue_schedules_in(conn, to_iso(now - OVERDUE_AFTER))
        if overdue:
            findings.append(("error", f"{_plural(len(overdue), 'schedule')} overdue (the scheduler is not "
                                      f"firing): {_names(overdue)} (due {overdue[0][1]})"))
        failing = store.failing_schedules_in(conn)
        if failing:
            labelled = [(f"{name} (paused)" if status == "paused" else name,) for name, status in failing]
            findings.append(("error", f"{_plural(len(failing), 'schedule')} failed on each of the last 3 "
                                      f"firings: {_names(labelled)}"))
        active = store.active_schedule_count_in(conn)
        healthy = [f"{_plural(active, 'active schedule')} on time, none failing"]
    if "channel_deliveries" in tables and {"status", "created_at", "channel_id"} <= store.columns_in(
            conn, "channel_deliveries"):
        named = "channel_configs" in tables and "name" in store.columns_in(conn, "channel_configs")
        failed = store.failed_deliveries_in(conn, to_iso(now - FAILED_WINDOW), named=named)
        if failed:
            total = sum(n for _, n in failed)
            per_channel = ", ".join(f"{name}: {n}" for name, n in failed)
            findings.append(("warn", f"{_plural(total, 'channel delivery', 'channel deliveries')} failed "
                                     f"in the last 24 h ({per_channel})"))
        healthy.append("no channel delivery failed in the last 24 h")
    return _worst(findings, "; ".join(healthy))


def _month_start(now: datetime) -> datetime:
    local = now.astimezone(zone(local_zone_name()))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def _overall_cap(policy: dict) -> tuple[float | None, float]:
    """(the overall monthly cap in USD or None, the alert threshold) of the budget policy."""
    overall = policy.get("overall") if isinstance(policy.get("overall"), dict) else {}
    cap = overall.get("monthlySpendCapUsd", policy.get("monthlyLimit"))
    threshold = policy.get("alertThreshold")
    threshold = threshold if isinstance(threshold, (int, float)) and 0 < threshold <= 1 else 0.8
    if isinstance(cap, bool) or not isinstance(cap, (int, float)) or cap <= 0:
        return None, threshold
    return float(cap), threshold


async def _credits(db: Database, now: datetime) -> tuple[str, str]:
    configured = await providers.configured_runtimes(db)
    names = sorted({providers.RUNTIMES[r].provider for r in configured})
    default_model = await settings.value(db, "runtime.defaultModel")
    spent = await usage_store.spent_since(db, to_iso(_month_start(now))) / 1e6
    spend = f"${spent:,.2f} spent this month"
    findings: list[tuple[str, str]] = []
    if not names and not default_model:
        findings.append(("warn", "No LLM provider is configured, so tasks and schedules cannot run: set a key "
                                 "with POST /api/settings/openai or POST /api/settings, or export "
                                 "OPENAI_API_KEY / ANTHROPIC_API_KEY"))
    cap, threshold = _overall_cap((await usage_store.read_json(db, usage_store.POLICY_KEY))[0])
    if cap:
        spend += f" of the ${cap:,.2f} monthly budget ({spent / cap:.0%})"
        if spent >= cap:
            findings.append(("error", "Monthly budget exhausted"))
        elif spent >= threshold * cap:
            findings.append(("warn", "Monthly budget nearly used"))
    configured_text = f"Providers configured: {', '.join(names)}" if names else f"Default model: {default_model}"
    status, message = _worst(findings, configured_text)
    return status, f"{message}; {spend}"


async def _model_targets(db: Database) -> tuple[list[providers.ModelTarget], list[str]]:
    """The default model and the models active schedules name; plus why any cannot be resolved."""
    wanted = [(None, None), *await db.read(store.scheduled_models_in)]
    targets: dict[tuple, providers.ModelTarget] = {}
    problems: list[str] = []
    for model_id, runtime_id in wanted:
        try:
            target = await providers.resolve_model(db, model_id=model_id, runtime_id=runtime_id)
        except Invalid as exc:
            if model_id is None and runtime_id is None and exc.code == "NO_PROVIDER":
                continue  # the credits check reports a missing provider
            problems.append(f"{model_id or runtime_id or 'default model'}: {exc.message}")
            continue
        targets.setdefault((target.model, target.api_base, target.api_key), target)
    return list(targets.values()), problems


async def _probe(target: providers.ModelTarget) -> str | None:
    """None when the model answered a one-token request, else why not (secrets masked)."""
    try:
        await llm.ensure_loaded()  # a one-off import, not part of the provider's time budget
        await asyncio.wait_for(llm.complete_text(target, [{"role": "user", "content": "Reply with: ok"}],
                                                 max_tokens=1, timeout=PROBE_TIMEOUT), PROBE_TIMEOUT)
    except TimeoutError:
        return f"no answer within {PROBE_TIMEOUT:.0f} s"
    except Exception as exc:  # any provider, network or configuration failure is the finding
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        if target.api_key and target.api_key != "none":
            message = message.replace(target.api_key, providers.mask(target.api_key) or "…")
        return message[:300]
    return None


async def _models(db: Database, now: datetime, probe: bool) -> tuple[str, str]:
    if not probe:
        last = loads((await settings.get_many(db, [KEYS["probe"]]))[KEYS["probe"]])
        if not isinstance(last, dict):
            return "ok", ("Not probed yet: models are probed by POST /api/v1/stan/heartbeat/run and "
                          "once a day by the scheduled heartbeat")
        return last.get("status", "ok"), f"Last probed {last.get('at')}: {last.get('message')}"
    targets, problems = await _model_targets(db)
    failures = await asyncio.gather(*(_probe(t) for t in targets))
    answered = [t.model for t, failure in zip(targets, failures, strict=True) if failure is None]
    problems += [f"{t.model} did not answer: {failure}"
                 for t, failure in zip(targets, failures, strict=True) if failure is not None]
    if problems:
        status, message = "error", "; ".join(problems) + f" ({len(answered)} of {len(targets)} answered)"
    elif answered:
        status, message = "ok", f"{_plural(len(answered), 'model')} answered: {', '.join(answered)}"
    else:
        status, message = "warn", "No model is configured to probe"
    local_date = now.astimezone(zone(local_zone_name())).date().isoformat()
    await settings.set_many(db, {KEYS["probe"]: dumps({"at": to_iso(now), "date": local_date,
                                                       "status": status, "message": message})})
    return status, message


async def run_checks(db: Database, checks: list[str], *, now: datetime | None = None,
                     models_probe: bool) -> dict:
    """{results: [{check, status, message}], issues: [the non-ok results], healthy}."""
    now = now or datetime.now(UTC)
    results = []
    for name in check_names(checks):
        try:
            if name == "workflows":
                status, message = await db.read(lambda conn: _workflows(conn, now))
            elif name == "deployments":
                status, message = await db.read(lambda conn: _deployments(conn, now))
            elif name == "credits":
                status, message = await _credits(db, now)
            else:
                status, message = await _models(db, now, models_probe)
        except Exception as exc:  # a broken check is a finding, not a failed heartbeat
            log.exception("heartbeat check %s failed", name)
            status, message = "error", f"The {name} check could not run: {exc}"
        results.append({"check": name, "status": status, "message": message})
    issues = [r for r in results if r["status"] != "ok"]
    return {"results": results, "issues": issues, "healthy": not issues}


# ---- runs and their history --------------------------------------------------------------------

async def _probe_due(db: Database, now: datetime) -> bool:
    last = loads((await settings.get_many(db, [KEYS["probe"]]))[KEYS["probe"]])
    today = now.astimezone(zone(local_zone_name())).date().isoformat()
    return not isinstance(last, dict) or last.get("date") != today


def _alert(issues: list[dict], previous: list[dict]) -> tuple[str, str] | None:
    """(title, body) when an issue is new or worse than in the previous run, else None."""
    before = {r["check"]: SEVERITY.get(r["status"], 0) for r in previous}
    if not any(SEVERITY[i["status"]] > before.get(i["check"], 0) for i in issues):
        return None
    title = f"Stan heartbeat: {_plural(len(issues), 'issue')} ({', '.join(i['check'] for i in issues)})"
    return title, "\n".join(f"[{i['status']}] {i['check']}: {i['message']}" for i in issues)


async def run_stan_heartbeat(db: Database, *, trigger: str, models_probe: bool,
                             events: EventBus | None = None, now: datetime | None = None,
                             on_alert: Callable[[list[str], str, str], Awaitable[object]] | None = None) -> dict:
    """Run the configured checks, record the run, alert on new problems; returns the report.

    `models_probe` allows probing the models: a manual run then always probes, a scheduled one
    at most once per local calendar day (between probes the last result is reported)."""
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger must be one of {TRIGGERS}")
    started, clock = now or datetime.now(UTC), time.monotonic()
    config = await load_config(db)
    probe = models_probe and (trigger == "manual" or await _probe_due(db, started))
    report = await run_checks(db, config["checks"], now=started, models_probe=probe)
    finished = started + timedelta(seconds=time.monotonic() - clock)  # probes can take seconds

    def record(conn) -> tuple[str, str, str] | None:
        previous = store.previous_results_in(conn)
        store.record_run_in(conn, started_at=to_iso(started), finished_at=to_iso(finished),
                            healthy=report["healthy"], results=report["results"], trigger=trigger, keep=HISTORY_KEPT)
        alert = _alert(report["issues"], previous)
        if alert is None:
            return None
        title, body = alert
        return notifications.insert(conn, type=NOTIFICATION_TYPE, title=title, body=body)["id"], title, body

    alerted = await db.write(record)
    if alerted and events is not None:
        events.publish(NotificationCreated(alerted[0], None, NOTIFICATION_TYPE))
    if alerted and on_alert is not None and config["deliveryChannels"]:
        await on_alert(config["deliveryChannels"], alerted[1], alerted[2])
    return report


async def list_runs(db: Database, limit: int = 20) -> list[dict]:
    """The last runs, newest first: {id, startedAt, finishedAt, trigger, healthy, results, issues}."""
    return await store.list_runs(db, limit)


def alert_channels(channels) -> Callable[[list[str], str, str], Awaitable[object]]:
    """on_alert for run_stan_heartbeat: send the alert through the channel delivery engine."""

    async def send(channel_ids: list[str], title: str, body: str) -> None:
        await channels.deliver(channel_ids, title, body, source="stan-heartbeat")

    return send
