"""GitHub's webhook payload schemas (octokit/webhooks, draft-07), for checking test payloads.

The schemas live outside the project, in ``shared/fixtures/github-webhook-schemas`` next to
it; they are read in place, never copied. A test that needs them is skipped when they are
not there.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

SCHEMAS = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "github-webhook-schemas"


def format_checker() -> FormatChecker:
    """Check the formats the payloads use, without optional jsonschema extras installed."""
    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return "T" in value

    @checker.checks("uri")
    def _uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(parts.scheme and (parts.netloc or parts.scheme == "mailto"))

    return checker


@functools.cache
def registry() -> Registry:
    """Every schema of the folder as a ``referencing`` registry keyed by ``$id`` (read once)."""
    resources = []
    for path in sorted(SCHEMAS.rglob("*.schema.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resource = Resource.from_contents(contents, default_specification=DRAFT7)
        resources.append((contents["$id"], resource))
    return Registry().with_resources(resources)


def require_schemas() -> None:
    """Skip the calling test when the schemas folder is not there."""
    if not SCHEMAS.is_dir():
        pytest.skip(f"GitHub webhook schemas not found at {SCHEMAS}")


def validator(event: str, action: str | None) -> Draft7Validator:
    """A validator of GitHub's schema for *event* and *action* (``event.schema.json`` for an
    event without actions), ``$ref``\\ s and formats included. Skips without the schemas."""
    require_schemas()
    path = SCHEMAS / event / f"{action or 'event'}.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    return Draft7Validator(schema, registry=registry(), format_checker=format_checker())
