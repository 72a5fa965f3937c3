"""Recovery of missed deliveries: what GitHub's delivery log says failed, journaled after all.

GitHub never redelivers on its own: an event sent while the bot restarts, deploys, is down or
answers too slowly is logged by GitHub as failed and is otherwise lost. With App credentials,
``serve`` reads the App's delivery log (``GET /app/hook/deliveries``, newest first, as the
App with its JWT) at start-up and every ``[recovery] interval_minutes``, back to the last
point read. Every logged delivery that did not succeed (status code not 2xx), whose ``guid``
(the ``X-GitHub-Delivery`` of the original) the journal never accepted and that no later
successful delivery of the same guid answered, is fetched (``GET /app/hook/deliveries/{id}``:
``request.payload`` is the original payload, ``request.headers`` its event) and journaled
exactly as if it had arrived; the worker takes it from there.

Why fetch-and-journal rather than asking GitHub to redeliver
(``POST /app/hook/deliveries/{id}/attempts``):

- It does not depend on GitHub reaching the bot again. Whatever made the delivery fail (a
  firewall or proxy change, DNS, TLS, a slow disk making the bot miss GitHub's 10 s) may
  still be true, and a redelivery would then fail again and only add to the log.
- It is confirmed when it is done: the delivery is in the journal before the persisted point
  moves, so a crash mid-pass re-reads, and nothing is "asked for" and forgotten.
- It costs the same (one API call per delivery) and works for deliveries older than the
  3 days within which GitHub.com accepts a redelivery. The payload comes from GitHub's API
  over TLS, authenticated as the App, so it needs no webhook signature.

Bounds and state. A pass reads at most ``max_pages`` pages of 100 and fetches at most
``max_per_pass`` deliveries; it stops at the persisted point (the newest log id whose older
entries are all dealt with) or at the journal's 7-day de-duplication window, beyond which
``Journal.seen`` cannot be trusted. A pass cut short by a bound keeps the cursor of the page
where it stopped, and the next pass goes on from there before it moves the point to the top
of the log it started from. The state is one JSON value in the journal's ``meta`` table,
written only after what the pass found is journaled. A failed pass (GitHub 5xx, a rate limit
gidgethub could not wait out, the network) is logged in one line and counted; the next pass
runs at its time. Each pass is counted in ``/metrics``, and so is each recovered delivery.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

import aiohttp
import gidgethub

from bot.clients.github_protocols import DeliveryLog
from bot.config import Config
from bot.core.payloads import payload_problem
from bot.intake import delivery_context
from bot.intake.journal import DEDUPE_DAYS, Journal
from bot.intake.journal_rows import NewDelivery
from bot.intake.server import issue_key_of
from bot.metrics import Metrics, event_label

log = logging.getLogger(__name__)

STATE_KEY = "recovery.delivery_log"
PER_PAGE = 100
# Stop an hour inside the journal's de-duplication window: ids of deliveries accepted close
# to its edge may be pruned by the time the pass looks them up.
WINDOW_MARGIN_SECONDS = 3600.0
# Deliveries the bot answers without journaling them (``POST /webhook`` answers ping 200).
NOT_JOURNALED_EVENTS = frozenset({"ping"})


class Notifiable(Protocol):
    """What recovery needs of the worker: to be told that deliveries were journaled."""

    def notify(self) -> None:
        """Wake the worker."""


@dataclasses.dataclass
class PassReport:
    """What one pass over the delivery log did."""

    pages: int = 0  # pages of the log read
    examined: int = 0  # log entries looked at (newer than the point, inside the window)
    fetched: int = 0  # deliveries fetched with their payload
    recovered: int = 0  # deliveries journaled by this pass
    complete: bool = False  # read back to the point (or the window, or the log's end)

    def summary(self) -> str:
        """One line for the log."""
        how = "complete" if self.complete else "bounded; the next pass goes on"
        return (
            f"read {self.pages} page(s), {self.examined} entr(ies) new, fetched {self.fetched},"
            f" recovered {self.recovered} ({how})"
        )


@dataclasses.dataclass
class _State:
    """The persisted point, and where a bounded sweep stopped."""

    point: int | None = None  # every log entry with an id up to this one is dealt with
    resume_cursor: str | None = None  # the page a bounded sweep goes on from
    resume_top: int | None = None  # the newest id of that sweep: the point once it ends

    @classmethod
    def parse(cls, text: str | None) -> _State:
        if not text:
            return cls()
        try:
            value = json.loads(text)
            return cls(
                point=_optional_int(value.get("point")),
                resume_cursor=value.get("resume_cursor") or None,
                resume_top=_optional_int(value.get("resume_top")),
            )
        except (ValueError, TypeError, AttributeError):
            log.warning(
                "recovery: unreadable state %r in the journal; reading the log afresh", text
            )
            return cls()

    def dump(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _succeeded(entry: Mapping[str, Any]) -> bool:
    code = entry.get("status_code")
    return isinstance(code, int) and 200 <= code < 300


def _delivered_at(entry: Mapping[str, Any]) -> float | None:
    value = entry.get("delivered_at")
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _header(headers: Any, name: str) -> str | None:
    """A request header from GitHub's log, whatever case it is written in."""
    if isinstance(headers, Mapping):
        for key, value in headers.items():
            if str(key).lower() == name.lower() and isinstance(value, str):
                return value
    return None


