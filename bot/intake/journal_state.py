"""The journal's small durable state beside the deliveries, kept per key in the same file.

- ``meta``: small persistent settings (recovery's point in GitHub's delivery log, the last
  write check of ``/readyz``).
- ``watermarks``: per issue, the newest ``updated_at`` whose state was applied, so a stale
  delivery (a retry, an operator's replay) cannot undo a newer state.
- ``not_visible``: issues GitHub answered 404 for, named by ``/metrics``, ``sync`` and ``check``.

:class:`JournalState` holds them on a :class:`~bot.intake.journal_schema.JournalFile`;
:class:`bot.intake.journal.Journal` adds the delivery queue to it.
"""

from __future__ import annotations

import time
from datetime import datetime

from bot.intake.journal_schema import SET_META, JournalFile


class JournalState(JournalFile):
    """Meta values, per-issue watermarks and not-visible issues; see the module docstring."""

    # -- small persistent settings ---------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """The value stored under *key* in the journal's ``meta`` table; None when unset."""
        row = self._read_one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Store *value* under *key* (replacing what was there), durably."""
        with self._write() as tx:
            tx.execute(SET_META, (key, value))

    # -- issues GitHub does not let the bot see ---------------------------------------------

    def note_not_visible(self, issue_key: str, url: str, repository: str) -> bool:
        """Remember that GitHub answered 404 for an issue; True when it was not known yet."""
        at = time.time()
        with self._write() as tx:
            tx.lock(f"not-visible:{issue_key}")
            known = tx.execute(
                "SELECT 1 FROM not_visible WHERE issue_key = ?", (issue_key,)
            ).fetchone()
            tx.execute(
                "INSERT INTO not_visible (issue_key, url, repository, first_seen, last_seen)"
                " VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (issue_key) DO UPDATE SET last_seen = excluded.last_seen",
                (issue_key, url, repository, at, at),
            )
        return known is None

    def clear_not_visible(self, issue_key: str) -> None:
        """Forget an issue GitHub answered 404 for (it was read again)."""
        with self._write() as tx:
            tx.execute("DELETE FROM not_visible WHERE issue_key = ?", (issue_key,))

    def not_visible(self) -> list[tuple[str, str, float]]:
        """Issues GitHub last answered 404 for: ``(url, repository, first_seen)``, oldest first."""
        rows = self._read(
            "SELECT url, repository, first_seen FROM not_visible ORDER BY first_seen, url"
        )
        return [(str(u), str(r), float(f)) for u, r, f in rows]

    # -- per-issue watermarks --------------------------------------------------------------

    def watermark(self, issue_key: str) -> str | None:
        """The newest ``updated_at`` applied for an issue, as given; None before any."""
        row = self._read_one("SELECT updated_at FROM watermarks WHERE issue_key = ?", (issue_key,))
        return None if row is None else str(row[0])

    def advance_watermark(self, issue_key: str, updated_at: str) -> bool:
        """Record that the issue's state as of *updated_at* is applied, unless it is older than
        the stored watermark; return whether the caller should apply it.

        *updated_at* is ISO 8601 with a time zone (GitHub's ``2024-05-01T12:00:00Z``); times
        are compared as datetimes, so ``Z`` and ``+02:00`` mix. Equal to the stored one returns
        True (nothing is written): GitHub's ``updated_at`` has one-second resolution, so two
        changes in the same second carry the same value, and a redelivery of the same state
        re-applies idempotently. Only a strictly older time returns False. Raises
        ``ValueError`` for a time without a time zone or not ISO 8601.
        """
        new = _aware(updated_at)
        with self._write() as tx:
            tx.lock(f"watermark:{issue_key}")  # replicas deciding on one issue take turns
            row = tx.execute(
                "SELECT updated_at FROM watermarks WHERE issue_key = ?", (issue_key,)
            ).fetchone()
            if row is not None:
                old = _aware(row[0])
                if new < old:
                    return False
                if new == old:
                    return True
            tx.execute(
                "INSERT INTO watermarks (issue_key, updated_at) VALUES (?, ?)"
                " ON CONFLICT (issue_key) DO UPDATE SET updated_at = excluded.updated_at",
                (issue_key, updated_at),
            )
        return True


def _aware(value: str) -> datetime:
    """Parse an ISO 8601 time that must carry a time zone."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return parsed
