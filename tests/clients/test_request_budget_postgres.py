"""The per-base request budget on PostgreSQL: the slot rule, shared by pools and by processes.

The rule is checked with an injected clock on a real server (``TEST_DATABASE_URL``, one fresh
schema per test), two journals standing for two replicas; the sharing is checked with OS
processes booking on the same schema, sleeping until their slots, and with a process killed
while it holds the base's row locked. Without a server the tests skip (``REQUIRE_POSTGRES=1``
makes that a failure).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest

from bot.clients.request_budget import PostgresBudget
from bot.core.pacing import BudgetState
from bot.intake.journal import Journal
from bot.storage.database import STORE_ERRORS
from tests.clients.test_request_budget import (
    BASE,
    CHILD_TIMEOUT,
    NOW,
    ROOT,
    FakeClock,
    assert_took_turns_at_the_rate,
    read_line,
    spaced_by_at_least,
)

# A replica of the bot, reduced to its bookings: ``book URL BASE RATE COUNT`` opens the
# journal on URL, says "ready", waits for a start instant on stdin, then books COUNT slots one
# at a time, sleeping until each and printing [slot, sent]; ``lock URL BASE`` opens a
# transaction that holds the base's row locked (SELECT ... FOR UPDATE), says "locked" and
# sleeps until killed.
CHILD = """
import json, sys, time
import psycopg

mode, url, base, *rest = sys.argv[1:]
if mode == "lock":
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("BEGIN")
    row = conn.execute(
        "SELECT booked_until FROM airtable_budget WHERE base_id = %s FOR UPDATE", (base,)
    ).fetchone()
    assert row is not None, "no row to lock"
    print("locked", flush=True)
    time.sleep(600)

from bot.clients.request_budget import PostgresBudget
from bot.intake.journal import Journal

def sleep_until(instant):
    while (delay := instant - time.time()) > 0:
        time.sleep(delay)

journal = Journal(url)
budget = PostgresBudget(journal.database, base, float(rest[0]))
count = int(rest[1])
print("ready", flush=True)
sleep_until(float(sys.stdin.readline()))
for _ in range(count):
    slot = budget.reserve()
    sleep_until(slot)
    print(json.dumps([slot, time.time()]), flush=True)
journal.close()
"""
REFUSING_URL = "postgresql://postgres@127.0.0.1:1/test"


@pytest.fixture
def journal(postgres_url: str) -> Iterator[Journal]:
    """A migrated journal on the test's schema (one pool: one replica); closed after."""
    with Journal(postgres_url) as opened:
        yield opened


def budget_on(
    journal: Journal, clock: Callable[[], float], rate: float, base: str = BASE
) -> PostgresBudget:
    """A budget of ``base`` on the journal's database."""
    return PostgresBudget(journal.database, base, rate, clock=clock)


def rows(url: str) -> list[tuple[str, float, float]]:
    """Every row of the budget table, read on a connection of its own."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT base_id, booked_until, paused_until FROM airtable_budget ORDER BY base_id"
        ).fetchall()


def run_sql(url: str, sql: str, parameters: tuple[object, ...] = ()) -> None:
    """Run one statement on a connection of its own, committed."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql, parameters)


