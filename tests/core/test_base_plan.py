"""``init-base``'s plan (:mod:`bot.core.base_plan`), over metadata API answers, without I/O."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from bot.airtable_local.schema import build_base
from bot.airtable_local.seeds import read_data
from bot.cli.base_schema import FieldSpec, TableSpec, expected_schema
from bot.config import Config, Tables
from bot.core.base_plan import CreateField, CreateTable, NewField, inverse_pairs, plan_base

EXPECTED = expected_schema(Config())
BLANK = {
    "tables": [
        {
            "id": "tblBlank000000001",
            "name": "Table 1",
            "primaryFieldId": "fldBlank000000001",
            "fields": [{"id": "fldBlank000000001", "name": "Name", "type": "singleLineText"}],
            "views": [],
        }
    ]
}
FROM_BLANK = [
    "create table Opportunities (3 fields)",
    "create table Contracts (3 fields; Airtable adds Opportunities.Contracts)",
    "create table Engagements (5 fields; Airtable adds Opportunities.Engagement)",
    "create table Projects (7 fields; Airtable adds Engagements.Projects)",
    "create table Project Deliverables (7 fields; Airtable adds Projects.Deliverables)",
]


def full_base() -> dict[str, Any]:
    """The metadata of a base with the whole default schema (the embedded server's)."""
    return build_base("appPlanBase000001", read_data("schema.json")).to_api()


def table(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in schema["tables"] if t["name"] == name)


def field(schema: dict[str, Any], table_name: str, name: str) -> dict[str, Any]:
    return next(f for f in table(schema, table_name)["fields"] if f["name"] == name)


def without(schema: dict[str, Any], *fields: tuple[str, str]) -> dict[str, Any]:
    """A copy of ``schema`` without these fields (a link's inverse is not removed with it)."""
    out = copy.deepcopy(schema)
    for table_name, name in fields:
        t = table(out, table_name)
        t["fields"] = [f for f in t["fields"] if f["name"] != name]
    return out


@pytest.mark.parametrize(
    "base", [pytest.param(BLANK, id="new-airtable-base"), pytest.param({"tables": []}, id="none")]
)
def test_an_empty_base_gets_every_table_in_order(base: dict[str, Any]) -> None:
    plan = plan_base(EXPECTED, base)
    assert plan.lines() == FROM_BLANK
    assert plan.problems == ()
    assert all(isinstance(action, CreateTable) for action in plan.actions)


def test_a_new_table_starts_with_its_primary_field_and_links_only_to_tables_that_exist() -> None:
    plan = plan_base(EXPECTED, BLANK)
    created: set[str] = {"Table 1"}
    for action in plan.actions:
        assert isinstance(action, CreateTable)
        assert action.fields[0].name == "Name"
        assert action.fields[0].type == "singleLineText"
        assert all(f.link in created for f in action.fields if f.link is not None)
        created.add(action.name)
    projects = next(a for a in plan.actions if isinstance(a, CreateTable) and a.name == "Projects")
    assert [f.name for f in projects.fields] == [
        "Name",
        "Engagement",
        "Statement of Work",
        "Status",
        "Completed",
        "Tracking Issue",
        "Repository",
    ]  # Deliverables comes as the inverse of Project Deliverables.Project


def test_each_link_is_created_once_and_its_inverse_named_as_configured() -> None:
    plan = plan_base(EXPECTED, BLANK)
    links = [f for a in plan.actions if isinstance(a, CreateTable) for f in a.fields if f.link]
    assert [(f.table, f.name, f.link, f.inverse, f.inverse_renamed) for f in links] == [
        ("Contracts", "Opportunity", "Opportunities", "Contracts", False),
        ("Engagements", "Opportunity", "Opportunities", "Engagement", True),
        ("Projects", "Engagement", "Engagements", "Projects", False),
        ("Project Deliverables", "Project", "Projects", "Deliverables", True),
    ]


def test_a_base_with_everything_needs_nothing() -> None:
    plan = plan_base(EXPECTED, full_base())
    assert plan.actions == ()
    assert plan.problems == ()


def test_a_partly_built_base_gets_only_what_is_missing() -> None:
    base = full_base()
    base["tables"] = [t for t in base["tables"] if t["name"] != "Project Deliverables"]
    base = without(base, ("Projects", "Deliverables"), ("Contracts", "Kind"))
    plan = plan_base(EXPECTED, base)
    assert plan.lines() == [
        "create field Contracts.Kind (singleSelect)",
        "create table Project Deliverables (7 fields; Airtable adds Projects.Deliverables)",
    ]
    assert plan.problems == ()


def test_a_missing_link_pair_is_created_from_its_first_side() -> None:
    base = without(full_base(), ("Opportunities", "Contracts"), ("Contracts", "Opportunity"))
    plan = plan_base(EXPECTED, base)
    assert plan.lines() == [
        "create field Opportunities.Contracts (link to Contracts; Airtable adds "
        "Contracts.Opportunity)"
    ]
    (action,) = plan.actions
    assert isinstance(action, CreateField)
    assert action.field.inverse_renamed  # Airtable names it "Opportunities"


def test_a_field_of_the_wrong_type_is_reported_and_left_alone() -> None:
    base = full_base()
    field(base, "Engagements", "End")["type"] = "singleLineText"
    field(base, "Engagements", "End").pop("options")
    plan = plan_base(EXPECTED, base)
    assert plan.actions == ()
    assert plan.problems == (
        "Engagements.End is a singleLineText field; the bot needs date: change its type in "
        "Airtable (init-base leaves existing fields as they are)",
    )


def test_missing_select_options_are_left_for_a_person() -> None:
    base = full_base()
    status = field(base, "Project Deliverables", "Status")
    status["options"]["choices"] = [
        c for c in status["options"]["choices"] if c["name"] not in ("Blocked", "Done")
    ]
    kind = field(base, "Contracts", "Kind")
    kind["options"]["choices"] = [c for c in kind["options"]["choices"] if c["name"] != "MOU"]
    plan = plan_base(EXPECTED, base)
    assert plan.actions == ()
    assert plan.problems == (
        'Contracts.Kind has no option "MOU": add it to the field in Airtable (Airtable\'s API '
        "cannot add options to an existing field)",
        'Project Deliverables.Status has no options "Blocked", "Done": add them to the field '
        "in Airtable (Airtable's API cannot add options to an existing field)",
    )


def test_a_link_to_the_wrong_table_is_reported() -> None:
    base = full_base()
    field(base, "Projects", "Engagement")["options"]["linkedTableId"] = table(base, "Contracts")[
        "id"
    ]
    plan = plan_base(EXPECTED, base)
    assert plan.problems == (
        'Projects.Engagement links to "Contracts"; the bot needs a link to "Engagements": '
        "change it in Airtable (init-base leaves existing fields as they are)",
    )


def test_a_link_whose_inverse_exists_under_another_name_is_not_created_again() -> None:
    base = full_base()
    field(base, "Contracts", "Opportunity")["name"] = "Deal"
    plan = plan_base(EXPECTED, base)
    assert plan.actions == ()
    assert plan.problems == (
        'Contracts.Opportunity is missing, but Opportunities.Contracts links here through "Deal": '
        'rename "Deal" to "Opportunity" in Airtable (a new link would not be the inverse of '
        "Opportunities.Contracts)",
    )


def test_a_link_whose_inverse_has_no_field_here_is_reported() -> None:
    base = without(full_base(), ("Contracts", "Opportunity"))
    field(base, "Opportunities", "Contracts")["options"].pop("inverseLinkFieldId")
    plan = plan_base(EXPECTED, base)
    assert plan.actions == ()
    assert plan.problems == (
        "Contracts.Opportunity is missing, but Opportunities.Contracts links here without an "
        'inverse field: turn on its field in Contracts in Airtable and name it "Opportunity"',
    )


def test_the_configured_names_are_the_ones_planned() -> None:
    config = dataclasses.replace(
        Config(), tables=dataclasses.replace(Tables(), deliverables="Tasks", projects="Work")
    )
    plan = plan_base(expected_schema(config), BLANK)
    assert plan.lines()[-2:] == [
        "create table Work (7 fields; Airtable adds Engagements.Projects)",
        "create table Tasks (7 fields; Airtable adds Work.Deliverables)",
    ]


def test_a_link_to_a_later_table_without_inverse_is_created_once_that_table_exists() -> None:
    text = ("singleLineText",)
    expected = [
        TableSpec(
            "a",
            "A",
            (
                FieldSpec("name", "Name", text),
                FieldSpec("b", "B", ("multipleRecordLinks",), link="B"),
                FieldSpec("self", "Parent", ("multipleRecordLinks",), link="A"),
            ),
        ),
        TableSpec("b", "B", (FieldSpec("name", "Label", text),)),
    ]
    plan = plan_base(expected, {"tables": []})
    assert plan.lines() == [
        "create table A (1 fields)",
        "create table B (1 fields)",
        "create field A.B (link to B)",
        "create field A.Parent (link to A)",
    ]
    assert inverse_pairs(expected) == {}


def test_the_inverse_pairs_of_the_default_schema() -> None:
    pairs = inverse_pairs(EXPECTED)
    assert pairs[("Opportunities", "Contracts")] == ("Contracts", "Opportunity")
    assert pairs[("Contracts", "Opportunity")] == ("Opportunities", "Contracts")
    assert pairs[("Engagements", "Opportunity")] == ("Opportunities", "Engagement")
    assert pairs[("Project Deliverables", "Project")] == ("Projects", "Deliverables")
    assert len(pairs) == 8


@pytest.mark.parametrize(
    ("new", "config"),
    [
        pytest.param(
            NewField("T", "Day", "date", {"dateFormat": {"name": "iso"}}),
            {"name": "Day", "type": "date", "options": {"dateFormat": {"name": "iso"}}},
            id="date",
        ),
        pytest.param(
            NewField("T", "Size", "singleSelect", {"choices": ({"name": "S"},)}),
            {"name": "Size", "type": "singleSelect", "options": {"choices": [{"name": "S"}]}},
            id="select",
        ),
        pytest.param(
            NewField("T", "Link", "multipleRecordLinks", link="Other", inverse="T"),
            {"name": "Link", "type": "multipleRecordLinks", "options": {"linkedTableId": "tblO"}},
            id="link",
        ),
        pytest.param(NewField("T", "Url", "url"), {"name": "Url", "type": "url"}, id="url"),
    ],
)
def test_a_new_field_in_airtables_write_format(new: NewField, config: dict[str, Any]) -> None:
    assert new.config({"Other": "tblO"}) == config
