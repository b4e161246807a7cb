"""Spend caps, checked before every provider call and before a task starts.

The policy (setting `usage.budgetPolicy`): a monthly USD cap overall, per runtime and (an
extension) per project; each scope's daily cap is its monthly cap ÷ days in the month unless an
explicit daily cap is set (budget_policy.py). Windows start at server-local midnight and the
1st of the month.

Invariants:
- a provider call is made only after `check_call` found that its predicted cost — prompt tokens ×
  input price + the output allowance × output price — fits under every cap that covers it. The
  allowance goes out as `max_tokens`, so for a priced model the prediction bounds the call;
- what a run has spent but not yet written to usage_ledger counts ("in flight"), and a checked
  call reserves its predicted cost until it is charged, so neither a long run nor concurrent
  runs can slip past a cap between ledger writes;
- the spend read, the comparison and the reservation happen in one locked section, so
  concurrent calls see each other's reservations;
- a warning (≥ the alert threshold) and a "reached" alert go out at most once per scope and
  window (remembered in memory too, so a call in warning costs no write); a run stopped by
  its budget always gets its own alert.

Month-to-date spend is cached in memory and re-read after a ledger write (`settle`,
`ledger_changed`), when a window rolls over, or after SPEND_TTL seconds at most.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from dataclasses import dataclass

from ...db import Database
from ...db.rows import to_iso
from ...errors import Invalid, RateLimited
from ...events import EventBus, NotificationCreated
from ...store import settings
from ...store import usage as usage_store
from ..agent import llm, providers
from ..agent.pricing import MICROS, Pricing
from ..agent.providers import RUNTIMES, ModelTarget
from .budget_policy import (
    WINDOWS,
    Scope,
    Windows,
    all_scopes,
    capped,
    current_windows,
    from_stored,
    limits,
    merged,
    run_scope_ids,
    runtime_of,
    scopes_for,
    usd,
)

log = logging.getLogger("stagent.budgets")

OUTPUT_ALLOWANCE = 8192  # max_tokens of a capped call when the caller sets none (see docs/decisions/011)
SPEND_TTL = 30.0         # seconds; a safety net for ledger writers that do not call ledger_changed()


class BudgetExceeded(RateLimited):
    """429: a cap is exhausted, or this call's predicted cost would cross one."""

    code = "BUDGET_EXCEEDED"


@dataclass
class _Run:
    scopes: tuple[str, ...]
    spent: int = 0
    reserved: int = 0


