"""What the tests of the embedded Airtable share: id patterns, paths, error and record lookups,
and reading what changed since a moment."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from pyairtable import Table
from pyairtable.formulas import match

from bot.airtable_local import DEMO_BASE_ID, values
from bot.airtable_local.thread import LocalAirtable
from tests.constants import DEMO_PROJECT, PROJECTS

RECORD_ID = re.compile(r"^rec[A-Za-z0-9]{14}$")
CREATED_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
MISSING_ID = "recAAAAAAAAAAAAAA"
BASE = DEMO_BASE_ID
PROJECTS_PATH = f"/v0/{BASE}/{PROJECTS}"


def error_of(exc: pytest.ExceptionInfo[requests.HTTPError]) -> tuple[int, Any]:
    """The status and JSON body behind a pyairtable HTTPError."""
    response = exc.value.response
    assert response is not None
    return response.status_code, response.json()


def project_id(at: LocalAirtable, name: str = DEMO_PROJECT) -> str:
    """The id of a demo project, found by name."""
    record = at.table(PROJECTS).first(formula=match({"Name": name}))
    assert record is not None
    return str(record["id"])


def moment() -> str:
    """Now, as Airtable writes times: writes made before the call are stamped earlier, writes
    made after it returns later (times have milliseconds: the clock is let move on around it)."""
    time.sleep(0.003)
    now = values.format_datetime(datetime.now(UTC))
    time.sleep(0.003)
    return now


def changed_since(table: Table, since: str) -> set[str]:
    """The ids of the records created or modified after ``since``, read as the bot reads them."""
    after = f"DATETIME_PARSE('{since}')"
    formula = f"OR(IS_AFTER(LAST_MODIFIED_TIME(), {after}), IS_AFTER(CREATED_TIME(), {after}))"
    return {record["id"] for record in table.all(formula=formula)}


def holds(table: Table, record_id: str, formula: str) -> bool:
    """Whether ``formula`` is true for the record (filtering the table by it finds it)."""
    return record_id in {record["id"] for record in table.all(formula=formula)}
