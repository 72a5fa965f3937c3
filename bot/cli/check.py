"""``check``: is the bot wired right? Configuration, Airtable, the base's schema, GitHub, secret,
and the delivery journal in the data folder (deliveries waiting; any failed one fails it).

Each check gives one line, passed or failed, and a failed line says what to do; exit 0 when
every check passes. The schema check reads the base through Airtable's metadata API and
holds it against the configuration (:mod:`bot.cli.base_schema`): every missing table or
field, wrong field type, missing select option and link to the wrong table is its own line.

When the Projects table has its Repository field, every value must be ``owner/name``: a
Project whose value is not fails its own line. With Airtable → GitHub on, one line per base
says where the issues of Projects without a Repository go (its default repository, or
nowhere: only Projects with a Repository get issues).

Without GitHub App credentials the GitHub check fails — a bot that cannot read GitHub
cannot sync or check permissions — unless ``--without-github`` says that running without
GitHub is intended (the demo, a logging-only trial); then it is reported as skipped.
``--demo`` checks the running demo's base instead of ``AIRTABLE_*`` (:mod:`bot.cli.demo_base`),
GitHub as with ``--without-github``, and the webhook secret the demo keeps. No
secret is ever printed: only whether it is set. The Airtable and GitHub clients are imported
where they are used, so that the rest of the command line starts without them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bot.cli.base_schema import TEXT_TYPES, compare_schema, expected_schema
from bot.cli.check_result import CheckResult
from bot.cli.check_webhook import check_webhooks
from bot.cli.demo_base import (
    DEMO_TOKEN_LINE,
    add_demo_option,
    demo_config,
    demo_secret_result,
    running_demo_url,
)
from bot.cli.exits import EXIT_FAILED, EXIT_OK, NO_BASE_PROBLEM
from bot.cli.logging_setup import quiet
from bot.config import Config, ConfigError
from bot.config_loader import load_config
from bot.core.audit_rules import default_repository, is_repository_name
from bot.intake.journal import Journal
from bot.intake.journal_schema import inspect_postgres
from bot.storage.database import STORE_ERRORS

if TYPE_CHECKING:
    from bot.app import Runtime

CONFIG_OK = "configuration is valid ({source})"
CONFIG_PROBLEM = "{problem}"
TOKEN_MISSING = (
    "AIRTABLE_TOKEN is not set: create a personal access token with data.records:read, "
    "data.records:write and schema.bases:read and set it"
)
BASE_MISSING = f"{NO_BASE_PROBLEM}: set it to the base's id (app...)"
BASE_OK = "base {base} is reachable: {tables} tables"
# A failed base or GitHub line is worded by bot.clients.errors, as every command words it.
SCHEMA_OK = "base {base} schema matches the configuration"
REPOSITORY_BAD = (
    'base {base}: Project "{project}" ({id}) has {field} {value!r}, not a repository as '
    "owner/name: write it as owner/name (example-org/infrastructure) in Airtable, or empty it"
)
REPOSITORIES_OK = "base {base}: {count} Project(s) name a repository, each as owner/name"
ISSUES_GO_DEFAULT = (
    "base {base}: Airtable → GitHub is on; issues of Projects without a {field} are opened "
    "in {repository}"
)
ISSUES_GO_ONLY_SET = (
    "base {base}: Airtable → GitHub is on; no default repository for this base, so only "
    "Projects with a {field} get issues"
)
GITHUB_NOT_CONFIGURED = (
    "GitHub App not configured: set GITHUB_APP_ID and GITHUB_PRIVATE_KEY (or "
    "GITHUB_PRIVATE_KEY_PATH), or pass --without-github if the bot is meant to run "
    "without GitHub"
)
GITHUB_SKIPPED = (
    "GitHub App not configured (--without-github: the bot logs its GitHub writes instead "
    "of sending them)"
)
GITHUB_OK = "GitHub App {app_id}: JWT accepted; {count} installation(s): {accounts}"
GITHUB_NO_INSTALLATIONS = (
    "GitHub App {app_id}: JWT accepted but the App has no installations: install it on "
    "the repositories whose issues are deliverables"
)
GITHUB_FAILED = "GitHub App {app_id}: {problem}"
GITHUB_OWNER_UNINSTALLED = (
    "GitHub App {app_id}: [bases] names {owner}, but the App is not installed there: "
    "install it on {owner}"
)
SECRET_OK = "GITHUB_WEBHOOK_SECRET is set"
SECRET_MISSING = (
    "GITHUB_WEBHOOK_SECRET is not set: serve takes no deliveries without it; set it to "
    "the App's webhook secret (with no App yet, `deliverables-bot register` writes it)"
)
JOURNAL_NONE = "no journal yet at {path} (serve creates it)"
JOURNAL_OK = (
    "{path}: {waiting} deliveries waiting ({pending} pending, {processing} processing), none failed"
)
JOURNAL_FAILED = (
    "{path}: {failed} failed deliveries, {waiting} waiting; the oldest failed, {id} "
    "({event}, {issue}, {attempts} attempts), last error: {error}. List them with "
    "`deliverables-bot deliveries list --failed`, retry one with `deliverables-bot "
    "deliveries retry ID` once the cause is fixed"
)
JOURNAL_UNREADABLE = "{path} cannot be read: {error}"
DATABASE_UNREACHABLE = "{error}"
VISIBLE_OK = "GitHub answered every issue the bot last read"
NOT_VISIBLE = (
    "GitHub answers 404 for {count} deliverable issue(s), left as they are: {repos}. Install "
    "the App on those repositories (or give it access to them), or correct the GitHub Issue "
    "URL in Airtable; then `deliverables-bot sync` reads them again"
)
SUMMARY_OK = "all {count} checks passed"
SUMMARY_FAILED = "{failed} of {count} checks failed"


async def _check_base(runtime: Runtime, base: str) -> list[CheckResult]:
    from bot.clients.airtable import AirtableError
    from bot.clients.errors import airtable_problem_for

    config = runtime.config
    lane = runtime.lanes.for_base(base)
    name = f"Airtable base {base}"
    try:
        schema = await lane.call(
            "schema", lambda api: api.get(api.build_url(f"meta/bases/{base}/tables"))
        )
    except AirtableError as exc:
        # 401 the token, 403 a scope or access, 404 the base, 429 later, 5xx their side,
        # no answer, not JSON: each its own line (bot.clients.errors), not all "refused".
        return [CheckResult(name, False, airtable_problem_for(config, exc, base=base))]
    results = [
        CheckResult(name, True, BASE_OK.format(base=base, tables=len(schema.get("tables", ()))))
    ]
    problems = compare_schema(base, expected_schema(config, base), schema)
    results.extend(CheckResult("Airtable schema", False, problem) for problem in problems)
    if not problems:
        results.append(CheckResult("Airtable schema", True, SCHEMA_OK.format(base=base)))
    if _has_repository_field(config, schema):
        results.extend(await _check_repositories(runtime, base))
    if config.airtable_to_github.enabled:
        results.append(_where_issues_go(config, base))
    return results


def _has_repository_field(config: Config, schema: Mapping[str, Any]) -> bool:
    """Whether the base's Projects table has the Repository field, as text (a field of
    another type is the schema check's line already)."""
    table = next(
        (t for t in schema.get("tables", ()) if t.get("name") == config.tables.projects), None
    )
    name = config.fields.projects.repository
    return table is not None and any(
        f.get("name") == name and f.get("type") in TEXT_TYPES for f in table.get("fields", ())
    )


