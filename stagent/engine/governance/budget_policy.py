"""The budget policy as data: its shape, how a change merges in, the scopes and windows it
caps, and each scope's caps in micro-USD. Pure functions; engine/governance/budgets.py holds
the state (spend cache, runs in flight, alerts) and the checks.

Invariant: a scope's daily cap is its monthly cap ÷ the days in the current month unless an
explicit daily cap is set, and a cap is never 0 micro-USD (a cap below a micro-dollar still caps).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta

from ...store import usage as usage_store
from ..agent.pricing import MICROS
from ..agent.providers import RUNTIMES, ModelTarget

DEFAULT_THRESHOLD = 0.8
WINDOWS = ("daily", "monthly")
CAP_KEYS = ("monthlySpendCapUsd", "dailySpendCapUsd")


@dataclass(frozen=True)
class Windows:
    now: datetime
    day_start: datetime
    day_end: datetime
    month_start: datetime
    month_end: datetime
    days_in_month: int

    def key(self, window: str) -> str:
        return self.day_start.strftime("%Y-%m-%d") if window == "daily" else self.month_start.strftime("%Y-%m")

    def reset(self, window: str) -> datetime:
        return self.day_end if window == "daily" else self.month_end


def current_windows() -> Windows:
    now = datetime.now().astimezone()
    # Naive local midnights made aware by astimezone(): right across DST changes.
    day_start = datetime(now.year, now.month, now.day).astimezone()
    day_end = datetime.combine(now.date() + timedelta(days=1), datetime.min.time()).astimezone()
    month_start = datetime(now.year, now.month, 1).astimezone()
    month_end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1).astimezone()
    return Windows(now, day_start, day_end, month_start, month_end, calendar.monthrange(now.year, now.month)[1])


@dataclass(frozen=True)
class Scope:
    id: str                  # overall | <runtime id> | project:<id>
    label: str
    runtime_id: str | None = None
    project_id: str | None = None


def empty_policy() -> dict:
    cap = {"monthlySpendCapUsd": None, "dailySpendCapUsd": None}
    return {"overall": dict(cap), "runtimes": {r: dict(cap) for r in RUNTIMES}, "projects": {},
            "alertThreshold": DEFAULT_THRESHOLD}


def from_stored(stored: dict) -> dict:
    """The stored policy over the empty one; a part of the wrong type reads as empty."""
    policy = empty_policy()
    for name in ("overall", "runtimes", "projects", "alertThreshold"):
        if name in stored and isinstance(stored[name], type(policy[name])):
            policy[name] = stored[name] if name != "runtimes" else {**policy["runtimes"], **stored[name]}
    return policy


def merged(current: dict, changes: dict) -> dict:
    """`current` with `changes` merged in, as set_policy documents; `current` is not changed."""
    policy = {k: (dict(v) if isinstance(v, dict) else v) for k, v in current.items()}
    if "overall" in changes:
        policy["overall"] = {**policy["overall"], **changes["overall"]}
    for runtime_id, caps in (changes.get("runtimes") or {}).items():
        policy["runtimes"][runtime_id] = {**policy["runtimes"][runtime_id], **caps}
    for project_id, caps in (changes.get("projects") or {}).items():
        merged_caps = {**policy["projects"].get(project_id, {}), **(caps or {})}
        if caps is None or not any(merged_caps.get(k) is not None for k in CAP_KEYS):
            policy["projects"].pop(project_id, None)
        else:
            policy["projects"][project_id] = merged_caps
    if changes.get("alertThreshold") is not None:
        policy["alertThreshold"] = changes["alertThreshold"]
    return policy


def runtime_of(target: ModelTarget) -> str | None:
    return target.runtime_id or usage_store.PROVIDER_RUNTIME.get(target.provider)


def run_scope_ids(target: ModelTarget, project_id: str | None) -> tuple[str, ...]:
    """Every scope a run's spend counts towards, capped now or not (a cap may be set mid-run)."""
    runtime_id = runtime_of(target)
    return ("overall", *([runtime_id] if runtime_id in RUNTIMES else []),
            *([f"project:{project_id}"] if project_id else []))


def usd(micros: int) -> str:
    return f"${micros / MICROS:,.2f}" if micros >= 10_000 or micros == 0 else f"${micros / MICROS:,.4f}"


def _micros(value: float | None) -> int | None:
    return None if value is None else max(1, round(value * MICROS))


def scopes_for(policy: dict, runtime_id: str | None, project_id: str | None) -> list[Scope]:
    """The scopes that cover a call or run: overall, its runtime, its project when capped."""
    scopes = [Scope("overall", "Overall")]
    if runtime_id in RUNTIMES:
        scopes.append(Scope(runtime_id, RUNTIMES[runtime_id].label, runtime_id=runtime_id))
    if project_id and project_id in policy["projects"]:
        scopes.append(Scope(f"project:{project_id}", f"Project {project_id}", project_id=project_id))
    return scopes


def all_scopes(policy: dict) -> list[Scope]:
    scopes = [Scope("overall", "Overall")]
    scopes += [Scope(r.id, r.label, runtime_id=r.id) for r in RUNTIMES.values()]
    scopes += [Scope(f"project:{p}", f"Project {p}", project_id=p) for p in policy["projects"]]
    return scopes


def limits(policy: dict, scope: Scope) -> tuple[int | None, int | None]:
    """(daily, monthly) caps in micro-USD for a scope; daily = monthly ÷ days unless set."""
    if scope.runtime_id:
        caps = policy["runtimes"].get(scope.runtime_id, {})
    elif scope.project_id:
        caps = policy["projects"].get(scope.project_id, {})
    else:
        caps = policy["overall"]
    monthly = _micros(caps.get("monthlySpendCapUsd"))
    daily = _micros(caps.get("dailySpendCapUsd"))
    if daily is None and monthly is not None:
        daily = max(1, round(monthly / current_windows().days_in_month))
    return daily, monthly


def capped(policy: dict, scopes: list[Scope]) -> bool:
    return any(limits(policy, s) != (None, None) for s in scopes)
