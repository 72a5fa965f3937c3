"""Several replicas on one PostgreSQL journal: claims, per-issue exclusivity, heartbeats and
takeover, de-duplication across replicas, NOTIFY. Real server (``TEST_DATABASE_URL``), each
"replica" a Journal of its own (its own connection pool), as separate processes would be."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import psycopg
import pytest

from bot.intake.journal import TAKEN_OVER_ERROR, Journal
from bot.intake.journal_rows import NewDelivery
from bot.storage.database import PostgresDatabase
from bot.storage.notifications import listen

T0 = 1_700_000_000.0


def body(issue: int, updated_at: str = "2024-05-01T12:00:00Z") -> bytes:
    """An issues.closed payload for issue *issue*."""
    return json.dumps(
        {"action": "closed", "issue": {"number": issue, "updated_at": updated_at}}
    ).encode()


def entry(delivery_id: str, issue: int) -> NewDelivery:
    """A delivery of issue *issue* to journal."""
    return NewDelivery(delivery_id, "issues", "closed", body(issue), f"o/r#{issue}")


@pytest.fixture
def replicas(postgres_url: str) -> Iterator[tuple[Journal, Journal]]:
    """Two replicas on one schema, with a 10 s lease."""
    with (
        Journal(postgres_url, replica="replica-a", lease_seconds=10) as a,
        Journal(postgres_url, replica="replica-b", lease_seconds=10) as b,
    ):
        a.heartbeat(now=T0)
        b.heartbeat(now=T0)
        yield a, b


def test_an_issue_another_replica_works_on_is_not_claimed(
    replicas: tuple[Journal, Journal],
) -> None:
    a, b = replicas
    a.record_many([entry("d1", 1), entry("d2", 2)], now=T0)
    assert [d.id for d in a.claim_due(now=T0, limit=1)] == ["d1"]
    # A newer event for issue 1 arrives while replica A works on it.
    b.record_many([entry("d3", 1)], now=T0 + 1)
    assert [d.id for d in b.claim_due(now=T0 + 2)] == ["d2"]  # not d3: A has issue 1
    # A itself may take it (its own per-issue lock orders the two), and coalesce.
    assert [d.id for d in a.claim_due(now=T0 + 2)] == ["d3"]
    a.mark_done(["d1", "d3"])
    b.mark_done(["d2"])
    assert a.counts()["done"] == 3


def test_once_the_issue_is_finished_the_other_replica_takes_its_next_delivery(
    replicas: tuple[Journal, Journal],
) -> None:
    a, b = replicas
    a.record_many([entry("d1", 1)], now=T0)
    a.claim_due(now=T0)
    b.record_many([entry("d2", 1)], now=T0 + 1)
    assert b.claim_due(now=T0 + 1) == []
    a.mark_done(["d1"])
    assert [d.id for d in b.claim_due(now=T0 + 1)] == ["d2"]


def test_claims_racing_from_many_threads_give_each_delivery_once_and_an_issue_to_one(
    postgres_url: str,
) -> None:
    journals = [Journal(postgres_url, replica=f"r{n}", lease_seconds=60) for n in range(4)]
    try:
        for journal in journals:
            journal.heartbeat()
        journals[0].record_many([entry(f"d{n}", n % 10) for n in range(200)])
        claimed: dict[str, list[tuple[str, str | None]]] = {j.replica: [] for j in journals}
        start = threading.Barrier(len(journals))

        def claim(journal: Journal) -> None:
            start.wait()
            for _ in range(20):
                for delivery in journal.claim_due(limit=7):
                    claimed[journal.replica].append((delivery.id, delivery.issue_key))

        threads = [threading.Thread(target=claim, args=(j,)) for j in journals]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ids = [d for rows in claimed.values() for d, _ in rows]
        assert len(ids) == len(set(ids))  # nothing claimed twice
        owners: dict[str | None, set[str]] = {}
        for replica, rows in claimed.items():
            for _, issue in rows:
                owners.setdefault(issue, set()).add(replica)
        # No delivery is finished here, so every issue stays with the replica that took it first.
        assert all(len(who) == 1 for who in owners.values()), owners
    finally:
        for journal in journals:
            journal.close()


def test_a_dead_replicas_claims_are_taken_over_after_the_lease_and_not_before(
    replicas: tuple[Journal, Journal],
) -> None:
    a, b = replicas
    a.record_many([entry("d1", 1), entry("d2", 2)], now=T0)
    assert len(a.claim_due(now=T0)) == 2
    # A stops beating. Within the lease B leaves its claims alone.
    assert b.heartbeat(now=T0 + 9) == 0
    assert b.claim_due(now=T0 + 9) == []
    assert b.heartbeat(now=T0 + 11) == 2
    delivery = {d.id: d for d in b.list()}["d1"]
    assert (delivery.state, delivery.last_error) == ("pending", TAKEN_OVER_ERROR)
    assert sorted(d.id for d in b.claim_due(now=T0 + 11)) == ["d1", "d2"]
    assert [name for name, _ in b.replicas(now=T0 + 11)] == ["replica-b"]


def test_a_live_replica_keeps_its_claims_through_many_leases(
    replicas: tuple[Journal, Journal],
) -> None:
    a, b = replicas
    a.record_many([entry("d1", 1)], now=T0)
    a.claim_due(now=T0)
    for beat in range(1, 10):
        a.heartbeat(now=T0 + 5 * beat)
        assert b.heartbeat(now=T0 + 5 * beat) == 0
    assert a.counts()["processing"] == 1


def test_a_clean_stop_hands_back_at_once(replicas: tuple[Journal, Journal]) -> None:
    a, b = replicas
    a.record_many([entry("d1", 1)], now=T0)
    a.claim_due(now=T0)
    a.leave()
    assert [d.id for d in b.claim_due(now=T0)] == ["d1"]
    assert [name for name, _ in b.replicas(now=T0)] == ["replica-b"]


def test_resume_on_a_shared_journal_never_takes_a_live_replicas_work(
    replicas: tuple[Journal, Journal],
) -> None:
    a, b = replicas
    a.record_many([entry("d1", 1)])
    a.claim_due()
    a.heartbeat()
    assert b.resume() == 0
    assert a.counts()["processing"] == 1


def test_the_same_delivery_journaled_by_two_replicas_at_once_is_accepted_once(
    postgres_url: str,
) -> None:
    journals = [Journal(postgres_url, replica=f"r{n}") for n in range(2)]
    try:

        def journal_it(
            journal: Journal, n: int, start: threading.Barrier, results: list[bool]
        ) -> None:
            start.wait()
            results.extend(journal.record_many([entry(f"same-{n}", n)]))

        for round_ in range(30):
            start = threading.Barrier(2)
            results: list[bool] = []
            threads = [
                threading.Thread(target=journal_it, args=(j, round_, start, results))
                for j in journals
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert sorted(results) == [False, True]
        assert journals[0].counts()["pending"] == 30
    finally:
        for journal in journals:
            journal.close()


def test_watermarks_advanced_by_two_replicas_keep_the_newest(postgres_url: str) -> None:
    with Journal(postgres_url) as a, Journal(postgres_url) as b:
        times = [f"2024-05-01T12:00:{n:02d}Z" for n in range(40)]
        start = threading.Barrier(2)

        def advance(journal: Journal, mine: list[str]) -> None:
            start.wait()
            for when in mine:
                journal.advance_watermark("o/r#1", when)

        threads = [
            threading.Thread(target=advance, args=(a, times[0::2])),
            threading.Thread(target=advance, args=(b, times[1::2])),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert a.watermark("o/r#1") == times[-1]
        assert not b.advance_watermark("o/r#1", times[0])


async def test_a_commit_that_queues_work_wakes_the_listening_replicas(postgres_url: str) -> None:
    with Journal(postgres_url) as journal:
        database = journal.database
        assert isinstance(database, PostgresDatabase)
        woken = asyncio.Event()
        connected = asyncio.Event()
        task = asyncio.create_task(
            listen(database.url, database.channel, woken.set, on_connected=connected.set)
        )
        try:
            await asyncio.wait_for(connected.wait(), 10)
            await asyncio.to_thread(journal.record_many, [entry("d1", 1)])
            await asyncio.wait_for(woken.wait(), 5)
            woken.clear()
            # A duplicate queues nothing: no one is woken for it.
            await asyncio.to_thread(journal.record_many, [entry("d1", 1)])
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(woken.wait(), 0.5)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_the_listener_comes_back_after_its_connection_is_killed(postgres_url: str) -> None:
    with Journal(postgres_url) as journal:
        database = journal.database
        assert isinstance(database, PostgresDatabase)
        woken = asyncio.Event()
        connections = 0
        connected = asyncio.Event()

        def on_connected() -> None:
            nonlocal connections
            connections += 1
            connected.set()

        task = asyncio.create_task(
            listen(database.url, database.channel, woken.set, on_connected=on_connected)
        )
        try:
            await asyncio.wait_for(connected.wait(), 10)
            connected.clear()
            # The server ends the LISTEN session, as a restart or a failover would.
            with psycopg.connect(database.url, autocommit=True) as admin:
                killed = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = %s",
                    (f'LISTEN "{database.channel}"',),
                ).fetchall()
            assert killed == [(True,)]
            await asyncio.wait_for(connected.wait(), 15)
            assert connections == 2
            woken.clear()
            await asyncio.to_thread(journal.record_many, [entry("after", 1)])
            await asyncio.wait_for(woken.wait(), 5)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def test_a_replica_taken_over_while_frozen_does_not_undo_the_new_owners_claim(
    replicas: tuple[Journal, Journal],
) -> None:
    a, b = replicas
    a.record_many([entry("d1", 1)], now=T0)
    a.claim_due(now=T0)
    # A freezes past its lease; B takes the delivery over and works on it.
    assert b.heartbeat(now=T0 + 11) == 1
    assert [d.id for d in b.claim_due(now=T0 + 11)] == ["d1"]
    # A wakes and reports its (stale) outcome: neither a retry nor an end is recorded.
    assert a.mark_retry("d1", "boom", max_attempts=3, base_delay=1, max_delay=1) == "processing"
    a.mark_failed("d1", "boom")
    a.mark_done(["d1"])
    (delivery,) = b.list()
    assert (delivery.state, delivery.attempts) == ("processing", 0)
    b.mark_done(["d1"])
    assert b.counts()["done"] == 1


def test_a_journal_connection_ends_a_transaction_left_idle_and_keeps_its_schema(
    postgres_url: str,
) -> None:
    with Journal(postgres_url) as journal:
        rows = journal.database.read(
            "SELECT current_setting('idle_in_transaction_session_timeout'), current_schema()"
        )
    assert rows[0][0] == "10s"
    assert rows[0][1].startswith("test_")
