"""Tests for bot/intake/journal.py: the delivery journal on real SQLite files and a real
PostgreSQL server (tests taking ``journal`` run on both), no network."""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.intake.journal import RESUMED_ERROR, STATES, Journal
from bot.intake.journal_rows import Delivery, NewDelivery
from bot.intake.journal_schema import SCHEMA_VERSION
from bot.storage.database import STORE_ERRORS

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_700_000_000.0  # a fixed "now" so schedules are exact
DAY = 86400.0
ISSUE = "example-org/infrastructure#1"
PAYLOAD = {
    "action": "opened",
    "issue": {
        "number": 1,
        "title": "Deploy the staging cluster",
        "updated_at": "2024-05-01T12:00:00Z",
    },
    "repository": {"full_name": "example-org/infrastructure"},
}
BODY = json.dumps(PAYLOAD, indent=2).encode()


@pytest.fixture
def journal(store_location: str):
    """A journal on each backend: a file in a folder that does not exist yet, then a
    PostgreSQL schema of the test's own."""
    with Journal(store_location) as j:
        yield j


@pytest.fixture
def sqlite_journal(tmp_path: Path):
    """A journal on a SQLite file, for what only a file does (a full disk, one process)."""
    with Journal(tmp_path / "data" / "journal.db") as j:
        yield j


def _record(journal: Journal, delivery_id: str, *, at: float = T0, issue_key: str = ISSUE) -> None:
    """Journal one issues/opened delivery received at *at*."""
    assert journal.record(delivery_id, "issues", "opened", BODY, issue_key=issue_key, now=at)


def _state(journal: Journal, delivery_id: str) -> Delivery:
    """The journaled delivery with this id."""
    (delivery,) = [d for d in journal.list(limit=10_000) if d.id == delivery_id]
    return delivery


# -- recording and de-duplication ------------------------------------------------------------


def test_record_creates_the_folder_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "journal.db"
    with Journal(path) as j:
        _record(j, "d-1")
        other = sqlite3.connect(path)
        try:
            assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert other.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
            # Committed when record() returns: another connection sees it.
            assert other.execute("SELECT id, state FROM deliveries").fetchall() == [
                ("d-1", "pending")
            ]
        finally:
            other.close()


def test_record_dedupes_by_delivery_id(journal: Journal) -> None:
    assert not journal.seen("d-1")
    assert journal.record("d-1", "issues", "opened", BODY, issue_key=ISSUE, now=T0) is True
    assert journal.seen("d-1")
    # GitHub's redelivery carries the same X-GitHub-Delivery; the first copy is kept as is.
    assert journal.record("d-1", "issues", "closed", {"other": True}, now=T0 + 60) is False
    (delivery,) = journal.list()
    assert delivery == Delivery(
        id="d-1",
        event="issues",
        action="opened",
        payload=PAYLOAD,
        received_at=T0,
        state="pending",
        attempts=0,
        next_attempt_at=T0,
        last_error=None,
        issue_key=ISSUE,
    )


@pytest.mark.parametrize(
    "payload",
    [BODY, bytearray(BODY), memoryview(BODY), PAYLOAD, {"zoë": "naïve ✓"}],
    ids=["bytes", "bytearray", "memoryview", "dict", "dict-non-ascii"],
)
def test_record_round_trips_the_payload(journal: Journal, payload: object) -> None:
    assert journal.record("d-1", "issues", None, payload)  # type: ignore[arg-type]
    (delivery,) = journal.claim_due()
    expected = payload if isinstance(payload, dict) else PAYLOAD
    assert delivery.payload == expected
    assert delivery.action is None
    assert delivery.issue_key is None
    assert abs(delivery.received_at - time.time()) < 60  # now defaults to the clock


@pytest.mark.parametrize(
    "body",
    [b"[1, 2]", b'"text"', b"null", b"{not json", b"\xff\xfe\x00", b""],
    ids=["array", "string", "null", "malformed", "not-utf8", "empty"],
)
def test_record_refuses_a_body_that_is_not_a_json_object(journal: Journal, body: bytes) -> None:
    with pytest.raises(ValueError):
        journal.record("d-1", "issues", "opened", body)
    assert not journal.seen("d-1")


