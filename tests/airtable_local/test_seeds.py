"""Tests of the seeds (:mod:`bot.airtable_local.seeds`): the demo and empty bases, a failed seed."""

from __future__ import annotations

import pytest

from bot.airtable_local import DEMO_BASE_ID, seeds
from bot.airtable_local.schema import stable_id
from bot.airtable_local.store import Store
from bot.airtable_local.thread import LocalAirtable
from tests.constants import DELIVERABLES


def test_demo_seed_is_the_base_of_design_section_6(local_airtable: LocalAirtable) -> None:
    at = local_airtable
    assert at.base_id == DEMO_BASE_ID
    opportunity = at.table("Opportunities").all()[0]["fields"]
    assert opportunity["Name"] == "Example University workshop"
    assert (opportunity["Type"], opportunity["Stage"]) == ("New", "Closed-Won")
    contract = at.table("Contracts").get(opportunity["Contracts"][0])
    assert contract["fields"]["Name"] == "Example University MOU"
    assert contract["fields"]["Kind"] == "MOU"
    engagement = at.table("Engagements").get(opportunity["Engagement"][0])["fields"]
    assert (engagement["Start"], engagement["End"], engagement["Status"]) == (
        "2026-01-01",
        "2028-12-31",
        "Active",
    )
    project = at.table("Projects").get(engagement["Projects"][0])["fields"]
    assert project["Name"] == "Setup workshop hub"
    assert project["Status"] == "In progress"
    assert project["Statement of Work"] == "https://example.org/sow/example-university-2026"
    assert project["Repository"] == "example-org/infrastructure"
    deliverables = at.table(DELIVERABLES).all()
    assert [
        (d["fields"]["Name"], d["fields"]["GitHub Issue"], d["fields"]["Status"])
        for d in deliverables
    ] == [
        ("Deploy the hub", "https://github.com/example-org/infrastructure/issues/1", "In progress"),
        (
            "Configure login",
            "https://github.com/example-org/infrastructure/issues/2",
            "In progress",
        ),
        (
            "Load workshop materials",
            "https://github.com/example-org/infrastructure/issues/3",
            "Todo",
        ),
    ]
    assert sorted(project["Deliverables"]) == sorted(d["id"] for d in deliverables)
    # Seed records get the same ids on every run.
    assert deliverables[0]["id"] == stable_id("rec", DEMO_BASE_ID, DELIVERABLES, "Deploy the hub")


def test_empty_seed_has_the_schema_and_no_records(local_airtable_empty: LocalAirtable) -> None:
    at = local_airtable_empty
    assert at.base_id == "appEmptyBase00001"
    schema = at.api().base(at.base_id).schema()
    assert [t.name for t in schema.tables] == [
        "Opportunities",
        "Contracts",
        "Engagements",
        "Projects",
        DELIVERABLES,
    ]
    assert all(at.table(t.name).all() == [] for t in schema.tables)
    projects = schema.table("Projects")
    assert [(f.name, f.type) for f in projects.fields][-1] == ("Repository", "singleLineText")


def test_a_failed_seed_leaves_no_base(monkeypatch: pytest.MonkeyPatch) -> None:
    seed = seeds.read_seed("demo")
    seed["records"]["Projects"][0]["Engagement"] = ["No such engagement"]
    monkeypatch.setattr(seeds, "read_seed", lambda name: seed)
    with Store() as store:
        with pytest.raises(ValueError, match="No such engagement"):
            seeds.seed(store, "demo")
        assert store.base_ids() == []
        with pytest.raises(KeyError):
            store.delete_base(DEMO_BASE_ID)
