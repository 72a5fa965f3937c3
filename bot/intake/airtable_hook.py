"""Following a base through an Airtable webhook: the hook's life, and its payloads journaled.

:class:`HookKeeper` keeps one webhook per followed base
(https://airtable.com/developers/web/api/webhooks-overview):

- **ensure**: the hook the journal names exists on the base and is enabled, else a new one
  is created (its id and MAC secret kept in the journal, its cursor back at 1); it is
  refreshed once fewer than ``refresh_margin_days`` of its 7 days remain, and its
  notifications are turned back on when Airtable turned them off. The loop looks at the hook
  once a minute (one request). A hook that had to be
  replaced leaves a gap — changes made while no hook recorded them — which a sweep delivery
  covers (:meth:`bot.intake.journal_hooks.HookRows.record_sweep`).
- **poll**: the payloads after the journal's cursor are read page by page; each page and the
  cursor after it are journaled in one transaction as ``airtable`` deliveries, de-duplicated
  by webhook id and base transaction number, and the worker is woken. A ping on
  ``POST /airtable/webhook`` (:meth:`poke`) polls at once; a timer polls every
  ``poll_seconds`` whatever comes, so the bot works without a public URL and catches lost
  pings. A hook Airtable no longer knows (404) is replaced at once.

Every call goes through the base's lane: the webhook routes count against the base's 5
requests per second like any other.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pyairtable import Api

from bot.clients.airtable import AirtableError, Lanes
from bot.config import Config
from bot.core.airtable_changes import hook_specification, payload_delivery_id
from bot.intake.journal import Journal
from bot.intake.journal_hooks import HookRow
from bot.intake.journal_rows import NewDelivery
from bot.metrics import Metrics
from bot.sync.airtable_follow import BaseFacts

log = logging.getLogger(__name__)

EVENT = "airtable"
# How often the hook itself is looked at (exists, enabled, not expired, notifying): one
# request a minute, so a hook Airtable disabled or let expire is replaced within a minute.
ENSURE_INTERVAL_SECONDS = 60.0
# How long a ping waits for the pings right behind it before the payloads are listed.
PING_SETTLE_SECONDS = 0.25
# Pause after a failed pass, so an Airtable outage is not hammered.
ERROR_PAUSE_SECONDS = 30.0
DAY_SECONDS = 86_400.0


def followed_bases(config: Config) -> list[str]:
    """The bases the bot follows: every configured base (``[bases]``, else the one base)."""
    bases = list(dict.fromkeys(config.bases_by_owner.values()))
    if not bases and config.airtable_base_id:
        bases = [config.airtable_base_id]
    return bases


def expiry_seconds(expires_at: str | None) -> float | None:
    """An ISO 8601 expiry as Unix time, or None when unknown or unreadable."""
    if not expires_at:
        return None
    try:
        return datetime.fromisoformat(expires_at.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass(frozen=True)
class HookView:
    """What an operator (``check``, ``airtable-webhook status``, ``/readyz``) sees of a hook."""

    base_id: str
    row: HookRow | None
    on_airtable: dict[str, Any] | None  # the hook as Airtable lists it, when asked

    def as_json(self) -> dict[str, Any]:
        """The view as a JSON object."""
        row = self.row
        body: dict[str, Any] = {"webhook": row.webhook_id if row else None}
        if row is not None:
            body |= {
                "expires_at": row.expires_at,
                "cursor": row.cursor,
                "following_since": _iso(row.following_since),
                "last_payload_at": _iso(row.last_payload_at),
                "last_listed_at": _iso(row.last_listed_at),
                "last_error": row.last_error,
                "last_error_at": _iso(row.last_error_at),
                "gap_since": _iso(row.gap_since),
            }
        if self.on_airtable is not None:
            body["on_airtable"] = self.on_airtable
        return body


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at).astimezone().isoformat()


class HookGone(Exception):
    """The base's hook is not on Airtable any more (deleted, expired) or is disabled."""