def test_record_refuses_other_payload_types(journal: Journal) -> None:
    with pytest.raises(TypeError, match="bytes or dict, not str"):
        journal.record("d-1", "issues", "opened", BODY.decode())  # type: ignore[arg-type]
    assert not journal.seen("d-1")


# -- the worker: claim, done, retry, dead letter -----------------------------------------------


def test_claim_due_takes_due_deliveries_oldest_first_once(journal: Journal) -> None:
    _record(journal, "d-2", at=T0 + 2)
    _record(journal, "d-1", at=T0 + 1)
    _record(journal, "d-3", at=T0 + 3)
    _record(journal, "d-later", at=T0 + 100)  # not due yet at T0 + 10
    assert journal.next_due_at() == T0 + 1

    first = journal.claim_due(now=T0 + 10, limit=2)
    assert [(d.id, d.state) for d in first] == [("d-1", "processing"), ("d-2", "processing")]
    assert [d.id for d in journal.claim_due(now=T0 + 10)] == ["d-3"]
    assert journal.claim_due(now=T0 + 10) == []
    assert journal.next_due_at() == T0 + 100
    assert journal.counts() == {"pending": 1, "processing": 3, "done": 0, "failed": 0, "ignored": 0}
    assert journal.pending_count() == 1


def test_claim_due_and_list_refuse_a_limit_below_one(journal: Journal) -> None:
    # SQLite reads LIMIT -1 as "no limit"; refuse rather than claim everything.
    for bad in (0, -1):
        with pytest.raises(ValueError, match="limit"):
            journal.claim_due(limit=bad)
        with pytest.raises(ValueError, match="limit"):
            journal.list(limit=bad)


def test_next_due_at_is_none_with_nothing_pending(journal: Journal) -> None:
    assert journal.next_due_at() is None
    _record(journal, "d-1")
    journal.claim_due(now=T0)
    assert journal.next_due_at() is None


@pytest.mark.parametrize("state", ["done", "ignored"])
def test_mark_done_ends_deliveries(journal: Journal, state: str) -> None:
    for n in range(3):
        _record(journal, f"d-{n}", at=T0 + n)
    claimed = journal.claim_due(now=T0 + 10)
    # The worker coalesces several deliveries for one issue and ends them together.
    journal.mark_done([d.id for d in claimed[:2]] + ["unknown"], state=state)
    assert journal.counts()[state] == 2
    assert journal.counts()["processing"] == 1
    journal.mark_done([])  # nothing to do
    journal.mark_done(d.id for d in claimed[2:])  # any iterable; default state "done"
    assert _state(journal, "d-2").state == "done"


@pytest.mark.parametrize("state", ["failed", "pending", "processing", "bogus"])
def test_mark_done_refuses_other_states(journal: Journal, state: str) -> None:
    _record(journal, "d-1")
    with pytest.raises(ValueError, match="state must be one of"):
        journal.mark_done(["d-1"], state=state)
    assert _state(journal, "d-1").state == "pending"


