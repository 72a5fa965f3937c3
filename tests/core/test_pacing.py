"""The slot rule: strict spacing, pauses, idle gaps, and a far-future state forgotten."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.pacing import BudgetState, book_slot, pause, paused_until, trusted

NOW = 1_000_000.0
INTERVAL = 0.25
MAX_AHEAD = 90.0


def book(state: BudgetState, now: float = NOW) -> tuple[float, BudgetState]:
    """One booking at ``now`` with the test's interval and horizon."""
    return book_slot(state, now, INTERVAL, max_ahead=MAX_AHEAD)


def test_bookings_at_one_instant_are_spaced_by_the_interval() -> None:
    state = BudgetState()
    slots = []
    for _ in range(4):
        slot, state = book(state)
        slots.append(slot)
    assert slots == [NOW, NOW + 0.25, NOW + 0.5, NOW + 0.75]
    assert state.booked_until == NOW + 1.0


def test_after_an_idle_spell_the_next_slot_is_now_not_in_the_past() -> None:
    slot, state = book(BudgetState(booked_until=NOW - 50, paused_until=NOW - 60))
    assert slot == NOW
    assert state == BudgetState(booked_until=NOW + INTERVAL, paused_until=NOW - 60)


def test_a_booking_waits_for_the_previous_slot_to_end() -> None:
    slot, state = book(BudgetState(booked_until=NOW + 3))
    assert (slot, state.booked_until) == (NOW + 3, NOW + 3 + INTERVAL)


def test_no_slot_is_booked_inside_a_pause() -> None:
    state = pause(BudgetState(booked_until=NOW + 1), NOW, 30, max_ahead=MAX_AHEAD)
    assert state == BudgetState(booked_until=NOW + 1, paused_until=NOW + 30)
    first, state = book(state, NOW + 2)
    second, state = book(state, NOW + 2)
    assert (first, second) == (NOW + 30, NOW + 30 + INTERVAL)


def test_a_shorter_pause_does_not_cut_a_longer_one() -> None:
    state = pause(BudgetState(), NOW, 30, max_ahead=MAX_AHEAD)
    state = pause(state, NOW + 5, 10, max_ahead=MAX_AHEAD)
    assert state.paused_until == NOW + 30
    state = pause(state, NOW + 25, 30, max_ahead=MAX_AHEAD)
    assert state.paused_until == NOW + 55


def test_a_pause_is_never_longer_than_the_horizon() -> None:
    state = pause(BudgetState(), NOW, 3600, max_ahead=MAX_AHEAD)
    assert state.paused_until == NOW + MAX_AHEAD
    assert pause(BudgetState(), NOW, -5, max_ahead=MAX_AHEAD).paused_until == NOW


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param(BudgetState(booked_until=NOW + 3600), id="booked-an-hour-ahead"),
        pytest.param(BudgetState(paused_until=NOW + 86_400), id="paused-for-a-day"),
        pytest.param(BudgetState(math.inf, math.inf), id="infinite"),
        pytest.param(BudgetState(math.nan, math.nan), id="not-a-number"),
    ],
)
def test_a_state_far_in_the_future_is_forgotten(stored: BudgetState) -> None:
    slot, state = book(stored)
    assert slot == NOW
    assert state == BudgetState(booked_until=NOW + INTERVAL, paused_until=0.0)
    assert paused_until(stored, NOW, max_ahead=MAX_AHEAD) == 0.0
    assert pause(stored, NOW, 1, max_ahead=MAX_AHEAD).paused_until == NOW + 1


def test_a_state_just_within_the_horizon_is_kept() -> None:
    assert trusted(NOW + MAX_AHEAD, NOW, max_ahead=MAX_AHEAD) == NOW + MAX_AHEAD
    assert trusted(NOW + MAX_AHEAD + 0.001, NOW, max_ahead=MAX_AHEAD) == 0.0
    slot, _ = book(BudgetState(paused_until=NOW + MAX_AHEAD))
    assert slot == NOW + MAX_AHEAD


def test_paused_until_reports_a_running_pause() -> None:
    state = pause(BudgetState(), NOW, 30, max_ahead=MAX_AHEAD)
    assert paused_until(state, NOW + 10, max_ahead=MAX_AHEAD) == NOW + 30


@given(
    steps=st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=2, allow_nan=False),
            st.one_of(st.none(), st.floats(min_value=0, max_value=40, allow_nan=False)),
        ),
        max_size=60,
    )
)
def test_any_sequence_of_bookings_and_pauses_keeps_the_rule(
    steps: list[tuple[float, float | None]],
) -> None:
    # Each step waits a while, then books a slot or pauses: every slot is at or after the
    # moment it was booked, after any pause begun before, and an interval after the last.
    state, now, slots, pause_ends = BudgetState(), NOW, [], [0.0]
    for wait, pause_seconds in steps:
        now += wait
        if pause_seconds is None:
            slot, state = book(state, now)
            assert slot >= max(now, pause_ends[-1])
            slots.append(slot)
        else:
            state = pause(state, now, pause_seconds, max_ahead=MAX_AHEAD)
            pause_ends.append(max(pause_ends[-1], now + pause_seconds))
    # (less a hair for the rounding of ``slot + interval`` far from zero)
    assert all(later - earlier >= INTERVAL - 1e-9 for earlier, later in itertools.pairwise(slots))