# A replica that meets an unknown signature reads the hooks' secrets again, at most this often.
SECRETS_REREAD_SECONDS = 1.0


class HookKeeper:
    """The Airtable webhook of every followed base; see the module docstring."""

    def __init__(
        self,
        config: Config,
        *,
        lanes: Lanes,
        journal: Journal,
        metrics: Metrics,
        facts: BaseFacts,
        wake_worker: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.lanes = lanes
        self.journal = journal
        self.metrics = metrics
        self.facts = facts
        self.wake_worker = wake_worker
        self._clock = clock
        self.ensure_seconds = ENSURE_INTERVAL_SECONDS
        self._pokes: dict[str, asyncio.Event] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._secrets: dict[str, tuple[str, bytes]] = {}  # webhook id -> (base, secret)
        for row in journal.hooks():
            self._remember_secret(row)
        self.following = False  # run() follows the bases (the leader, with replicas)
        self._secrets_read_at = time.monotonic()
        self._ping_reads: set[asyncio.Task[None]] = set()

    # -- pings -----------------------------------------------------------------------------

    def verify(self, body: bytes, header: str) -> str | None:
        """The base whose hook signed ``body`` with ``header`` (``hmac-sha256=<hex>``),
        or None. Every known secret is tried in constant time; nothing is parsed first."""
        prefix = "hmac-sha256="
        if not header.startswith(prefix):
            return None
        given = header[len(prefix) :].strip().lower().encode()
        found = self._match(body, given)
        if found is None and self.journal.is_shared:
            # The leader may have replaced a hook since this replica read the secrets: read
            # them again, at most once a second whatever is sent.
            now = time.monotonic()
            if now - self._secrets_read_at >= SECRETS_REREAD_SECONDS:
                self._secrets_read_at = now
                for row in self.journal.hooks():
                    self._remember_secret(row)
                found = self._match(body, given)
        return found

    def _match(self, body: bytes, given: bytes) -> str | None:
        found = None
        for base_id, secret in self._secrets.values():
            expected = hmac.new(secret, body, "sha256").hexdigest().encode()
            if hmac.compare_digest(expected, given):
                found = base_id
        return found

    def poke(self, base_id: str) -> None:
        """A ping came for a base: poll its payloads now. A replica that does not follow
        the bases (another leads) reads the payloads of the hook the leader keeps, once;
        it never creates or replaces a hook."""
        if self.following:
            self._poke(base_id).set()
            return
        task = asyncio.create_task(self._read_for_ping(base_id), name=f"ping-{base_id}")
        self._ping_reads.add(task)
        task.add_done_callback(self._ping_reads.discard)

    async def _read_for_ping(self, base_id: str) -> None:
        try:
            async with self._lock(base_id):
                row = await asyncio.to_thread(self.journal.hook, base_id)
                if row is not None and row.webhook_id and not self._expired(row.expires_at):
                    await self._read_payloads(row)
        except Exception as exc:  # the leader's polling reads them anyway
            await self._note_error(base_id, "read after a ping", exc)

    def _poke(self, base_id: str) -> asyncio.Event:
        return self._pokes.setdefault(base_id, asyncio.Event())

    def _lock(self, base_id: str) -> asyncio.Lock:
        return self._locks.setdefault(base_id, asyncio.Lock())

    def _remember_secret(self, row: HookRow) -> None:
        for webhook_id, (base_id, _) in list(self._secrets.items()):
            if base_id == row.base_id:
                del self._secrets[webhook_id]
        if row.webhook_id and row.mac_secret:
            self._secrets[row.webhook_id] = (row.base_id, base64.b64decode(row.mac_secret))

    # -- the hook's life -------------------------------------------------------------------

    async def status(self, base_id: str, *, ask_airtable: bool = True) -> HookView:
        """The journal's row and, when asked, the hook as Airtable lists it (``{}``: not on
        Airtable). Asking also proves the token may manage the base's webhooks."""
        row = await asyncio.to_thread(self.journal.hook, base_id)
        on_airtable = None
        if ask_airtable:
            hooks = await self._list_hooks(base_id)
            if row is not None and row.webhook_id:
                on_airtable = next((h for h in hooks if h.get("id") == row.webhook_id), {})
        return HookView(base_id, row, on_airtable)

    async def ensure(self, base_id: str) -> HookRow:
        """Make sure the base's hook exists, is enabled, notifies and will not expire soon."""
        async with self._lock(base_id):
            return await self._ensure(base_id)

    async def _ensure(self, base_id: str) -> HookRow:
        row = await asyncio.to_thread(self.journal.hook, base_id)
        hooks = await self._list_hooks(base_id)
        ours = next((h for h in hooks if row is not None and h.get("id") == row.webhook_id), None)
        url = self.config.airtable_to_github.notification_url or None
        usable = (
            row is not None
            and ours is not None
            and ours.get("isHookEnabled", True)
            and not self._expired(ours.get("expirationTime"))
            and (ours.get("notificationUrl") or None) == url
        )
        if usable and row is not None and ours is not None:
            await self._keep_alive(base_id, row, ours, url)
            found = await asyncio.to_thread(self.journal.hook, base_id)
            assert found is not None
            if found.gap_since is not None:
                # A process that died between replacing the hook and journaling its sweep.
                await self._hand_over_gap(found)
            self._observe(found)
            return found
        lane = self.lanes.for_base(base_id)
        stale = [h["id"] for h in hooks if h.get("id") and _left_behind(h, row, url, ours)]
        for webhook_id in stale:
            await self._delete_on_airtable(base_id, webhook_id)
        spec = hook_specification(await self.facts.watched(base_id))
        created = await lane.call(
            "create the webhook",
            lambda api: api.post(
                api.build_url(f"bases/{base_id}/webhooks"),
                json={"notificationUrl": url, "specification": spec},
            ),
        )
        new = await asyncio.to_thread(
            self.journal.save_new_hook,
            base_id,
            created["id"],
            created["macSecretBase64"],
            created.get("expirationTime"),
        )
        self._remember_secret(new)
        why = "replacing " + (row.webhook_id or "a deleted one") if row else "first for the base"
        log.info("Airtable base %s: webhook %s created (%s)", base_id, new.webhook_id, why)
        if new.gap_since is not None:
            await self._hand_over_gap(new)
        self._observe(new)
        return new

    def _expired(self, expires_at: str | None) -> bool:
        moment = expiry_seconds(expires_at)
        return moment is not None and moment <= self._clock()

    async def _keep_alive(
        self, base_id: str, row: HookRow, hook: dict[str, Any], url: str | None
    ) -> None:
        """Refresh a hook near its end; turn its notifications back on."""
        lane = self.lanes.for_base(base_id)
        webhook_path = f"bases/{base_id}/webhooks/{row.webhook_id}"
        if url and not hook.get("areNotificationsEnabled", True):
            await lane.call(
                "enable webhook notifications",
                lambda api: api.post(
                    api.build_url(f"{webhook_path}/enableNotifications"), json={"enable": True}
                ),
            )
            log.info("Airtable base %s: webhook notifications turned back on", base_id)
        expires = expiry_seconds(hook.get("expirationTime") or row.expires_at)
        margin = self.config.airtable_to_github.refresh_margin_days * DAY_SECONDS
        if expires is None or expires - self._clock() < margin:
            refreshed = await lane.call(
                "refresh the webhook",
                lambda api: api.post(api.build_url(f"{webhook_path}/refresh")),
            )
            expiry = (refreshed or {}).get("expirationTime")
            assert row.webhook_id is not None
            await asyncio.to_thread(self.journal.note_hook_expiry, base_id, row.webhook_id, expiry)
            log.info("Airtable base %s: webhook refreshed until %s", base_id, expiry)
        elif hook.get("expirationTime") and hook.get("expirationTime") != row.expires_at:
            assert row.webhook_id is not None
            await asyncio.to_thread(
                self.journal.note_hook_expiry, base_id, row.webhook_id, hook["expirationTime"]
            )

    async def _hand_over_gap(self, row: HookRow) -> None:
        """Journal the sweep of what a replaced hook may have missed."""
        assert row.gap_since is not None
        entry = NewDelivery(
            f"airtable-sweep-{row.base_id}-{int(row.gap_since * 1000)}",
            EVENT,
            "sweep",
            json.dumps(
                {"action": "sweep", "base": {"id": row.base_id}, "since": row.gap_since}
            ).encode(),
            issue_key=f"airtable:{row.base_id}",
        )
        if await asyncio.to_thread(self.journal.record_sweep, row.base_id, entry, row.gap_since):
            log.info(
                "Airtable base %s: changes since %s are swept (the hook was replaced)",
                row.base_id, _iso(row.gap_since),
            )  # fmt: skip
            self.wake_worker()

    async def delete(self, base_id: str) -> str | None:
        """Delete the base's hook on Airtable (the bot stops following it until the next
        ensure); the id deleted, or None when there was none."""
        async with self._lock(base_id):
            row = await asyncio.to_thread(self.journal.hook, base_id)
            if row is None or not row.webhook_id:
                return None
            await self._delete_on_airtable(base_id, row.webhook_id)
            await asyncio.to_thread(self.journal.forget_hook, base_id)
            self._secrets.pop(row.webhook_id, None)
            return row.webhook_id

    async def _delete_on_airtable(self, base_id: str, webhook_id: str) -> None:
        lane = self.lanes.for_base(base_id)
        try:
            await lane.call(
                "delete a webhook",
                lambda api: api.delete(api.build_url(f"bases/{base_id}/webhooks/{webhook_id}")),
            )
        except AirtableError as exc:
            if exc.status != 404:
                raise

    async def _list_hooks(self, base_id: str) -> list[dict[str, Any]]:
        lane = self.lanes.for_base(base_id)
        answer = await lane.call(
            "list webhooks", lambda api: api.get(api.build_url(f"bases/{base_id}/webhooks"))
        )
        return list((answer or {}).get("webhooks") or [])

    # -- payloads --------------------------------------------------------------------------

    async def poll(self, base_id: str) -> int:
        """Journal the payloads after the cursor; how many were new. A hook Airtable no
        longer has is replaced (and its gap swept) first."""
        async with self._lock(base_id):
            row = await asyncio.to_thread(self.journal.hook, base_id)
            if row is None or not row.webhook_id or self._expired(row.expires_at):
                row = await self._ensure(base_id)
            try:
                return await self._read_payloads(row)
            except HookGone:
                log.warning(
                    "Airtable base %s: webhook %s is gone; creating another",
                    base_id, row.webhook_id,
                )  # fmt: skip
                row = await self._ensure(base_id)
                return await self._read_payloads(row)

    async def _read_payloads(self, row: HookRow) -> int:
        base_id, webhook_id = row.base_id, row.webhook_id
        assert webhook_id is not None
        lane = self.lanes.for_base(base_id)
        url = f"bases/{base_id}/webhooks/{webhook_id}/payloads"
        cursor, total = row.cursor, 0
        while True:
            try:
                page = await lane.call(
                    "list webhook payloads",
                    functools.partial(_payload_page, path=url, cursor=cursor),
                )
            except AirtableError as exc:
                if exc.status == 404:
                    raise HookGone(webhook_id) from exc
                raise
            payloads = list(page.get("payloads") or [])
            entries = [
                NewDelivery(
                    payload_delivery_id(webhook_id, payload),
                    EVENT,
                    "payload",
                    _delivery_body(row, payload),
                    issue_key=f"airtable:{base_id}",
                )
                for payload in payloads
            ]
            cursor = int(page.get("cursor") or cursor)
            new = await asyncio.to_thread(
                self.journal.record_payloads, base_id, webhook_id, entries, cursor
            )
            total += new
            self.metrics.airtable_hook_payloads.labels(base=base_id, outcome="new").inc(new)
            self.metrics.airtable_hook_payloads.labels(base=base_id, outcome="seen").inc(
                len(entries) - new
            )
            if new:
                self.wake_worker()
            if not page.get("mightHaveMore") or not payloads:
                break
        found = await asyncio.to_thread(self.journal.hook, base_id)
        if found is not None:
            self._observe(found)
        return total

    # -- the loop --------------------------------------------------------------------------

    async def run(self) -> None:
        """Follow every base until cancelled."""
        bases = followed_bases(self.config)
        if not bases:
            log.warning("Airtable → GitHub is on but no base is configured; nothing to follow")
            return
        self.following = True
        try:
            await asyncio.gather(*(self._follow(base_id) for base_id in bases))
        finally:
            self.following = False

    async def _follow(self, base_id: str) -> None:
        ensured_at: float | None = None
        poke = self._poke(base_id)
        interval = self.config.airtable_to_github.poll_seconds
        while True:
            pause = interval
            try:
                if ensured_at is None or time.monotonic() - ensured_at >= self.ensure_seconds:
                    await self.ensure(base_id)
                    ensured_at = time.monotonic()
                poke.clear()
                await self.poll(base_id)
            except (AirtableError, HookGone) as exc:
                pause = min(interval, ERROR_PAUSE_SECONDS)
                await self._note_error(base_id, "follow", exc)
            except Exception as exc:  # a bug must not end the following for good
                pause = ERROR_PAUSE_SECONDS
                log.exception("Airtable base %s: following its webhook failed", base_id)
                await self._note_error(base_id, "follow", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(poke.wait(), timeout=pause)
                # Pings come in runs (each of the bot's own writes is a payload too): the
                # ones of the next moment share this listing.
                await asyncio.sleep(PING_SETTLE_SECONDS)

    async def _note_error(self, base_id: str, operation: str, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}"
        log.warning("Airtable base %s: webhook %s failed: %s", base_id, operation, message)
        self.metrics.airtable_hook_errors.labels(base=base_id, operation=operation).inc()
        try:
            await asyncio.to_thread(self.journal.note_hook_error, base_id, message)
        except Exception:
            log.exception("could not record the webhook error in the journal")

    def _observe(self, row: HookRow) -> None:
        """Copy a row into the gauges."""
        base = row.base_id
        self.metrics.airtable_hook_expiry.labels(base=base).set(expiry_seconds(row.expires_at) or 0)
        self.metrics.airtable_hook_last_payload.labels(base=base).set(row.last_payload_at or 0)
        self.metrics.airtable_hook_last_listing.labels(base=base).set(row.last_listed_at or 0)


def _delivery_body(row: HookRow, payload: dict[str, Any]) -> bytes:
    """The journaled body of one payload: the payload, with its base and hook, when the bot
    began following the base (older records get no issue unasked), and the ``action`` the
    handlers' router dispatches on (gidgethub reads it from the body)."""
    body = {
        "action": "payload",
        "base": {"id": row.base_id},
        "webhook": {"id": row.webhook_id},
        "following_since": row.following_since,
        "payload": payload,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _payload_page(api: Api, path: str, cursor: int) -> dict[str, Any]:
    """One page of a hook's payloads from ``cursor``."""
    return dict(api.get(api.build_url(path), params={"cursor": cursor}))


def _left_behind(
    hook: dict[str, Any], row: HookRow | None, url: str | None, ours: dict[str, Any] | None
) -> bool:
    """Whether a hook on the base is one of the bot's to delete before creating another:
    the one it followed (disabled, or with another URL), or one sent to this bot's URL that
    it never learned the secret of (created by a process that died before keeping it)."""
    if ours is not None and hook is ours:
        return True
    if row is not None and hook.get("id") == row.webhook_id:
        return True
    return bool(url) and hook.get("notificationUrl") == url
