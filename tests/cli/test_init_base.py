"""``deliverables-bot init-base`` as a user runs it, against the embedded Airtable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.airtable_local.seeds import default_base_id
from bot.airtable_local.thread import LocalAirtable
from bot.cli.base_schema import compare_schema, expected_schema
from bot.cli.exits import NO_BASE
from bot.cli.init_base import NO_TOKEN, NOTHING_TO_DO
from bot.config import Config
from tests.operator_helpers import operator_env, run_bot
from tests.processes import background, free_port
from tests.standins.github import GitHubStandIn

TOKEN = "patInitBaseTest.secret-token-value"
BLANK_BASE_ID = default_base_id("blank")
FROM_BLANK = [
    "create table Opportunities (3 fields)",
    "create table Contracts (3 fields; Airtable adds Opportunities.Contracts)",
    "create table Engagements (5 fields; Airtable adds Opportunities.Engagement)",
    "create table Projects (7 fields; Airtable adds Engagements.Projects)",
    "create table Project Deliverables (7 fields; Airtable adds Projects.Deliverables)",
]


@pytest.fixture
def blank(local_airtable_factory: Callable[..., LocalAirtable]) -> LocalAirtable:
    """A new Airtable base (one table, "Table 1") behind a token never to be printed."""
    return local_airtable_factory(seed="blank", token=TOKEN)


@pytest.fixture
def built(local_airtable_factory: Callable[..., LocalAirtable]) -> LocalAirtable:
    """A base with the bot's whole schema and no records."""
    return local_airtable_factory(seed="empty", token=TOKEN)


def metadata(at: LocalAirtable) -> dict[str, Any]:
    api = at.api()
    answer: dict[str, Any] = api.get(api.build_url(f"meta/bases/{at.base_id}/tables"))
    return answer


def init_base(tmp_path: Path, at: LocalAirtable, *args: str, **env: str) -> Any:
    return run_bot("init-base", *args, env=operator_env(tmp_path, at, None, **env), cwd=tmp_path)


def test_a_dry_run_lists_the_plan_and_changes_nothing(tmp_path: Path, blank: LocalAirtable) -> None:
    before = metadata(blank)
    result = init_base(tmp_path, blank, "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        *FROM_BLANK,
        "dry run: nothing was changed (5 change(s) planned)",
    ]
    assert metadata(blank) == before


def test_init_base_builds_a_base_that_check_passes_then_has_nothing_to_do(
    tmp_path: Path, blank: LocalAirtable, github: GitHubStandIn
) -> None:
    result = init_base(tmp_path, blank)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        *FROM_BLANK,
        "done: 5 table(s) and 0 field(s) created; the base has every table and field the bot needs",
    ]
    assert TOKEN not in result.stdout + result.stderr
    assert blank.store.table_names(str(blank.base_id)) == [
        "Table 1",
        "Opportunities",
        "Contracts",
        "Engagements",
        "Projects",
        "Project Deliverables",
    ]
    check = run_bot("check", env=operator_env(tmp_path, blank, github), cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"ok   Airtable schema: base {blank.base_id} schema matches the configuration" in (
        check.stdout.splitlines()
    )
    again = init_base(tmp_path, blank)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.splitlines() == [NOTHING_TO_DO]


def test_the_new_tables_take_linked_records_both_ways(tmp_path: Path, blank: LocalAirtable) -> None:
    assert init_base(tmp_path, blank).returncode == 0
    project = blank.table("Projects").create(
        {"Name": "Setup workshop hub", "Status": "In progress"}
    )
    deliverable = blank.table("Project Deliverables").create(
        {
            "Name": "Deploy the hub",
            "Project": [project["id"]],
            "Status": "Todo",
            "Completed": "2026-11-20T10:00:00.000Z",
        }
    )
    fields = blank.table("Projects").get(project["id"])["fields"]
    assert fields["Deliverables"] == [deliverable["id"]]  # the renamed inverse


def test_a_partly_built_base_gets_only_the_missing_parts(
    tmp_path: Path, built: LocalAirtable
) -> None:
    base = str(built.base_id)
    built.store.remove_field(base, "Projects", "Deliverables")  # and its inverse
    built.store.remove_field(base, "Contracts", "Kind")
    kept = {(t["name"], f["name"]): f["id"] for t in metadata(built)["tables"] for f in t["fields"]}
    result = init_base(tmp_path, built)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "create field Contracts.Kind (singleSelect)",
        "create field Projects.Deliverables (link to Project Deliverables; Airtable adds "
        "Project Deliverables.Project)",
        "done: 0 table(s) and 2 field(s) created; the base has every table and field the bot needs",
    ]
    after = metadata(built)
    assert compare_schema(base, expected_schema(Config()), after) == []
    now = {(t["name"], f["name"]): f["id"] for t in after["tables"] for f in t["fields"]}
    assert {key: now[key] for key in kept} == kept  # nothing that was there was touched


