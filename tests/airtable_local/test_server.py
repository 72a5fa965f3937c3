"""Tests of the HTTP side (:mod:`bot.airtable_local.server`): routes, tokens, limits,
and the ``airtable-local`` command's entry point."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from pyairtable import Api

from bot.airtable_local import DEMO_BASE_ID
from bot.airtable_local.server import run
from bot.airtable_local.thread import LocalAirtable
from tests.airtable_fixtures import airtable_request
from tests.airtable_local.support import (
    BASE,
    CREATED_TIME,
    PROJECTS_PATH,
    RECORD_ID,
    error_of,
)
from tests.constants import DELIVERABLES


def test_create_read_update_replace_delete(local_airtable: LocalAirtable) -> None:
    table = local_airtable.table(DELIVERABLES)
    created = table.create({"Name": "Write docs", "Status": "Todo", "Assignees": "alice"})
    assert RECORD_ID.match(created["id"])
    assert CREATED_TIME.match(created["createdTime"])
    assert created["fields"] == {"Name": "Write docs", "Status": "Todo", "Assignees": "alice"}
    assert table.get(created["id"]) == created
    updated = table.update(created["id"], {"Status": "Done", "Completed": "2026-02-03T04:05:06Z"})
    assert updated["fields"] == {
        "Name": "Write docs",
        "Status": "Done",
        "Assignees": "alice",
        "Completed": "2026-02-03T04:05:06.000Z",
    }
    replaced = table.update(created["id"], {"Name": "Write the docs"}, replace=True)
    assert replaced["fields"] == {"Name": "Write the docs"}
    assert replaced["createdTime"] == created["createdTime"]
    assert table.delete(created["id"]) == {"id": created["id"], "deleted": True}
    with pytest.raises(requests.HTTPError) as exc:
        table.get(created["id"])
    assert error_of(exc) == (404, {"error": "NOT_FOUND"})


def test_batch_create_update_and_delete(local_airtable: LocalAirtable) -> None:
    table = local_airtable.table(DELIVERABLES)
    names = [f"Task {i}" for i in range(23)]
    created = table.batch_create([{"Name": name} for name in names])
    assert [r["fields"]["Name"] for r in created] == names
    updated = table.batch_update(
        [{"id": r["id"], "fields": {"Status": "Blocked"}} for r in created]
    )
    assert {r["fields"]["Status"] for r in updated} == {"Blocked"}
    replaced = table.batch_update(
        [{"id": r["id"], "fields": {"Assignees": "bob"}} for r in created], replace=True
    )
    assert all(r["fields"] == {"Assignees": "bob"} for r in replaced)
    deleted = table.batch_delete([r["id"] for r in created])
    assert deleted == [{"id": r["id"], "deleted": True} for r in created]
    assert len(table.all()) == 3


def test_upsert_response_shape_over_raw_http(local_airtable: LocalAirtable) -> None:
    response = airtable_request(
        local_airtable,
        "PATCH",
        f"/v0/{DEMO_BASE_ID}/Projects",
        json={
            "performUpsert": {"fieldsToMergeOn": ["Name"]},
            "records": [{"fields": {"Name": "Setup workshop hub", "Status": "Complete"}}],
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"records", "createdRecords", "updatedRecords"}
    assert body["createdRecords"] == [] and body["updatedRecords"] == [body["records"][0]["id"]]
    # A record with an id is a plain update, even in an upsert.
    record_id = body["records"][0]["id"]
    response = airtable_request(
        local_airtable,
        "PATCH",
        f"/v0/{DEMO_BASE_ID}/Projects",
        json={
            "performUpsert": {"fieldsToMergeOn": ["Name"]},
            "records": [{"id": record_id, "fields": {"Name": "Renamed"}}],
        },
    )
    assert response.json()["updatedRecords"] == [record_id]


def test_urls_over_16000_characters_are_414(local_airtable: LocalAirtable) -> None:
    response = airtable_request(
        local_airtable, "GET", PROJECTS_PATH, params={"filterByFormula": "'" + "x" * 16_000 + "'"}
    )
    assert response.status_code == 414
    assert response.json()["error"]["type"] == "URL_TOO_LONG"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer wrong-token",
        "local",
        "Basic bG9jYWw=",
        "Bearer localx",
        "Bearer lòcal".encode(),
    ],
    ids=["missing", "wrong", "no-scheme", "basic", "longer", "non-ascii"],
)
def test_bad_tokens_are_401(local_airtable: LocalAirtable, header: str | bytes | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = requests.get(local_airtable.url + PROJECTS_PATH, headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "AUTHENTICATION_REQUIRED"
    with pytest.raises(requests.HTTPError) as exc:
        Api("wrong", endpoint_url=local_airtable.url).table(BASE, "Projects").all()
    assert error_of(exc)[0] == 401


def test_oversized_bodies_are_413(local_airtable_factory: Callable[..., LocalAirtable]) -> None:
    at = local_airtable_factory(seed="demo", max_body_bytes=4000)
    table = at.table(DELIVERABLES)
    assert table.create({"Name": "x" * 1000})["fields"]["Name"] == "x" * 1000
    with pytest.raises(requests.HTTPError) as exc:
        table.create({"Name": "x" * 5000})
    status, body = error_of(exc)
    assert (status, body["error"]["type"]) == (413, "REQUEST_TOO_LARGE")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        yield b'{"fields": {"Name": "'
        yield b"x" * 5000
        yield b'"}}'

    response = airtable_request(
        at,
        "POST",
        f"/v0/{BASE}/{DELIVERABLES}",
        data=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert len(table.all()) == 4


async def test_run_prints_where_it_serves_and_serves(tmp_path: Any) -> None:
    out, stop = io.StringIO(), asyncio.Event()
    task = asyncio.create_task(
        run(
            port=0,
            db_path=tmp_path / "db.sqlite3",
            seed="demo",
            token="secret-token",
            requests_per_second=None,
            stop=stop,
            out=out,
        )
    )
    for _ in range(200):
        if out.getvalue():
            break
        await asyncio.sleep(0.01)
    banner = out.getvalue()
    url = re.search(r"http://127\.0\.0\.1:\d+", banner)
    assert url is not None and DEMO_BASE_ID in banner and "secret-token" not in banner
    response = await asyncio.to_thread(
        requests.get,
        f"{url.group(0)}/v0/{DEMO_BASE_ID}/Projects",
        headers={"Authorization": "Bearer secret-token"},
        timeout=10,
    )
    assert response.json()["records"][0]["fields"]["Name"] == "Setup workshop hub"
    stop.set()
    await asyncio.wait_for(task, 10)
