"""Which records an Airtable webhook payload asks the bot to follow (pure)."""

from __future__ import annotations

from typing import Any

from bot.core.airtable_changes import (
    WatchedTables,
    changes_of,
    hook_specification,
    is_own_write,
    payload_delivery_id,
)

TABLES = WatchedTables(
    deliverables="tblDeliverables",
    projects="tblProjects",
    deliverable_issue="fldIssue",
    deliverable_fields=frozenset({"fldProject", "fldIssue"}),
    project_fields=frozenset({"fldRepository", "fldTracking", "fldDeliverables"}),
)
BOT = "usrBot"


def payload(tables: dict[str, Any], *, source: str = "client", user: str = "usrPerson") -> Any:
    """A payload as Airtable lists it."""
    return {
        "timestamp": "2026-12-02T10:00:00.000Z",
        "baseTransactionNumber": 7,
        "payloadFormat": "v0",
        "actionMetadata": {"source": source, "sourceMetadata": {"user": {"id": user}}},
        "changedTablesById": tables,
    }


def changed(current: dict[str, Any], unchanged: dict[str, Any] | None = None) -> Any:
    change: dict[str, Any] = {"current": {"cellValuesByFieldId": current}}
    if unchanged is not None:
        change["unchanged"] = {"cellValuesByFieldId": unchanged}
    return change


def test_a_created_deliverable_is_followed() -> None:
    created = {"recNew": {"createdTime": "x", "cellValuesByFieldId": {"fldName": "Deploy"}}}
    got = changes_of(
        payload({"tblDeliverables": {"createdRecordsById": created}}), TABLES, bot_user_id=BOT
    )
    assert got.deliverables == ("recNew",)
    assert got.projects == ()
    assert not got.own_write


def test_a_deliverable_moved_or_given_another_issue_is_followed() -> None:
    tables = {
        "tblDeliverables": {
            "changedRecordsById": {
                "recMoved": changed({"fldProject": ["recOther"]}, {"fldIssue": "https://x/1"}),
                "recRelinked": changed({"fldIssue": "https://github.com/o/r/issues/9"}),
            }
        }
    }
    got = changes_of(payload(tables), TABLES, bot_user_id=BOT)
    assert got.deliverables == ("recMoved", "recRelinked")


def test_an_edit_of_a_deliverable_with_an_issue_elsewhere_is_not_followed() -> None:
    tables = {
        "tblDeliverables": {
            "changedRecordsById": {
                "recLinked": changed({"fldNotes": "typo"}, {"fldIssue": "https://x/1"}),
                "recBare": changed({"fldNotes": "typo"}, {}),
                "recNoIncludes": changed({"fldNotes": "typo"}),
            }
        }
    }
    got = changes_of(payload(tables), TABLES, bot_user_id=BOT)
    # Without an issue (or without the included cell to tell), the record is read again.
    assert got.deliverables == ("recBare", "recNoIncludes")


def test_projects_are_followed_for_their_watched_fields_only() -> None:
    tables = {
        "tblProjects": {
            "createdRecordsById": {"recP1": {"cellValuesByFieldId": {}}},
            "changedRecordsById": {
                "recP2": changed({"fldRepository": "o/r"}),
                "recP3": changed({"fldStatus": "Complete"}),
                "recP4": changed({"fldDeliverables": ["recA", "recB"]}),
            },
        }
    }
    got = changes_of(payload(tables), TABLES, bot_user_id=BOT)
    assert got.projects == ("recP1", "recP2", "recP4")
    assert got.deliverables == ()


def test_other_tables_are_ignored() -> None:
    tables = {"tblEngagements": {"createdRecordsById": {"recE": {}}}}
    got = changes_of(payload(tables), TABLES, bot_user_id=BOT)
    assert got.empty


def test_the_bots_own_writes_are_recognised() -> None:
    tables = {"tblDeliverables": {"createdRecordsById": {"recNew": {}}}}
    own = payload(tables, source="publicApi", user=BOT)
    assert is_own_write(own, BOT)
    got = changes_of(own, TABLES, bot_user_id=BOT)
    assert got.own_write and got.empty
    # The same user through the web app, or another token's user, is a person's change.
    assert not is_own_write(payload(tables, source="client", user=BOT), BOT)
    assert not is_own_write(payload(tables, source="publicApi", user="usrScript"), BOT)
    assert not is_own_write(own, None)


def test_a_payload_is_journaled_once_per_hook_and_transaction() -> None:
    assert payload_delivery_id("achHook", {"baseTransactionNumber": 7}) == "airtable-achHook-7"
    assert payload_delivery_id("achHook", {"baseTransactionNumber": 8}) != payload_delivery_id(
        "achHook", {"baseTransactionNumber": 7}
    )


def test_the_hook_includes_the_issue_cell() -> None:
    spec = hook_specification(TABLES)
    assert spec["options"]["filters"] == {"dataTypes": ["tableData"]}
    assert spec["options"]["includes"] == {"includeCellValuesInFieldIds": ["fldIssue"]}
