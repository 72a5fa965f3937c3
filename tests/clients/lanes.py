"""An Airtable lane to the embedded server, for the lane's tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyairtable import Api

from bot.airtable_local.thread import LocalAirtable
from bot.clients.airtable import AirtableLane
from bot.clients.request_budget import RequestBudget
from bot.config import AirtableSettings, Config
from bot.metrics import Metrics


def make_lane(
    at: LocalAirtable,
    *,
    endpoint: str | None = None,
    api_factory: Callable[[], Api] | None = None,
    budget: RequestBudget | None = None,
    **settings: Any,
) -> AirtableLane:
    """A lane to the embedded server's seeded base (at ``endpoint``, when something stands
    in between), fast enough for tests; ``settings`` override ``[airtable]``."""
    assert at.base_id is not None
    settings.setdefault("requests_per_second", 100)
    settings.setdefault("batch_wait_seconds", 0.02)
    config = Config(
        airtable_token=at.token,
        airtable_endpoint_url=endpoint or at.url,
        airtable_base_id=at.base_id,
        airtable=AirtableSettings(**settings),
    )
    return AirtableLane(
        config, at.base_id, metrics=Metrics(), api_factory=api_factory, budget=budget
    )
