"""Tests of base schemas (:mod:`bot.airtable_local.schema`): the metadata pyairtable reads,
and the checks of specs."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.airtable_local import DEMO_BASE_ID, seeds
from bot.airtable_local.schema import build_base
from bot.airtable_local.store import Store
from bot.airtable_local.thread import LocalAirtable
from tests.airtable_fixtures import TYPES_SPEC
from tests.constants import DELIVERABLES


def test_base_schema_parses_with_pyairtable(local_airtable: LocalAirtable) -> None:
    base = local_airtable.api().base(DEMO_BASE_ID)
    schema = base.schema()
    deliverables = schema.table(DELIVERABLES)
    assert re.match(r"^tbl[A-Za-z0-9]{14}$", deliverables.id)
    assert deliverables.field(deliverables.primary_field_id).name == "Name"
    assert all(re.match(r"^fld[A-Za-z0-9]{14}$", f.id) for f in deliverables.fields)
    types = {f.name: f.type for f in deliverables.fields}
    assert types == {
        "Name": "singleLineText",
        "Project": "multipleRecordLinks",
        "GitHub Issue": "url",
        "Status": "singleSelect",
        "Completed": "dateTime",
        "Assignees": "singleLineText",
        "Last synced": "dateTime",
    }
    status = deliverables.field("Status")
    choices = status.options.choices  # type: ignore[union-attr]
    assert [c.name for c in choices] == ["Todo", "In progress", "Blocked", "Done", "Cancelled"]
    assert all(re.match(r"^sel[A-Za-z0-9]{14}$", c.id) for c in choices)
    project_link = deliverables.field("Project")
    projects = schema.table("Projects")
    back_link = projects.field("Deliverables")
    assert project_link.options.linked_table_id == projects.id  # type: ignore[union-attr]
    assert project_link.options.inverse_link_field_id == back_link.id  # type: ignore[union-attr]
    assert back_link.options.inverse_link_field_id == project_link.id  # type: ignore[union-attr]
    assert project_link.options.prefers_single_record_link  # type: ignore[union-attr]
    assert deliverables.views[0].type == "grid"
    assert deliverables.views[0].visible_field_ids == [f.id for f in deliverables.fields]
    # Table.schema() and tables addressed by id work too.
    table = local_airtable.api().table(DEMO_BASE_ID, DELIVERABLES)
    assert table.schema().id == deliverables.id
    by_id = local_airtable.api().table(DEMO_BASE_ID, deliverables.id)
    assert len(by_id.all()) == 3
    assert [b.id for b in local_airtable.api().bases()] == [DEMO_BASE_ID]
    assert local_airtable.api().whoami()["id"].startswith("usr")


def test_base_specs_are_checked() -> None:
    with Store() as store:
        with pytest.raises(ValueError, match="base id"):
            store.create_base("nope", TYPES_SPEC)
        store.create_base("appSpecBase000001", TYPES_SPEC)
        with pytest.raises(ValueError, match="exists"):
            store.create_base("appSpecBase000001", TYPES_SPEC)
        with pytest.raises(ValueError, match="unknown seed"):
            seeds.seed(store, "nope")
    text = {"name": "A", "type": "singleLineText"}

    def link(**options: str) -> dict[str, Any]:
        return {"name": "L", "type": "multipleRecordLinks", "options": options}

    def base(*fields: dict[str, Any], **table: Any) -> dict[str, Any]:
        return {"tables": [{"name": "T", "fields": list(fields), **table}]}

    bad_specs: list[dict[str, Any]] = [
        {"tables": []},
        base(),
        base({"name": "A", "type": "formula"}),
        base(text, text),
        {"tables": base(text)["tables"] * 2},
        base(text, primaryField="B"),
        base(text, link(linkedTable="T"), primaryField="L"),
        base(link(linkedTable="Nope")),
        base({"name": "A", "type": "singleSelect", "options": {"choices": ["x", "x"]}}),
        # An inverse that is not a link, or that links to another table.
        base(text, link(linkedTable="T", inverseField="A")),
        {
            "tables": [
                base(text, link(linkedTable="U", inverseField="M"))["tables"][0],
                {"name": "U", "fields": [text, {**link(linkedTable="U"), "name": "M"}]},
            ]
        },
    ]
    for spec in bad_specs:
        with pytest.raises(ValueError):
            build_base("appSpecBase000001", spec)
    # A spec round-trips through the metadata form it is persisted in.
    built = build_base("appSpecBase000001", TYPES_SPEC)
    assert build_base("appSpecBase000001", built.to_spec()) == built
