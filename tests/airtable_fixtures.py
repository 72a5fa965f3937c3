"""Pytest fixtures for the Airtable side: the embedded Airtable-compatible server, started.

Loaded as a plugin from ``tests/conftest.py`` (``pytest_plugins``). Each server runs in a
background thread (``LocalAirtable``), so tests use the real, synchronous pyairtable:

- ``local_airtable``: the demo base (README: Quick start), rate limit off, 0.2 s penalty;
- ``local_airtable_empty``: the schema of section 3 with no records;
- ``local_airtable_factory``: start servers with any ``LocalAirtable`` options;
- ``types_base``: a base (in ``local_airtable``) with one field of every supported type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from bot.airtable_local.thread import LocalAirtable

TYPES_BASE_ID = "appTypesBase00001"
TYPES_SPEC: dict[str, Any] = {
    "name": "Types",
    "tables": [
        {
            "name": "Things",
            "fields": [
                {"name": "Name", "type": "singleLineText"},
                {"name": "Notes", "type": "multilineText"},
                {"name": "Link", "type": "url"},
                {"name": "Email", "type": "email"},
                {"name": "Count", "type": "number"},
                {"name": "Price", "type": "currency"},
                {"name": "Done", "type": "checkbox"},
                {"name": "Day", "type": "date"},
                {"name": "At", "type": "dateTime"},
                {"name": "Size", "type": "singleSelect", "options": {"choices": ["S", "M"]}},
                {"name": "Tags", "type": "multipleSelects", "options": {"choices": ["a", "b"]}},
                {
                    "name": "Parts",
                    "type": "multipleRecordLinks",
                    "options": {"linkedTable": "Parts"},
                },
                {
                    "name": "Related",
                    "type": "multipleRecordLinks",
                    "options": {"linkedTable": "Things"},
                },
            ],
        },
        {"name": "Parts", "fields": [{"name": "Label", "type": "singleLineText"}]},
    ],
}


def airtable_request(
    at: LocalAirtable,
    method: str,
    path: str,
    *,
    token: str | None = None,
    **kwargs: Any,
) -> requests.Response:
    """A raw HTTP request to the server (``path`` after the host), with its bearer token."""
    headers = dict(kwargs.pop("headers", {}))
    if token is None:
        token = at.token
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, at.url + path, headers=headers, timeout=10, **kwargs)


@pytest.fixture
def local_airtable() -> Iterator[LocalAirtable]:
    """The embedded Airtable with the demo base, rate limit off (penalty 0.2 s if turned on)."""
    with LocalAirtable(seed="demo", requests_per_second=None, penalty_seconds=0.2) as at:
        yield at


@pytest.fixture
def local_airtable_empty() -> Iterator[LocalAirtable]:
    """The embedded Airtable with the section-3 schema and no records, rate limit off."""
    with LocalAirtable(seed="empty", requests_per_second=None, penalty_seconds=0.2) as at:
        yield at


@pytest.fixture
def local_airtable_factory() -> Iterator[Callable[..., LocalAirtable]]:
    """Start embedded Airtables with any ``LocalAirtable`` options; all stop at teardown."""
    started: list[LocalAirtable] = []

    def start(**options: Any) -> LocalAirtable:
        options.setdefault("requests_per_second", None)
        at = LocalAirtable(**options).start()
        started.append(at)
        return at

    yield start
    for at in reversed(started):
        at.stop()


@pytest.fixture
def types_base(local_airtable: LocalAirtable) -> str:
    """The id of a base, next to the demo base, whose ``Things`` table has every field type."""
    local_airtable.store.create_base(TYPES_BASE_ID, TYPES_SPEC)
    return TYPES_BASE_ID