def delivery_from_log(entry: Mapping[str, Any], detail: Mapping[str, Any]) -> NewDelivery | None:
    """The journal entry for a delivery read back from the log, exactly as ``POST /webhook``
    would have made it; None when the log does not hold its payload, or holds one that
    ``POST /webhook`` refuses (:func:`bot.core.payloads.payload_problem`)."""
    request = detail.get("request")
    payload = request.get("payload") if isinstance(request, Mapping) else None
    if not isinstance(payload, dict):
        return None
    headers = request.get("headers") if isinstance(request, Mapping) else None
    event = _header(headers, "X-GitHub-Event") or str(detail.get("event") or entry.get("event"))
    if payload_problem(event, payload) is not None:
        return None
    guid = str(entry["guid"])  # the X-GitHub-Delivery the original carried
    action = payload.get("action") if isinstance(payload.get("action"), str) else None
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return NewDelivery(guid, event, action, body, issue_key_of(payload))


class Recovery:
    """Passes over the App's delivery log that journal the deliveries the bot never got."""

    def __init__(
        self,
        config: Config,
        *,
        delivery_log: DeliveryLog,
        journal: Journal,
        worker: Notifiable,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        page_size: int = PER_PAGE,
    ) -> None:
        """Passes read the log with ``delivery_log``, journal into ``journal`` and wake
        ``worker``; ``page_size`` (log entries per page, GitHub allows up to 100) is there for
        tests that page through a short log."""
        self.config = config
        self.delivery_log = delivery_log
        self.journal = journal
        self.worker = worker
        self.metrics = metrics
        self._clock = clock
        self._page_size = page_size

    async def run_pass(self) -> PassReport:
        """Read the log back to the persisted point (within the bounds), journal what the bot
        missed, then move the point. Raises what GitHub or the journal raised; the point is
        then where it was, so the next pass reads the same entries again."""
        settings = self.config.recovery
        state = _State.parse(await asyncio.to_thread(self.journal.get_meta, STATE_KEY))
        window_start = self._clock() - DEDUPE_DAYS * 86400 + WINDOW_MARGIN_SECONDS
        report = PassReport()
        cursor = state.resume_cursor
        top = state.resume_top if cursor is not None else None
        succeeded: set[str] = set()  # guids a delivery in the log answered 2xx
        taken: set[str] = set()  # guids journaled (or found unreadable) by this pass
        stopped_at: str | None = None  # the cursor of the page a bound stopped in
        bounded = False
        while True:
            if report.pages >= settings.max_pages:
                stopped_at, bounded = cursor, True
                break
            entries, next_cursor = await self.delivery_log.hook_deliveries(
                cursor=cursor, per_page=self._page_size
            )
            report.pages += 1
            if top is None and entries:
                top = int(entries[0]["id"])
            fresh, reached_end = _fresh_entries(entries, state.point, window_start)
            report.examined += len(fresh)
            for entry in fresh:
                if _succeeded(entry):
                    succeeded.add(str(entry["guid"]))
            wanted = [
                entry
                for entry in fresh
                if not _succeeded(entry)
                and entry.get("event") not in NOT_JOURNALED_EVENTS
                and str(entry["guid"]) not in succeeded
            ]
            known = await asyncio.to_thread(_seen, self.journal, {str(e["guid"]) for e in wanted})
            new: list[NewDelivery] = []
            for entry in wanted:
                guid = str(entry["guid"])
                if guid in known or guid in taken:
                    continue
                if report.fetched >= settings.max_per_pass:
                    stopped_at, bounded = cursor, True
                    break
                detail = await self.delivery_log.hook_delivery(int(entry["id"]))
                report.fetched += 1
                taken.add(guid)
                delivery = None if detail is None else delivery_from_log(entry, detail)
                if delivery is None:
                    with delivery_context.handling(guid):
                        log.warning(
                            "recovery: delivery %s (%s.%s, log id %s) has no payload the bot"
                            " can use in GitHub's log; it cannot be recovered",
                            guid, entry.get("event"), entry.get("action"), entry.get("id"),
                        )  # fmt: skip
                    continue
                new.append(delivery)
            if new:
                accepted = await asyncio.to_thread(self.journal.record_many, new)
                for delivery, ok in zip(new, accepted, strict=True):
                    if not ok:
                        continue
                    report.recovered += 1
                    self.metrics.recovered.labels(event=event_label(delivery.event)).inc()
                    with delivery_context.handling(delivery.delivery_id):
                        log.info(
                            "recovery: delivery %s (%s.%s, %s) journaled from GitHub's log",
                            delivery.delivery_id, delivery.event, delivery.action,
                            delivery.issue_key,
                        )  # fmt: skip
                self.worker.notify()
            if bounded:
                break
            if reached_end or next_cursor is None:
                report.complete = True
                break
            cursor = next_cursor
        if report.complete:
            new_state = _State(point=top if top is not None else state.point)
        elif stopped_at is not None:
            new_state = _State(point=state.point, resume_cursor=stopped_at, resume_top=top)
        else:
            # Stopped in the log's first page: the next pass starts from the top again, and
            # what this one journaled is then already in the journal.
            new_state = _State(point=state.point)
        if new_state != state:
            await asyncio.to_thread(self.journal.set_meta, STATE_KEY, new_state.dump())
        self.metrics.recovery_passes.labels(
            outcome="complete" if report.complete else "bounded"
        ).inc()
        return report

    async def run_forever(self) -> None:
        """A pass now, then one every ``interval_minutes``, until cancelled. A failed pass is
        logged in one line and counted; the next one runs anyway."""
        interval = self.config.recovery.interval_minutes * 60
        while True:
            try:
                report = await self.run_pass()
            except asyncio.CancelledError:
                raise
            except (gidgethub.GitHubException, aiohttp.ClientError, TimeoutError) as exc:
                self.metrics.recovery_passes.labels(outcome="error").inc()
                log.warning(
                    "recovery pass failed: %s; the next runs in %g min",
                    _describe(exc), interval / 60,
                )  # fmt: skip
            except Exception:
                self.metrics.recovery_passes.labels(outcome="error").inc()
                log.exception("recovery pass failed; the next runs in %g min", interval / 60)
            else:
                if report.recovered or not report.complete:
                    log.info("recovery pass: %s", report.summary())
                else:
                    log.debug("recovery pass: %s", report.summary())
            await asyncio.sleep(interval)


