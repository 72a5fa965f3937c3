"""The Airtable webhooks the bot follows, one row per base in the journal's file.

A row holds the hook's id and MAC secret (to check Airtable's pings), the cursor of the next
payload to read, the expiry Airtable last gave, and what ``check``, ``/readyz`` and
``/metrics`` show: when a payload last arrived, when the payloads were last listed, the last
error. ``following_since`` is when the bot first followed the base: records older than that
get issues only when an operator asks. ``gap_since`` is set when a hook had to be replaced
(expired, disabled, deleted): changes made since then may never reach the new hook, so a
sweep covers them and clears it.

Payloads and the cursor that follows them are written in one transaction
(:meth:`HookRows.record_payloads`): a crash between reading a page and journaling it reads
the page again, and the journal's de-duplication by delivery id (webhook id and base
transaction number) makes that harmless.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from bot.intake.journal_rows import INSERT, NewDelivery, compress
from bot.intake.journal_schema import JournalFile

COLUMNS: Final = (
    "base_id, webhook_id, mac_secret, cursor, expires_at, following_since, created_at,"
    " last_payload_at, last_listed_at, last_error, last_error_at, gap_since"
)


@dataclass(frozen=True)
class HookRow:
    """What the bot keeps of the webhook it follows on one base."""

    base_id: str
    webhook_id: str | None
    mac_secret: str | None
    cursor: int
    expires_at: str | None
    following_since: float
    created_at: float | None
    last_payload_at: float | None
    last_listed_at: float | None
    last_error: str | None
    last_error_at: float | None
    gap_since: float | None


class HookRows(JournalFile):
    """The ``airtable_hooks`` table of the journal; see the module docstring."""

    def hook(self, base_id: str) -> HookRow | None:
        """The row of a base, or None when the bot never followed it."""
        row = self._read_one(f"SELECT {COLUMNS} FROM airtable_hooks WHERE base_id = ?", (base_id,))
        return None if row is None else HookRow(*row)

    def hooks(self) -> list[HookRow]:
        """Every base's row, by base id."""
        return [
            HookRow(*row)
            for row in self._read(f"SELECT {COLUMNS} FROM airtable_hooks ORDER BY base_id")
        ]

    def save_new_hook(
        self,
        base_id: str,
        webhook_id: str,
        mac_secret: str,
        expires_at: str | None,
        *,
        now: float | None = None,
    ) -> HookRow:
        """Store a hook just created for a base, its cursor at 1. Replacing a hook the bot
        had followed sets ``gap_since`` to the last moment the old one was known to work."""
        at = time.time() if now is None else now
        with self._write() as tx:
            tx.lock(f"hook:{base_id}")
            old = tx.execute(
                "SELECT webhook_id, last_listed_at, created_at, gap_since, following_since"
                " FROM airtable_hooks WHERE base_id = ?",
                (base_id,),
            ).fetchone()
            if old is None:
                tx.execute(
                    "INSERT INTO airtable_hooks (base_id, webhook_id, mac_secret, cursor,"
                    " expires_at, following_since, created_at) VALUES (?, ?, ?, 1, ?, ?, ?)",
                    (base_id, webhook_id, mac_secret, expires_at, at, at),
                )
            else:
                _, listed, created, gap, following = old
                # The oldest moment not known to be covered: an earlier gap still open, else
                # the old hook's last listing, else its creation.
                start = next(t for t in (gap, listed, created, following) if t is not None)
                tx.execute(
                    "UPDATE airtable_hooks SET webhook_id = ?, mac_secret = ?, cursor = 1,"
                    " expires_at = ?, created_at = ?, last_error = NULL, last_error_at = NULL,"
                    " gap_since = ? WHERE base_id = ?",
                    (webhook_id, mac_secret, expires_at, at, start, base_id),
                )
        found = self.hook(base_id)
        assert found is not None
        return found

    def note_hook_expiry(self, base_id: str, webhook_id: str, expires_at: str | None) -> None:
        """Remember the expiry Airtable gave after a refresh or a listing."""
        with self._write() as tx:
            tx.execute(
                "UPDATE airtable_hooks SET expires_at = ? WHERE base_id = ? AND webhook_id = ?",
                (expires_at, base_id, webhook_id),
            )

    def note_hook_error(self, base_id: str, error: str, *, now: float | None = None) -> None:
        """Remember the last error met while following a base (kept after it recovers)."""
        at = time.time() if now is None else now
        with self._write() as tx:
            tx.execute(
                "UPDATE airtable_hooks SET last_error = ?, last_error_at = ? WHERE base_id = ?",
                (error[:500], at, base_id),
            )

    def forget_hook(self, base_id: str) -> None:
        """The hook was deleted: keep the row (and when the bot began following the base)."""
        with self._write() as tx:
            tx.execute(
                "UPDATE airtable_hooks SET webhook_id = NULL, mac_secret = NULL, cursor = 1,"
                " expires_at = NULL WHERE base_id = ?",
                (base_id,),
            )

    def record_payloads(
        self,
        base_id: str,
        webhook_id: str,
        entries: Sequence[NewDelivery],
        cursor: int,
        *,
        now: float | None = None,
    ) -> int:
        """Journal a page of payloads as pending deliveries and move the cursor past them, in
        one transaction; returns how many were new. Nothing is written when the base's hook
        is no longer ``webhook_id`` (it was replaced meanwhile)."""
        at = time.time() if now is None else now
        new = 0
        with self._write() as tx:
            tx.lock(f"hook:{base_id}")
            current = tx.execute(
                "SELECT webhook_id FROM airtable_hooks WHERE base_id = ?", (base_id,)
            ).fetchone()
            if current is None or current[0] != webhook_id:
                return 0
            for entry in entries:
                cursor_row = tx.execute(
                    INSERT,
                    (
                        entry.delivery_id, entry.event, entry.action, compress(entry.body),
                        at, at, entry.issue_key,
                    ),
                )  # fmt: skip
                new += len(cursor_row.fetchall())
            if new:
                tx.notify()
            payload_at = at if entries else None
            tx.execute(
                "UPDATE airtable_hooks SET cursor = ?, last_listed_at = ?,"
                " last_payload_at = COALESCE(?, last_payload_at) WHERE base_id = ?",
                (cursor, at, payload_at, base_id),
            )
        return new

    def record_sweep(self, base_id: str, entry: NewDelivery, gap_since: float) -> bool:
        """Journal the sweep that covers a replaced hook's gap and clear the gap, in one
        transaction; False when that gap was already handed over."""
        at = time.time()
        with self._write() as tx:
            tx.lock(f"hook:{base_id}")
            row = tx.execute(
                "SELECT gap_since FROM airtable_hooks WHERE base_id = ?", (base_id,)
            ).fetchone()
            if row is None or row[0] is None:
                return False
            tx.execute(
                INSERT,
                (entry.delivery_id, entry.event, entry.action, compress(entry.body), at, at,
                 entry.issue_key),
            ).fetchall()  # fmt: skip
            tx.notify()
            tx.execute(
                "UPDATE airtable_hooks SET gap_since = NULL WHERE base_id = ? AND gap_since = ?",
                (base_id, gap_since),
            )
        return True
