"""Locks across replicas and the leader of the scheduled work, on a real PostgreSQL server:
each "replica" a SharedLocks / Leadership of its own (its own connections), and a real
process SIGKILLed while it holds a lock or the leadership."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from bot.intake.journal import Journal
from bot.storage.database import PostgresDatabase
from bot.storage.locks import Leadership, SharedLocks

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def migrated(postgres_url: str) -> None:
    """The schema with the bot's tables (``lock_holders`` among them), as ``serve`` makes it."""
    Journal(postgres_url).close()


def schema_of(url: str) -> str:
    """The schema the URL's connections use."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT current_schema()").fetchone()
        assert row is not None
        return str(row[0])


async def test_one_name_is_held_by_one_replica_at_a_time(postgres_url: str) -> None:
    schema = schema_of(postgres_url)
    replicas = [SharedLocks(postgres_url, schema) for _ in range(3)]
    inside = 0
    most = 0
    order: list[int] = []

    async def work(n: int) -> None:
        nonlocal inside, most
        async with replicas[n % 3].hold("project:appX:recP"):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.02)
            order.append(n)
            inside -= 1

    try:
        await asyncio.gather(*(work(n) for n in range(12)))
    finally:
        for locks in replicas:
            await locks.close()
    assert most == 1
    assert sorted(order) == list(range(12))


async def test_different_names_and_other_schemas_do_not_wait(postgres_url: str) -> None:
    schema = schema_of(postgres_url)
    first, second = SharedLocks(postgres_url, schema), SharedLocks(postgres_url, schema)
    elsewhere = SharedLocks(postgres_url, "another-schema")
    try:
        async with first.hold("project:appX:recP"):
            async with asyncio.timeout(2):
                async with second.hold("project:appX:recQ"):
                    pass
                async with elsewhere.hold("project:appX:recP"):
                    pass
    finally:
        for locks in (first, second, elsewhere):
            await locks.close()


async def test_a_lock_taken_inside_another_needs_no_second_connection(postgres_url: str) -> None:
    locks = SharedLocks(postgres_url, schema_of(postgres_url), max_held=1)
    try:
        async with asyncio.timeout(5):
            async with locks.hold("record:appX:rec1"), locks.hold("project:appX:recP"):
                pass
            # Both were let go of with the outer block.
            async with locks.hold("project:appX:recP"):
                pass
    finally:
        await locks.close()


async def test_without_a_database_the_locks_do_nothing() -> None:
    locks = SharedLocks(None)
    assert not locks.shared
    async with locks.hold("a"), locks.hold("a"):
        pass


HOLDER = """
import asyncio, sys
from bot.storage.locks import SharedLocks

async def main():
    locks = SharedLocks(sys.argv[1], sys.argv[2])
    async with locks.hold("project:appX:recP"):
        print("held", flush=True)
        await asyncio.sleep(600)