def test_mark_retry_backs_off_exponentially_then_dead_letters(
    journal: Journal, caplog: pytest.LogCaptureFixture
) -> None:
    _record(journal, "d-1")
    now = T0
    # base 10 s, doubling, capped at 100 s; the 6th failed attempt is the last.
    expected_delays = [10, 20, 40, 80, 100]
    for attempt, delay in enumerate(expected_delays, start=1):
        (claimed,) = journal.claim_due(now=now)
        assert claimed.attempts == attempt - 1
        state = journal.mark_retry(
            "d-1", f"boom {attempt}", max_attempts=6, base_delay=10, max_delay=100, now=now
        )
        assert state == "pending"
        delivery = _state(journal, "d-1")
        assert delivery.attempts == attempt
        assert delivery.last_error == f"boom {attempt}"
        assert delay * 0.9 <= delivery.next_attempt_at - now <= delay * 1.1
        # Not due before its time.
        assert journal.claim_due(now=now + delay * 0.9 - 0.001) == []
        now = delivery.next_attempt_at

    journal.claim_due(now=now)
    with caplog.at_level("WARNING", logger="bot.intake.journal"):
        state = journal.mark_retry(
            "d-1", "HTTP 502 from Airtable", max_attempts=6, base_delay=10, max_delay=100, now=now
        )
    assert state == "failed"
    delivery = _state(journal, "d-1")
    assert (delivery.state, delivery.attempts, delivery.last_error) == (
        "failed",
        6,
        "HTTP 502 from Airtable",
    )
    # The dead letter is never claimed again, and an operator can list it.
    assert journal.claim_due(now=now + 365 * DAY) == []
    assert journal.next_due_at() is None
    assert [d.id for d in journal.list(states=["failed"])] == ["d-1"]
    assert "d-1" in caplog.text and "issues" in caplog.text and ISSUE in caplog.text
    assert "HTTP 502 from Airtable" in caplog.text


def test_mark_retry_jitter_spreads_retries_within_ten_percent(journal: Journal) -> None:
    delays = []
    for n in range(50):
        _record(journal, f"d-{n}")
        journal.mark_retry(f"d-{n}", "boom", max_attempts=5, base_delay=30, max_delay=600, now=T0)
        delays.append(_state(journal, f"d-{n}").next_attempt_at - T0)
    assert all(27 <= d <= 33 for d in delays)
    assert len(set(delays)) > 40  # not one thundering herd


def test_mark_retry_survives_a_huge_attempt_count(journal: Journal) -> None:
    # 2 ** 1100 would overflow a float; the exponent is capped.
    _record(journal, "d-1")
    for _ in range(1100):
        journal.mark_retry("d-1", "boom", max_attempts=10**6, base_delay=1, max_delay=60, now=T0)
    delivery = _state(journal, "d-1")
    assert delivery.attempts == 1100
    assert 54 <= delivery.next_attempt_at - T0 <= 66


def test_mark_retry_with_one_attempt_fails_at_once(journal: Journal) -> None:
    _record(journal, "d-1")
    assert journal.mark_retry("d-1", "boom", max_attempts=1, base_delay=1, max_delay=1) == "failed"


def test_mark_retry_refuses_bad_input(journal: Journal) -> None:
    with pytest.raises(KeyError):
        journal.mark_retry("unknown", "boom", max_attempts=3, base_delay=1, max_delay=1)
    _record(journal, "d-1")
    with pytest.raises(ValueError, match="max_attempts"):
        journal.mark_retry("d-1", "boom", max_attempts=0, base_delay=1, max_delay=1)
    assert _state(journal, "d-1").attempts == 0


def test_mark_failed_dead_letters_at_once(
    journal: Journal, caplog: pytest.LogCaptureFixture
) -> None:
    _record(journal, "d-1")
    journal.claim_due(now=T0)
    with caplog.at_level("WARNING", logger="bot.intake.journal"):
        journal.mark_failed("d-1", "422: field 'Status' has no option 'Shipped'")
    delivery = _state(journal, "d-1")
    assert (delivery.state, delivery.attempts) == ("failed", 1)
    assert delivery.last_error == "422: field 'Status' has no option 'Shipped'"
    assert "d-1" in caplog.text and ISSUE in caplog.text
    with pytest.raises(KeyError):
        journal.mark_failed("unknown", "boom")


