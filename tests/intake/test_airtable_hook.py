"""The Airtable webhook's life and its payloads journaled, against the embedded Airtable.

A :class:`HookKeeper` on a real lane (pyairtable over HTTP) and a real journal: hooks are
created, kept, refreshed, re-enabled, replaced with their gap swept, and deleted, and the
payloads of records typed by a person (the web app's token) are journaled once each.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.airtable_local.thread import LocalAirtable
from bot.app import shared_lanes
from bot.config import AirtableSettings, AirtableToGitHubSettings, Config
from bot.intake.airtable_hook import HookKeeper, expiry_seconds, followed_bases
from bot.intake.journal import Journal
from bot.metrics import Metrics
from bot.sync.airtable_follow import BaseFacts
from tests.constants import DELIVERABLES

DAY = 86_400.0


class Keeper:
    """A keeper and what the tests look at."""

    def __init__(self, keeper: HookKeeper, journal: Journal, at: LocalAirtable) -> None:
        self.keeper = keeper
        self.journal = journal
        self.at = at
        self.woken = 0
        keeper.wake_worker = self._wake

    def _wake(self) -> None:
        self.woken += 1

    @property
    def base_id(self) -> str:
        assert self.at.base_id is not None
        return self.at.base_id

    def hooks_on_airtable(self) -> list[Any]:
        return self.at.api().base(self.base_id).webhooks()


def config_for(at: LocalAirtable, data: Path, **settings: Any) -> Config:
    return Config(
        data_dir=data,
        airtable_token=at.token,
        airtable_base_id=at.base_id,
        airtable_endpoint_url=at.url,
        airtable=AirtableSettings(requests_per_second=100, batch_wait_seconds=0.01),
        airtable_to_github=AirtableToGitHubSettings(enabled=True, **settings),
    )


@pytest.fixture
async def keeper(local_airtable: LocalAirtable, tmp_path: Path) -> AsyncIterator[Keeper]:
    config = config_for(local_airtable, tmp_path / "data")
    metrics = Metrics()
    lanes = shared_lanes(config, metrics)
    with Journal(config.journal_path) as journal:
        facts = BaseFacts(config, lanes=lanes)
        yield Keeper(
            HookKeeper(config, lanes=lanes, journal=journal, metrics=metrics, facts=facts),
            journal,
            local_airtable,
        )
        await lanes.close()


async def test_a_hook_is_created_once_and_kept(keeper: Keeper) -> None:
    row = await keeper.keeper.ensure(keeper.base_id)
    assert row.webhook_id is not None and row.mac_secret
    hooks = keeper.hooks_on_airtable()
    assert [h.id for h in hooks] == [row.webhook_id]
    spec = hooks[0].specification.model_dump(by_alias=True, exclude_none=True)
    assert spec["options"]["filters"]["dataTypes"] == ["tableData"]
    again = await keeper.keeper.ensure(keeper.base_id)
    assert again.webhook_id == row.webhook_id
    assert len(keeper.hooks_on_airtable()) == 1
    assert again.gap_since is None


async def test_a_persons_records_are_journaled_once(keeper: Keeper) -> None:
    row = await keeper.keeper.ensure(keeper.base_id)
    table = keeper.at.client_table(DELIVERABLES)
    first = table.create({"Name": "Write the guide"})
    table.create({"Name": "Record the video"})
    assert await keeper.keeper.poll(keeper.base_id) == 2
    assert keeper.woken >= 1
    assert await keeper.keeper.poll(keeper.base_id) == 0
    pending = keeper.journal.claim_due()
    assert {d.event for d in pending} == {"airtable"}
    assert all(d.id.startswith(f"airtable-{row.webhook_id}-") for d in pending)
    assert all(d.issue_key == f"airtable:{keeper.base_id}" for d in pending)
    created = [
        d.payload["payload"]["changedTablesById"]
        for d in pending
        if any(
            first["id"] in (t.get("createdRecordsById") or {})
            for t in d.payload["payload"]["changedTablesById"].values()
        )
    ]
    assert len(created) == 1
    after = keeper.journal.hook(keeper.base_id)
    assert after is not None and after.cursor == 3 and after.last_payload_at is not None


async def test_a_page_read_twice_is_journaled_once(keeper: Keeper) -> None:
    row = await keeper.keeper.ensure(keeper.base_id)
    keeper.at.client_table(DELIVERABLES).create({"Name": "Write the guide"})
    assert await keeper.keeper.poll(keeper.base_id) == 1
    # A crash after journaling but before the cursor moved reads the page again.
    with keeper.journal._write() as conn:
        conn.execute("UPDATE airtable_hooks SET cursor = 1 WHERE base_id = ?", (row.base_id,))
    assert await keeper.keeper.poll(keeper.base_id) == 0
    assert len(keeper.journal.claim_due()) == 1


async def test_an_expired_hook_is_replaced_and_its_gap_swept(keeper: Keeper) -> None:
    old = await keeper.keeper.ensure(keeper.base_id)
    assert await keeper.keeper.poll(keeper.base_id) == 0
    assert old.webhook_id is not None
    keeper.at.expire_webhook(old.webhook_id)
    keeper.at.client_table(DELIVERABLES).create({"Name": "Typed while no hook listened"})
    await keeper.keeper.ensure(keeper.base_id)  # the loop does, once a minute
    new = keeper.journal.hook(keeper.base_id)
    assert new is not None and new.webhook_id not in (None, old.webhook_id)
    assert new.gap_since is None  # handed over to the sweep below
    sweeps = [d for d in keeper.journal.claim_due() if d.action == "sweep"]
    assert len(sweeps) == 1
    assert sweeps[0].payload["base"]["id"] == keeper.base_id
    assert sweeps[0].payload["since"] <= time.time()
    assert [h.id for h in keeper.hooks_on_airtable()] == [new.webhook_id]


async def test_a_hook_near_its_end_is_refreshed(keeper: Keeper) -> None:
    row = await keeper.keeper.ensure(keeper.base_id)
    first = expiry_seconds(row.expires_at)
    assert first is not None and first > time.time() + 6 * DAY
    keeper.at.advance_clock(5 * DAY)
    keeper.keeper._clock = lambda: time.time() + 5 * DAY
    refreshed = await keeper.keeper.ensure(keeper.base_id)
    assert refreshed.webhook_id == row.webhook_id
    later = expiry_seconds(refreshed.expires_at)
    assert later is not None and later > first + 4 * DAY


async def test_notifications_turned_off_are_turned_back_on(
    local_airtable: LocalAirtable, tmp_path: Path
) -> None:
    config = config_for(
        local_airtable, tmp_path / "data", notification_url="http://127.0.0.1:9/airtable/webhook"
    )
    metrics = Metrics()
    lanes = shared_lanes(config, metrics)
    try:
        with Journal(config.journal_path) as journal:
            facts = BaseFacts(config, lanes=lanes)
            keeper = HookKeeper(config, lanes=lanes, journal=journal, metrics=metrics, facts=facts)
            assert local_airtable.base_id is not None
            row = await keeper.ensure(local_airtable.base_id)
            base = local_airtable.api().base(local_airtable.base_id)
            hook = base.webhook(str(row.webhook_id))
            hook.disable_notifications()
            await keeper.ensure(local_airtable.base_id)
            assert base.webhook(str(row.webhook_id)).are_notifications_enabled
    finally:
        await lanes.close()


async def test_a_deleted_hook_is_gone_and_the_next_ensure_covers_the_gap(keeper: Keeper) -> None:
    row = await keeper.keeper.ensure(keeper.base_id)
    assert await keeper.keeper.delete(keeper.base_id) == row.webhook_id
    assert keeper.hooks_on_airtable() == []
    assert await keeper.keeper.delete(keeper.base_id) is None
    again = await keeper.keeper.ensure(keeper.base_id)
    assert again.webhook_id != row.webhook_id
    assert [d.action for d in keeper.journal.claim_due()] == ["sweep"]


async def test_a_ping_is_checked_against_the_hooks_secret(keeper: Keeper) -> None:
    row = await keeper.keeper.ensure(keeper.base_id)
    assert row.mac_secret is not None
    body = b'{"base":{"id":"%s"},"webhook":{"id":"%s"}}' % (
        keeper.base_id.encode(),
        str(row.webhook_id).encode(),
    )
    mac = hmac.new(base64.b64decode(row.mac_secret), body, hashlib.sha256).hexdigest()
    assert keeper.keeper.verify(body, f"hmac-sha256={mac}") == keeper.base_id
    assert keeper.keeper.verify(body + b" ", f"hmac-sha256={mac}") is None
    assert keeper.keeper.verify(body, mac) is None
    assert keeper.keeper.verify(body, "hmac-sha256=" + "0" * 64) is None


async def test_the_loop_polls_on_a_poke(keeper: Keeper) -> None:
    keeper.keeper.config = replace(
        keeper.keeper.config,
        airtable_to_github=replace(keeper.keeper.config.airtable_to_github, poll_seconds=600),
    )
    task = asyncio.create_task(keeper.keeper.run())
    try:
        for _ in range(200):
            if keeper.journal.hook(keeper.base_id) is not None:
                break
            await asyncio.sleep(0.02)
        keeper.at.client_table(DELIVERABLES).create({"Name": "Poked"})
        keeper.keeper.poke(keeper.base_id)
        for _ in range(200):
            if keeper.journal.pending_count():
                break
            await asyncio.sleep(0.02)
        assert keeper.journal.pending_count() == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_the_bases_followed_are_every_configured_base() -> None:
    assert followed_bases(Config(airtable_base_id="appOne")) == ["appOne"]
    config = Config(bases_by_owner={"a": "appOne", "b": "appTwo", "c": "appOne"})
    assert followed_bases(config) == ["appOne", "appTwo"]
    assert followed_bases(Config()) == []


async def test_a_gap_left_by_a_process_that_died_before_its_sweep_is_still_swept(
    keeper: Keeper,
) -> None:
    old = await keeper.keeper.ensure(keeper.base_id)
    # A replacement saved (gap_since set) by a process killed before it journaled the sweep.
    new = keeper.journal.save_new_hook(keeper.base_id, "achNotOnAirtable", "c2VjcmV0", None)
    assert new.gap_since is not None
    with keeper.journal._write() as conn:
        conn.execute(
            "UPDATE airtable_hooks SET webhook_id = ?, mac_secret = ? WHERE base_id = ?",
            (old.webhook_id, old.mac_secret, keeper.base_id),
        )
    await keeper.keeper.ensure(keeper.base_id)
    await keeper.keeper.ensure(keeper.base_id)
    assert [d.action for d in keeper.journal.claim_due()] == ["sweep"]
    row = keeper.journal.hook(keeper.base_id)
    assert row is not None and row.gap_since is None and row.webhook_id == old.webhook_id