async def _check_repositories(runtime: Runtime, base: str) -> list[CheckResult]:
    """Each Project whose Repository is set but not ``owner/name``, a failed line of its own."""
    from bot.clients.airtable import AirtableError
    from bot.clients.errors import airtable_problem_for

    config = runtime.config
    check = "Project repositories"
    names = config.fields.projects
    try:
        projects = await runtime.lanes.for_base(base).table_records(config.tables.projects)
    except AirtableError as exc:
        return [CheckResult(check, False, airtable_problem_for(config, exc, base=base))]
    named = [p for p in projects.values() if p["fields"].get(names.repository) not in (None, "")]
    bad = [
        p
        for p in named
        if not (
            isinstance(value := p["fields"][names.repository], str) and is_repository_name(value)
        )
    ]
    if not bad:
        return [CheckResult(check, True, REPOSITORIES_OK.format(base=base, count=len(named)))]
    return [
        CheckResult(
            check,
            False,
            REPOSITORY_BAD.format(
                base=base,
                project=p["fields"].get(names.name) or "(unnamed)",
                id=p["id"],
                field=names.repository,
                value=p["fields"][names.repository],
            ),
        )
        for p in bad
    ]


def _where_issues_go(config: Config, base: str) -> CheckResult:
    """Where Airtable → GitHub opens the issues of the base's Projects without a Repository."""
    repository = default_repository(config, base)
    field = config.fields.projects.repository
    if repository:
        detail = ISSUES_GO_DEFAULT.format(base=base, field=field, repository=repository)
    else:
        detail = ISSUES_GO_ONLY_SET.format(base=base, field=field)
    return CheckResult("Airtable → GitHub", True, detail)


