"""The per-base request budget: the slot rule over SQLite and in memory, shared by real processes.

The rule is checked with an injected clock, so nothing depends on timing; the sharing is
checked with OS processes on one SQLite file in ``tmp_path``, sleeping until their slots,
with margins wide enough for a loaded machine.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.clients.request_budget import LocalBudget, PacedBudget, SharedBudget
from bot.core.pacing import BudgetState

ROOT = Path(__file__).resolve().parents[2]
BASE = "appBudgetTest0001"
NOW = 1_800_000_000.0
CHILD_TIMEOUT = 30.0
# What the rounding of epoch floats (about 0.1 µs per addition today) may take off a span
# of slots, with room to spare.
FLOAT_SLACK = 1e-4

# A process of the bot, reduced to its bookings: ``book PATH RATE COUNT`` says "ready",
# waits for a start instant on stdin, then books COUNT slots one at a time, sleeping until
# each and printing [slot, sent]; ``hold PATH RATE COUNT`` books COUNT slots at once, pauses
# for 5 s, prints what it booked and sleeps until killed; ``lock PATH`` takes the file's
# write lock and sleeps until killed.
CHILD = """
import json, sqlite3, sys, time
from bot.clients.request_budget import SharedBudget

def sleep_until(instant):
    while (delay := instant - time.time()) > 0:
        time.sleep(delay)

mode, path, *rest = sys.argv[1:]
if mode == "lock":
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    time.sleep(600)
budget = SharedBudget(path, sys.argv[-1], float(rest[0]))
count = int(rest[1])
if mode == "book":
    print("ready", flush=True)
    sleep_until(float(sys.stdin.readline()))
    for _ in range(count):
        slot = budget.reserve()
        sleep_until(slot)
        print(json.dumps([slot, time.time()]), flush=True)
elif mode == "hold":
    slots = [budget.reserve() for _ in range(count)]
    budget.pause(5.0)
    print(json.dumps({"last_slot": slots[-1], "paused_until": budget.paused_until()}), flush=True)
    time.sleep(600)
"""


class FakeClock:
    """A wall clock that moves only when told."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def shared(path: Path, clock: Callable[[], float], rate: float) -> SharedBudget:
    """A budget on the SQLite file ``path``."""
    return SharedBudget(path, BASE, rate, clock=clock)


def local(path: Path, clock: Callable[[], float], rate: float) -> LocalBudget:
    """A budget in memory (``path`` unused)."""
    return LocalBudget(rate, clock=clock)


BUDGETS = [pytest.param(shared, id="shared"), pytest.param(local, id="local")]
Factory = Callable[[Path, Callable[[], float], float], PacedBudget]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the budget file goes (not created yet)."""
    return tmp_path / "airtable-budget.sqlite3"


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


def read_line(proc: subprocess.Popen[str]) -> str:
    """The child's next line of output; fails with its stderr when it ends first."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=CHILD_TIMEOUT)
        assert proc.stderr is not None
        pytest.fail(f"child exited {proc.returncode}:\n{proc.stderr.read()}")
    return line.strip()


def spaced_by_at_least(slots: list[float], interval: float) -> bool:
    """Whether consecutive ``slots`` (in order) are ``interval`` apart or more, give or take
    the microsecond to which a float holds today's epoch time."""
    return all(later - earlier >= interval - 1e-6 for earlier, later in itertools.pairwise(slots))


def most_in_one_second(instants: list[float]) -> int:
    """The largest number of ``instants`` in any half-open window of one second.

    The window is :data:`FLOAT_SLACK` short: at exactly ``r`` per second, ``r + 1`` slots span
    one second, which rounding can make a hair less.
    """
    ordered = sorted(instants)
    most, start = 0, 0
    for end, instant in enumerate(ordered):
        while ordered[start] <= instant - (1.0 - FLOAT_SLACK):
            start += 1
        most = max(most, end - start + 1)
    return most