# -- operators --------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["failed", "done", "ignored", "pending"])
def test_operator_retry_puts_a_delivery_back_in_the_queue(journal: Journal, state: str) -> None:
    _record(journal, "d-1")
    journal.claim_due(now=T0)
    journal.mark_retry("d-1", "boom", max_attempts=3, base_delay=300, max_delay=900, now=T0)
    if state == "failed":
        journal.claim_due(now=T0 + 1000)
        journal.mark_failed("d-1", "boom")
    elif state in ("done", "ignored"):
        journal.claim_due(now=T0 + 1000)
        journal.mark_done(["d-1"], state=state)
    assert _state(journal, "d-1").state == state

    retried = journal.retry("d-1", now=T0 + 5)
    assert (retried.state, retried.attempts, retried.next_attempt_at) == ("pending", 0, T0 + 5)
    assert retried.last_error == "boom"  # kept until the next attempt
    assert retried.payload == PAYLOAD
    assert retried == _state(journal, "d-1")
    # Due now, even one that was backing off.
    assert [d.id for d in journal.claim_due(now=T0 + 5)] == ["d-1"]


def test_operator_retry_refuses_unknown_and_in_flight_deliveries(journal: Journal) -> None:
    with pytest.raises(KeyError):
        journal.retry("unknown")
    _record(journal, "d-1")
    journal.claim_due(now=T0)
    with pytest.raises(ValueError, match="being processed"):
        journal.retry("d-1")
    assert _state(journal, "d-1").state == "processing"
    journal.mark_failed("d-1", "boom")
    assert abs(journal.retry("d-1").next_attempt_at - time.time()) < 60


def test_list_is_newest_first_and_filters_by_state(journal: Journal) -> None:
    for n in range(5):
        _record(journal, f"d-{n}", at=T0 + n)
    journal.record("d-same-time", "issue_comment", "created", {"comment": {}}, now=T0 + 4)
    journal.claim_due(now=T0 + 1, limit=2)
    journal.mark_failed("d-0", "boom")
    assert [d.id for d in journal.list()] == ["d-same-time", "d-4", "d-3", "d-2", "d-1", "d-0"]
    assert [d.id for d in journal.list(limit=2)] == ["d-same-time", "d-4"]
    assert [d.id for d in journal.list(states={"failed", "processing"})] == ["d-1", "d-0"]
    assert journal.list(states=()) == []
    with pytest.raises(ValueError, match="unknown states"):
        journal.list(states=["dead"])


def test_counts_cover_every_state(journal: Journal) -> None:
    assert journal.counts() == dict.fromkeys(STATES, 0)
    assert journal.pending_count() == 0


# -- crash and restart ------------------------------------------------------------------------

CRASHING_WORKER = """
import sys
from bot.intake.journal import Journal

journal = Journal(sys.argv[1])
body = sys.stdin.buffer.readline()
assert journal.record("d-1", "issues", "opened", body, issue_key=sys.argv[3])
if sys.argv[2] == "claimed":
    assert [d.id for d in journal.claim_due()] == ["d-1"]
print("ready", flush=True)
sys.stdin.read()  # work "in progress" until SIGKILL
"""