async def _check_github(runtime: Runtime, *, without_github: bool) -> list[CheckResult]:
    from bot.clients.errors import GITHUB_FAILURES, github_problem_for

    config = runtime.config
    name = "GitHub App"
    if not config.has_github_app:
        if without_github:
            return [CheckResult(name, True, GITHUB_SKIPPED, skipped=True)]
        return [CheckResult(name, False, GITHUB_NOT_CONFIGURED)]
    app_id = config.github_app_id
    try:
        installations = await runtime.github.installations()
    except GITHUB_FAILURES as exc:
        problem = github_problem_for(config, exc)
        return [CheckResult(name, False, GITHUB_FAILED.format(app_id=app_id, problem=problem))]
    if not installations:
        return [CheckResult(name, False, GITHUB_NO_INSTALLATIONS.format(app_id=app_id))]
    accounts = sorted(str(i.get("account", {}).get("login", "?")) for i in installations)
    results = [
        CheckResult(
            name,
            True,
            GITHUB_OK.format(app_id=app_id, count=len(installations), accounts=", ".join(accounts)),
        )
    ]
    installed = {a.lower() for a in accounts}
    for owner in sorted(config.bases_by_owner):
        if owner.lower() not in installed:
            results.append(
                CheckResult(
                    name, False, GITHUB_OWNER_UNINSTALLED.format(app_id=app_id, owner=owner)
                )
            )
    return results


def _check_database(config: Config) -> CheckResult | None:
    """With ``DATABASE_URL``: the database reachable, migrated, with every table; None
    without (the journal is a SQLite file, checked by :func:`_check_journal`)."""
    if config.database_url is None:
        return None
    try:
        ok, detail = inspect_postgres(config.database_url)
    except STORE_ERRORS as exc:
        return CheckResult("database", False, DATABASE_UNREACHABLE.format(error=_first_line(exc)))
    return CheckResult("database", ok, detail)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_journal(config: Config) -> CheckResult:
    """The journal: deliveries waiting, failed, the oldest failure."""
    name = "delivery journal"
    path = config.journal_description
    if not config.journal_exists:
        return CheckResult(name, True, JOURNAL_NONE.format(path=path))
    try:
        with Journal(config.journal_location) as journal:
            counts = journal.counts()
            oldest = journal.oldest_failed()
    except (*STORE_ERRORS, RuntimeError, OSError) as exc:
        return CheckResult(
            name, False, JOURNAL_UNREADABLE.format(path=path, error=_first_line(exc))
        )
    waiting = counts["pending"] + counts["processing"]
    if oldest is None:
        detail = JOURNAL_OK.format(
            path=path,
            waiting=waiting,
            pending=counts["pending"],
            processing=counts["processing"],
        )
        return CheckResult(name, True, detail)
    event = oldest["event"] + (f".{oldest['action']}" if oldest["action"] else "")
    detail = JOURNAL_FAILED.format(
        path=path,
        failed=counts["failed"],
        waiting=waiting,
        id=oldest["id"],
        event=event,
        issue=oldest["issue_key"] or "no issue",
        attempts=oldest["attempts"],
        error=oldest["last_error"] or "none recorded",
    )
    return CheckResult(name, False, detail)


