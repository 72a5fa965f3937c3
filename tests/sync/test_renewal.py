"""The renewal signal applied to a base: the Opportunity created exactly once, and the switch.

The decisions themselves are tested in tests/core/test_renewal_rules.py.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from pathlib import Path

from bot.airtable_local.thread import LocalAirtable
from bot.clients.airtable import Lanes
from bot.config import RenewalSettings
from bot.metrics import Metrics
from bot.sync.renewal import RenewalSignal
from tests.bot_fixtures import bot_config
from tests.operator_helpers import record_id, records, seed

TODAY = date(2026, 6, 1)


async def test_the_date_check_creates_the_renewal_opportunity_once(
    tmp_path: Path, local_airtable: LocalAirtable
) -> None:
    opportunity = record_id(local_airtable, "Opportunities", "Example University workshop")
    soon = (TODAY + timedelta(days=30)).isoformat()
    seed(
        local_airtable,
        "Engagements",
        [{"Name": "Ending soon", "Opportunity": [opportunity], "End": soon, "Status": "Active"}],
    )
    config = bot_config(tmp_path, local_airtable, "s", None)
    lanes = Lanes(config, metrics=Metrics())
    lane = lanes.for_base(str(local_airtable.base_id))
    signal = RenewalSignal(config)
    try:
        dry = await signal.check_all(lane, today=TODAY, dry_run=True)
        assert [(a.engagement, a.status, a.created) for a in dry] == [
            ("Ending soon", "Needs renewal", True)
        ]
        assert len(records(local_airtable, "Opportunities")) == 1
        first = await signal.check_all(lane, today=TODAY)
        second = await signal.check_all(lane, today=TODAY)
    finally:
        await lanes.close()
    assert [a.created for a in first] == [True]
    assert second == []  # the Engagement is Needs renewal now: nothing more to do
    ending = next(
        r for r in records(local_airtable, "Engagements") if r["fields"]["Name"] == "Ending soon"
    )
    assert ending["fields"]["Status"] == "Needs renewal"
    renewals = [
        r["fields"]
        for r in records(local_airtable, "Opportunities")
        if r["fields"]["Name"] == "Ending soon renewal"
    ]
    assert renewals == [{"Name": "Ending soon renewal", "Type": "Renewal", "Stage": "Prospect"}]


async def test_an_existing_renewal_opportunity_is_not_created_again(
    tmp_path: Path, local_airtable: LocalAirtable
) -> None:
    seed(local_airtable, "Opportunities", [{"Name": "example university 2026 RENEWAL"}])
    seed(
        local_airtable, "Engagements", [{"Name": "Other", "End": "2026-06-10", "Status": "Active"}]
    )
    config = bot_config(tmp_path, local_airtable, "s", None)
    engagement = record_id(local_airtable, "Engagements", "Example University 2026")
    local_airtable.store.update_record(
        str(local_airtable.base_id), "Engagements", engagement, {"End": "2026-07-01"}
    )
    lanes = Lanes(config, metrics=Metrics())
    try:
        actions = await RenewalSignal(config).check_all(
            lanes.for_base(str(local_airtable.base_id)), today=TODAY
        )
    finally:
        await lanes.close()
    assert {(a.engagement, a.created) for a in actions} == {
        ("Example University 2026", False),
        ("Other", True),
    }
    assert len(records(local_airtable, "Opportunities")) == 3


async def test_the_signal_can_be_turned_off(tmp_path: Path, local_airtable: LocalAirtable) -> None:
    config = dataclasses.replace(
        bot_config(tmp_path, local_airtable, "s", None),
        renewal=RenewalSettings(enabled=False),
    )
    lanes = Lanes(config, metrics=Metrics())
    try:
        actions = await RenewalSignal(config).check_all(
            lanes.for_base(str(local_airtable.base_id)), today=date(2028, 12, 1)
        )
    finally:
        await lanes.close()
    assert actions == []
    assert records(local_airtable, "Engagements")[0]["fields"]["Status"] == "Active"
