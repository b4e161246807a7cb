"""/api/settings/budgets and /api/settings/pricing (catalog §2.14), and /api/usage (extension).

Budgets take both dialects: the code's nested policy `{overall:{monthlySpendCapUsd},
runtimes:{<id>:{monthlySpendCapUsd, claudeOAuthPlan?}}}` (numbers may be strings, "" clears)
and the docs' flat `{dailyLimit, monthlyLimit, alertThreshold}`; GET answers the code's
snapshot with the docs' flat keys beside it. A key left out keeps its value.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, WithJsonSchema, model_validator
from starlette.routing import Route

from ..db.rows import to_iso
from ..engine.agent.pricing import MICROS
from ..engine.agent.providers import RUNTIMES
from ..engine.governance.budget_policy import DEFAULT_THRESHOLD, current_windows
from ..errors import Invalid
from ..store import settings
from ..store import usage as usage_store
from ._http import Body, Out, RuntimeId, endpoint, ok, read_body, read_query

MAX_USD = 1_000_000
USD_PATTERN = r"^\s*(?:\d{1,7}(?:\.\d*)?|\.\d+)?\s*$"


def _usd(value: float | str | None) -> float | None:
    """A cap in USD: a number > 0, the same as a string, or ""/null for no cap."""
    if isinstance(value, str):
        if not re.search(USD_PATTERN, value):
            raise ValueError("Invalid input: expected a number of US dollars")
        if not value.strip():
            return None
        value = float(value)
    if value is not None and not 0 < value <= MAX_USD:
        raise ValueError("Too small: expected number to be >0" if value <= 0
                         else f"Too big: expected number to be <={MAX_USD}")
    return value


def _threshold(value: float | None) -> float | None:
    """The warning ratio: a fraction (0.8) or a percentage (80); stored as a fraction."""
    if value is None:
        return None
    if not 0 < value <= 100:
        raise ValueError("Expected a fraction in (0, 1] or a percentage in (1, 100]")
    return value / 100 if value > 1 else float(value)


Usd = Annotated[float | str | None, AfterValidator(_usd), WithJsonSchema({"anyOf": [
    {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_USD},
    {"type": "string", "pattern": USD_PATTERN}, {"type": "null"}]})]
Threshold = Annotated[float | None, AfterValidator(_threshold), WithJsonSchema({"anyOf": [
    {"type": "number", "exclusiveMinimum": 0, "maximum": 100}, {"type": "null"}]})]
Plan = Annotated[Literal["pro", "max_5x", "max_20x", ""] | None, AfterValidator(lambda v: v or None)]


class CapIn(Body):
    monthly_spend_cap_usd: Usd = None
    daily_spend_cap_usd: Usd = None  # extension: an explicit daily cap instead of monthly ÷ days


class RuntimeCapIn(CapIn):
    claude_oauth_plan: Plan = Field(default=None, alias="claudeOAuthPlan")


class BudgetsIn(Body):
    overall: CapIn | None = None
    runtimes: dict[RuntimeId, RuntimeCapIn] | None = None
    projects: dict[str, CapIn | None] | None = Field(default=None, max_length=1000)  # extension
    daily_limit: Usd = None      # the docs' flat dialect: the overall caps
    monthly_limit: Usd = None
    alert_threshold: Threshold = None


class StatusOut(Out):
    id: str
    scopeId: str
    scopeLabel: str
    runtimeId: str | None
    window: Literal["daily", "monthly"]
    currentValue: int
    limitValue: int | None
    ratio: float | None
    health: Literal["unlimited", "ok", "warning", "blocked"]
    resetAt: str
    resetAtIso: str


class PricingRowOut(Out):
    key: str
    providerId: str
    kind: Literal["api_model", "subscription_plan"]
    inputCostPerMillionMicros: int | None
    outputCostPerMillionMicros: int | None
    monthlyPriceUsd: float | None


class PricingProviderOut(Out):
    providerId: str
    sourceType: str
    rows: list[PricingRowOut]


class ModelPriceOut(Out):
    modelId: str
    inputPer1M: float | None
    outputPer1M: float | None


class PricingOut(Out):
    providers: dict[str, PricingProviderOut]
    lastUpdatedIso: str
    stale: bool
    models: list[ModelPriceOut]
    updatedAt: str


class BudgetsOut(Out):
    policy: dict[str, Any]
    statuses: list[StatusOut]
    dailyResetAtIso: str
    monthlyResetAtIso: str
    runtimeStates: dict[str, Any]
    pricing: PricingOut
    dailyLimit: float | None
    monthlyLimit: float | None
    dailySpend: float
    monthlySpend: float
    alertThreshold: float
    updatedAt: str | None


def _budgets(request):
    return request.app.state.budgets


async def _snapshot(request) -> dict:
    """The code's snapshot, plus the docs' flat keys (the overall caps and spend in USD)."""
    snap = await _budgets(request).snapshot()
    overall = {s["window"]: s for s in snap["statuses"] if s["scopeId"] == "overall"}
    limits = {w: None if s["limitValue"] is None else s["limitValue"] / MICROS for w, s in overall.items()}
    threshold = snap["policy"]["alertThreshold"]
    return {**snap, "meteredSpend": {"dailyMicros": overall["daily"]["currentValue"],
                                     "monthlyMicros": overall["monthly"]["currentValue"]},
            "dailyLimit": limits["daily"], "monthlyLimit": limits["monthly"],
            "dailySpend": overall["daily"]["currentValue"] / MICROS,
            "monthlySpend": overall["monthly"]["currentValue"] / MICROS,
            "alertThreshold": threshold, "alertThresholdPercent": round(threshold * 100, 2)}


@endpoint(response=BudgetsOut)
async def get_budgets(request):
    """Budget guardrail snapshot: policy, each cap's spend and health, reset times, pricing."""
    return ok(await _snapshot(request))