def assert_took_turns_at_the_rate(
    booked: list[list[list[float]]], rate: float, each: int
) -> list[float]:
    """Three processes' bookings (each ``[slot, sent]``, *each* of them) kept together to
    *rate*: distinct slots spaced by the interval, no second with more, every request sent
    at or after its slot, the processes taking turns; the slots, in order."""
    slots = sorted(slot for bookings in booked for slot, _ in bookings)
    sent = [at for bookings in booked for _, at in bookings]
    interval = 1 / rate
    assert len(set(slots)) == 3 * each
    assert spaced_by_at_least(slots, interval)
    assert most_in_one_second(slots) <= rate
    # Each request left at or after its slot; late wake-ups (jitter) may squeeze the sends,
    # so they are allowed two more than the rate in a second.
    assert all(at >= slot for bookings in booked for slot, at in bookings)
    assert most_in_one_second(sent) <= rate + 2
    # 60 slots are 59 intervals apart at best; a loaded machine may add some idle time.
    least = (3 * each - 1) * interval
    assert least - FLOAT_SLACK <= slots[-1] - slots[0] < least + 1.5
    # The processes took turns: alone, one would have finished in under a second.
    for bookings in booked:
        assert bookings[-1][0] - bookings[0][0] > 1.5
    return slots


# -- the rule, with an injected clock ------------------------------------------------------


@pytest.mark.parametrize("make", BUDGETS)
def test_slots_are_spaced_and_an_idle_spell_saves_nothing(make: Factory, db_path: Path) -> None:
    clock = FakeClock()
    budget = make(db_path, clock, 4.0)
    assert [budget.reserve() for _ in range(3)] == [NOW, NOW + 0.25, NOW + 0.5]
    clock.now = NOW + 60
    assert [budget.reserve() for _ in range(2)] == [NOW + 60, NOW + 60.25]
    assert budget.load() == BudgetState(booked_until=NOW + 60.5, paused_until=0.0)
    budget.close()


@pytest.mark.parametrize("make", BUDGETS)
def test_a_pause_holds_every_booking_until_it_ends(make: Factory, db_path: Path) -> None:
    clock = FakeClock()
    budget = make(db_path, clock, 4.0)
    assert budget.paused_until() == 0.0
    budget.reserve()
    budget.pause(30)
    assert budget.paused_until() == NOW + 30
    clock.now = NOW + 10
    budget.pause(5)  # a later, shorter pause does not cut the first
    assert [budget.reserve() for _ in range(2)] == [NOW + 30, NOW + 30.25]
    budget.close()


@pytest.mark.parametrize("make", BUDGETS)
def test_rates_that_are_not_positive_are_refused(make: Factory, db_path: Path) -> None:
    for rate in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="requests_per_second"):
            make(db_path, FakeClock(), rate)


def test_budgets_on_one_file_share_slots_and_pauses(db_path: Path) -> None:
    clock = FakeClock()
    serve, check = shared(db_path, clock, 4.0), shared(db_path, clock, 4.0)
    slots = [serve.reserve(), check.reserve(), serve.reserve(), check.reserve()]
    assert slots == [NOW, NOW + 0.25, NOW + 0.5, NOW + 0.75]
    check.pause(30)
    assert serve.paused_until() == NOW + 30
    assert serve.reserve() == NOW + 30
    serve.close()
    check.close()


def test_each_base_has_its_own_budget(db_path: Path) -> None:
    clock = FakeClock()
    first = SharedBudget(db_path, "appFirst", 4.0, clock=clock)
    second = SharedBudget(db_path, "appSecond", 4.0, clock=clock)
    first.pause(30)
    assert [first.reserve(), second.reserve(), second.reserve()] == [NOW + 30, NOW, NOW + 0.25]
    first.close()
    second.close()


def test_the_state_is_a_row_of_the_budget_table(db_path: Path) -> None:
    budget = shared(db_path, FakeClock(), 4.0)
    budget.reserve()
    budget.pause(30)
    budget.close()
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT base_id, booked_until, paused_until FROM airtable_budget")
        assert rows.fetchall() == [(BASE, NOW + 0.25, NOW + 30)]
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.parametrize(
    ("booked_until", "paused_until"),
    [
        pytest.param(NOW + 3600, NOW + 3600, id="an-hour-ahead"),
        pytest.param("garbage", "junk", id="not-numbers"),
    ],
)
def test_a_row_far_in_the_future_or_corrupt_is_forgotten(
    db_path: Path, booked_until: object, paused_until: object
) -> None:
    # What a clock set back by an hour, or a damaged file, leaves behind.
    shared(db_path, FakeClock(), 4.0).close()
    with sqlite3.connect(db_path) as db:
        db.execute(
            "INSERT INTO airtable_budget VALUES (?, ?, ?)", (BASE, booked_until, paused_until)
        )
    budget = shared(db_path, FakeClock(), 4.0)
    assert budget.paused_until() == 0.0
    assert [budget.reserve(), budget.reserve()] == [NOW, NOW + 0.25]
    budget.close()


