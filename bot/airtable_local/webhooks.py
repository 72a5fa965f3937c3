"""Airtable's webhooks for the embedded server: hooks, their payloads, and notification pings.

A :class:`WebhookRegistry` listens to a :class:`~bot.airtable_local.store.Store`'s commits
(``Store.add_commit_listener``). Every committed write is one base transaction, numbered per
base (``baseTransactionNumber``, increasing); for each webhook of that base whose
specification matches (:func:`~bot.airtable_local.webhook_specs.build_payload`) it records
one payload at the hook's next cursor (cursors start at 1), and pings the hook's
``notificationUrl`` if notifications are on.

Who made a change is :data:`ACTING_AS`, a context variable the server sets per request to
the token's :class:`LocalUser` (``publicApi`` for the API token, ``client`` for the person
typing in the web app). A write made directly on the ``Store`` (no request: seeds, tests
changing data behind the bot's back) is recorded as source ``system`` with no user.

As Airtable documents (https://airtable.com/developers/web/api/create-a-webhook): at most 10
webhooks per base; a hook expires and is disabled 7 days after it was created, refreshed
(``refresh``) or its payloads last listed; an expired hook records no payloads and sends no
pings, shows ``isHookEnabled: false`` and can still be listed, its payloads read and deleted
for 7 more days, after which it is gone (404 NOT_FOUND, and missing from the list). Payloads
are kept 7 days (an expired hook keeps those it had when it expired). Refreshing an expired
hook is refused (422).

Pings (https://airtable.com/developers/web/api/webhooks-overview#webhook-notification-delivery)
are sent from the server's event loop, never from the write: ``POST notificationUrl`` with
``{"base": {"id"}, "webhook": {"id"}, "timestamp"}`` and ``X-Airtable-Content-MAC:
hmac-sha256=HEX`` (HMAC-SHA256 of the raw body, keyed by the base64-decoded MAC secret).
A 2xx answer is a success. One delivery at a time per hook: payloads recorded while one is
under way are covered by one more ping after it (coalesced), so pings never pile up. A
failed ping is retried ``ping_retries`` times, waiting ``ping_backoff_seconds`` then twice as
long each time. Each attempt is recorded as ``lastNotificationResult`` (and a success as
``lastSuccessfulNotificationTime``). Pings need :meth:`WebhookRegistry.start` on a running
loop (``make_app`` does it at start-up); :meth:`WebhookRegistry.wait_for_pings` waits until
none is under way.

Time comes from ``clock`` (a callable giving an aware UTC ``datetime``); an
:class:`AdjustableClock` lets tests move time on, to make hooks expire or payloads age.

Hooks, secrets, cursors, results and payloads are kept in SQLite tables (``webhooks``,
``webhook_payloads``, ``webhook_transactions``) of the store's file, created if missing, so
they survive a restart; an in-memory store gets an in-memory registry.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import hashlib
import hmac
import json
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from bot.airtable_local import errors, values
from bot.airtable_local.rows import BaseState, Row
from bot.airtable_local.schema import new_id
from bot.airtable_local.store import CommitEvent, Store
from bot.airtable_local.webhook_specs import TouchedRecord, build_payload, validate_specification

logger = logging.getLogger(__name__)

MAX_WEBHOOKS_PER_BASE = 10
MAX_PAYLOADS_PER_PAGE = 50
LIFETIME = timedelta(days=7)
PAYLOAD_RETENTION = timedelta(days=7)
MAC_HEADER = "X-Airtable-Content-MAC"
SYSTEM_ACTION: dict[str, Any] = {"source": "system", "sourceMetadata": {}}
SQL_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY,
    base_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    specification TEXT NOT NULL,
    notification_url TEXT,
    mac_secret_base64 TEXT NOT NULL,
    expiration_time TEXT NOT NULL,
    notifications_enabled INTEGER NOT NULL,
    next_cursor INTEGER NOT NULL,
    last_success_time TEXT,
    last_result TEXT
);
CREATE TABLE IF NOT EXISTS webhook_payloads (
    webhook_id TEXT NOT NULL,
    cursor INTEGER NOT NULL,
    timestamp TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (webhook_id, cursor)
);
CREATE TABLE IF NOT EXISTS webhook_transactions (
    base_id TEXT PRIMARY KEY,
    number INTEGER NOT NULL
);
"""
UPSERT_HOOK_SQL = (
    "INSERT OR REPLACE INTO webhooks (id, base_id, seq, specification, notification_url,"
    " mac_secret_base64, expiration_time, notifications_enabled, next_cursor,"
    " last_success_time, last_result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

Clock = Callable[[], datetime]
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass(frozen=True)
class LocalUser:
    """Who a token stands for: a user, and the source Airtable records for their changes."""

    id: str
    email: str
    name: str
    source: str = "publicApi"
    permission_level: str = "create"

    def action_metadata(self) -> dict[str, Any]:
        """``actionMetadata`` of a payload for a change this user made."""
        user = {
            "id": self.id,
            "email": self.email,
            "permissionLevel": self.permission_level,
            "name": self.name,
        }
        return {"source": self.source, "sourceMetadata": {"user": user}}


ACTING_AS: contextvars.ContextVar[LocalUser | None] = contextvars.ContextVar(
    "airtable_local_acting_as", default=None
)
"""The user whose request is being served (None: a direct write on the Store, ``system``)."""


def system_clock() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


class AdjustableClock:
    """A clock that runs with the system clock, plus an offset tests can move forward."""

    def __init__(self, base: Clock = system_clock) -> None:
        """A clock reading ``base()`` until :meth:`advance` is called."""
        self._base = base
        self._offset = timedelta()
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        """Now, as this clock tells it."""
        with self._lock:
            return self._base() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward (never back)."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += timedelta(seconds=seconds)


def mac_header(secret_base64: str, body: bytes) -> str:
    """The ``X-Airtable-Content-MAC`` value for a ping body."""
    digest = hmac.new(base64.b64decode(secret_base64), body, hashlib.sha256).hexdigest()
    return f"hmac-sha256={digest}"


@dataclass
class _Hook:
    id: str
    base_id: str
    seq: int
    specification: dict[str, Any]
    notification_url: str | None
    mac_secret_base64: str
    expiration_time: datetime
    notifications_enabled: bool = True
    next_cursor: int = 1
    last_success_time: str | None = None
    last_result: dict[str, Any] | None = None

    def row(self) -> tuple[Any, ...]:
        return (
            self.id,
            self.base_id,
            self.seq,
            _dumps(self.specification),
            self.notification_url,
            self.mac_secret_base64,
            _format(self.expiration_time),
            int(self.notifications_enabled),
            self.next_cursor,
            self.last_success_time,
            _dumps(self.last_result) if self.last_result is not None else None,
        )


class WebhookRegistry:
    """The webhooks of a store's bases: their state, payloads and pings; thread-safe."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock | None = None,
        path: str | None = None,
        ping_retries: int = 3,
        ping_backoff_seconds: float = 1.0,
        ping_timeout_seconds: float = 10.0,
        max_webhooks_per_base: int = MAX_WEBHOOKS_PER_BASE,
    ) -> None:
        """Open the webhook tables in ``path`` (default: the store's file) and start
        listening to the store's commits."""
        self.store = store
        self.clock: Clock = clock or system_clock
        self.ping_retries = ping_retries
        self.ping_backoff_seconds = ping_backoff_seconds
        self.ping_timeout_seconds = ping_timeout_seconds
        self.max_webhooks_per_base = max_webhooks_per_base
        self._lock = threading.RLock()
        self._idle = threading.Condition(threading.Lock())
        self._outstanding = 0
        self._conn = sqlite3.connect(
            path or store.path, check_same_thread=False, isolation_level=None, timeout=30
        )
        self._conn.executescript(SQL_SCHEMA)
        self._hooks: dict[str, _Hook] = {}
        self._transactions: dict[str, int] = dict(
            self._conn.execute("SELECT base_id, number FROM webhook_transactions")
        )
        for row in self._conn.execute("SELECT * FROM webhooks ORDER BY seq"):
            hook = _Hook(
                id=row[0],
                base_id=row[1],
                seq=row[2],
                specification=json.loads(row[3]),
                notification_url=row[4],
                mac_secret_base64=row[5],
                expiration_time=_parse(row[6]),
                notifications_enabled=bool(row[7]),
                next_cursor=row[8],
                last_success_time=row[9],
                last_result=json.loads(row[10]) if row[10] else None,
            )
            self._hooks[hook.id] = hook
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: aiohttp.ClientSession | None = None
        self._deliveries: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        store.add_commit_listener(self.on_commit)

    def close(self) -> None:
        """Stop listening to the store and close the webhook tables."""
        self.store.remove_commit_listener(self.on_commit)
        with self._lock:
            self._conn.close()

    # -- pings: the event loop side --------------------------------------------------------

    async def start(self) -> None:
        """Send pings from the running event loop from now on."""
        self._loop = asyncio.get_running_loop()
        self._session = aiohttp.ClientSession()
        with self._lock:
            waiting = [
                hook.id
                for hook in self._hooks.values()
                if hook.last_result is not None and hook.last_result.get("willBeRetried")
            ]
        for hook_id in waiting:  # deliveries a restart interrupted
            self._request_ping(hook_id)

    async def stop(self) -> None:
        """Cancel the pings under way and stop sending any."""
        self._loop = None
        tasks = list(self._deliveries.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
        with self._idle:
            self._outstanding = 0
            self._idle.notify_all()

    def wait_for_pings(self, timeout: float = 10.0) -> bool:
        """Wait until no ping is due or under way (retries included); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._outstanding:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
            return True

    def _request_ping(self, hook_id: str) -> None:
        loop = self._loop
        if loop is None:
            return
        with self._idle:
            self._outstanding += 1
        try:
            loop.call_soon_threadsafe(self._ping_soon, hook_id)
        except RuntimeError:  # the loop has closed
            self._done_one()

    def _done_one(self) -> None:
        with self._idle:
            self._outstanding = max(0, self._outstanding - 1)
            self._idle.notify_all()

    def _ping_soon(self, hook_id: str) -> None:
        if self._loop is None:
            self._done_one()
        elif hook_id in self._deliveries:
            self._again.add(hook_id)
            self._done_one()
        else:
            self._deliveries[hook_id] = asyncio.create_task(self._deliver(hook_id))

    async def _deliver(self, hook_id: str) -> None:
        try:
            while True:
                self._again.discard(hook_id)
                await self._ping_with_retries(hook_id)
                if hook_id not in self._again:
                    return
        except Exception:
            logger.exception("pinging webhook %s failed", hook_id)
        finally:
            self._deliveries.pop(hook_id, None)
            self._done_one()

    async def _ping_with_retries(self, hook_id: str) -> None:
        for retry in range(self.ping_retries + 1):
            with self._lock:
                hook = self._hooks.get(hook_id)
                if (
                    hook is None
                    or hook.notification_url is None
                    or not hook.notifications_enabled
                    or self._status(hook) != "active"
                ):
                    return
                url, secret = hook.notification_url, hook.mac_secret_base64
                body = _dumps(
                    {
                        "base": {"id": hook.base_id},
                        "webhook": {"id": hook.id},
                        "timestamp": _format(self.clock()),
                    }
                ).encode()
            error, duration_ms = await self._post(url, body, secret)
            will_retry = error is not None and retry < self.ping_retries
            self._record_result(hook_id, error, retry, will_retry, duration_ms)
            if error is None or not will_retry:
                return
            await asyncio.sleep(self.ping_backoff_seconds * 2**retry)

    async def _post(self, url: str, body: bytes, secret: str) -> tuple[str | None, float]:
        """POST one ping; the error (None: delivered) and how long it took, in ms."""
        assert self._session is not None
        headers = {"Content-Type": "application/json", MAC_HEADER: mac_header(secret, body)}
        started = time.monotonic()
        try:
            async with self._session.post(
                url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.ping_timeout_seconds),
            ) as response:
                await response.read()
                error = None if 200 <= response.status < 300 else f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            error = str(exc) or type(exc).__name__
        return error, (time.monotonic() - started) * 1000

    def _record_result(
        self, hook_id: str, error: str | None, retry: int, will_retry: bool, duration_ms: float
    ) -> None:
        with self._lock:
            hook = self._hooks.get(hook_id)
            if hook is None:
                return
            now = _format(self.clock())
            result: dict[str, Any] = {"success": error is None}
            if error is not None:
                result["error"] = {"message": error}
            result.update(
                completionTimestamp=now, durationMs=round(duration_ms, 3), retryNumber=retry
            )
            if error is not None:
                result["willBeRetried"] = will_retry
            else:
                hook.last_success_time = now
            hook.last_result = result
            self._save(hook)

    # -- the routes' operations ----------------------------------------------------------

    def create(self, base_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /v0/bases/{base}/webhooks``: a new hook.

        Answers ``{id, macSecretBase64, expirationTime}``; 422 for a bad body or
        specification, or when the base has its 10 hooks already.
        """
        unknown = sorted(set(body) - {"notificationUrl", "specification"})
        if unknown:
            raise errors.invalid_request(f"Unknown parameter: {unknown[0]}")
        url = body.get("notificationUrl")
        if url is not None and not (
            isinstance(url, str) and url.startswith(("http://", "https://"))
        ):
            raise errors.invalid_request("notificationUrl must be an http(s) URL or null")
        if "specification" not in body:
            raise errors.missing_field("specification")
        tables = {
            table["id"]: [field["id"] for field in table["fields"]]
            for table in self.store.schema(base_id)["tables"]
        }
        spec = validate_specification(body["specification"], tables)
        with self._lock:
            self._forget_gone()
            if len(self._of_base(base_id)) >= self.max_webhooks_per_base:
                raise errors.too_many_webhooks(self.max_webhooks_per_base)
            now = self.clock()
            hook = _Hook(
                id=_new_hook_id(self._hooks),
                base_id=base_id,
                seq=max((h.seq for h in self._hooks.values()), default=0) + 1,
                specification=spec,
                notification_url=url,
                mac_secret_base64=base64.b64encode(secrets.token_bytes(32)).decode(),
                expiration_time=now + LIFETIME,
            )
            self._hooks[hook.id] = hook
            self._save(hook)
            return {
                "id": hook.id,
                "macSecretBase64": hook.mac_secret_base64,
                "expirationTime": _format(hook.expiration_time),
            }

    def list_hooks(self, base_id: str) -> list[dict[str, Any]]:
        """``GET /v0/bases/{base}/webhooks``: every hook of the base not yet gone."""
        with self._lock:
            self._forget_gone()
            return [self._describe(hook) for hook in self._of_base(base_id)]

    def delete(self, base_id: str, hook_id: str) -> None:
        """``DELETE /v0/bases/{base}/webhooks/{id}``: the hook and its payloads."""
        with self._lock:
            hook = self._find(base_id, hook_id)
            self._drop(hook)

    def refresh(self, base_id: str, hook_id: str) -> dict[str, Any]:
        """``POST .../webhooks/{id}/refresh``: expire 7 days from now; ``{expirationTime}``."""
        with self._lock:
            hook = self._find(base_id, hook_id)
            if self._status(hook) != "active":
                raise errors.invalid_request("Only an active webhook can be refreshed")
            hook.expiration_time = self.clock() + LIFETIME
            self._save(hook)
            return {"expirationTime": _format(hook.expiration_time)}

    def enable_notifications(self, base_id: str, hook_id: str, enable: bool) -> None:
        """``POST .../webhooks/{id}/enableNotifications``: turn pings on or off."""
        with self._lock:
            hook = self._find(base_id, hook_id)
            hook.notifications_enabled = enable
            self._save(hook)

    def payloads(
        self, base_id: str, hook_id: str, cursor: int = 1, limit: int = MAX_PAYLOADS_PER_PAGE
    ) -> dict[str, Any]:
        """``GET .../webhooks/{id}/payloads``: ``{cursor, mightHaveMore, payloads}`` from
        ``cursor`` on; listing extends an active hook's life by 7 days."""
        if cursor < 1:
            raise errors.invalid_request("cursor must be a positive integer")
        if not 1 <= limit <= MAX_PAYLOADS_PER_PAGE:
            raise errors.invalid_request(f"limit must be between 1 and {MAX_PAYLOADS_PER_PAGE}")
        with self._lock:
            hook = self._find(base_id, hook_id)
            self._purge_payloads(hook)
            rows = self._conn.execute(
                "SELECT cursor, payload FROM webhook_payloads WHERE webhook_id = ?"
                " AND cursor >= ? ORDER BY cursor LIMIT ?",
                (hook.id, cursor, limit + 1),
            ).fetchall()
            page = rows[:limit]
            if self._status(hook) == "active":
                hook.expiration_time = self.clock() + LIFETIME
                self._save(hook)
            return {
                "cursor": page[-1][0] + 1 if page else cursor,
                "mightHaveMore": len(rows) > limit,
                "payloads": [json.loads(payload) for _, payload in page],
            }

    def expire(self, hook_id: str) -> None:
        """Make a hook expire now, as if 7 days had passed (tests; KeyError if unknown)."""
        with self._lock:
            hook = self._hooks[hook_id]
            hook.expiration_time = self.clock()
            self._save(hook)

    # -- recording payloads ----------------------------------------------------------------

    def on_commit(self, event: CommitEvent) -> None:
        """The store's commit listener: one base transaction, a payload per matching hook."""
        with self._lock:
            hooks = [h for h in self._of_base(event.base_id) if self._status(h) == "active"]
            number = self._transactions.get(event.base_id, 0) + 1
            self._transactions[event.base_id] = number
            if not hooks or not event.changes:
                return
            records = _touched_records(event)
            user = ACTING_AS.get()
            action = user.action_metadata() if user is not None else SYSTEM_ACTION
            timestamp = _format(self.clock())
            recorded: list[_Hook] = []
            for hook in hooks:
                payload = build_payload(
                    hook.specification,
                    records,
                    timestamp=timestamp,
                    base_transaction_number=number,
                    action_metadata=action,
                )
                if payload is not None:
                    recorded.append(hook)
                    self._record_payload(hook, payload, timestamp)
            if recorded:
                self._conn.execute(
                    "INSERT OR REPLACE INTO webhook_transactions (base_id, number) VALUES (?, ?)",
                    (event.base_id, number),
                )
        for hook in recorded:
            if hook.notification_url and hook.notifications_enabled:
                self._request_ping(hook.id)

    def _record_payload(self, hook: _Hook, payload: dict[str, Any], timestamp: str) -> None:
        self._purge_payloads(hook)
        cursor = hook.next_cursor
        hook.next_cursor += 1
        self._conn.execute("BEGIN")
        try:
            self._conn.execute(
                "INSERT INTO webhook_payloads (webhook_id, cursor, timestamp, payload)"
                " VALUES (?, ?, ?, ?)",
                (hook.id, cursor, timestamp, _dumps(payload)),
            )
            self._conn.execute(UPSERT_HOOK_SQL, hook.row())
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            hook.next_cursor -= 1
            raise

    # -- state -----------------------------------------------------------------------------

    def _status(self, hook: _Hook) -> str:
        now = self.clock()
        if now < hook.expiration_time:
            return "active"
        if now < hook.expiration_time + LIFETIME:
            return "expired"
        return "gone"

    def _of_base(self, base_id: str) -> list[_Hook]:
        return [hook for hook in self._hooks.values() if hook.base_id == base_id]

    def _find(self, base_id: str, hook_id: str) -> _Hook:
        hook = self._hooks.get(hook_id)
        if hook is None or hook.base_id != base_id:
            raise errors.not_found()
        if self._status(hook) == "gone":
            self._drop(hook)
            raise errors.not_found()
        return hook

    def _forget_gone(self) -> None:
        for hook in list(self._hooks.values()):
            if self._status(hook) == "gone":
                self._drop(hook)

    def _drop(self, hook: _Hook) -> None:
        self._hooks.pop(hook.id, None)
        self._conn.execute("BEGIN")
        self._conn.execute("DELETE FROM webhook_payloads WHERE webhook_id = ?", (hook.id,))
        self._conn.execute("DELETE FROM webhooks WHERE id = ?", (hook.id,))
        self._conn.execute("COMMIT")

    def _save(self, hook: _Hook) -> None:
        if hook.id in self._hooks:
            self._conn.execute(UPSERT_HOOK_SQL, hook.row())

    def _purge_payloads(self, hook: _Hook) -> None:
        # An expired hook's payloads stay readable until it is gone (7 more days).
        oldest = _format(min(self.clock(), hook.expiration_time) - PAYLOAD_RETENTION)
        self._conn.execute(
            "DELETE FROM webhook_payloads WHERE webhook_id = ? AND timestamp < ?",
            (hook.id, oldest),
        )

    def _describe(self, hook: _Hook) -> dict[str, Any]:
        return {
            "id": hook.id,
            "areNotificationsEnabled": hook.notifications_enabled,
            "cursorForNextPayload": hook.next_cursor,
            "isHookEnabled": self._status(hook) == "active",
            "lastSuccessfulNotificationTime": hook.last_success_time,
            "notificationUrl": hook.notification_url,
            "lastNotificationResult": hook.last_result,
            "expirationTime": _format(hook.expiration_time),
            "specification": hook.specification,
        }


def cell_values(state: BaseState, table_id: str, row: Row) -> dict[str, Any]:
    """A row's non-empty cells by field id, in the cell format of webhook payloads: selects
    as ``{id, name, color}``, links as ``[{id, name}]``, other values as the REST API gives."""
    table = state.schema.table_by_id(table_id)
    out: dict[str, Any] = {}
    for field in table.fields:
        stored = row.fields.get(field.id)
        if stored is None:
            continue
        if field.type == "singleSelect":
            choice = field.choice(stored)
            out[field.id] = choice.to_api() if choice else {"id": stored}
        elif field.type == "multipleSelects":
            choices = [field.choice(item) for item in stored]
            out[field.id] = [c.to_api() for c in choices if c is not None]
        elif field.type == "multipleRecordLinks" and field.linked_table_id is not None:
            target = state.schema.table_by_id(field.linked_table_id)
            primary, rows = target.primary, state.rows.get(target.id, {})
            links = []
            for record_id in stored:
                linked = rows.get(record_id)
                name = primary_text(primary, linked) if linked is not None else ""
                links.append({"id": record_id, "name": name})
            out[field.id] = links
        else:
            convert = values.output_converter(field)
            out[field.id] = convert(stored) if convert is not None else stored
    return out


def primary_text(primary: Any, row: Row) -> str:
    """The primary value of a row as text (a link's ``name``)."""
    return values.display(primary, row.fields.get(primary.id), values.raw_ids)


def _touched_records(event: CommitEvent) -> list[TouchedRecord]:
    records = []
    for change in event.changes:
        if change.before is None and change.after is None:
            continue
        if event.state.rows.get(change.table_id) is None:
            continue
        base_row = change.after or change.before
        assert base_row is not None
        records.append(
            TouchedRecord(
                table_id=change.table_id,
                record_id=change.record_id,
                created_time=base_row.created_time,
                before=cell_values(event.state, change.table_id, change.before)
                if change.before is not None
                else None,
                after=cell_values(event.state, change.table_id, change.after)
                if change.after is not None
                else None,
            )
        )
    return records


def _new_hook_id(taken: dict[str, Any]) -> str:
    hook_id = new_id("ach")
    while hook_id in taken:  # pragma: no cover - one chance in 62**14
        hook_id = new_id("ach")
    return hook_id


def _format(moment: datetime) -> str:
    return values.format_datetime(moment)


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