@pytest.mark.parametrize("stage", ["recorded", "claimed"])
def test_nothing_is_lost_when_the_process_is_killed(
    tmp_path: Path, stage: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "journal.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHING_WORKER, str(path), stage, ISSUE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(json.dumps(PAYLOAD).encode() + b"\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == b"ready\n"  # record() has returned: 202 is sent
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()
    # The deliveries are only in the write-ahead log: no checkpoint, no clean close.
    assert Path(f"{path}-wal").stat().st_size > 0

    with Journal(path) as journal, caplog.at_level("INFO", logger="bot.intake.journal"):
        assert journal.resume() == (1 if stage == "claimed" else 0)
        (delivery,) = journal.claim_due()
    assert (delivery.id, delivery.event, delivery.action) == ("d-1", "issues", "opened")
    assert delivery.payload == PAYLOAD
    assert delivery.issue_key == ISSUE
    assert delivery.attempts == 0
    if stage == "claimed":
        assert delivery.last_error == RESUMED_ERROR
        assert "resumed 1 deliveries" in caplog.text
    else:
        assert delivery.last_error is None


def test_resume_puts_processing_back_to_pending(sqlite_journal: Journal) -> None:
    journal = sqlite_journal
    assert journal.resume() == 0
    for n in range(3):
        _record(journal, f"d-{n}", at=T0 + n)
    journal.claim_due(now=T0 + 10, limit=2)
    assert journal.resume() == 2
    assert journal.counts()["pending"] == 3
    assert [d.id for d in journal.claim_due(now=T0 + 10)] == ["d-0", "d-1", "d-2"]


# -- pruning ----------------------------------------------------------------------------------


def test_prune_keeps_ids_for_seven_days_and_never_unfinished_work(journal: Journal) -> None:
    now = T0 + 30 * DAY
    old, recent = now - 7 * DAY - 1, now - 7 * DAY + 1
    for state in STATES:
        _record(journal, f"old-{state}", at=old)
        _record(journal, f"recent-{state}", at=recent)
    claimed = journal.claim_due(now=now)
    by_state = {
        "processing": ["old-processing", "recent-processing"],
        "done": ["old-done", "recent-done"],
        "ignored": ["old-ignored", "recent-ignored"],
        "failed": ["old-failed", "recent-failed"],
    }
    pending = [d.id for d in claimed if d.id.endswith("-pending")]
    for delivery_id in pending:
        journal.mark_retry(delivery_id, "boom", max_attempts=5, base_delay=1, max_delay=1)
    journal.mark_done(by_state["done"])
    journal.mark_done(by_state["ignored"], state="ignored")
    for delivery_id in by_state["failed"]:
        journal.mark_failed(delivery_id, "boom")

    assert journal.prune(now=now) == 2
    remaining = {d.id for d in journal.list(limit=100)}
    assert remaining == {f"{age}-{state}" for age in ("old", "recent") for state in STATES} - {
        "old-done",
        "old-ignored",
    }
    # Within 7 days a redelivery is still a duplicate; after pruning it is new again.
    assert journal.record("recent-done", "issues", "opened", BODY, now=now) is False
    assert journal.record("old-done", "issues", "opened", BODY, now=now) is True
    assert journal.prune(now=now) == 0
    assert journal.prune(older_than_days=0, now=now + 1) == 2  # the recent done and ignored


def test_prune_defaults_to_the_clock(journal: Journal) -> None:
    _record(journal, "d-1", at=time.time() - 8 * DAY)
    journal.claim_due()
    journal.mark_done(["d-1"])
    assert journal.prune() == 1
    assert not journal.seen("d-1")


# -- per-issue watermarks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "offered", "advanced", "kept"),
    [
        (None, "2024-05-01T12:00:00Z", True, "2024-05-01T12:00:00Z"),
        ("2024-05-01T12:00:00Z", "2024-05-01T12:00:01Z", True, "2024-05-01T12:00:01Z"),
        ("2024-05-01T12:00:00Z", "2024-05-01T11:59:59Z", False, "2024-05-01T12:00:00Z"),
        # Equal re-applies (same-second changes, redeliveries) and keeps the stored text.
        ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00Z", True, "2024-05-01T12:00:00Z"),
        ("2024-05-01T12:00:00Z", "2024-05-01T14:00:00+02:00", True, "2024-05-01T12:00:00Z"),
        # Compared as instants, not as text: 13:30+02:00 is 11:30Z, older.
        ("2024-05-01T12:00:00Z", "2024-05-01T13:30:00+02:00", False, "2024-05-01T12:00:00Z"),
        (
            "2024-05-01T12:00:00+00:00",
            "2024-05-01T08:00:01-04:00",
            True,
            "2024-05-01T08:00:01-04:00",
        ),
    ],
    ids=[
        "first",
        "newer",
        "older",
        "equal",
        "equal-other-zone",
        "older-other-zone",
        "newer-other-zone",
    ],
)
def test_advance_watermark(
    journal: Journal, stored: str | None, offered: str, advanced: bool, kept: str
) -> None:
    if stored is not None:
        assert journal.advance_watermark(ISSUE, stored)
    assert journal.advance_watermark(ISSUE, offered) is advanced
    assert journal.watermark(ISSUE) == kept
    assert journal.watermark("example-org/infrastructure#2") is None