class Budgets:
    def __init__(self, db: Database, events: EventBus | None = None):
        self.db = db
        self.events = events
        self.pricing = Pricing(db)
        self._policy: dict | None = None
        self._policy_updated: str | None = None
        self._spend: dict[str, Counter] | None = None
        self._spend_tag: tuple = ()
        self._generation = 0
        self._lock = asyncio.Lock()          # spend: ledger cache, runs in flight, reservations
        self._policy_lock = asyncio.Lock()   # set_policy's read-modify-write
        self._runs: dict[str, _Run] = {}
        self._project_names: dict[str, str] = {}
        self._alerted: set[tuple[str, str]] = set()  # once-per-window alerts known to be recorded
        self._alert_epoch = 0                          # bumped when the policy resets that record

    # ---- the policy ------------------------------------------------------------------------

    async def policy(self) -> dict:
        if self._policy is None:
            stored, self._policy_updated = await usage_store.read_json(self.db, usage_store.POLICY_KEY)
            self._policy = from_stored(stored)
        return self._policy

    async def set_policy(self, changes: dict) -> None:
        """Merge `changes` ({overall?, runtimes?, projects?, alertThreshold?}; a cap key left out
        keeps its value, None clears it; a project set to None loses its caps) and store it.
        The once-per-window alert record starts afresh, as the original does."""
        async with self._policy_lock:  # two changes at once must both be kept
            await self._set_policy(changes)
        self.ledger_changed()  # re-read with the new projects' names

    async def _set_policy(self, changes: dict) -> None:
        current = await self.policy()
        wanted = [p for p, caps in (changes.get("projects") or {}).items() if caps]
        known = await usage_store.project_names(self.db, wanted)
        unknown = [p for p in wanted if p not in known]
        if unknown:
            raise Invalid("Validation failed", field_errors={"projects": [f"Unknown project: {p}" for p in unknown]},
                          form_errors=[])
        policy = merged(current, changes)
        self._policy_updated = await usage_store.write_json(
            self.db, usage_store.POLICY_KEY, policy, also_clear=(usage_store.ALERT_STATE_KEY,))
        self._policy = policy
        self._alerted.clear()
        self._alert_epoch += 1

    # ---- checks --------------------------------------------------------------------------------

    async def check_call(self, target: ModelTarget, messages: list[dict], *, max_tokens: int | None = None,
                         project_id: str | None = None, tools: list[dict] | None = None,
                         task_id: str | None = None, run_key: str | None = None) -> int | None:
        """Raise BudgetExceeded if this call's predicted cost would cross a cap that covers it.

        Returns the max_tokens to send: the output allowance the prediction assumed when a cap
        covers a priced call, else `max_tokens` unchanged. With a `run_key` (default: the task
        id), the predicted cost stays reserved for that run until `charge`; alerts name `task_id`."""
        run_key = run_key or task_id
        policy = await self.policy()
        scopes = scopes_for(policy, runtime_of(target), project_id)
        if not capped(policy, scopes):
            return max_tokens
        price = await self.pricing.price(target.model)
        predicted, allowance = 0, max_tokens
        if price is not None and (price.input_per_token or price.output_per_token):
            allowance = max_tokens or min(OUTPUT_ALLOWANCE, price.max_output_tokens or OUTPUT_ALLOWANCE)
            prompt = await asyncio.to_thread(llm.count_prompt_tokens, target.model, messages, tools)
            predicted = math.ceil((prompt * price.input_per_token + allowance * price.output_per_token) * MICROS)
        # Read, compare and reserve with no await in between (alerts go out after): concurrent
        # calls each see the others' reservations, so they cannot all take the last dollar.
        async with self._lock:
            statuses = await self._statuses_locked(policy, scopes, exclude_run=run_key)
            refusal = self._refusal(statuses, predicted)
            if refusal is None and run_key is not None:
                self._runs.setdefault(run_key, _Run(run_scope_ids(target, project_id))).reserved = predicted
        if refusal is not None:
            status, error, reached = refusal
            if reached and task_id is None:
                await self._alert_reached(status, None)
            else:  # a stopped run always gets its own alert, tied to its task
                await self._alert(f"Task stopped by the {status['scopeLabel']} {status['window']} budget",
                                  error.message, task_id)
            raise error
        await self._alert_thresholds(statuses, task_id)
        return allowance

    def _refusal(self, statuses: list[dict], predicted: int) -> tuple[dict, BudgetExceeded, bool] | None:
        """(the status, the error, whether the cap is already reached) of the first cap this call
        would cross, or None when it fits under all of them."""
        for status in statuses:
            limit = status["limitValue"]
            if limit is None:
                continue
            if status["currentValue"] >= limit:
                return status, self._exceeded(status, self._reached_text(status)), True
            if status["currentValue"] + predicted > limit:
                return status, self._exceeded(status, (
                    f"{status['scopeLabel']} {status['window']} budget would be crossed: "
                    f"{usd(status['currentValue'])} of {usd(limit)} spent, and this call may cost up to "
                    f"{usd(predicted)}. {self._advice(status)}")), False
        return None

    async def check_open(self, *, runtime_id: str | None = None, project_id: str | None = None,
                         model_id: str | None = None) -> None:
        """Raise BudgetExceeded while a cap that covers this runtime/project is exhausted
        (task execute/resume answer 429). Without a runtime id, the one the model (or the
        configured default) runs under is used."""
        policy = await self.policy()
        if runtime_id is None and any(limits(policy, Scope(r, r, runtime_id=r)) != (None, None)
                                      for r in RUNTIMES):
            try:
                runtime_id = runtime_of(await providers.resolve_model(self.db, model_id=model_id))
            except Invalid:
                runtime_id = None  # the run itself will report the missing provider
        scopes = scopes_for(policy, runtime_id if runtime_id in RUNTIMES else None, project_id)
        if not capped(policy, scopes):
            return
        statuses = await self._statuses(policy, scopes)
        for status in statuses:
            if status["health"] == "blocked":
                await self._alert_reached(status, None)
                raise self._exceeded(status, self._reached_text(status))
        await self._alert_thresholds(statuses, None)

    async def check_task(self, task: dict) -> None:
        await self.check_open(runtime_id=task.get("assignedAgent"), project_id=task.get("projectId"),
                              model_id=task.get("modelId"))

    # ---- spend in flight -------------------------------------------------------------------------

    async def charge(self, run_key: str, target: ModelTarget, completion: llm.Completion, *,
                     project_id: str | None = None) -> tuple[int, bool]:
        """Price a finished call (overrides first) and count it against the run until `settle`.
        Returns (cost in micro-USD, priced)."""
        price = await self.pricing.price(target.model)
        cost = 0 if price is None else price.cost_micros(completion.input_tokens, completion.output_tokens)
        run = self._runs.setdefault(run_key, _Run(run_scope_ids(target, project_id)))
        run.spent += cost
        run.reserved = 0
        return cost, price is not None

    async def settle(self, run_key: str, *, task_id: str | None = None) -> None:
        """The run's usage is in the ledger (or never will be): stop counting it in flight,
        re-read the ledger, and send the threshold alerts its spend caused. Never raises."""
        try:
            async with self._lock:
                run = self._runs.pop(run_key, None)
                self._generation += 1
            if run is None:
                return
            policy = await self.policy()
            scopes = [s for s in all_scopes(policy) if s.id in run.scopes]
            await self._alert_thresholds(await self._statuses(policy, scopes), task_id)
        except Exception:  # pragma: no cover - an alert must not break the run's ending
            log.exception("budget settle failed for %s", run_key)

    def ledger_changed(self) -> None:
        """Call after writing usage_ledger rows outside a run (the next check re-reads it)."""
        self._generation += 1

    # ---- snapshot (GET /api/settings/budgets) ------------------------------------------------

    async def snapshot(self) -> dict:
        policy = await self.policy()
        existing = await usage_store.project_names(self.db, list(policy["projects"]))
        statuses = await self._statuses(policy, [s for s in all_scopes(policy)
                                                 if not s.project_id or s.project_id in existing])
        windows = current_windows()
        default_model = await settings.value(self.db, "runtime.defaultModel")
        return {
            "policy": policy, "statuses": statuses,
            "dailyResetAtIso": to_iso(windows.day_end), "monthlyResetAtIso": to_iso(windows.month_end),
            "runtimeStates": await providers.runtime_states(self.db),
            "pricing": await self.pricing.snapshot(default_model or None, to_iso(windows.month_start)),
            "updatedAt": self._policy_updated,
        }

    # ---- internals -------------------------------------------------------------------------------

    async def _ledger_spend(self, policy: dict, windows: Windows) -> dict[str, Counter]:
        """Ledger sums per scope and window (and the capped projects' names), cached."""
        tag = (windows.key("monthly"), windows.key("daily"), self._generation)
        if self._spend is not None and self._spend_tag[:3] == tag and time.monotonic() - self._spend_tag[3] < SPEND_TTL:
            return self._spend
        rows = await usage_store.window_spend(self.db, to_iso(windows.month_start), to_iso(windows.day_start))
        self._project_names = await usage_store.project_names(self.db, list(policy["projects"]))
        spend = {"daily": Counter(), "monthly": Counter()}
        for row in rows:
            keys = ["overall"]
            keys += [row["runtime"]] if row["runtime"] in RUNTIMES else []
            keys += [f"project:{row['project_id']}"] if row["project_id"] else []
            for key in keys:
                spend["daily"][key] += row["day"]
                spend["monthly"][key] += row["month"]
        self._spend, self._spend_tag = spend, (*tag, time.monotonic())
        return spend

    async def _statuses(self, policy: dict, scopes: list[Scope], *, exclude_run: str | None = None) -> list[dict]:
        async with self._lock:
            return await self._statuses_locked(policy, scopes, exclude_run=exclude_run)

    async def _statuses_locked(self, policy: dict, scopes: list[Scope], *,
                               exclude_run: str | None = None) -> list[dict]:
        """The caller holds self._lock: settle() cannot drop a run's in-flight spend between the
        ledger read and the sum below, so a finished run is never counted in neither place."""
        windows = current_windows()
        ledger = await self._ledger_spend(policy, windows)
        in_flight = Counter()
        for key, run in self._runs.items():
            for scope_id in run.scopes:
                in_flight[scope_id] += run.spent + (run.reserved if key != exclude_run else 0)
        threshold = policy["alertThreshold"]
        statuses = []
        for scope in scopes:
            for window, limit in zip(WINDOWS, limits(policy, scope), strict=True):
                current = ledger[window][scope.id] + in_flight[scope.id]
                ratio = current / limit if limit else None
                health = ("unlimited" if limit is None else "blocked" if ratio >= 1
                          else "warning" if ratio >= threshold else "ok")
                reset = to_iso(windows.reset(window))
                label = f"Project {self._project_names.get(scope.project_id, scope.project_id)}" \
                    if scope.project_id else scope.label
                statuses.append({
                    "id": f"{scope.id}:{window}:spend", "scopeId": scope.id, "scopeLabel": label,
                    "runtimeId": scope.runtime_id, "projectId": scope.project_id, "window": window,
                    "currentValue": current, "limitValue": limit, "ratio": ratio, "health": health,
                    "resetAt": reset, "resetAtIso": reset, "windowKey": windows.key(window)})
        return statuses

    def _advice(self, status: dict) -> str:
        return (f"The {status['window']} window resets at {status['resetAtIso']}; raise or clear the cap "
                "with POST /api/settings/budgets to continue sooner.")

    def _reached_text(self, status: dict) -> str:
        return (f"{status['scopeLabel']} {status['window']} budget reached: {usd(status['currentValue'])} "
                f"of {usd(status['limitValue'])} spent. {self._advice(status)}")

    def _exceeded(self, status: dict, message: str) -> BudgetExceeded:
        return BudgetExceeded(message, extra={"code": "budget_exceeded", "scopeId": status["scopeId"],
                                              "window": status["window"], "resetAt": status["resetAtIso"]})

    async def _alert_reached(self, status: dict, task_id: str | None) -> None:
        await self._alert(f"{status['scopeLabel']} {status['window']} budget reached",
                          self._reached_text(status), task_id, once=(f"{status['id']}:blocked", status["windowKey"]))

    async def _alert_thresholds(self, statuses: list[dict], task_id: str | None) -> None:
        for status in statuses:
            if status["health"] == "blocked":
                await self._alert_reached(status, task_id)
            elif status["health"] == "warning":
                percent = status["currentValue"] * 100 // status["limitValue"]
                await self._alert(
                    f"{status['scopeLabel']} {status['window']} spend at {percent}%",
                    f"{status['scopeLabel']} {status['window']} spend is {usd(status['currentValue'])} of "
                    f"{usd(status['limitValue'])} ({percent}%). Provider calls stop before they would cross "
                    f"the cap; the window resets at {status['resetAtIso']}.",
                    task_id, once=(f"{status['id']}:warning", status["windowKey"]))

    async def _alert(self, title: str, body: str, task_id: str | None, once: tuple[str, str] | None = None) -> None:
        if once is not None and once in self._alerted:
            return  # already recorded for this window: no write transaction to find that out
        epoch = self._alert_epoch
        notification_id = await usage_store.raise_alert(self.db, title=title, body=body, task_id=task_id, once=once)
        if once is not None and epoch == self._alert_epoch:  # not if the policy reset the record meanwhile
            self._alerted.add(once)
        if notification_id is not None and self.events is not None:
            self.events.publish(NotificationCreated(notification_id, task_id, "budget_alert"))