def _describe(exc: BaseException) -> str:
    """An error in a few words: GitHub's status and message, or the exception's type and text."""
    if isinstance(exc, gidgethub.HTTPException):
        return f"GitHub answered {int(exc.status_code)} {exc}".strip()
    return f"{type(exc).__name__}: {exc}".rstrip(": ")


def _fresh_entries(
    entries: Iterable[Mapping[str, Any]], point: int | None, window_start: float
) -> tuple[list[Mapping[str, Any]], bool]:
    """The entries of a page newer than the point and inside the window, and whether the page
    reached the point or the window's edge (the log is newest first)."""
    fresh: list[Mapping[str, Any]] = []
    for entry in entries:
        if point is not None and int(entry["id"]) <= point:
            return fresh, True
        at = _delivered_at(entry)
        if at is not None and at < window_start:
            return fresh, True
        fresh.append(entry)
    return fresh, False


def _seen(journal: Journal, guids: Iterable[str]) -> set[str]:
    """The guids the journal has accepted (in any state)."""
    return {guid for guid in guids if journal.seen(guid)}


def start_recovery(
    config: Config, github: object, *, journal: Journal, worker: Notifiable, metrics: Metrics
) -> asyncio.Task[None] | None:
    """Start the recovery loop when it is enabled and ``github`` reads the App's delivery log
    (App credentials); None otherwise."""
    if not config.recovery.enabled:
        return None
    if not (config.has_github_app and isinstance(github, DeliveryLog)):
        log.info("no GitHub App credentials: missed deliveries cannot be recovered")
        return None
    recovery = Recovery(
        config, delivery_log=github, journal=journal, worker=worker, metrics=metrics
    )
    return asyncio.create_task(recovery.run_forever(), name="delivery-recovery")