@pytest.mark.parametrize(
    "value", ["2024-05-01T12:00:00", "yesterday", ""], ids=["naive", "text", "empty"]
)
def test_advance_watermark_refuses_a_time_without_zone(journal: Journal, value: str) -> None:
    with pytest.raises(ValueError):
        journal.advance_watermark(ISSUE, value)
    assert journal.watermark(ISSUE) is None


_aware_times = st.builds(
    lambda moment, minutes: moment.replace(tzinfo=UTC).astimezone(
        timezone(timedelta(minutes=minutes))
    ),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)


@given(st.lists(st.tuples(_aware_times, st.booleans()), min_size=1, max_size=20))
def test_watermark_never_moves_backwards(times: list[tuple[datetime, bool]]) -> None:
    with Journal(":memory:") as journal:
        newest: datetime | None = None
        for moment, zulu in times:
            text = (
                moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                if zulu
                else moment.isoformat()
            )
            assert journal.advance_watermark(ISSUE, text) is (newest is None or moment >= newest)
            newest = moment if newest is None else max(newest, moment)
            stored = journal.watermark(ISSUE)
            assert stored is not None
            assert datetime.fromisoformat(stored) == newest


# -- concurrency ------------------------------------------------------------------------------


def test_concurrent_record_loses_and_duplicates_nothing(journal: Journal) -> None:
    threads, per_thread = 8, 200
    barrier = threading.Barrier(threads)
    accepted: list[list[str]] = [[] for _ in range(threads)]

    def worker(t: int) -> None:
        barrier.wait()
        for n in range(per_thread):
            # Every thread also offers the same "shared" ids, as GitHub redeliveries would.
            for delivery_id in (f"t{t}-{n}", f"shared-{n}"):
                if journal.record(delivery_id, "issues", "opened", BODY, issue_key=ISSUE):
                    accepted[t].append(delivery_id)

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()

    everything = Counter(delivery_id for ids in accepted for delivery_id in ids)
    assert len(everything) == threads * per_thread + per_thread
    assert set(everything.values()) == {1}  # each id accepted by exactly one thread
    assert journal.pending_count() == threads * per_thread + per_thread


def test_concurrent_claims_never_hand_out_a_delivery_twice(journal: Journal) -> None:
    for n in range(400):
        _record(journal, f"d-{n}", at=T0 + n)
    barrier = threading.Barrier(8)
    claimed: list[str] = []

    def worker() -> None:
        barrier.wait()
        while batch := journal.claim_due(now=T0 + 1000, limit=7):
            claimed.extend(d.id for d in batch)

    pool = [threading.Thread(target=worker) for _ in range(8)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert sorted(claimed) == sorted(f"d-{n}" for n in range(400))


# -- /readyz ----------------------------------------------------------------------------------


def test_check_writable_when_all_is_well(journal: Journal) -> None:
    assert journal.check_writable() is None
    with Journal(":memory:") as memory:
        assert memory.check_writable() is None


def test_check_writable_after_close(journal: Journal) -> None:
    journal.close()
    reason = journal.check_writable()
    assert reason is not None and "closed" in reason
    journal.close()  # closing again is harmless


def test_check_writable_when_another_process_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with Journal(path, timeout=0.05) as journal:
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            reason = journal.check_writable()
            assert reason is not None and "database is locked" in reason
            other.execute("ROLLBACK")
            assert journal.check_writable() is None
        finally:
            other.close()


def test_check_writable_when_the_disk_is_full(sqlite_journal: Journal) -> None:
    journal = sqlite_journal
    # Tests run as root, where chmod does not stop a write. A file-size limit of 0 bytes does:
    # every write that grows a file fails with EFBIG, as on a full disk. Nothing may be printed
    # while the limit is on (pytest captures output in files).
    _record(journal, "d-1")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard))
        reason = journal.check_writable()
        with pytest.raises(sqlite3.OperationalError):
            _record(journal, "d-2")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert reason is not None and "not writable" in reason
    # The failed transaction was rolled back: the journal works again once there is room.
    assert journal.check_writable() is None
    assert journal.seen("d-1") and not journal.seen("d-2")
    _record(journal, "d-2")