@endpoint(body=BudgetsIn, response=BudgetsOut, errors=(400,))
async def set_budgets(request):
    """Set monthly caps overall, per runtime and per project (daily = monthly ÷ days in month)."""
    given = (await read_body(request, BudgetsIn)).model_dump(by_alias=True, exclude_unset=True)
    changes: dict[str, Any] = {}
    overall = {"monthlySpendCapUsd": None, "dailySpendCapUsd": None} if given.get("overall", {}) is None else {}
    overall.update({"monthlySpendCapUsd": given["monthlyLimit"]} if "monthlyLimit" in given else {})
    overall.update({"dailySpendCapUsd": given["dailyLimit"]} if "dailyLimit" in given else {})
    overall.update(given.get("overall") or {})  # the nested dialect wins over the flat one
    if overall:
        changes["overall"] = overall
    for name in ("runtimes", "projects"):
        if given.get(name):
            changes[name] = given[name]
    if "alertThreshold" in given:
        changes["alertThreshold"] = given["alertThreshold"] or DEFAULT_THRESHOLD
    await _budgets(request).set_policy(changes)
    return ok(await _snapshot(request))


# ---- pricing -----------------------------------------------------------------------------------

PerMillion = Annotated[float | None, Field(ge=0, le=100_000)]


class ModelPriceIn(Body):
    model_id: str = Field(min_length=1, max_length=200, pattern=r"\S")
    input_per_million: PerMillion = Field(default=None, alias="inputPer1M")
    output_per_million: PerMillion = Field(default=None, alias="outputPer1M")

    @model_validator(mode="after")
    def _both_or_neither(self):
        if (self.input_per_million is None) != (self.output_per_million is None):
            raise ValueError("inputPer1M and outputPer1M go together: give both (USD per million "
                             "tokens), or null both to remove the override")
        return self


class PricingIn(Body):
    models: list[ModelPriceIn] | None = Field(default=None, max_length=500)


async def _pricing_snapshot(request) -> dict:
    budgets = _budgets(request)
    default_model = await settings.value(budgets.db, "runtime.defaultModel")
    return await budgets.pricing.snapshot(default_model or None, to_iso(current_windows().month_start))