asyncio.run(main())
"""


async def test_a_replica_killed_while_holding_a_lock_lets_go_of_it(postgres_url: str) -> None:
    schema = schema_of(postgres_url)
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, postgres_url, schema],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    locks = SharedLocks(postgres_url, schema)
    try:
        assert proc.stdout is not None
        assert await asyncio.to_thread(proc.stdout.readline) == "held\n"
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5), locks.hold("project:appX:recP"):
                pass
        proc.kill()
        proc.wait(timeout=10)
        started = time.monotonic()
        async with asyncio.timeout(5), locks.hold("project:appX:recP"):
            pass
        assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()
        await locks.close()


async def test_one_leader_among_replicas_and_another_takes_over(postgres_url: str) -> None:
    schema = schema_of(postgres_url)
    running: list[int] = []

    def starter(n: int):
        def start() -> list[asyncio.Task[None]]:
            async def work() -> None:
                running.append(n)
                try:
                    await asyncio.sleep(600)
                finally:
                    running.remove(n)

            return [asyncio.create_task(work())]

        return start

    leaders = [Leadership(postgres_url, schema, check_seconds=0.2) for _ in range(3)]
    tasks = [asyncio.create_task(leader.run(starter(n))) for n, leader in enumerate(leaders)]
    try:
        async with asyncio.timeout(10):
            while not running:
                await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        assert len(running) == 1
        assert [leader.leading for leader in leaders].count(True) == 1
        first = running[0]
        tasks[first].cancel()  # the leader stops (its connection closes)
        await asyncio.gather(tasks[first], return_exceptions=True)
        async with asyncio.timeout(10):
            while not running or running[0] == first:
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        assert len(running) == 1 and running[0] != first
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert running == []


async def test_a_leader_whose_connection_is_killed_stops_its_work(postgres_url: str) -> None:
    schema = schema_of(postgres_url)
    stopped = asyncio.Event()
    started = asyncio.Event()

    def start() -> list[asyncio.Task[None]]:
        async def work() -> None:
            started.set()
            try:
                await asyncio.sleep(600)
            finally:
                stopped.set()

        return [asyncio.create_task(work())]

    leader = Leadership(postgres_url, schema, check_seconds=0.2)
    task = asyncio.create_task(leader.run(start))
    try:
        await asyncio.wait_for(started.wait(), 10)
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(l.pid) FROM pg_locks l"
                " WHERE l.locktype = 'advisory' AND l.objid = %s::bigint & 4294967295"
                " AND l.classid = (%s::bigint >> 32) & 4294967295",
                (leader.key, leader.key),
            )
        await asyncio.wait_for(stopped.wait(), 5)
        # It comes back and leads again, the lock being free.
        started.clear()
        await asyncio.wait_for(started.wait(), 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_the_shared_journal_opens_one_schema_for_locks(postgres_url: str) -> None:
    with Journal(postgres_url) as journal:
        assert isinstance(journal.database, PostgresDatabase)
        assert journal.database.schema == schema_of(postgres_url)


async def test_a_lock_says_whether_another_replica_decided_under_it_last(
    postgres_url: str,
) -> None:
    schema = schema_of(postgres_url)
    a = SharedLocks(postgres_url, schema, replica="replica-a")
    b = SharedLocks(postgres_url, schema, replica="replica-b")
    try:
        async with a.hold("project:appX:recP") as held:
            assert held.previous is None and not held.others_wrote
        async with a.hold("project:appX:recP") as held:
            assert not held.others_wrote  # its own snapshots hold what it wrote
        async with b.hold("project:appX:recP") as held:
            assert held.previous == "replica-a" and held.others_wrote
        async with b.hold("project:appX:recQ") as held:
            assert not held.others_wrote  # another name, another history
        async with a.hold("project:appX:recP") as held:
            assert held.others_wrote
    finally:
        await a.close()
        await b.close()


async def test_what_a_holder_keeps_is_handed_to_the_next_and_a_rollback_keeps_nothing(
    postgres_url: str,
) -> None:
    schema = schema_of(postgres_url)
    a = SharedLocks(postgres_url, schema, replica="replica-a")
    b = SharedLocks(postgres_url, schema, replica="replica-b")
    try:
        async with a.hold("project:appX:recP") as held:
            assert held.state is None
            await held.keep({"status": "Complete", "members": {"rec1": ["Done", None]}})
        async with b.hold("project:appX:recP") as held:
            assert held.state == {"status": "Complete", "members": {"rec1": ["Done", None]}}
        # A holder that fails inside the block (a crash) leaves the last kept state and holder.
        with pytest.raises(RuntimeError):
            async with a.hold("project:appX:recP") as held:
                await held.keep({"status": "In progress"})
                raise RuntimeError("killed mid-decision")
        async with b.hold("project:appX:recP") as held:
            assert held.previous == "replica-b"
            assert held.state == {"status": "Complete", "members": {"rec1": ["Done", None]}}
    finally:
        await a.close()
        await b.close()
