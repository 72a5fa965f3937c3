"""The rule of a request budget: evenly spaced slots, a pause after a 429, no far future.

A budget's whole state is two instants (:class:`BudgetState`): ``booked_until``, the earliest
moment the next request may go, and ``paused_until``, the end of the pause a 429 began.
Booking a slot takes the latest of now, ``booked_until`` and ``paused_until``, and moves
``booked_until`` one interval past it: strict spacing, in the manner of GCRA (the generic
cell rate algorithm), with no bursts. After an idle spell the next slot is now, never in the
past, so the idle time is not saved up as a burst.

A stored instant more than ``max_ahead`` seconds after now cannot have been booked by this
rule (bookings run at most a pause and a few intervals ahead): the wall clock went back, or
the row is corrupt. It is read as unset (0) rather than obeyed, so a bad row is forgotten at
the next booking instead of silencing the base for hours. For the same reason a pause is
never longer than ``max_ahead``.

The functions are pure: the caller reads the clock and keeps the state
(:mod:`bot.clients.request_budget`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class BudgetState:
    """What a budget remembers: when the next slot may start, and when the pause ends.

    Both are wall-clock instants in seconds since the epoch; 0 means never booked or paused.
    """

    booked_until: float = 0.0
    paused_until: float = 0.0


def trusted(instant: float, now: float, *, max_ahead: float) -> float:
    """``instant`` if it is a finite time no more than ``max_ahead`` after ``now``, else 0
    (unset)."""
    if not math.isfinite(instant) or instant > now + max_ahead:
        return 0.0
    return instant


def trusted_state(state: BudgetState, now: float, *, max_ahead: float) -> BudgetState:
    """``state`` with each instant too far after ``now`` (or not a number) read as unset."""
    return BudgetState(
        booked_until=trusted(state.booked_until, now, max_ahead=max_ahead),
        paused_until=trusted(state.paused_until, now, max_ahead=max_ahead),
    )


def book_slot(
    state: BudgetState, now: float, interval: float, *, max_ahead: float
) -> tuple[float, BudgetState]:
    """The next slot (the instant a request may be sent) and the state that remembers it.

    The slot is the latest of ``now``, the end of the previous slot and the end of the pause;
    the next one may start ``interval`` seconds after it.
    """
    state = trusted_state(state, now, max_ahead=max_ahead)
    slot = max(now, state.booked_until, state.paused_until)
    return slot, BudgetState(booked_until=slot + interval, paused_until=state.paused_until)


def pause(state: BudgetState, now: float, seconds: float, *, max_ahead: float) -> BudgetState:
    """``state`` with no slot before ``now + seconds`` (at most ``max_ahead``); a pause
    already running longer is kept."""
    state = trusted_state(state, now, max_ahead=max_ahead)
    until = now + min(max(seconds, 0.0), max_ahead)
    return BudgetState(booked_until=state.booked_until, paused_until=max(state.paused_until, until))


def paused_until(state: BudgetState, now: float, *, max_ahead: float) -> float:
    """When the pause of ``state`` ends, as seen at ``now`` (a far-future end reads as 0: no
    pause)."""
    return trusted(state.paused_until, now, max_ahead=max_ahead)
