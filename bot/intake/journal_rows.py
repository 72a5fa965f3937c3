"""A journaled delivery as the code sees it and as its row in the ``deliveries`` table stores it.

The payload is stored as zlib-compressed JSON (a GitHub payload shrinks about 5-10 times);
a payload given as bytes is stored exactly as GitHub sent it.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any, Final

COLUMNS: Final = (
    "id, event, action, payload, received_at, state, attempts, next_attempt_at, last_error,"
    " issue_key"
)
Row = tuple[str, str, str | None, bytes, float, str, int, float, str | None, str | None]
# One delivery's insert is INSERT; several in one statement are INSERT_PREFIX followed by
# INSERT_VALUES once per row, joined with ", ", then INSERT_SUFFIX. A delivery whose id is
# known is left as it is, and RETURNING names those that were new.
INSERT_PREFIX: Final = (
    "INSERT INTO deliveries"
    " (id, event, action, payload, received_at, state, next_attempt_at, issue_key) VALUES "
)
INSERT_VALUES: Final = "(?, ?, ?, ?, ?, 'pending', ?, ?)"
INSERT_SUFFIX: Final = " ON CONFLICT (id) DO NOTHING RETURNING id"
INSERT: Final = INSERT_PREFIX + INSERT_VALUES + INSERT_SUFFIX


@dataclass(frozen=True)
class NewDelivery:
    """A delivery about to be journaled: its body is JSON text already checked by the caller."""

    delivery_id: str
    event: str
    action: str | None
    body: bytes
    issue_key: str | None = None


@dataclass(frozen=True)
class Delivery:
    """One journaled webhook delivery."""

    id: str  # X-GitHub-Delivery
    event: str  # X-GitHub-Event
    action: str | None
    payload: dict[str, Any]  # decoded JSON
    received_at: float  # epoch seconds
    state: str  # one of STATES
    attempts: int
    next_attempt_at: float
    last_error: str | None
    issue_key: str | None  # e.g. "example-org/infrastructure#1", for per-issue coalescing


def body_of(delivery_id: str, payload: bytes | dict[str, Any]) -> bytes:
    """The JSON text to store for *payload*: a request body as sent, or a dict encoded.

    Raises ``ValueError`` when it is not a JSON object, ``TypeError`` for another type.
    """
    if isinstance(payload, dict):
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    if isinstance(payload, bytes | bytearray | memoryview):
        body = bytes(payload)
        # Checked now: a body that cannot be decoded would otherwise fail the worker later.
        if not isinstance(json.loads(body), dict):
            raise ValueError(f"delivery {delivery_id}: the payload is not a JSON object")
        return body
    raise TypeError(f"payload must be bytes or dict, not {type(payload).__name__}")


def compress(body: bytes) -> bytes:
    """The stored form of a body: level 1 has most of the size gain at a fraction of the time."""
    return zlib.compress(body, 1)


def delivery_of(row: Row, *, readable_only: bool = True, **changes: Any) -> Delivery:
    """A Delivery from a row of COLUMNS, with *changes* applied. An undecodable payload
    raises (``zlib.error`` or ``ValueError``), or with ``readable_only=False`` reads as ``{}``."""
    fields: dict[str, Any] = dict(
        zip(
            (
                "id", "event", "action", "payload", "received_at", "state", "attempts",
                "next_attempt_at", "last_error", "issue_key",
            ),
            row,
            strict=True,
        )
    )  # fmt: skip
    try:
        fields["payload"] = json.loads(zlib.decompress(row[3]))
    except (zlib.error, ValueError):
        if readable_only:
            raise
        fields["payload"] = {}
    fields.update(changes)
    return Delivery(**fields)
