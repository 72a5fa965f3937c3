"""``deliverables-bot init-base [--dry-run]``: build the bot's tables and fields in a base.

Reads the base's schema through Airtable's metadata API, prints the plan of
:func:`bot.core.base_plan.plan_base` (one line per table or field to create) and, unless
``--dry-run``, makes it: ``POST /v0/meta/bases/{id}/tables`` for each missing table,
``POST .../tables/{id}/fields`` for each missing field, and ``PATCH .../fields/{id}`` to
give the inverse of a new link the name the configuration gives it (Airtable names it after
the linking table). Every request goes through the base's lane (pyairtable, rate-limited,
one request per call, so a 429 retried never sends a write twice). Afterwards the schema is
read again and planned again: anything still missing is a failure.

Nothing existing is changed or deleted: a field of the wrong type, a link to the wrong
table or a select without an option the bot needs is listed (``problem: ...``) for a person
to fix in Airtable, and the exit code is 1. Exit 0 when the base has (or now has) every
table and field; 1 when Airtable fails (one line, the plan can be run again: it only does
what is still missing); 2 without a token or a base. The token needs the scopes
``schema.bases:read`` and ``schema.bases:write``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any

from bot.cli.base_schema import expected_schema
from bot.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE, print_failure, refuse_without_base
from bot.cli.logging_setup import quiet
from bot.config import Config
from bot.config_loader import load_config
from bot.core.base_plan import BasePlan, CreateField, CreateTable, NewField, plan_base

if TYPE_CHECKING:
    from bot.clients.airtable import AirtableLane

NO_TOKEN = (
    "error: AIRTABLE_TOKEN is not set: create a personal access token with "
    "schema.bases:read and schema.bases:write on the base, and set it"
)
NOTHING_TO_DO = "nothing to do: the base has every table and field the bot needs"
NOTHING_TO_CREATE = "nothing to create: the base has every table and field the bot needs, but"
PROBLEM = "problem: {problem}"
DRY_RUN = "dry run: nothing was changed ({count} change(s) planned)"
DONE = "done: {tables} table(s) and {fields} field(s) created; {outcome}"
OUTCOME_OK = "the base has every table and field the bot needs"
OUTCOME_PROBLEMS = "{count} problem(s) above are left to fix in Airtable"
STILL_MISSING = "after init-base the base still lacks what these would create: {lines}"
WRITE_FAILED = "{what}: {problem} (what was created stays; run init-base again to go on)"
WRITE_FORBIDDEN = (
    "Airtable HTTP 403: the token cannot change the base's schema: give it the scope "
    "schema.bases:write and access to the base"
)
BASE_HEADER = "base {base}"


class _Stop(Exception):
    """A write failed; its line is printed, the command ends."""


def run(args: argparse.Namespace) -> int:
    """``deliverables-bot init-base``: plan, print and (unless ``--dry-run``) build."""
    quiet(args)
    config = load_config()
    if not config.airtable_token:
        print(NO_TOKEN, file=sys.stderr)
        return EXIT_USAGE
    if refuse_without_base(config):
        return EXIT_USAGE
    return asyncio.run(init_bases(config, dry_run=args.dry_run))


async def init_bases(config: Config, *, dry_run: bool) -> int:
    """Plan (and build) every base the configuration names; the exit code."""
    from bot.app import open_runtime
    from bot.clients.reads import base_ids

    code = EXIT_OK
    async with open_runtime(config) as runtime:
        bases = base_ids(config)
        for index, base in enumerate(bases):
            if len(bases) > 1:
                print(("\n" if index else "") + BASE_HEADER.format(base=base))
            result = await init_base(runtime.lanes.for_base(base), dry_run=dry_run)
            code = max(code, result)
    return code


async def init_base(lane: AirtableLane, *, dry_run: bool) -> int:
    """Plan one base, print the plan and, unless ``dry_run``, make it; the exit code."""
    from bot.clients.airtable import AirtableError
    from bot.clients.errors import airtable_problem_for

    config, base = lane.config, lane.base_id
    expected = expected_schema(config, base)
    try:
        schema = await _read_schema(lane)
    except AirtableError as exc:
        return print_failure(airtable_problem_for(config, exc, base=base))
    plan = plan_base(expected, schema)
    if not plan.actions:
        print(NOTHING_TO_CREATE if plan.problems else NOTHING_TO_DO)
    for line in plan.lines():
        print(line)
    for problem in plan.problems:
        print(PROBLEM.format(problem=problem))
    code = EXIT_FAILED if plan.problems else EXIT_OK
    if not plan.actions:
        return code
    if dry_run:
        print(DRY_RUN.format(count=len(plan.actions)))
        return code
    try:
        await _perform(lane, plan, schema)
        after = plan_base(expected, await _read_schema(lane))
    except _Stop as stop:
        return print_failure(stop)
    except AirtableError as exc:
        return print_failure(airtable_problem_for(config, exc, base=base))
    if after.actions:
        return print_failure(STILL_MISSING.format(lines="; ".join(after.lines())))
    tables = sum(isinstance(action, CreateTable) for action in plan.actions)
    outcome = OUTCOME_PROBLEMS.format(count=len(plan.problems)) if plan.problems else OUTCOME_OK
    print(DONE.format(tables=tables, fields=len(plan.actions) - tables, outcome=outcome))
    return code


async def _read_schema(lane: AirtableLane) -> dict[str, Any]:
    base = lane.base_id
    schema: dict[str, Any] = await lane.call(
        "schema", lambda api: api.get(api.build_url(f"meta/bases/{base}/tables"))
    )
    return schema


async def _perform(lane: AirtableLane, plan: BasePlan, schema: dict[str, Any]) -> None:
    """Make the plan's actions in order, naming each new link's inverse as configured."""
    base = lane.base_id
    table_ids = {t["name"]: t["id"] for t in schema.get("tables", ())}
    for action in plan.actions:
        if isinstance(action, CreateTable):
            payload = {
                "name": action.name,
                "fields": [f.config(table_ids) for f in action.fields],
            }
            created = await _write(
                lane,
                f"creating table {action.name}",
                lambda api, payload=payload: api.post(api.base(base).urls.tables, json=payload),
            )
            table_ids[action.name] = created["id"]
            by_name = {f["name"]: f for f in created.get("fields", ())}
            for new in action.fields:
                await _name_inverse(lane, new, by_name.get(new.name) or {}, table_ids)
        elif isinstance(action, CreateField):
            new = action.field
            request = new.config(table_ids)
            field = await _write(
                lane,
                f"creating field {new.table}.{new.name}",
                lambda api, new=new, request=request: api.table(
                    base, table_ids[new.table]
                ).create_field(request["name"], request["type"], options=request.get("options")),
            )
            await _name_inverse(lane, new, field.model_dump(by_alias=True), table_ids)


async def _name_inverse(
    lane: AirtableLane, new: NewField, created: dict[str, Any], table_ids: dict[str, str]
) -> None:
    """Rename the inverse Airtable added for the new link ``new`` (named after its table)
    to the name the configuration gives it, when that differs."""
    if new.link is None or not new.inverse_renamed:
        return
    inverse_id = (created.get("options") or {}).get("inverseLinkFieldId")
    if not inverse_id:
        return  # no inverse was added: the check after the plan says what is missing
    base, target = lane.base_id, table_ids[new.link]
    await _write(
        lane,
        f"naming {new.link}.{new.inverse}, the inverse of {new.table}.{new.name}",
        lambda api: api.patch(
            api.table(base, target).urls.fields / inverse_id, json={"name": new.inverse}
        ),
    )


async def _write(lane: AirtableLane, what: str, fn: Any) -> Any:
    """One write through the lane; a failure becomes :class:`_Stop` with its line."""
    from bot.clients.airtable import AirtableError
    from bot.clients.errors import airtable_problem_for

    try:
        return await lane.call("schema write", fn)
    except AirtableError as exc:
        problem = (
            WRITE_FORBIDDEN
            if exc.status == 403
            else airtable_problem_for(lane.config, exc, base=lane.base_id)
        )
        raise _Stop(WRITE_FAILED.format(what=what, problem=problem)) from exc


def add_parser(commands: Any) -> None:
    """Add ``init-base`` to the sub-command parsers."""
    parser = commands.add_parser(
        "init-base",
        help="create the tables, fields and select options the bot needs in the base",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be created, change nothing"
    )
    parser.set_defaults(func=run)
