"""Tests of Airtable's webhooks in the embedded server (:mod:`bot.airtable_local.webhooks`,
:mod:`bot.airtable_local.webhook_routes`): pyairtable's own webhook client, every route,
filters and includes over real writes, expiry, persistence, and pings over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from pyairtable.models.webhook import WebhookNotification

from bot.airtable_local.server import (
    LOCAL_CLIENT_TOKEN,
    LOCAL_CLIENT_USER_ID,
    LOCAL_USER_ID,
)
from bot.airtable_local.store import Store
from bot.airtable_local.thread import LocalAirtable
from tests.airtable_fixtures import airtable_request
from tests.airtable_local.support import (
    BASE,
    PingReceiver,
    error_of,
    field_id,
    project_id,
    table_id,
    unreachable_url,
)
from tests.constants import DELIVERABLES, PROJECTS

HOOK_ID = re.compile(r"^ach[A-Za-z0-9]{14}$")
HOOKS_PATH = f"/v0/bases/{BASE}/webhooks"
DAY = 86400.0
TABLE_DATA: dict[str, Any] = {"options": {"filters": {"dataTypes": ["tableData"]}}}


@pytest.fixture
def receiver() -> Iterator[PingReceiver]:
    """A ping receiver on 127.0.0.1 answering 200."""
    with PingReceiver() as started:
        yield started


def _create(at: LocalAirtable, spec: dict[str, Any], url: str | None = None) -> dict[str, Any]:
    response = airtable_request(
        at, "POST", HOOKS_PATH, json={"notificationUrl": url, "specification": spec}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _payloads(at: LocalAirtable, hook_id: str, **params: Any) -> dict[str, Any]:
    response = airtable_request(at, "GET", f"{HOOKS_PATH}/{hook_id}/payloads", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _listed(at: LocalAirtable, hook_id: str) -> dict[str, Any] | None:
    response = airtable_request(at, "GET", HOOKS_PATH)
    assert response.status_code == 200
    hooks = {hook["id"]: hook for hook in response.json()["webhooks"]}
    return hooks.get(hook_id)


def _scoped(at: LocalAirtable, table: str = PROJECTS, **filters: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "options": {
            "filters": {"dataTypes": ["tableData"], "recordChangeScope": table_id(at, table)}
        }
    }
    spec["options"]["filters"].update(filters)
    return spec


def _verify_mac(secret_base64: str, body: bytes, header: str) -> bool:
    expected = hmac.new(base64.b64decode(secret_base64), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header, f"hmac-sha256={expected}")


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- pyairtable's own client ------------------------------------------------------------------


def test_pyairtable_webhook_client_unmodified(
    local_airtable: LocalAirtable, receiver: PingReceiver
) -> None:
    base = local_airtable.api().base(BASE)
    created = base.add_webhook(receiver.url, TABLE_DATA)
    assert HOOK_ID.match(created.id)
    assert created.expiration_time is not None

    record = local_airtable.client_table(PROJECTS).create({"Name": "Typed by a person"})
    assert local_airtable.wait_for_pings()
    pings = receiver.received()
    assert len(pings) == 1
    header = pings[0].headers["X-Airtable-Content-MAC"]
    notification = WebhookNotification.from_request(
        pings[0].body.decode(), header, created.mac_secret_base64
    )
    assert notification.base.id == BASE and notification.webhook.id == created.id
    with pytest.raises(ValueError):
        WebhookNotification.from_request(pings[0].body.decode(), header, "b3RoZXI=")

    (webhook,) = base.webhooks()
    assert webhook.id == created.id
    assert webhook.notification_url == receiver.url
    assert webhook.is_hook_enabled and webhook.are_notifications_enabled
    assert webhook.cursor_for_next_payload == 2
    assert webhook.last_notification_result is not None
    assert webhook.last_notification_result.success
    assert webhook.last_successful_notification_time is not None
    assert webhook.specification.options.filters.data_types == ["tableData"]

    (payload,) = list(webhook.payloads(cursor=1))
    assert payload.cursor == 1 and payload.payload_format == "v0"
    assert payload.action_metadata is not None
    assert payload.action_metadata.source == "client"
    assert payload.action_metadata.source_metadata["user"]["id"] == LOCAL_CLIENT_USER_ID
    (changes,) = payload.changed_tables_by_id.values()
    created_record = changes.created_records_by_id[record["id"]]
    assert created_record.cell_values_by_field_id == {
        field_id(local_airtable, PROJECTS, "Name"): "Typed by a person"
    }
    assert list(webhook.payloads(cursor=2)) == []

    local_airtable.advance_clock(DAY)
    before = webhook.expiration_time
    webhook.extend_expiration()
    assert _when(str(webhook.expiration_time)) > before  # type: ignore[operator]

    webhook.disable_notifications()
    assert not base.webhooks()[0].are_notifications_enabled
    local_airtable.table(PROJECTS).update(record["id"], {"Name": "Edited quietly"})
    assert local_airtable.wait_for_pings() and len(receiver.received()) == 1
    webhook.enable_notifications()
    assert base.webhooks()[0].are_notifications_enabled

    webhook.delete()
    assert base.webhooks() == []


# -- the routes -----------------------------------------------------------------------------


def test_create_answers_id_secret_and_expiry_and_list_gives_every_field(
    local_airtable: LocalAirtable,
) -> None:
    created = _create(local_airtable, TABLE_DATA, "https://example.com/hook")
    assert set(created) == {"id", "macSecretBase64", "expirationTime"}
    assert HOOK_ID.match(created["id"])
    assert len(base64.b64decode(created["macSecretBase64"])) == 32
    lifetime = _when(created["expirationTime"]) - datetime.now(UTC)
    assert timedelta(days=7) - timedelta(minutes=1) < lifetime <= timedelta(days=7)
    assert _listed(local_airtable, created["id"]) == {
        "id": created["id"],
        "areNotificationsEnabled": True,
        "cursorForNextPayload": 1,
        "isHookEnabled": True,
        "lastSuccessfulNotificationTime": None,
        "notificationUrl": "https://example.com/hook",
        "lastNotificationResult": None,
        "expirationTime": created["expirationTime"],
        "specification": TABLE_DATA,
    }


def test_a_base_has_at_most_ten_webhooks(local_airtable: LocalAirtable) -> None:
    hooks = [_create(local_airtable, TABLE_DATA)["id"] for _ in range(10)]
    response = airtable_request(
        local_airtable, "POST", HOOKS_PATH, json={"specification": TABLE_DATA}
    )
    assert response.status_code == 422
    assert response.json()["error"]["type"] == "TOO_MANY_WEBHOOKS_IN_BASE"
    assert airtable_request(local_airtable, "DELETE", f"{HOOKS_PATH}/{hooks[0]}").json() == {}
    _create(local_airtable, TABLE_DATA)


def _bad_specs(at: LocalAirtable) -> dict[str, Any]:
    projects = table_id(at, PROJECTS)
    deliverable_name = field_id(at, DELIVERABLES, "Name")

    def filters(**given: Any) -> dict[str, Any]:
        return {"options": {"filters": given}}

    return {
        "no specification": None,
        "no options": {},
        "no filters": {"options": {}},
        "no dataTypes": filters(),
        "empty dataTypes": filters(dataTypes=[]),
        "unknown dataType": filters(dataTypes=["tableRows"]),
        "scope not a table": filters(dataTypes=["tableData"], recordChangeScope="tblNope"),
        "scope by name": filters(dataTypes=["tableData"], recordChangeScope=PROJECTS),
        "unknown changeType": filters(dataTypes=["tableData"], changeTypes=["upsert"]),
        "unknown source": filters(dataTypes=["tableData"], fromSources=["email"]),
        "watch without scope": filters(
            dataTypes=["tableData"], watchDataInFieldIds=[deliverable_name]
        ),
        "watch a field of another table": filters(
            dataTypes=["tableData"],
            recordChangeScope=projects,
            watchDataInFieldIds=[deliverable_name],
        ),
        "unknown filter": filters(dataTypes=["tableData"], onlyOnTuesdays=True),
        "includes unknown field": {
            "options": {
                "filters": {"dataTypes": ["tableData"]},
                "includes": {"includeCellValuesInFieldIds": ["fldNope"]},
            }
        },
        "includes previous not boolean": {
            "options": {
                "filters": {"dataTypes": ["tableData"]},
                "includes": {"includePreviousCellValues": "yes"},
            }
        },
    }


BAD_SPEC_CASES = [
    "no specification",
    "no options",
    "no filters",
    "no dataTypes",
    "empty dataTypes",
    "unknown dataType",
    "scope not a table",
    "scope by name",
    "unknown changeType",
    "unknown source",
    "watch without scope",
    "watch a field of another table",
    "unknown filter",
    "includes unknown field",
    "includes previous not boolean",
]


@pytest.mark.parametrize("case", BAD_SPEC_CASES)
def test_bad_specifications_are_refused(local_airtable: LocalAirtable, case: str) -> None:
    spec = _bad_specs(local_airtable)[case]
    body = {"specification": spec} if spec is not None else {"notificationUrl": None}
    response = airtable_request(local_airtable, "POST", HOOKS_PATH, json=body)
    assert response.status_code == 422
    assert response.json()["error"]["type"] in (
        "INVALID_REQUEST_UNKNOWN",
        "INVALID_REQUEST_MISSING_FIELDS",
    )
    assert airtable_request(local_airtable, "GET", HOOKS_PATH).json() == {"webhooks": []}


def test_a_bad_notification_url_is_refused(local_airtable: LocalAirtable) -> None:
    response = airtable_request(
        local_airtable,
        "POST",
        HOOKS_PATH,
        json={"notificationUrl": "ftp://example.com", "specification": TABLE_DATA},
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("DELETE", "", None),
        ("POST", "/refresh", None),
        ("POST", "/enableNotifications", {"enable": True}),
        ("GET", "/payloads", None),
    ],
    ids=["delete", "refresh", "enableNotifications", "payloads"],
)
def test_unknown_hooks_bases_and_tokens(
    local_airtable: LocalAirtable, method: str, suffix: str, body: Any
) -> None:
    path = f"{HOOKS_PATH}/achAAAAAAAAAAAAAA{suffix}"
    response = airtable_request(local_airtable, method, path, json=body)
    assert (response.status_code, response.json()) == (404, {"error": "NOT_FOUND"})
    other_base = path.replace(BASE, "appAAAAAAAAAAAAAA")
    response = airtable_request(local_airtable, method, other_base, json=body)
    assert response.status_code == 403
    response = airtable_request(local_airtable, method, path, json=body, token="wrong")
    assert response.status_code == 401


def test_enable_notifications_needs_a_boolean(local_airtable: LocalAirtable) -> None:
    hook = _create(local_airtable, TABLE_DATA)["id"]
    path = f"{HOOKS_PATH}/{hook}/enableNotifications"
    assert airtable_request(local_airtable, "POST", path, json={}).status_code == 422
    assert airtable_request(local_airtable, "POST", path, json={"enable": 1}).status_code == 422
    assert airtable_request(local_airtable, "POST", path, json={"enable": False}).json() == {}
    listed = _listed(local_airtable, hook)
    assert listed is not None and listed["areNotificationsEnabled"] is False


def test_webhook_routes_count_against_the_base_rate_limit(local_airtable: LocalAirtable) -> None:
    local_airtable.reset_stats()
    airtable_request(local_airtable, "GET", HOOKS_PATH)
    assert local_airtable.stats().requests == 1
    local_airtable.set_rate_limit(1, penalty_seconds=0.2)
    statuses = {airtable_request(local_airtable, "GET", HOOKS_PATH).status_code for _ in range(3)}
    assert 429 in statuses


def test_whoami_answers_each_tokens_user(local_airtable: LocalAirtable) -> None:
    assert local_airtable.api().whoami()["id"] == LOCAL_USER_ID
    assert local_airtable.client_api().whoami()["id"] == LOCAL_CLIENT_USER_ID
    assert local_airtable.client_token == LOCAL_CLIENT_TOKEN


# -- payloads from writes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("writer", "source", "user_id"),
    [("api", "publicApi", LOCAL_USER_ID), ("client", "client", LOCAL_CLIENT_USER_ID)],
)
def test_who_made_the_change(
    local_airtable: LocalAirtable, writer: str, source: str, user_id: str
) -> None:
    hook = _create(local_airtable, TABLE_DATA)["id"]
    table = (
        local_airtable.table(PROJECTS) if writer == "api" else local_airtable.client_table(PROJECTS)
    )
    table.create({"Name": "Someone wrote this"})
    (payload,) = _payloads(local_airtable, hook)["payloads"]
    metadata = payload["actionMetadata"]
    assert metadata["source"] == source
    assert set(metadata["sourceMetadata"]["user"]) == {"id", "email", "permissionLevel", "name"}
    assert metadata["sourceMetadata"]["user"]["id"] == user_id


def test_writes_on_the_store_count_as_system(local_airtable: LocalAirtable) -> None:
    hook = _create(local_airtable, TABLE_DATA)["id"]
    local_airtable.store.create_records(BASE, PROJECTS, [{"Name": "Behind the bot's back"}])
    (payload,) = _payloads(local_airtable, hook)["payloads"]
    assert payload["actionMetadata"] == {"source": "system", "sourceMetadata": {}}


def test_payload_shape_for_create_update_and_delete(local_airtable: LocalAirtable) -> None:
    hook = _create(local_airtable, TABLE_DATA)["id"]
    projects = table_id(local_airtable, PROJECTS)
    name, status = (field_id(local_airtable, PROJECTS, f) for f in ("Name", "Status"))
    table = local_airtable.table(PROJECTS)
    record = table.create({"Name": "Shape", "Status": "Not started"})
    table.update(record["id"], {"Status": "Complete"})
    table.delete(record["id"])
    page = _payloads(local_airtable, hook)
    assert page["cursor"] == 4 and page["mightHaveMore"] is False
    created, changed, deleted = page["payloads"]
    numbers = [p["baseTransactionNumber"] for p in page["payloads"]]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    for payload in page["payloads"]:
        assert payload["payloadFormat"] == "v0"
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", payload["timestamp"])
    new = created["changedTablesById"][projects]["createdRecordsById"][record["id"]]
    assert new["createdTime"] == record["createdTime"]
    assert new["cellValuesByFieldId"][name] == "Shape"
    assert new["cellValuesByFieldId"][status]["name"] == "Not started"
    assert new["cellValuesByFieldId"][status]["id"].startswith("sel")
    update = changed["changedTablesById"][projects]["changedRecordsById"][record["id"]]
    assert set(update) == {"current"}
    assert list(update["current"]["cellValuesByFieldId"]) == [status]
    assert update["current"]["cellValuesByFieldId"][status]["name"] == "Complete"
    assert deleted["changedTablesById"] == {projects: {"destroyedRecordIds": [record["id"]]}}


def test_a_link_and_its_inverse_are_one_transaction(local_airtable: LocalAirtable) -> None:
    hook = _create(local_airtable, TABLE_DATA)["id"]
    project = project_id(local_airtable)
    made = local_airtable.table(DELIVERABLES).create({"Name": "Linked", "Project": [project]})
    (payload,) = _payloads(local_airtable, hook)["payloads"]
    tables = payload["changedTablesById"]
    deliverables, projects = (
        table_id(local_airtable, DELIVERABLES),
        table_id(local_airtable, PROJECTS),
    )
    assert made["id"] in tables[deliverables]["createdRecordsById"]
    inverse = tables[projects]["changedRecordsById"][project]["current"]["cellValuesByFieldId"]
    links = inverse[field_id(local_airtable, PROJECTS, "Deliverables")]
    assert {"id": made["id"], "name": "Linked"} in links


def test_a_write_that_changes_nothing_makes_no_payload(local_airtable: LocalAirtable) -> None:
    hook = _create(local_airtable, TABLE_DATA)["id"]
    record = local_airtable.table(PROJECTS).create({"Name": "Same"})
    local_airtable.table(PROJECTS).update(record["id"], {"Name": "Same"})
    assert len(_payloads(local_airtable, hook)["payloads"]) == 1


def _run_script(at: LocalAirtable) -> dict[str, str]:
    """Create, rename, set the status of, and delete a Project (the rename through the
    person's client), and create a Deliverable; the ids by step."""
    table, person = at.table(PROJECTS), at.client_table(PROJECTS)
    record = table.create({"Name": "Scripted"})
    person.update(record["id"], {"Name": "Renamed"})
    table.update(record["id"], {"Status": "Complete"})
    table.delete(record["id"])
    deliverable = at.table(DELIVERABLES).create({"Name": "Elsewhere"})
    return {"project": record["id"], "deliverable": deliverable["id"]}


def _kinds(at: LocalAirtable, hook: str) -> list[str]:
    kinds = []
    for payload in _payloads(at, hook)["payloads"]:
        for table, changes in sorted(payload["changedTablesById"].items()):
            name = PROJECTS if table == table_id(at, PROJECTS) else "other"
            for key, kind in (
                ("createdRecordsById", "add"),
                ("changedRecordsById", "update"),
                ("destroyedRecordIds", "remove"),
            ):
                if changes.get(key):
                    kinds.append(f"{name}:{kind}")
    return kinds


FILTER_CASES: dict[str, tuple[Callable[[LocalAirtable], dict[str, Any]], list[str]]] = {
    "every change": (
        lambda at: TABLE_DATA,
        [
            "Projects:add",
            "Projects:update",
            "Projects:update",
            "Projects:remove",
            "other:add",
        ],
    ),
    "scoped to Projects": (
        lambda at: _scoped(at),
        ["Projects:add", "Projects:update", "Projects:update", "Projects:remove"],
    ),
    "only adds": (lambda at: _scoped(at, changeTypes=["add"]), ["Projects:add"]),
    "removes and updates": (
        lambda at: _scoped(at, changeTypes=["remove", "update"]),
        ["Projects:update", "Projects:update", "Projects:remove"],
    ),
    "only from the client": (
        lambda at: _scoped(at, fromSources=["client"]),
        ["Projects:update"],
    ),
    "only from the API": (
        lambda at: _scoped(at, fromSources=["publicApi"]),
        ["Projects:add", "Projects:update", "Projects:remove"],
    ),
    "watching Status": (
        lambda at: _scoped(at, watchDataInFieldIds=[field_id(at, PROJECTS, "Status")]),
        ["Projects:add", "Projects:update", "Projects:remove"],
    ),
    "schema only": (
        lambda at: {"options": {"filters": {"dataTypes": ["tableFields", "tableMetadata"]}}},
        [],
    ),
}


@pytest.mark.parametrize("case", list(FILTER_CASES))
def test_filters_choose_the_payloads(local_airtable: LocalAirtable, case: str) -> None:
    make_spec, expected = FILTER_CASES[case]
    hook = _create(local_airtable, make_spec(local_airtable))["id"]
    _run_script(local_airtable)
    assert _kinds(local_airtable, hook) == expected


def test_watching_a_field_sees_the_update_that_changes_it(local_airtable: LocalAirtable) -> None:
    status = field_id(local_airtable, PROJECTS, "Status")
    hook = _create(local_airtable, _scoped(local_airtable, watchDataInFieldIds=[status]))["id"]
    ids = _run_script(local_airtable)
    updates = [
        p["changedTablesById"][table_id(local_airtable, PROJECTS)].get("changedRecordsById", {})
        for p in _payloads(local_airtable, hook)["payloads"]
    ]
    (update,) = [u[ids["project"]] for u in updates if u]
    assert list(update["current"]["cellValuesByFieldId"]) == [status]


@pytest.mark.parametrize(
    ("includes", "expected_keys", "unchanged"),
    [
        ({}, {"current"}, None),
        ({"includePreviousCellValues": True}, {"current", "previous"}, None),
        ({"includeCellValuesInFieldIds": "all"}, {"current", "unchanged"}, "Status"),
        ({"includeCellValuesInFieldIds": ["Status"]}, {"current", "unchanged"}, "Status"),
        ({"includeCellValuesInFieldIds": ["Name"]}, {"current"}, None),
    ],
    ids=["nothing", "previous", "all", "one unchanged field", "only the changed field"],
)
def test_includes_choose_the_cell_values(
    local_airtable: LocalAirtable,
    includes: dict[str, Any],
    expected_keys: set[str],
    unchanged: str | None,
) -> None:
    name, status = (field_id(local_airtable, PROJECTS, f) for f in ("Name", "Status"))
    ids = {"Name": name, "Status": status}
    if isinstance(includes.get("includeCellValuesInFieldIds"), list):
        includes = {
            "includeCellValuesInFieldIds": [ids[f] for f in includes["includeCellValuesInFieldIds"]]
        }
    spec = _scoped(local_airtable)
    spec["options"]["includes"] = includes
    hook = _create(local_airtable, spec)["id"]
    table = local_airtable.table(PROJECTS)
    record = table.create({"Name": "Before", "Status": "In progress"})
    table.update(record["id"], {"Name": "After"})
    payload = _payloads(local_airtable, hook, cursor=2)["payloads"][0]
    change = payload["changedTablesById"][table_id(local_airtable, PROJECTS)]["changedRecordsById"][
        record["id"]
    ]
    assert set(change) == expected_keys
    assert change["current"]["cellValuesByFieldId"] == {name: "After"}
    if "previous" in expected_keys:
        assert change["previous"]["cellValuesByFieldId"] == {name: "Before"}
    if unchanged is not None:
        values = change["unchanged"]["cellValuesByFieldId"]
        assert values == {status: values[status]} and values[status]["name"] == "In progress"


def test_hooks_share_transaction_numbers_and_count_their_own_cursors(
    local_airtable: LocalAirtable,
) -> None:
    first = _create(local_airtable, TABLE_DATA)["id"]
    local_airtable.table(PROJECTS).create({"Name": "Only the first sees this"})
    second = _create(local_airtable, TABLE_DATA)["id"]
    local_airtable.table(PROJECTS).create({"Name": "Both see this"})
    first_payloads = _payloads(local_airtable, first)["payloads"]
    (second_payload,) = _payloads(local_airtable, second)["payloads"]
    assert len(first_payloads) == 2
    assert first_payloads[1]["baseTransactionNumber"] == second_payload["baseTransactionNumber"]
    assert first_payloads[0]["baseTransactionNumber"] < second_payload["baseTransactionNumber"]
    listed = _listed(local_airtable, second)
    assert listed is not None and listed["cursorForNextPayload"] == 2


def test_payload_pages_cursor_and_limit(local_airtable: LocalAirtable) -> None:
    hook = _create(local_airtable, TABLE_DATA)["id"]
    local_airtable.table(PROJECTS).batch_create([{"Name": f"P{i}"} for i in range(3)])
    for i in range(4):
        local_airtable.table(PROJECTS).create({"Name": f"Q{i}"})
    page = _payloads(local_airtable, hook, limit=2)
    assert (page["cursor"], page["mightHaveMore"], len(page["payloads"])) == (3, True, 2)
    page = _payloads(local_airtable, hook, cursor=3, limit=2)
    assert (page["cursor"], page["mightHaveMore"], len(page["payloads"])) == (5, True, 2)
    page = _payloads(local_airtable, hook, cursor=5, limit=50)
    assert (page["cursor"], page["mightHaveMore"], len(page["payloads"])) == (6, False, 1)
    page = _payloads(local_airtable, hook, cursor=6)
    assert page == {"cursor": 6, "mightHaveMore": False, "payloads": []}
    for params in ({"limit": 51}, {"limit": 0}, {"cursor": 0}, {"cursor": "x"}):
        response = airtable_request(
            local_airtable, "GET", f"{HOOKS_PATH}/{hook}/payloads", params=params
        )
        assert response.status_code == 422, params
    many = local_airtable.api().base(BASE).webhooks()[0]
    assert [p.cursor for p in many.payloads()] == [1, 2, 3, 4, 5]


# -- time -----------------------------------------------------------------------------------


def test_listing_payloads_and_refreshing_extend_the_life(local_airtable: LocalAirtable) -> None:
    created = _create(local_airtable, TABLE_DATA)
    hook = created["id"]
    local_airtable.advance_clock(3 * DAY)
    _payloads(local_airtable, hook)
    listed = _listed(local_airtable, hook)
    assert listed is not None
    extended = _when(listed["expirationTime"]) - _when(created["expirationTime"])
    assert timedelta(days=3) - timedelta(minutes=1) < extended <= timedelta(days=3, minutes=1)
    local_airtable.advance_clock(DAY)
    response = airtable_request(local_airtable, "POST", f"{HOOKS_PATH}/{hook}/refresh")
    assert set(response.json()) == {"expirationTime"}
    assert _when(response.json()["expirationTime"]) > _when(listed["expirationTime"])


def test_an_expired_hook_is_disabled_then_gone(
    local_airtable: LocalAirtable, receiver: PingReceiver
) -> None:
    hook = _create(local_airtable, TABLE_DATA, receiver.url)["id"]
    local_airtable.table(PROJECTS).create({"Name": "Before expiry"})
    assert local_airtable.wait_for_pings()
    local_airtable.advance_clock(7 * DAY + 1)
    listed = _listed(local_airtable, hook)
    assert listed is not None and listed["isHookEnabled"] is False
    local_airtable.table(PROJECTS).create({"Name": "After expiry"})
    assert local_airtable.wait_for_pings()
    assert len(receiver.received()) == 1
    page = _payloads(local_airtable, hook)
    assert len(page["payloads"]) == 1
    listed_again = _listed(local_airtable, hook)
    assert listed_again is not None
    assert listed_again["expirationTime"] == listed["expirationTime"]  # not extended
    response = airtable_request(local_airtable, "POST", f"{HOOKS_PATH}/{hook}/refresh")
    assert response.status_code == 422
    local_airtable.advance_clock(7 * DAY)
    assert _listed(local_airtable, hook) is None
    response = airtable_request(local_airtable, "GET", f"{HOOKS_PATH}/{hook}/payloads")
    assert (response.status_code, response.json()) == (404, {"error": "NOT_FOUND"})


def test_expire_webhook_expires_one_hook(local_airtable: LocalAirtable) -> None:
    expiring, staying = (_create(local_airtable, TABLE_DATA)["id"] for _ in range(2))
    local_airtable.expire_webhook(expiring)
    local_airtable.table(PROJECTS).create({"Name": "Seen by one"})
    assert _payloads(local_airtable, expiring)["payloads"] == []
    assert len(_payloads(local_airtable, staying)["payloads"]) == 1
    with pytest.raises(KeyError):
        local_airtable.expire_webhook("achAAAAAAAAAAAAAA")


def test_payloads_are_kept_seven_days(local_airtable: LocalAirtable) -> None:
    hook = _create(local_airtable, TABLE_DATA)["id"]
    local_airtable.table(PROJECTS).create({"Name": "Old news"})
    local_airtable.advance_clock(5 * DAY)
    airtable_request(local_airtable, "POST", f"{HOOKS_PATH}/{hook}/refresh")
    local_airtable.table(PROJECTS).create({"Name": "Recent"})
    local_airtable.advance_clock(2 * DAY + 60)
    page = _payloads(local_airtable, hook)
    assert len(page["payloads"]) == 1 and page["cursor"] == 3
    listed = _listed(local_airtable, hook)
    assert listed is not None and listed["cursorForNextPayload"] == 3


# -- persistence ----------------------------------------------------------------------------


def test_hooks_and_payloads_survive_a_restart(tmp_path: Path, receiver: PingReceiver) -> None:
    db = tmp_path / "airtable.sqlite"
    with LocalAirtable(db_path=db, requests_per_second=None) as first:
        created = _create(first, TABLE_DATA, receiver.url)
        first.table(PROJECTS).create({"Name": "Before the restart"})
        assert first.wait_for_pings()
        listed_before = _listed(first, created["id"])
        number = _payloads(first, created["id"])["payloads"][0]["baseTransactionNumber"]
    with LocalAirtable(db_path=db, requests_per_second=None) as second:
        listed = _listed(second, created["id"])
        assert listed is not None and listed_before is not None
        assert listed["cursorForNextPayload"] == 2
        assert listed["lastNotificationResult"] == listed_before["lastNotificationResult"]
        second.client_table(PROJECTS).create({"Name": "After the restart"})
        assert second.wait_for_pings()
        payloads = _payloads(second, created["id"])["payloads"]
        assert [p["baseTransactionNumber"] > number for p in payloads] == [False, True]
    last = receiver.received()[-1]
    assert len(receiver.received()) == 2
    assert _verify_mac(
        created["macSecretBase64"], last.body, last.headers["X-Airtable-Content-MAC"]
    )


def test_a_database_from_before_webhooks_opens(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    with LocalAirtable(db_path=db, requests_per_second=None) as at:
        at.table(PROJECTS).create({"Name": "Old"})
    with sqlite3.connect(db) as conn:
        for table in ("webhooks", "webhook_payloads", "webhook_transactions"):
            conn.execute(f"DROP TABLE {table}")
    with Store(db) as store:
        assert "webhooks" not in {r["name"] for r in store.schema(BASE)["tables"]}
    with LocalAirtable(db_path=db, requests_per_second=None) as at:
        assert airtable_request(at, "GET", HOOKS_PATH).json() == {"webhooks": []}
        hook = _create(at, TABLE_DATA)["id"]
        at.table(PROJECTS).create({"Name": "New"})
        assert len(_payloads(at, hook)["payloads"]) == 1


# -- pings ----------------------------------------------------------------------------------


def test_a_ping_carries_the_ids_and_a_correct_mac(
    local_airtable: LocalAirtable, receiver: PingReceiver
) -> None:
    created = _create(local_airtable, TABLE_DATA, receiver.url)
    local_airtable.store.create_records(BASE, PROJECTS, [{"Name": "Pinged"}])
    assert local_airtable.wait_for_pings()
    (ping,) = receiver.received()
    assert ping.headers["Content-Type"] == "application/json"
    assert _verify_mac(
        created["macSecretBase64"], ping.body, ping.headers["X-Airtable-Content-MAC"]
    )
    assert not _verify_mac(
        base64.b64encode(b"another secret").decode(),
        ping.body,
        ping.headers["X-Airtable-Content-MAC"],
    )
    body = json.loads(ping.body)
    assert set(body) == {"base", "webhook", "timestamp"}
    assert body["base"] == {"id": BASE} and body["webhook"] == {"id": created["id"]}
    listed = _listed(local_airtable, created["id"])
    assert listed is not None
    result = listed["lastNotificationResult"]
    assert result["success"] is True and result["retryNumber"] == 0
    assert {"completionTimestamp", "durationMs"} <= set(result)
    assert listed["lastSuccessfulNotificationTime"] == result["completionTimestamp"]


def test_no_ping_without_a_url_or_with_notifications_off(
    local_airtable: LocalAirtable, receiver: PingReceiver
) -> None:
    silent = _create(local_airtable, TABLE_DATA)["id"]
    muted = _create(local_airtable, TABLE_DATA, receiver.url)["id"]
    airtable_request(
        local_airtable, "POST", f"{HOOKS_PATH}/{muted}/enableNotifications", json={"enable": False}
    )
    local_airtable.table(PROJECTS).create({"Name": "Nobody is told"})
    assert local_airtable.wait_for_pings()
    assert receiver.received() == []
    assert len(_payloads(local_airtable, silent)["payloads"]) == 1
    assert len(_payloads(local_airtable, muted)["payloads"]) == 1


def test_failing_pings_are_retried_and_recorded(
    local_airtable_factory: Callable[..., LocalAirtable],
) -> None:
    at = local_airtable_factory(ping_retries=2, ping_backoff_seconds=0.01)
    hook = _create(at, TABLE_DATA, unreachable_url())["id"]
    at.table(PROJECTS).create({"Name": "Nobody listens"})
    assert at.wait_for_pings()
    listed = _listed(at, hook)
    assert listed is not None
    result = listed["lastNotificationResult"]
    assert result["success"] is False and result["error"]["message"]
    assert result["retryNumber"] == 2 and result["willBeRetried"] is False
    assert listed["lastSuccessfulNotificationTime"] is None
    assert len(_payloads(at, hook)["payloads"]) == 1  # the payload is kept all the same


def test_a_ping_answered_500_is_retried_until_it_succeeds(
    local_airtable_factory: Callable[..., LocalAirtable], receiver: PingReceiver
) -> None:
    at = local_airtable_factory(ping_retries=3, ping_backoff_seconds=0.01)
    receiver.statuses.extend([500, 503])
    hook = _create(at, TABLE_DATA, receiver.url)["id"]
    at.table(PROJECTS).create({"Name": "Third time lucky"})
    assert at.wait_for_pings()
    assert len(receiver.received()) == 3
    listed = _listed(at, hook)
    assert listed is not None
    assert listed["lastNotificationResult"]["success"] is True
    assert listed["lastNotificationResult"]["retryNumber"] == 2
    assert listed["lastSuccessfulNotificationTime"] is not None


def test_pings_in_quick_succession_are_coalesced(local_airtable: LocalAirtable) -> None:
    with PingReceiver(delay=0.3) as slow:
        _create(local_airtable, TABLE_DATA, slow.url)
        table = local_airtable.table(PROJECTS)
        for i in range(6):
            table.create({"Name": f"Burst {i}"})
        assert local_airtable.wait_for_pings()
        assert 1 <= len(slow.received()) <= 2


def test_the_ping_helpers_need_a_started_server() -> None:
    at = LocalAirtable(seed=None)
    try:
        with pytest.raises(RuntimeError):
            at.wait_for_pings()
    finally:
        at.stop()


def test_a_refused_hook_request_is_an_http_error_for_pyairtable(
    local_airtable: LocalAirtable,
) -> None:
    base = local_airtable.api().base(BASE)
    with pytest.raises(requests.HTTPError) as exc:
        base.add_webhook("https://example.com", {"options": {"filters": {"dataTypes": ["x"]}}})
    assert error_of(exc)[0] == 422


def test_the_tokens_are_configurable(local_airtable_factory: Callable[..., LocalAirtable]) -> None:
    at = local_airtable_factory(token="api-secret", client_token="person-secret")
    assert at.api().whoami()["id"] == LOCAL_USER_ID
    assert at.client_api().whoami()["id"] == LOCAL_CLIENT_USER_ID
    for refused in ("local", LOCAL_CLIENT_TOKEN):
        assert airtable_request(at, "GET", HOOKS_PATH, token=refused).status_code == 401