def test_a_closed_budget_refuses_to_book(db_path: Path) -> None:
    budget = shared(db_path, FakeClock(), 4.0)
    budget.close()
    with pytest.raises(sqlite3.ProgrammingError):
        budget.reserve()


@pytest.mark.parametrize("make", BUDGETS)
def test_threads_booking_at_once_get_distinct_spaced_slots(make: Factory, db_path: Path) -> None:
    # The lane books from worker threads: 8 threads, 25 bookings each, on one budget (and,
    # for the file, on a second budget too, as a second process would).
    rate = 1000.0
    budgets = [make(db_path, time.time, rate), make(db_path, time.time, rate)]
    if isinstance(budgets[0], LocalBudget):
        budgets = budgets[:1]
    slots: list[float] = []

    def book(budget: PacedBudget) -> None:
        for _ in range(25):
            slots.append(budget.reserve())

    threads = [threading.Thread(target=book, args=(budgets[n % len(budgets)],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=CHILD_TIMEOUT)
    ordered = sorted(slots)
    assert len(ordered) == 200
    assert spaced_by_at_least(ordered, 1 / rate)
    for budget in budgets:
        budget.close()


# -- real processes on one file ------------------------------------------------------------


def test_three_processes_together_keep_to_the_rate(db_path: Path) -> None:
    rate, each = 20.0, 20
    shared(db_path, time.time, rate).close()  # the file exists before they race
    with (
        child("book", str(db_path), str(rate), str(each), BASE) as a,
        child("book", str(db_path), str(rate), str(each), BASE) as b,
        child("book", str(db_path), str(rate), str(each), BASE) as c,
    ):
        procs = [a, b, c]
        for proc in procs:
            assert read_line(proc) == "ready"
        start = time.time() + 0.2
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(f"{start}\n")
            proc.stdin.flush()
        booked = [[json.loads(read_line(proc)) for _ in range(each)] for proc in procs]

    assert_took_turns_at_the_rate(booked, rate, each)


def test_a_pause_in_one_process_delays_the_bookings_of_another(db_path: Path) -> None:
    rate, count = 20.0, 40
    budget = shared(db_path, time.time, rate)
    with child("book", str(db_path), str(rate), str(count), BASE) as proc:
        assert read_line(proc) == "ready"
        assert proc.stdin is not None
        proc.stdin.write(f"{time.time()}\n")
        proc.stdin.flush()
        slots = [json.loads(read_line(proc))[0] for _ in range(5)]
        budget.pause(1.0)
        pause_ends = budget.paused_until()
        slots += [json.loads(read_line(proc))[0] for _ in range(count - 5)]
    paused_at = pause_ends - 1.0
    # The child held at most one slot booked before the pause began, within an interval of it.
    assert [s for s in slots if paused_at + 1 / rate < s < pause_ends] == []
    assert sum(s >= pause_ends for s in slots) >= count - 6
    budget.close()


def test_what_a_killed_process_booked_survives_it(db_path: Path) -> None:
    with child("hold", str(db_path), "1", "10", BASE) as proc:
        held = json.loads(read_line(proc))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=CHILD_TIMEOUT)
    assert proc.returncode == -signal.SIGKILL
    budget = SharedBudget(db_path, BASE, 1.0)
    assert budget.load() == BudgetState(held["last_slot"] + 1.0, held["paused_until"])
    assert budget.paused_until() == held["paused_until"]
    assert budget.reserve() == held["last_slot"] + 1.0
    budget.close()


def test_a_process_killed_inside_a_transaction_does_not_block_the_others(db_path: Path) -> None:
    budget = SharedBudget(db_path, BASE, 4.0, busy_timeout=0.2)
    with child("lock", str(db_path)) as proc:
        assert read_line(proc) == "locked"
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            budget.reserve()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=CHILD_TIMEOUT)
    assert budget.reserve() >= time.time() - 1.0
    budget.close()