@contextmanager
def child(*args: str) -> Iterator[subprocess.Popen[str]]:
    """A Python process running :data:`CHILD` with ``args``; killed when the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=CHILD_TIMEOUT)


# -- the rule, with an injected clock ------------------------------------------------------


def test_slots_are_spaced_and_an_idle_spell_saves_nothing(
    journal: Journal, postgres_url: str
) -> None:
    clock = FakeClock()
    budget = budget_on(journal, clock, 4.0)
    assert [budget.reserve() for _ in range(3)] == [NOW, NOW + 0.25, NOW + 0.5]
    clock.now = NOW + 60
    assert [budget.reserve() for _ in range(2)] == [NOW + 60, NOW + 60.25]
    assert budget.load() == BudgetState(booked_until=NOW + 60.5, paused_until=0.0)
    budget.close()
    # What was booked is the base's row, committed for every other connection to see.
    assert rows(postgres_url) == [(BASE, NOW + 60.5, 0.0)]


def test_a_pause_holds_every_booking_until_it_ends(journal: Journal) -> None:
    clock = FakeClock()
    budget = budget_on(journal, clock, 4.0)
    assert budget.paused_until() == 0.0
    budget.reserve()
    budget.pause(30)
    assert budget.paused_until() == NOW + 30
    clock.now = NOW + 10
    budget.pause(5)  # a later, shorter pause does not cut the first
    assert [budget.reserve() for _ in range(2)] == [NOW + 30, NOW + 30.25]
    budget.pause(3600)  # a pause is never longer than max_ahead (90 s)
    assert budget.paused_until() == NOW + 10 + 90


def test_rates_that_are_not_positive_are_refused(journal: Journal) -> None:
    for rate in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="requests_per_second"):
            budget_on(journal, FakeClock(), rate)


def test_two_replicas_on_one_schema_share_slots_and_pauses(postgres_url: str) -> None:
    # Two journals are two pools of connections, as two replicas of the bot would have.
    clock = FakeClock()
    with Journal(postgres_url) as first, Journal(postgres_url) as second:
        serve, check = budget_on(first, clock, 4.0), budget_on(second, clock, 4.0)
        slots = [serve.reserve(), check.reserve(), serve.reserve(), check.reserve()]
        assert slots == [NOW, NOW + 0.25, NOW + 0.5, NOW + 0.75]
        check.pause(30)
        assert serve.paused_until() == NOW + 30
        assert serve.reserve() == NOW + 30
        assert check.reserve() == NOW + 30.25


def test_each_base_has_its_own_row(journal: Journal, postgres_url: str) -> None:
    clock = FakeClock()
    first = budget_on(journal, clock, 4.0, base="appFirst")
    second = budget_on(journal, clock, 4.0, base="appSecond")
    first.pause(30)
    assert [first.reserve(), second.reserve(), second.reserve()] == [NOW + 30, NOW, NOW + 0.25]
    assert rows(postgres_url) == [
        ("appFirst", NOW + 30.25, NOW + 30),
        ("appSecond", NOW + 0.5, 0.0),
    ]


def test_a_second_budget_on_a_base_keeps_what_was_booked(journal: Journal) -> None:
    # A replica that starts (or restarts) finds the row and does not reset it.
    clock = FakeClock()
    budget_on(journal, clock, 4.0).pause(30)
    later = budget_on(journal, clock, 4.0)
    assert later.paused_until() == NOW + 30
    assert later.reserve() == NOW + 30


@pytest.mark.parametrize(
    ("booked_until", "paused_until"),
    [
        pytest.param(NOW + 3600, NOW + 3600, id="an-hour-ahead"),
        pytest.param(float("nan"), float("nan"), id="not-a-number"),
        pytest.param(float("inf"), float("inf"), id="infinite"),
    ],
)
def test_a_row_far_in_the_future_or_corrupt_is_forgotten(
    journal: Journal, postgres_url: str, booked_until: float, paused_until: float
) -> None:
    # What a replica whose clock ran an hour ahead, or a damaged row, leaves behind.
    run_sql(
        postgres_url,
        "INSERT INTO airtable_budget (base_id, booked_until, paused_until) VALUES (%s, %s, %s)",
        (BASE, booked_until, paused_until),
    )
    budget = budget_on(journal, FakeClock(), 4.0)
    assert budget.paused_until() == 0.0
    assert [budget.reserve(), budget.reserve()] == [NOW, NOW + 0.25]
    assert rows(postgres_url) == [(BASE, NOW + 0.5, 0.0)]


def test_a_row_deleted_while_replicas_run_is_booked_again(
    journal: Journal, postgres_url: str
) -> None:
    # An operator clears the table (say, to lift a pause by hand) while the bot runs: the
    # bookings that follow are still spaced, and kept.
    clock = FakeClock()
    budget = budget_on(journal, clock, 4.0)
    budget.pause(30)
    run_sql(postgres_url, "DELETE FROM airtable_budget")
    assert budget.paused_until() == 0.0
    assert [budget.reserve(), budget.reserve(), budget.reserve()] == [NOW, NOW + 0.25, NOW + 0.5]
    assert rows(postgres_url) == [(BASE, NOW + 0.75, 0.0)]


def test_threads_of_two_replicas_booking_at_once_get_distinct_spaced_slots(
    postgres_url: str,
) -> None:
    # The lane books from worker threads: 8 threads, 20 bookings each, on two pools.
    rate = 1000.0
    slots: list[float] = []
    with Journal(postgres_url) as first, Journal(postgres_url) as second:
        budgets = [budget_on(first, time.time, rate), budget_on(second, time.time, rate)]

        def book(budget: PostgresBudget) -> None:
            for _ in range(20):
                slots.append(budget.reserve())

        threads = [threading.Thread(target=book, args=(budgets[n % 2],)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=CHILD_TIMEOUT)
    ordered = sorted(slots)
    assert len(ordered) == 160
    assert spaced_by_at_least(ordered, 1 / rate)


# -- real processes on one schema ----------------------------------------------------------


def test_three_processes_together_keep_to_the_rate(journal: Journal, postgres_url: str) -> None:
    rate, each = 20.0, 20
    budget_on(journal, time.time, rate).close()  # the row exists before they race
    args = ("book", postgres_url, BASE, str(rate), str(each))
    with child(*args) as a, child(*args) as b, child(*args) as c:
        procs = [a, b, c]
        for proc in procs:
            assert read_line(proc) == "ready"
        start = time.time() + 0.2
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(f"{start}\n")
            proc.stdin.flush()
        booked = [[json.loads(read_line(proc)) for _ in range(each)] for proc in procs]

    slots = assert_took_turns_at_the_rate(booked, rate, each)
    interval = 1 / rate
    # The row remembers the last slot of all.
    assert journal.database.read_one(
        "SELECT booked_until FROM airtable_budget WHERE base_id = ?", (BASE,)
    ) == (slots[-1] + interval,)


def test_a_process_killed_holding_the_row_locked_does_not_block_the_others(
    journal: Journal, postgres_url: str
) -> None:
    budget = budget_on(journal, time.time, 4.0)
    impatient = PostgresBudget(journal.database, BASE, 4.0, lock_timeout=0.2)
    other_base = budget_on(journal, time.time, 4.0, base="appOtherBase")
    booked: list[float] = []
    failed: list[BaseException] = []

    def book() -> None:
        try:
            booked.append(budget.reserve())
        except BaseException as exc:  # pragma: no cover - reported by the assertions
            failed.append(exc)

    with child("lock", postgres_url, BASE) as proc:
        assert read_line(proc) == "locked"
        # A booking waits for the row at most lock_timeout, then says why it gave up.
        started = time.monotonic()
        with pytest.raises(STORE_ERRORS, match="lock timeout"):
            impatient.reserve()
        assert 0.2 <= time.monotonic() - started < 2.0
        waiting = threading.Thread(target=book)
        waiting.start()
        waiting.join(timeout=1.0)
        # The row really is locked: the booking waits for it, while another base's does not.
        assert waiting.is_alive() and booked == [] and failed == []
        assert other_base.reserve() >= time.time() - 1.0
        killed_at = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=CHILD_TIMEOUT)
        waiting.join(timeout=5.0)
        waited = time.monotonic() - killed_at
    assert proc.returncode == -signal.SIGKILL
    assert not waiting.is_alive() and failed == []
    # PostgreSQL ended the dead session's transaction; the booking went through at once.
    assert waited < 2.0
    assert len(booked) == 1 and booked[0] >= time.time() - 2.0
    assert budget.reserve() == booked[0] + 0.25


# -- a database that is closed, gone or unreachable ----------------------------------------


def test_a_server_that_refuses_is_a_store_error_naming_the_url() -> None:
    # The journal (and so the budget's database) cannot be opened: no server on port 1.
    with pytest.raises(STORE_ERRORS) as raised:
        Journal(REFUSING_URL)
    message = str(raised.value)
    assert REFUSING_URL in message
    assert "refused" in message.lower()


def test_a_budget_on_a_closed_journal_is_a_store_error(postgres_url: str) -> None:
    journal = Journal(postgres_url)
    budget = budget_on(journal, FakeClock(), 4.0)
    journal.close()
    for call in (budget.reserve, lambda: budget.pause(30), budget.paused_until):
        with pytest.raises(STORE_ERRORS, match="closed"):
            call()
    with pytest.raises(STORE_ERRORS, match="closed"):
        budget_on(journal, FakeClock(), 4.0)


def test_a_connection_the_server_dropped_is_replaced_before_a_booking_meets_it(
    journal: Journal, postgres_url: str
) -> None:
    # A server restart (here: the server ending the pool's one session): the pool checks a
    # connection as it hands it out, so the booking gets a fresh one, state intact.
    clock = FakeClock()
    budget = budget_on(journal, clock, 4.0)
    assert budget.reserve() == NOW
    (pid,) = journal.database.read_one("SELECT pg_backend_pid()")
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
    assert budget.reserve() == NOW + 0.25
    (replaced,) = journal.database.read_one("SELECT pg_backend_pid()")
    assert replaced != pid
