"""Webhook handlers, one module and one gidgethub ``Router`` per concern, combined here.

``HANDLERS`` declares the order in which a delivery's handlers run: the combined router's
``fetch`` gives the callbacks for an event in that order (gidgethub's gives a set), so that,
e.g., a project label's unlink (``labels``) comes after the same delivery's reconcile
(``issues``), and renaming a module never changes it. Every handler takes what it needs of
the dispatch keyword arguments :mod:`bot.app` hands the worker (``config``, ``github``,
``reconciler``, ``linker``, and ``airtable_follower`` when Airtable → GitHub is on).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from gidgethub import sansio
from gidgethub.routing import Router

from bot.handlers import airtable, comments, issues, labels, sub_issues

HANDLERS = (issues, labels, comments, sub_issues, airtable)

Callback = Callable[..., Any]


class InOrder(frozenset[Callback]):
    """A set of callbacks that iterates in a given order."""

    _order: tuple[Callback, ...]

    def __new__(cls, callbacks: Iterable[Callback], rank: Callable[[Callback], int]) -> InOrder:
        """The set of ``callbacks``, iterated by ``rank``."""
        items = sorted(callbacks, key=rank)
        self = super().__new__(cls, items)
        self._order = tuple(items)
        return self

    def __iter__(self) -> Iterator[Callback]:
        return iter(self._order)


class DeclaredOrder(Router):
    """A gidgethub ``Router`` whose ``fetch`` gives an event's callbacks in the order they
    were added: routers combined in ``DeclaredOrder(a, b)`` run a's before b's."""

    def __init__(self, *routers: Router) -> None:
        self._rank: dict[Callback, int] = {}
        super().__init__(*routers)

    def add(self, func: Callback, event_type: str, **data_detail: Any) -> None:
        """Add a route; a callback ranks where it was first added."""
        self._rank.setdefault(func, len(self._rank))
        super().add(func, event_type, **data_detail)

    def fetch(self, event: sansio.Event) -> frozenset[Callback]:
        """The callbacks ``event`` would run, iterated in the declared order."""
        return InOrder(super().fetch(event), self._rank.__getitem__)


def make_router() -> DeclaredOrder:
    """Every handler's router, combined in the order of ``HANDLERS``."""
    return DeclaredOrder(*(handler.router for handler in HANDLERS))