@endpoint(response=PricingOut)
async def get_pricing(request):
    """Model prices in use: litellm's bundled cost map, overridden per model by you."""
    return ok(await _pricing_snapshot(request))


@endpoint(body=PricingIn, response=PricingOut, errors=(400,))
async def refresh_pricing(request):
    """Refresh the registry; `models` upserts per-model prices (USD per million tokens)."""
    body = await read_body(request, PricingIn)
    pricing = _budgets(request).pricing
    if body.models:
        await pricing.set_overrides({
            m.model_id.strip(): None if m.input_per_million is None else (m.input_per_million, m.output_per_million)
            for m in body.models})
    else:
        await pricing.refresh()
    return ok(await _pricing_snapshot(request))


# ---- spend report (extension) ------------------------------------------------------------------

class UsageQuery(Body):
    group_by: Literal["day", "project", "runtime", "model"] = "day"
    from_: str | None = Field(default=None, alias="from", max_length=40)
    to: str | None = Field(default=None, max_length=40)


class UsageRowOut(Out):
    key: str | None
    label: str
    costMicros: int
    costUsd: float
    inputTokens: int
    outputTokens: int
    totalTokens: int
    entries: int


class UsageOut(Out):
    groupBy: str
    rows: list[UsageRowOut]
    totals: dict[str, Any]


def _bound(text: str, field: str, *, end: bool) -> str:
    """UTC ISO of a bound: YYYY-MM-DD is a local day (`to` includes it), else an ISO date-time."""
    try:
        moment = datetime.fromisoformat(text.strip())
        if not 1900 <= moment.year <= 9000:  # keeps the UTC ISO strings comparable
            raise ValueError(moment.year)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            moment = moment + timedelta(days=1) if end else moment
        return to_iso(moment if moment.tzinfo else moment.astimezone())
    except (ValueError, OverflowError, OSError):
        raise Invalid("Validation failed", form_errors=[], field_errors={
            field: ["Expected a date (YYYY-MM-DD) or an ISO 8601 date-time"]}) from None


@endpoint(query=UsageQuery, response=UsageOut, errors=(400,))
async def spend_report(request):
    """Spend from the usage ledger grouped by day, project, runtime or model (default: this month)."""
    query = read_query(request, UsageQuery)
    windows = current_windows()
    start = _bound(query.from_, "from", end=False) if query.from_ else to_iso(windows.month_start)
    end = _bound(query.to, "to", end=True) if query.to else to_iso(windows.day_end)
    if start > end:
        raise Invalid("Validation failed", form_errors=[], field_errors={"from": ["`from` is after `to`"]})
    db = request.app.state.db
    rows = await usage_store.spend_by(db, query.group_by, start, end)
    names = await usage_store.project_names(db, [r["key"] for r in rows if r["key"]]) \
        if query.group_by == "project" else {}
    totals = {k: 0 for k in ("costMicros", "inputTokens", "outputTokens", "totalTokens", "entries",
                             "unknownPricingEntries")}
    for row in rows:
        row["costUsd"] = row["costMicros"] / MICROS
        row["label"] = _label(query.group_by, row["key"], names)
        for key in totals:
            totals[key] += row[key]
    totals["costUsd"] = totals["costMicros"] / MICROS
    return ok({"groupBy": query.group_by, "from": start, "to": end, "rows": rows, "totals": totals})


def _label(group_by: str, key: str | None, project_names: dict[str, str]) -> str:
    if group_by == "project":
        return project_names.get(key, key) if key else "(no project)"
    if group_by == "runtime":
        return RUNTIMES[key].label if key in RUNTIMES else "(other provider)"
    return key or "(unknown)"


routes = [
    Route("/api/settings/budgets", get_budgets, methods=["GET"]),
    Route("/api/settings/budgets", set_budgets, methods=["POST"]),
    Route("/api/settings/pricing", get_pricing, methods=["GET"]),
    Route("/api/settings/pricing", refresh_pricing, methods=["POST"]),
    Route("/api/usage", spend_report, methods=["GET"]),
]