def _check_visibility(config: Config) -> CheckResult:
    """Issues GitHub last answered 404 for (remembered in the journal), by repository."""
    name = "issues visible to the App"
    if not config.journal_exists:
        return CheckResult(name, True, VISIBLE_OK)
    try:
        with Journal(config.journal_location) as journal:
            rows = journal.not_visible()
    except (*STORE_ERRORS, RuntimeError, OSError) as exc:
        return CheckResult(
            name,
            False,
            JOURNAL_UNREADABLE.format(path=config.journal_description, error=_first_line(exc)),
        )
    if not rows:
        return CheckResult(name, True, VISIBLE_OK)
    by_repo: dict[str, list[str]] = {}
    for url, repository, _ in rows:
        by_repo.setdefault(repository, []).append(url.rsplit("/", 1)[-1])
    repos = "; ".join(
        f"{repo} (issues {', '.join(numbers)})" for repo, numbers in sorted(by_repo.items())
    )
    return CheckResult(name, False, NOT_VISIBLE.format(count=len(rows), repos=repos))


# A check run with the command's runtime, after the GitHub check (a webhook check, say).
RuntimeCheck = Callable[["Runtime"], Awaitable[list[CheckResult]]]


def extra_checks() -> tuple[RuntimeCheck, ...]:
    """The checks of other modules that ``check`` runs too: Airtable → GitHub's lines
    (:mod:`bot.cli.check_webhook`)."""
    return (check_webhooks,)


async def run_checks(
    environ: Mapping[str, str] | None = None,
    *,
    without_github: bool = False,
    extra: Sequence[RuntimeCheck] = (),
    demo_url: str | None = None,
) -> list[CheckResult]:
    """Run every check, then each of ``extra`` with the same runtime; a configuration that
    does not load stops the rest. With ``demo_url``, on the running demo's Airtable there."""
    from bot.app import open_runtime
    from bot.clients.reads import base_ids

    try:
        config = load_config(environ)
    except ConfigError as exc:
        return [
            CheckResult("configuration", False, CONFIG_PROBLEM.format(problem=p))
            for p in exc.problems
        ]
    if demo_url is not None:
        config = demo_config(config, demo_url)
    env = os.environ if environ is None else environ
    source = (
        "file " + env["DELIVERABLES_BOT_CONFIG"]
        if env.get("DELIVERABLES_BOT_CONFIG")
        else ("environment and defaults")
    )
    results = [CheckResult("configuration", True, CONFIG_OK.format(source=source))]
    async with open_runtime(config) as runtime:
        if not config.airtable_token:
            results.append(CheckResult("Airtable token", False, TOKEN_MISSING))
        else:
            token_line = DEMO_TOKEN_LINE if demo_url is not None else "AIRTABLE_TOKEN is set"
            results.append(CheckResult("Airtable token", True, token_line))
            bases = base_ids(config)
            if not bases:
                results.append(CheckResult("Airtable base", False, BASE_MISSING))
            for base in bases:
                results.extend(await _check_base(runtime, base))
        results.extend(await _check_github(runtime, without_github=without_github))
        for check in extra:
            results.extend(await check(runtime))
    results.append(
        CheckResult("webhook secret", bool(config.github_webhook_secret), SECRET_OK)
        if config.github_webhook_secret
        else demo_secret_result(config)
        if demo_url is not None
        else CheckResult("webhook secret", False, SECRET_MISSING)
    )
    database = await asyncio.to_thread(_check_database, config)
    if database is not None:
        results.append(database)
        if not database.ok:
            return results  # the journal's checks would only repeat it
    results.append(await asyncio.to_thread(_check_journal, config))
    results.append(await asyncio.to_thread(_check_visibility, config))
    return results


def render(results: list[CheckResult]) -> str:
    """The lines of ``check`` and a summary line."""
    failed = [r for r in results if not r.ok]
    lines = [r.line() for r in results]
    if failed:
        lines.append(SUMMARY_FAILED.format(failed=len(failed), count=len(results)))
    else:
        lines.append(SUMMARY_OK.format(count=len(results)))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """``deliverables-bot check``: print every check's line; exit 0 when all pass."""
    quiet(args)
    demo_url = running_demo_url() if args.demo else None
    results = asyncio.run(
        run_checks(
            without_github=args.without_github or args.demo,
            extra=extra_checks(),
            demo_url=demo_url,
        )
    )
    print(render(results))
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILED


def add_parser(commands: Any) -> None:
    """Add ``check`` to the sub-command parsers."""
    parser = commands.add_parser(
        "check", help="check the configuration, the Airtable base's schema and the GitHub App"
    )
    parser.add_argument(
        "--without-github",
        action="store_true",
        help="running without GitHub App credentials is intended: skip that check",
    )
    add_demo_option(parser)
    parser.set_defaults(func=run)
