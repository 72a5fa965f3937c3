"""What the tests of the embedded Airtable share: id patterns, paths, error and record lookups."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from pyairtable.formulas import match

from bot.airtable_local import DEMO_BASE_ID
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