def test_a_field_of_the_wrong_type_is_reported_not_altered(
    tmp_path: Path, built: LocalAirtable
) -> None:
    base = str(built.base_id)
    built.store.change_field_type(base, "Engagements", "End", "singleLineText")
    built.store.remove_field(base, "Project Deliverables", "Completed")
    result = init_base(tmp_path, built)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "create field Project Deliverables.Completed (dateTime)",
        "problem: Engagements.End is a singleLineText field; the bot needs date: change its "
        "type in Airtable (init-base leaves existing fields as they are)",
        "done: 0 table(s) and 1 field(s) created; 1 problem(s) above are left to fix in Airtable",
    ]
    end = next(
        f
        for t in metadata(built)["tables"]
        if t["name"] == "Engagements"
        for f in t["fields"]
        if f["name"] == "End"
    )
    assert end["type"] == "singleLineText"
    # Nothing more to create, the problem stays.
    again = init_base(tmp_path, built, "--dry-run")
    assert again.returncode == 1
    assert again.stdout.splitlines()[0].startswith("nothing to create:")
    assert again.stdout.splitlines()[1].startswith("problem: Engagements.End")


def test_a_missing_select_option_is_a_manual_step(tmp_path: Path, built: LocalAirtable) -> None:
    built.store.remove_select_option(str(built.base_id), "Projects", "Status", "Complete")
    result = init_base(tmp_path, built)
    assert result.returncode == 1
    assert result.stdout.splitlines()[1:] == [
        'problem: Projects.Status has no option "Complete": add it to the field in Airtable '
        "(Airtable's API cannot add options to an existing field)"
    ]


def test_without_a_token_or_a_base_it_refuses(tmp_path: Path, blank: LocalAirtable) -> None:
    result = init_base(tmp_path, blank, AIRTABLE_TOKEN="")
    assert (result.returncode, result.stderr.strip(), result.stdout) == (2, NO_TOKEN, "")
    result = init_base(tmp_path, blank, AIRTABLE_BASE_ID="")
    assert (result.returncode, result.stderr.strip(), result.stdout) == (2, NO_BASE, "")


def test_airtable_failing_is_one_line(tmp_path: Path, blank: LocalAirtable) -> None:
    blank.faults.inject(503, times=1)
    result = init_base(tmp_path, blank)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == (
        f"error: base {blank.base_id}: Airtable answered HTTP 503: trouble on Airtable's side; "
        "try again later"
    )
    assert blank.store.table_names(str(blank.base_id)) == ["Table 1"]


def test_a_write_failing_stops_and_a_second_run_finishes(
    tmp_path: Path, blank: LocalAirtable
) -> None:
    # The schema read and the first table pass; the second table's request fails.
    env = operator_env(tmp_path, blank)
    failing = _fail_request(blank, number=3)
    result = run_bot("init-base", env=env, cwd=tmp_path)
    failing()
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        f"error: creating table Contracts: base {blank.base_id}: Airtable answered HTTP 503"
    )
    assert line.endswith("(what was created stays; run init-base again to go on)")
    assert blank.store.table_names(str(blank.base_id)) == ["Table 1", "Opportunities"]
    again = run_bot("init-base", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.splitlines()[:-1] == FROM_BLANK[1:]


def _fail_request(at: LocalAirtable, *, number: int) -> Callable[[], None]:
    """Make the ``number``-th request from now fail with 503 (the earlier ones pass)."""
    calls = {"n": 0}
    take = at.faults.take

    def counting() -> int | None:
        calls["n"] += 1
        if calls["n"] == number:
            return 503
        return take()

    at.faults.take = counting  # type: ignore[method-assign]

    def restore() -> None:
        at.faults.take = take  # type: ignore[method-assign]

    return restore


def test_the_readme_s_local_try_out_airtable_local_blank_then_init_base_then_check(
    tmp_path: Path,
) -> None:
    """As the README tells it: ``airtable-local --seed blank``, ``init-base``, ``check``."""
    port = free_port()
    env = operator_env(
        tmp_path,
        None,
        AIRTABLE_TOKEN=TOKEN,
        AIRTABLE_BASE_ID=BLANK_BASE_ID,
        AIRTABLE_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        GITHUB_WEBHOOK_SECRET="a-webhook-secret",
    )
    args = ("airtable-local", "--port", str(port), "--seed", "blank", "--rate-limit", "0")
    with background(*args, env=env, folder=tmp_path, name="airtable-local") as local:
        local.wait_for_stdout("Ctrl-C stops.")
        built = run_bot("init-base", env=env, cwd=tmp_path)
        assert built.returncode == 0, built.stdout + built.stderr
        assert built.stdout.splitlines()[:-1] == FROM_BLANK
        check = run_bot("check", "--without-github", env=env, cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"ok   Airtable schema: base {BLANK_BASE_ID} schema matches the configuration" in (
        check.stdout.splitlines()
    )
