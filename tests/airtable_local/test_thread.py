"""Tests of the server in a thread (:mod:`bot.airtable_local.thread`): without a base, ORM
models bound to it, and the :class:`ServerThread` the tests' stand-ins also run on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from pyairtable.formulas import match
from pyairtable.orm import Model
from pyairtable.orm import fields as F

from bot.airtable_local import DEMO_BASE_ID
from bot.airtable_local.thread import LocalAirtable, ServerThread
from tests.constants import DELIVERABLES


def test_local_airtable_without_a_base(
    local_airtable_factory: Callable[..., LocalAirtable],
) -> None:
    at = local_airtable_factory(seed=None)
    assert at.base_id is None and at.store.base_ids() == []
    with pytest.raises(ValueError):
        at.table("Projects")
    with pytest.raises(ValueError):
        at.stats()
    with pytest.raises(RuntimeError):
        at.start()
    assert at.api().bases() == []


def test_pyairtable_orm_reads_linked_records(local_airtable: LocalAirtable) -> None:
    class Project(Model):
        name = F.TextField("Name")
        status = F.SelectField("Status")

        class Meta:
            api_key = "unused"
            base_id = DEMO_BASE_ID
            table_name = "Projects"

    class Deliverable(Model):
        name = F.TextField("Name")
        project = F.SingleLinkField("Project", Project)
        issue = F.UrlField("GitHub Issue")
        status = F.SelectField("Status")

        class Meta:
            api_key = "unused"
            base_id = DEMO_BASE_ID
            table_name = DELIVERABLES

    local_airtable.bind_models(Project, Deliverable)
    deliverable = Deliverable.first(formula=match({"Name": "Configure login"}))
    assert deliverable is not None
    assert deliverable.issue == "https://github.com/example-org/infrastructure/issues/2"
    project = deliverable.project
    assert project is not None and project.name == "Setup workshop hub"
    assert project.status == "In progress"
    deliverable.status = "Done"
    deliverable.save()
    assert local_airtable.table(DELIVERABLES).get(deliverable.id)["fields"]["Status"] == "Done"
    new = Deliverable(name="Via the ORM", project=project, status="Todo")
    new.save()
    project.fetch()
    assert local_airtable.table("Projects").get(project.id)["fields"]["Deliverables"][-1] == new.id


def test_server_thread_serves_until_stopped_then_tears_down() -> None:
    events: list[str] = []

    async def setup() -> None:
        events.append("setup")

    async def teardown() -> None:
        events.append("teardown")

    server = ServerThread("a-test-loop", setup, teardown)
    server.start()
    loop = server.loop
    assert loop is not None and events == ["setup"]
    assert asyncio.run_coroutine_threadsafe(asyncio.sleep(0, "ran"), loop).result(5) == "ran"
    server.stop()
    assert events == ["setup", "teardown"] and loop.is_closed() and server.loop is None
    server.stop()  # a second stop does nothing


def test_server_thread_raises_what_its_setup_raised() -> None:
    async def setup() -> None:
        raise OSError("address in use")

    async def teardown() -> None:  # pragma: no cover - never reached
        raise AssertionError("a failed setup is not torn down")

    server = ServerThread("a-failing-loop", setup, teardown)
    with pytest.raises(OSError, match="address in use"):
        server.start()
    assert server.loop is None
