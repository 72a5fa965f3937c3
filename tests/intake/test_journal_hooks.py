"""The Airtable webhooks followed, kept in the journal: secrets, cursors, gaps, payloads."""

from __future__ import annotations

import json

from bot.intake.journal import Journal
from bot.intake.journal_rows import NewDelivery


def entry(number: int, webhook: str = "achOne") -> NewDelivery:
    body = {"base": {"id": "appB"}, "webhook": {"id": webhook}, "payload": {"n": number}}
    return NewDelivery(
        f"airtable-{webhook}-{number}", "airtable", "payload", json.dumps(body).encode(), "k"
    )


def test_a_first_hook_starts_following_the_base_without_a_gap(store_location: str) -> None:
    with Journal(store_location) as journal:
        assert journal.hook("appB") is None
        row = journal.save_new_hook(
            "appB", "achOne", "c2VjcmV0", "2026-12-09T00:00:00.000Z", now=100
        )
        assert (row.webhook_id, row.mac_secret, row.cursor) == ("achOne", "c2VjcmV0", 1)
        assert row.following_since == 100 and row.gap_since is None
        assert [r.base_id for r in journal.hooks()] == ["appB"]


def test_payloads_and_their_cursor_are_kept_together_and_once(store_location: str) -> None:
    path = store_location
    with Journal(path) as journal:
        journal.save_new_hook("appB", "achOne", "c2VjcmV0", None, now=100)
        assert journal.record_payloads("appB", "achOne", [entry(1), entry(2)], 3, now=110) == 2
        # The same page read again (a crash before the cursor moved): nothing new.
        assert journal.record_payloads("appB", "achOne", [entry(1), entry(2)], 3, now=120) == 0
        # A page read for a hook that was replaced meanwhile is not journaled.
        assert journal.record_payloads("appB", "achOld", [entry(5, "achOld")], 9) == 0
    with Journal(path) as journal:  # durable
        row = journal.hook("appB")
        assert row is not None
        assert (row.cursor, row.last_payload_at, row.last_listed_at) == (3, 120, 120)
        claimed = journal.claim_due()
        assert sorted(d.id for d in claimed) == ["airtable-achOne-1", "airtable-achOne-2"]
        assert {d.event for d in claimed} == {"airtable"}
        assert claimed[0].payload["payload"]["n"] in (1, 2)


def test_an_empty_listing_moves_the_listing_time_only(store_location: str) -> None:
    with Journal(store_location) as journal:
        journal.save_new_hook("appB", "achOne", "c2VjcmV0", None, now=100)
        journal.record_payloads("appB", "achOne", [], 1, now=130)
        row = journal.hook("appB")
        assert row is not None
        assert (row.last_listed_at, row.last_payload_at) == (130, None)


def test_a_replaced_hook_leaves_a_gap_from_its_last_listing(store_location: str) -> None:
    with Journal(store_location) as journal:
        journal.save_new_hook("appB", "achOne", "c2VjcmV0", None, now=100)
        journal.record_payloads("appB", "achOne", [entry(1)], 2, now=150)
        journal.note_hook_error("appB", "HookGone: achOne", now=160)
        row = journal.save_new_hook("appB", "achTwo", "bmV3", None, now=200)
        assert (row.webhook_id, row.cursor, row.gap_since) == ("achTwo", 1, 150)
        assert row.following_since == 100 and row.last_error is None
        # A second replacement before the gap was swept keeps the older start.
        row = journal.save_new_hook("appB", "achThree", "bmV3", None, now=300)
        assert row.gap_since == 150
        sweep = NewDelivery("airtable-sweep-appB-150000", "airtable", "sweep", b"{}", "k")
        assert journal.record_sweep("appB", sweep, 150)
        assert not journal.record_sweep("appB", sweep, 150)
        after = journal.hook("appB")
        assert after is not None and after.gap_since is None
        assert [d.action for d in journal.claim_due()] == ["payload", "sweep"]


def test_a_deleted_hook_keeps_when_the_base_was_first_followed(store_location: str) -> None:
    with Journal(store_location) as journal:
        journal.save_new_hook("appB", "achOne", "c2VjcmV0", "2026-12-09T00:00:00.000Z", now=100)
        journal.forget_hook("appB")
        row = journal.hook("appB")
        assert row is not None
        assert (row.webhook_id, row.mac_secret, row.expires_at) == (None, None, None)
        assert row.following_since == 100
        again = journal.save_new_hook("appB", "achTwo", "bmV3", None, now=400)
        assert again.following_since == 100 and again.gap_since == 100


def test_expiry_and_errors_are_remembered(store_location: str) -> None:
    with Journal(store_location) as journal:
        journal.save_new_hook("appB", "achOne", "c2VjcmV0", "2026-12-09T00:00:00.000Z")
        journal.note_hook_expiry("appB", "achOne", "2026-12-16T00:00:00.000Z")
        journal.note_hook_expiry("appB", "achOther", "2030-01-01T00:00:00.000Z")  # not ours
        journal.note_hook_error("appB", "x" * 900, now=5)
        row = journal.hook("appB")
        assert row is not None
        assert row.expires_at == "2026-12-16T00:00:00.000Z"
        assert row.last_error == "x" * 500 and row.last_error_at == 5