def test_check_writable_when_the_folder_is_removed(tmp_path: Path) -> None:
    # SQLite keeps writing to the unlinked file, so the write succeeds, but nothing written
    # now would survive a restart.
    folder = tmp_path / "data"
    with Journal(folder / "journal.db") as journal:
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()
        reason = journal.check_writable()
    assert reason is not None and "was removed" in reason


def test_check_writable_when_the_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with Journal(path) as journal:
        Journal(tmp_path / "other.db").close()
        os.replace(tmp_path / "other.db", path)
        reason = journal.check_writable()
    assert reason is not None and "was replaced" in reason


# -- opening ----------------------------------------------------------------------------------


def test_reopening_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with Journal(path) as journal:
        _record(journal, "d-1")
        journal.advance_watermark(ISSUE, "2024-05-01T12:00:00Z")
    with Journal(str(path)) as journal:
        assert journal.seen("d-1")
        assert journal.watermark(ISSUE) == "2024-05-01T12:00:00Z"


def test_a_journal_from_a_newer_bot_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    Journal(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="upgrade the bot"):
        Journal(path)


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    path.write_bytes(b"this is not a SQLite database" * 100)
    with pytest.raises(sqlite3.DatabaseError):
        Journal(path)


def test_a_closed_journal_raises(journal: Journal) -> None:
    journal.close()
    with pytest.raises(STORE_ERRORS):
        journal.record("d-1", "issues", "opened", BODY)


def test_an_unreadable_payload_fails_alone_and_does_not_jam_the_queue(journal: Journal) -> None:
    journal.record("good", "issues", "opened", BODY, issue_key=ISSUE)
    journal.record("bad", "issues", "opened", BODY, issue_key=ISSUE)
    # Corrupt one stored payload, as a bad disk or a bug might.
    with journal._write() as conn:
        conn.execute("UPDATE deliveries SET payload = ? WHERE id = 'bad'", (b"not zlib",))
    claimed = journal.claim_due()
    assert [d.id for d in claimed] == ["good"]
    [failed] = journal.list(states=["failed"])
    assert failed.id == "bad"
    assert "unreadable payload" in (failed.last_error or "")


def test_a_batch_larger_than_one_statement_takes_every_delivery_once(journal: Journal) -> None:
    # Past STATEMENT_ROWS rows a batch is written in several statements; ids already known
    # (one failed, one done) and repeated within the batch are answered as one by one.
    journal.record_many([NewDelivery(i, "issues", "closed", BODY, ISSUE) for i in ("f", "d")])
    journal.claim_due()
    journal.mark_failed("f", "Airtable down")
    journal.mark_done(["d"])
    ids = [f"n-{n}" for n in range(1203)] + ["f", "d", "n-7", "f"]
    results = journal.record_many([NewDelivery(i, "issues", "closed", BODY, ISSUE) for i in ids])
    assert results == [True] * 1203 + [True, False, False, False]
    assert journal.counts() == {**dict.fromkeys(STATES, 0), "pending": 1204, "done": 1}
    [requeued] = [d for d in journal.list(states=["pending"], limit=2000) if d.id == "f"]
    assert (requeued.attempts, requeued.payload) == (0, json.loads(BODY))


def test_redelivery_of_a_failed_delivery_queues_it_again(journal: Journal) -> None:
    entry = NewDelivery("d-1", "issues", "closed", BODY, ISSUE)
    assert journal.record_many([entry]) == [True]
    journal.claim_due()
    journal.mark_failed("d-1", "Airtable down")
    assert journal.record_many([entry, entry]) == [True, False]
    [delivery] = journal.list()
    assert (delivery.state, delivery.attempts) == ("pending", 0)
    journal.claim_due()
    journal.mark_done(["d-1"])
    assert journal.record_many([entry]) == [False]  # a done delivery stays done
