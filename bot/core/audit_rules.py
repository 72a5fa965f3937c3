"""The rules of the process (README: The process's rules) as named, pure checks over a base.

Each :class:`Rule` (a name, a description and a check) takes an :class:`AuditContext` (the
base as plain data and its id, the configuration, today's date and, when GitHub can be read,
the state of each deliverable's issue) and returns its violations, each naming the records
involved by name and record id. :data:`RULES` lists them in the order they are reported;
:func:`bot.core.audit_result.run_audit` runs them. Reading the base and GitHub, and
rendering the result, are :mod:`bot.cli.audit`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from bot.config import Config, is_repository_name
from bot.core.issue import IssueState, parse_issue_url
from bot.core.records import BaseData, Record
from bot.core.renewal_rules import parse_date, projects_of
from bot.core.status import deliverable_state

# The one rule that reads GitHub: skipped when issues cannot be read.
STATUS_RULE = "deliverable-status-disagrees"
# How a violation's message names a record of each table (a key of BaseData): one, several.
KINDS = {
    "opportunities": ("Opportunity", "Opportunities"),
    "contracts": ("Contract", "Contracts"),
    "engagements": ("Engagement", "Engagements"),
    "projects": ("Project", "Projects"),
    "deliverables": ("Deliverable", "Deliverables"),
}


@dataclass(frozen=True)
class RecordRef:
    """A record named in a violation: the table it is in, its record id, and its name as the
    base shows it (``(unnamed)`` when it has none)."""

    table: str
    id: str
    name: str

    def __str__(self) -> str:
        return f'"{self.name}" ({self.id})'


@dataclass(frozen=True)
class Violation:
    """One breach of a rule, naming the records involved."""

    rule: str
    message: str
    records: tuple[RecordRef, ...]


@dataclass(frozen=True)
class AuditContext:
    """What the rules look at."""

    data: BaseData
    config: Config
    today: date
    issues: Mapping[str, IssueState] | None = None  # None: GitHub could not be read
    base_id: str | None = None  # the base audited (None: not known; only the default counts)

    def ref(self, table: str, record: Record) -> RecordRef:
        """A :class:`RecordRef` for a record of ``table`` (a key of :class:`BaseData`)."""
        name_field = getattr(self.config.fields, table).name
        name = str(record["fields"].get(name_field) or "(unnamed)")
        return RecordRef(getattr(self.config.tables, table), record["id"], name)


def default_repository(config: Config, base_id: str | None) -> str | None:
    """Where the issues of a base's Projects without a Repository go (None: nowhere); for a
    base not known, only ``[airtable_to_github] default_repository`` counts."""
    if base_id is None:
        return config.airtable_to_github.default_repository or None
    return config.default_repository(base_id)


Check = Callable[[AuditContext], list[Violation]]


@dataclass(frozen=True)
class Rule:
    """A named rule of the process and its check."""

    name: str
    description: str
    check: Check


def _rule(name: str, description: str) -> Callable[[Check], Rule]:
    """Make the check below a :class:`Rule` of that name and description."""
    return lambda check: Rule(name, description, check)


def _links(record: Record, field_name: str) -> list[str]:
    return list(record["fields"].get(field_name) or ())


def _by_id(records: list[Record]) -> dict[str, Record]:
    return {r["id"]: r for r in records}


def _each_record(
    ctx: AuditContext, rule: str, table: str, problem: Callable[[Record], str | None]
) -> list[Violation]:
    """One violation for each record of ``table`` that ``problem`` finds wrong, worded
    ``<Kind> "<name>" (<id>) <problem>``."""
    found = []
    for record in getattr(ctx.data, table):
        wrong = problem(record)
        if wrong is None:
            continue
        ref = ctx.ref(table, record)
        found.append(Violation(rule, f"{KINDS[table][0]} {ref} {wrong}", (ref,)))
    return found


def _link_count(
    ctx: AuditContext,
    rule: str,
    table: str,
    links: Callable[[Record], list[str]],
    linked: str,
    *,
    at_most_one: bool = False,
) -> list[Violation]:
    """The records of ``table`` not linked to exactly one record of the table ``linked``;
    ``links`` gives a record's linked ids. The message says how many (``has no Project``,
    ``has 2 Projects``).

    With ``at_most_one``, only a record linked to more than one is wrong, and its message
    and violation name the records it is linked to as well.
    """
    one, several = KINDS[linked]
    linked_by_id = _by_id(getattr(ctx.data, linked)) if at_most_one else {}
    found = []
    for record in getattr(ctx.data, table):
        ids = links(record)
        if len(ids) == 1 or (at_most_one and not ids):
            continue
        ref = ctx.ref(table, record)
        what = f"no {one}" if not ids else f"{len(ids)} {several}"
        others = tuple(ctx.ref(linked, linked_by_id[i]) for i in ids) if at_most_one else ()
        if others:
            what += ": " + ", ".join(map(str, others))
        found.append(Violation(rule, f"{KINDS[table][0]} {ref} has {what}", (ref, *others)))
    return found


def _exactly_one(name: str, description: str) -> Rule:
    """The rule ``<kind>-<other kind>-count``: each record of the first kind is linked to
    exactly one of the other, through its field named for it (an Engagement's Opportunity)."""
    kind, other, _ = name.split("-")
    table_of = {one.lower(): table for table, (one, _several) in KINDS.items()}
    table, linked = table_of[kind], table_of[other]

    def check(ctx: AuditContext) -> list[Violation]:
        field_name = getattr(getattr(ctx.config.fields, table), other)
        return _link_count(ctx, name, table, lambda record: _links(record, field_name), linked)

    return Rule(name, description, check)


@_rule("new-won-without-contract", "a New Closed-Won Opportunity has a Contract or MOU")
def new_won_without_contract(ctx: AuditContext) -> list[Violation]:
    """Rule 2: a New Closed-Won Opportunity has at least one Contract or MOU."""
    names = ctx.config.fields.opportunities
    contract_link = ctx.config.fields.contracts.opportunity
    contracted = {o for c in ctx.data.contracts for o in _links(c, contract_link)}

    def problem(opp: Record) -> str | None:
        fields = opp["fields"]
        if fields.get(names.type) != "New" or fields.get(names.stage) != "Closed-Won":
            return None
        if _links(opp, names.contracts) or opp["id"] in contracted:
            return None
        return "is New and Closed-Won but has no Contract or MOU"

    return _each_record(ctx, "new-won-without-contract", "opportunities", problem)


@_rule("engagement-opportunity-not-won", "an Engagement's Opportunity is Closed-Won")
def engagement_opportunity_not_won(ctx: AuditContext) -> list[Violation]:
    """Rule 1: only a Closed-Won Opportunity gets an Engagement."""
    opportunities = _by_id(ctx.data.opportunities)
    stage = ctx.config.fields.opportunities.stage
    found = []
    for engagement in ctx.data.engagements:
        for opp_id in _links(engagement, ctx.config.fields.engagements.opportunity):
            opp = opportunities.get(opp_id)
            if opp is None or opp["fields"].get(stage) == "Closed-Won":
                continue
            e, o = ctx.ref("engagements", engagement), ctx.ref("opportunities", opp)
            found.append(
                Violation(
                    "engagement-opportunity-not-won",
                    f"Engagement {e} belongs to Opportunity {o}, whose Stage is "
                    f"{opp['fields'].get(stage) or 'empty'}, not Closed-Won",
                    (e, o),
                )
            )
    return found


@_rule("opportunity-several-engagements", "an Opportunity has at most one Engagement")
def opportunity_several_engagements(ctx: AuditContext) -> list[Violation]:
    """Rule 3: an Opportunity has at most one Engagement."""
    engagements_of: dict[str, list[str]] = {}
    for engagement in ctx.data.engagements:
        for opp_id in _links(engagement, ctx.config.fields.engagements.opportunity):
            engagements_of.setdefault(opp_id, []).append(engagement["id"])
    return _link_count(
        ctx,
        "opportunity-several-engagements",
        "opportunities",
        lambda opp: engagements_of.get(opp["id"], []),
        "engagements",
        at_most_one=True,
    )


# Rules 3 and 5: an Engagement has one parent Opportunity, a Project one Engagement, a
# Project Deliverable one Project.
engagement_opportunity_count, project_engagement_count, deliverable_project_count = (
    _exactly_one("engagement-opportunity-count", "an Engagement has exactly one Opportunity"),
    _exactly_one("project-engagement-count", "a Project has exactly one Engagement"),
    _exactly_one("deliverable-project-count", "a deliverable has exactly one Project"),
)


@_rule("engagement-without-dates", "an Engagement has a Start and an End")
def engagement_without_dates(ctx: AuditContext) -> list[Violation]:
    """Rule 4: an Engagement has a Start and an End."""
    names = ctx.config.fields.engagements

    def problem(engagement: Record) -> str | None:
        missing = [
            label
            for label, key in (("Start", names.start), ("End", names.end))
            if parse_date(engagement["fields"].get(key)) is None
        ]
        return f"has no {' and no '.join(missing)}" if missing else None

    return _each_record(ctx, "engagement-without-dates", "engagements", problem)


@_rule("project-without-sow", "a Project has a Statement of Work")
def project_without_sow(ctx: AuditContext) -> list[Violation]:
    """Rule 5: a Project is defined by a Statement of Work."""
    sow = ctx.config.fields.projects.statement_of_work
    return _each_record(
        ctx,
        "project-without-sow",
        "projects",
        lambda p: None if str(p["fields"].get(sow) or "").strip() else "has no Statement of Work",
    )


@_rule("deliverable-without-issue", "a deliverable has a GitHub issue")
def deliverable_without_issue(ctx: AuditContext) -> list[Violation]:
    """Rule 6: a Project Deliverable is linked to a GitHub issue."""
    issue_field = ctx.config.fields.deliverables.issue

    def problem(deliverable: Record) -> str | None:
        url = str(deliverable["fields"].get(issue_field) or "")
        if parse_issue_url(url) is not None:
            return None
        return f"has an issue URL GitHub does not know: {url}" if url else "has no GitHub issue"

    return _each_record(ctx, "deliverable-without-issue", "deliverables", problem)


@_rule(
    "project-without-repository",
    "with Airtable → GitHub on, a Project has a repository (owner/name) for its issues",
)
def project_without_repository(ctx: AuditContext) -> list[Violation]:
    """Rule 6, typed into Airtable: a deliverable's issue is opened in its Project's
    Repository, else the base's default repository; a Project with neither, or with a
    Repository that is not ``owner/name``, gets no issues. Only with Airtable → GitHub on."""
    if not ctx.config.airtable_to_github.enabled:
        return []
    repository = ctx.config.fields.projects.repository
    fallback = default_repository(ctx.config, ctx.base_id)

    def problem(project: Record) -> str | None:
        value = project["fields"].get(repository)
        if value is None or value == "":
            if fallback:
                return None
            return (
                f"has no {repository} and the base has no default repository, so its "
                f"deliverables get no issues: set its {repository} to owner/name, or set "
                "[airtable_to_github] default_repository"
            )
        if isinstance(value, str) and is_repository_name(value):
            return None
        return f"has a {repository} that is not owner/name: {value!r}"

    return _each_record(ctx, "project-without-repository", "projects", problem)


@_rule(STATUS_RULE, "a deliverable's Status agrees with its issue")
def deliverable_status_disagrees(ctx: AuditContext) -> list[Violation]:
    """Rule 6: the issue's state says whether the work is done; the Status must agree."""
    issues = ctx.issues
    if issues is None:
        return []
    names = ctx.config.fields.deliverables

    def problem(deliverable: Record) -> str | None:
        ref = parse_issue_url(str(deliverable["fields"].get(names.issue) or ""))
        issue = issues.get(ref.key) if ref else None
        if issue is None:
            return None
        want = deliverable_state(issue, ctx.config.statuses, ctx.config.labels).status
        have = deliverable["fields"].get(names.status)
        if have == want:
            return None
        return (
            f"says {have or 'nothing'} but its issue {ref} is {issue.state} ({want}); "
            "run `deliverables-bot sync` to repair"
        )

    return _each_record(ctx, STATUS_RULE, "deliverables", problem)


@_rule(
    "engagement-past-end-incomplete", "an active Engagement past its End has all Projects complete"
)
def engagement_past_end_incomplete(ctx: AuditContext) -> list[Violation]:
    """Rules 4 and 5: an active Engagement past its End has all its Projects complete."""
    names = ctx.config.fields.engagements
    engagement_statuses = ctx.config.statuses.engagement
    complete = ctx.config.statuses.project.complete
    status = ctx.config.fields.projects.status
    found = []
    for engagement in ctx.data.engagements:
        if engagement["fields"].get(names.status) not in (
            engagement_statuses.active,
            engagement_statuses.needs_renewal,
        ):
            continue
        end = parse_date(engagement["fields"].get(names.end))
        if end is None or end >= ctx.today:
            continue
        open_projects = [
            p
            for p in projects_of(engagement["id"], ctx.data.projects, ctx.config)
            if p["fields"].get(status) != complete
        ]
        if not open_projects:
            continue
        e = ctx.ref("engagements", engagement)
        refs = tuple(ctx.ref("projects", p) for p in open_projects)
        found.append(
            Violation(
                "engagement-past-end-incomplete",
                f"Engagement {e} ended on {end.isoformat()} but is still "
                f"{engagement['fields'].get(names.status)} with Projects not complete: "
                f"{', '.join(map(str, refs))}",
                (e, *refs),
            )
        )
    return found


RULES: tuple[Rule, ...] = (
    new_won_without_contract,
    engagement_opportunity_not_won,
    opportunity_several_engagements,
    engagement_opportunity_count,
    engagement_without_dates,
    project_engagement_count,
    project_without_sow,
    project_without_repository,
    deliverable_project_count,
    deliverable_without_issue,
    deliverable_status_disagrees,
    engagement_past_end_incomplete,
)
