"""Model prices: the user's per-model overrides first, then litellm's bundled cost map.

A local Ollama model costs nothing. A model neither source prices is unknown: its calls cost 0
and are recorded as `unknown_pricing`, and a budget can only stop it once a cap is already
reached (a price override makes it predictable). Overrides live in the `usage.pricingRegistry`
setting and are cached here; `set_overrides` refreshes the cache.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
from dataclasses import dataclass

from ...db import Database
from ...db.rows import now_iso
from ...store import usage as usage_store
from . import llm
from .providers import RUNTIMES, provider_of

MICROS = 1_000_000
PRICING_VERSION = "litellm-local"  # usage_ledger.pricing_version: litellm's bundled map + overrides
STALE_AFTER_DAYS = 7  # the original's refresh age; the bundled map never changes under a pin
# Claude subscription plans (USD a month), as the original lists them next to the API prices.
CLAUDE_PLANS = {"pro": ("Claude Pro", 20), "max_5x": ("Claude Max 5x", 100), "max_20x": ("Claude Max 20x", 200)}


@dataclass(frozen=True)
class Price:
    input_per_token: float          # USD
    output_per_token: float         # USD
    max_output_tokens: int | None
    source: str                     # override | litellm | local

    def cost_micros(self, input_tokens: int, output_tokens: int) -> int:
        return round((input_tokens * self.input_per_token + output_tokens * self.output_per_token) * MICROS)


def litellm_version() -> str:
    try:
        return importlib.metadata.version("litellm")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - litellm is a dependency
        return "unknown"


class Pricing:
    def __init__(self, db: Database):
        self.db = db
        self._overrides: dict[str, dict] | None = None
        self._updated_at: str | None = None
        self._refreshed_at = now_iso()
        self._lock = asyncio.Lock()  # one read-modify-write of the overrides at a time

    async def overrides(self) -> dict[str, dict]:
        if self._overrides is None:
            stored, updated_at = await usage_store.read_json(self.db, usage_store.PRICING_KEY)
            models = stored.get("overrides")
            self._overrides = models if isinstance(models, dict) else {}
            self._updated_at = updated_at
        return self._overrides

    async def price(self, model: str) -> Price | None:
        override = (await self.overrides()).get(model)
        if override is not None:
            return Price(override["inputPer1M"] / MICROS, override["outputPer1M"] / MICROS, None, "override")
        if provider_of(model) == "ollama":
            return Price(0.0, 0.0, None, "local")
        await llm.ensure_loaded()
        found = llm.model_prices(model)
        return Price(found[0], found[1], found[2], "litellm") if found else None

    async def set_overrides(self, changes: dict[str, tuple[float, float] | None]) -> None:
        """Upsert per-model prices (USD per million tokens); None removes a model's override."""
        async with self._lock:  # two changes at once must both be kept
            models = dict(await self.overrides())
            for model, prices in changes.items():
                if prices is None:
                    models.pop(model, None)
                else:
                    models[model] = {"inputPer1M": prices[0], "outputPer1M": prices[1]}
            self._updated_at = await usage_store.write_json(self.db, usage_store.PRICING_KEY, {"overrides": models})
            self._overrides = models

    async def refresh(self) -> None:
        """Re-read the overrides. litellm's map is bundled with the pinned version, never fetched."""
        async with self._lock:
            self._overrides = None
            self._refreshed_at = now_iso()
            await self.overrides()

    # ---- the registry snapshot (GET /api/settings/pricing, and inside the budget snapshot) -----

    async def snapshot(self, default_model: str | None, since: str) -> dict:
        """Prices of the models that matter here: each runtime's default, the configured
        default, every model used this month, and every override; plus the Claude plans."""
        overrides = await self.overrides()
        wanted = [r.default_model for r in RUNTIMES.values()]
        wanted += [default_model] if default_model else []
        wanted += await usage_store.models_used(self.db, since)
        wanted += list(overrides)
        version = litellm_version()
        updated = max(filter(None, (self._updated_at, self._refreshed_at)))
        providers: dict[str, dict] = {}
        docs_models = []
        for model in dict.fromkeys(wanted):
            price = await self.price(model)
            provider_id = provider_of(model)
            group = providers.setdefault(provider_id, self._provider_entry(provider_id, version))
            per_million = (None, None) if price is None else (
                round(price.input_per_token * MICROS * MICROS), round(price.output_per_token * MICROS * MICROS))
            group["rows"].append({
                "key": model, "providerId": provider_id, "kind": "api_model", "label": model, "visible": True,
                "matchPrefixes": [model], "inputCostPerMillionMicros": per_million[0],
                "outputCostPerMillionMicros": per_million[1], "monthlyPriceUsd": None,
                "source": price.source if price else "unknown"})
            docs_models.append({"modelId": model, "source": price.source if price else "unknown",
                                "inputPer1M": None if price is None else round(price.input_per_token * MICROS, 6),
                                "outputPer1M": None if price is None else round(price.output_per_token * MICROS, 6)})
        anthropic = providers.setdefault("anthropic", self._provider_entry("anthropic", version))
        for plan, (label, usd) in CLAUDE_PLANS.items():
            anthropic["rows"].append({
                "key": f"claude-plan-{plan}", "providerId": "anthropic", "kind": "subscription_plan",
                "label": label, "visible": True, "matchPrefixes": [], "inputCostPerMillionMicros": None,
                "outputCostPerMillionMicros": None, "monthlyPriceUsd": usd, "source": "bundled"})
        providers.setdefault("openai", self._provider_entry("openai", version))
        return {"providers": providers, "lastUpdatedIso": updated, "stale": False,
                "models": docs_models, "updatedAt": updated}

    def _provider_entry(self, provider_id: str, version: str) -> dict:
        return {"providerId": provider_id, "sourceType": "bundled_default",
                "sourceLabel": f"litellm {version} bundled cost map, with your per-model overrides",
                "fetchedAtIso": self._refreshed_at, "version": f"litellm-{version}", "refreshError": None,
                "rows": []}
