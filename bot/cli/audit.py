"""The rules of the process (DESIGN.md section 1) as named, pure checks over a base's records.

Each rule takes an :class:`AuditContext` (the base as plain data, the configuration, today's
date and, when GitHub can be read, the state of each deliverable's issue) and returns its
violations, each naming the records involved by name and record id. :func:`run_audit`
runs them all; :func:`audit_base` reads a base (and GitHub) and runs them; the renderers
turn the result into text or JSON.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.clients.airtable import AirtableLane
from bot.clients.errors import GITHUB_FAILURES, github_problem_for
from bot.clients.reads import fetch_issues, read_base
from bot.config import Config
from bot.core.issue import IssueState, parse_issue_url
from bot.core.projects import find_by_name
from bot.core.records import BaseData, Record
from bot.core.status import deliverable_state
from bot.sync.renewal import parse_date, projects_of, renewal_name

GITHUB_SKIPPED = "skipped: no GitHub App credentials, so issues cannot be read"
GITHUB_FAILED = "skipped: GitHub could not be read ({reason})"
RULE_PARTIAL = "partly: some deliverables' issues could not be read, see the notes"
UNINSTALLED_SKIPPED = "{count} deliverable(s) in {repo} not checked: the App is not installed there"
NOT_VISIBLE_SKIPPED = (
    "{count} deliverable(s) in {repo} not checked: GitHub answers 404 (the App is not "
    "installed there, cannot see it, or it does not exist)"
)
UNREADABLE_SKIPPED = "{count} deliverable(s) in {what} not checked: {reason}"
INSTALLATIONS_FAILED = "listing the App's installations"
TEXT_RULE = "{mark} {name}: {description}"
TEXT_VIOLATION = "    - {message}"
TEXT_SUMMARY_OK = "all {rules} rules hold"
TEXT_SUMMARY_OK_SKIPPED = "all {checked} rules checked hold; {skipped} of {rules} skipped: {names}"
TEXT_SUMMARY_BROKEN = "{broken} of {rules} rules broken, {violations} violation(s)"
TEXT_SUMMARY_SKIPPED = "; {skipped} skipped: {names}"
TEXT_SUMMARY_PARTIAL = "not everything could be checked: see the notes above"
TEXT_RENEWAL = "renewal: Engagement {engagement} is {status}; {opportunity}"


@dataclass(frozen=True)
class RecordRef:
    """A record named in a violation."""

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

    def ref(self, table: str, record: Record) -> RecordRef:
        """A :class:`RecordRef` for a record of ``table`` (a key of :class:`BaseData`)."""
        name_field = getattr(self.config.fields, table).name
        name = str(record["fields"].get(name_field) or "(unnamed)")
        return RecordRef(getattr(self.config.tables, table), record["id"], name)


Check = Callable[[AuditContext], list[Violation]]


@dataclass(frozen=True)
class Rule:
    """A named rule of the process and its check."""

    name: str
    description: str
    check: Check


def _links(record: Record, field_name: str) -> list[str]:
    return list(record["fields"].get(field_name) or ())


def _by_id(records: list[Record]) -> dict[str, Record]:
    return {r["id"]: r for r in records}


def new_won_without_contract(ctx: AuditContext) -> list[Violation]:
    """Rule 2: a New Closed-Won Opportunity has at least one Contract or MOU."""
    names = ctx.config.fields.opportunities
    contract_link = ctx.config.fields.contracts.opportunity
    contracted = {o for c in ctx.data.contracts for o in _links(c, contract_link)}
    found = []
    for opp in ctx.data.opportunities:
        fields = opp["fields"]
        if fields.get(names.type) != "New" or fields.get(names.stage) != "Closed-Won":
            continue
        if _links(opp, names.contracts) or opp["id"] in contracted:
            continue
        ref = ctx.ref("opportunities", opp)
        found.append(
            Violation(
                "new-won-without-contract",
                f"Opportunity {ref} is New and Closed-Won but has no Contract or MOU",
                (ref,),
            )
        )
    return found


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


def opportunity_several_engagements(ctx: AuditContext) -> list[Violation]:
    """Rule 3: an Opportunity has at most one Engagement."""
    engagements_of: dict[str, list[Record]] = {}
    for engagement in ctx.data.engagements:
        for opp_id in _links(engagement, ctx.config.fields.engagements.opportunity):
            engagements_of.setdefault(opp_id, []).append(engagement)
    found = []
    for opp in ctx.data.opportunities:
        engagements = engagements_of.get(opp["id"], [])
        if len(engagements) <= 1:
            continue
        o = ctx.ref("opportunities", opp)
        refs = tuple(ctx.ref("engagements", e) for e in engagements)
        found.append(
            Violation(
                "opportunity-several-engagements",
                f"Opportunity {o} has {len(refs)} Engagements: {', '.join(map(str, refs))}",
                (o, *refs),
            )
        )
    return found


def engagement_opportunity_count(ctx: AuditContext) -> list[Violation]:
    """Rule 3: an Engagement has exactly one parent Opportunity."""
    found = []
    for engagement in ctx.data.engagements:
        count = len(_links(engagement, ctx.config.fields.engagements.opportunity))
        if count == 1:
            continue
        e = ctx.ref("engagements", engagement)
        what = "no Opportunity" if count == 0 else f"{count} Opportunities"
        found.append(Violation("engagement-opportunity-count", f"Engagement {e} has {what}", (e,)))
    return found


def engagement_without_dates(ctx: AuditContext) -> list[Violation]:
    """Rule 4: an Engagement has a Start and an End."""
    names = ctx.config.fields.engagements
    found = []
    for engagement in ctx.data.engagements:
        missing = [
            label
            for label, key in (("Start", names.start), ("End", names.end))
            if parse_date(engagement["fields"].get(key)) is None
        ]
        if missing:
            e = ctx.ref("engagements", engagement)
            found.append(
                Violation(
                    "engagement-without-dates",
                    f"Engagement {e} has no {' and no '.join(missing)}",
                    (e,),
                )
            )
    return found


def project_engagement_count(ctx: AuditContext) -> list[Violation]:
    """Rule 5: a Project belongs to exactly one Engagement."""
    found = []
    for project in ctx.data.projects:
        count = len(_links(project, ctx.config.fields.projects.engagement))
        if count == 1:
            continue
        p = ctx.ref("projects", project)
        what = "no Engagement" if count == 0 else f"{count} Engagements"
        found.append(Violation("project-engagement-count", f"Project {p} has {what}", (p,)))
    return found


def project_without_sow(ctx: AuditContext) -> list[Violation]:
    """Rule 5: a Project is defined by a Statement of Work."""
    sow = ctx.config.fields.projects.statement_of_work
    return [
        Violation(
            "project-without-sow",
            f"Project {ctx.ref('projects', p)} has no Statement of Work",
            (ctx.ref("projects", p),),
        )
        for p in ctx.data.projects
        if not str(p["fields"].get(sow) or "").strip()
    ]


def deliverable_project_count(ctx: AuditContext) -> list[Violation]:
    """Rule 5: a Project Deliverable belongs to exactly one Project."""
    found = []
    for deliverable in ctx.data.deliverables:
        count = len(_links(deliverable, ctx.config.fields.deliverables.project))
        if count == 1:
            continue
        d = ctx.ref("deliverables", deliverable)
        what = "no Project" if count == 0 else f"{count} Projects"
        found.append(Violation("deliverable-project-count", f"Deliverable {d} has {what}", (d,)))
    return found


def deliverable_without_issue(ctx: AuditContext) -> list[Violation]:
    """Rule 6: a Project Deliverable is linked to a GitHub issue."""
    issue_field = ctx.config.fields.deliverables.issue
    found = []
    for deliverable in ctx.data.deliverables:
        url = str(deliverable["fields"].get(issue_field) or "")
        if parse_issue_url(url) is not None:
            continue
        d = ctx.ref("deliverables", deliverable)
        detail = f"an issue URL GitHub does not know: {url}" if url else "no GitHub issue"
        found.append(Violation("deliverable-without-issue", f"Deliverable {d} has {detail}", (d,)))
    return found


def deliverable_status_disagrees(ctx: AuditContext) -> list[Violation]:
    """Rule 6: the issue's state says whether the work is done; the Status must agree."""
    if ctx.issues is None:
        return []
    names = ctx.config.fields.deliverables
    found = []
    for deliverable in ctx.data.deliverables:
        ref = parse_issue_url(str(deliverable["fields"].get(names.issue) or ""))
        issue = ctx.issues.get(ref.key) if ref else None
        if issue is None:
            continue
        want = deliverable_state(issue, ctx.config.statuses, ctx.config.labels).status
        have = deliverable["fields"].get(names.status)
        if have == want:
            continue
        d = ctx.ref("deliverables", deliverable)
        found.append(
            Violation(
                "deliverable-status-disagrees",
                f"Deliverable {d} says {have or 'nothing'} but its issue {ref} is "
                f"{issue.state} ({want}); run `deliverables-bot sync` to repair",
                (d,),
            )
        )
    return found


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
    Rule(
        "new-won-without-contract",
        "a New Closed-Won Opportunity has a Contract or MOU",
        new_won_without_contract,
    ),
    Rule(
        "engagement-opportunity-not-won",
        "an Engagement's Opportunity is Closed-Won",
        engagement_opportunity_not_won,
    ),
    Rule(
        "opportunity-several-engagements",
        "an Opportunity has at most one Engagement",
        opportunity_several_engagements,
    ),
    Rule(
        "engagement-opportunity-count",
        "an Engagement has exactly one Opportunity",
        engagement_opportunity_count,
    ),
    Rule(
        "engagement-without-dates", "an Engagement has a Start and an End", engagement_without_dates
    ),
    Rule(
        "project-engagement-count",
        "a Project has exactly one Engagement",
        project_engagement_count,
    ),
    Rule("project-without-sow", "a Project has a Statement of Work", project_without_sow),
    Rule(
        "deliverable-project-count",
        "a deliverable has exactly one Project",
        deliverable_project_count,
    ),
    Rule(
        "deliverable-without-issue", "a deliverable has a GitHub issue", deliverable_without_issue
    ),
    Rule(
        "deliverable-status-disagrees",
        "a deliverable's Status agrees with its issue",
        deliverable_status_disagrees,
    ),
    Rule(
        "engagement-past-end-incomplete",
        "an active Engagement past its End has all Projects complete",
        engagement_past_end_incomplete,
    ),
)


@dataclass(frozen=True)
class RuleResult:
    """One rule's outcome: its violations, or why it was skipped."""

    rule: Rule
    violations: list[Violation]
    skipped: str | None = None
    partial: str | None = None  # checked, but not over everything (why)


@dataclass(frozen=True)
class RenewalNotice:
    """An Engagement in a renewal state, and its Renewal Opportunity if there is one."""

    engagement: RecordRef
    status: str
    opportunity: RecordRef | None


@dataclass
class AuditResult:
    """Every rule's outcome, notes about what could not be checked, and renewal notices."""

    results: list[RuleResult]
    notes: list[str] = field(default_factory=list)
    renewals: list[RenewalNotice] = field(default_factory=list)
    unreached: list[str] = field(default_factory=list)  # what GitHub would not give, and why

    @property
    def ok(self) -> bool:
        """Whether no rule is broken."""
        return not any(r.violations for r in self.results)

    @property
    def complete(self) -> bool:
        """Whether everything that should have been checked was (no GitHub failure, no
        repository skipped). A rule skipped for want of App credentials is by choice."""
        return not self.unreached


def renewal_notices(ctx: AuditContext) -> list[RenewalNotice]:
    """Engagements that are Needs renewal or Delivered, with their Renewal Opportunity."""
    statuses = ctx.config.statuses.engagement
    names = ctx.config.fields
    notices = []
    for engagement in ctx.data.engagements:
        status = engagement["fields"].get(names.engagements.status)
        if status not in (statuses.needs_renewal, statuses.delivered):
            continue
        e = ctx.ref("engagements", engagement)
        opp = find_by_name(ctx.data.opportunities, names.opportunities.name, renewal_name(e.name))
        notices.append(
            RenewalNotice(e, str(status), ctx.ref("opportunities", opp) if opp else None)
        )
    return notices


def run_audit(
    ctx: AuditContext, rules: tuple[Rule, ...] = RULES, *, github_failed: str | None = None
) -> AuditResult:
    """Run every rule over the context; a rule that needs GitHub is skipped, with the
    reason, when issues could not be read (``github_failed`` says why, else no credentials)."""
    results = []
    for rule in rules:
        skipped = None
        if rule.name == "deliverable-status-disagrees" and ctx.issues is None:
            skipped = (
                GITHUB_FAILED.format(reason=github_failed) if github_failed else GITHUB_SKIPPED
            )
        results.append(RuleResult(rule, rule.check(ctx), skipped))
    return AuditResult(results, renewals=renewal_notices(ctx))


async def audit_base(
    lane: AirtableLane, github: Any, *, today: date, can_read_github: bool
) -> AuditResult:
    """Read a base (and its deliverables' issues, when GitHub can be read) and audit it."""
    config = lane.config
    data = await read_base(lane)
    issues = None
    notes: list[str] = []
    github_failed: str | None = None
    if can_read_github:
        refs = [
            ref
            for d in data.deliverables
            if (
                ref := parse_issue_url(str(d["fields"].get(config.fields.deliverables.issue) or ""))
            )
        ]
        try:
            index = await fetch_issues(
                github, refs, describe=lambda exc: github_problem_for(config, exc)
            )
        except GITHUB_FAILURES as exc:
            # Nothing of GitHub can be read: the rules over the base still run.
            github_failed = github_problem_for(config, exc, what=INSTALLATIONS_FAILED)
        else:
            issues = index.states
            notes.extend(
                UNINSTALLED_SKIPPED.format(count=count, repo=repo)
                for repo, count in index.uninstalled.items()
            )
            hidden: dict[str, int] = {}
            for ref in index.not_visible.values():
                name = f"{ref.owner}/{ref.repo}"
                hidden[name] = hidden.get(name, 0) + 1
            notes.extend(
                NOT_VISIBLE_SKIPPED.format(count=count, repo=repo)
                for repo, count in sorted(hidden.items())
            )
            notes.extend(
                UNREADABLE_SKIPPED.format(count=u.deliverables, what=u.what, reason=u.reason)
                for u in index.unreadable
            )
    result = run_audit(AuditContext(data, config, today, issues), github_failed=github_failed)
    if notes:
        result.results = [
            dataclasses.replace(r, partial=RULE_PARTIAL)
            if r.rule.name == "deliverable-status-disagrees" and not r.skipped
            else r
            for r in result.results
        ]
    result.notes.extend(notes)
    result.unreached.extend(notes)
    if github_failed:
        result.unreached.append(github_failed)
    return result


def render_text(result: AuditResult) -> str:
    """The audit as lines for a terminal: each rule, its violations, notes, a summary."""
    lines = []
    for r in result.results:
        mark = (
            "skip" if r.skipped else ("FAIL" if r.violations else ("part" if r.partial else "ok  "))
        )
        why = r.skipped or r.partial
        description = r.rule.description + (f" ({why})" if why else "")
        lines.append(TEXT_RULE.format(mark=mark, name=r.rule.name, description=description))
        lines.extend(TEXT_VIOLATION.format(message=v.message) for v in r.violations)
    lines.extend(f"note: {note}" for note in result.notes)
    for notice in result.renewals:
        opportunity = (
            f"Renewal Opportunity {notice.opportunity}"
            if notice.opportunity
            else "no Renewal Opportunity yet"
        )
        lines.append(
            TEXT_RENEWAL.format(
                engagement=notice.engagement, status=notice.status, opportunity=opportunity
            )
        )
    broken = [r for r in result.results if r.violations]
    skipped = [r for r in result.results if r.skipped]
    names = ", ".join(r.rule.name for r in skipped)
    if broken:
        summary = TEXT_SUMMARY_BROKEN.format(
            broken=len(broken),
            rules=len(result.results),
            violations=sum(len(r.violations) for r in broken),
        )
        if skipped:
            summary += TEXT_SUMMARY_SKIPPED.format(skipped=len(skipped), names=names)
    elif skipped:
        summary = TEXT_SUMMARY_OK_SKIPPED.format(
            checked=len(result.results) - len(skipped),
            skipped=len(skipped),
            rules=len(result.results),
            names=names,
        )
    else:
        summary = TEXT_SUMMARY_OK.format(rules=len(result.results))
    if not result.complete:
        summary += "; " + TEXT_SUMMARY_PARTIAL
    lines.append(summary)
    return "\n".join(lines)


def _ref_json(ref: RecordRef) -> dict[str, str]:
    return {"table": ref.table, "id": ref.id, "name": ref.name}


def render_json(result: AuditResult) -> str:
    """The audit as a JSON document."""
    return json.dumps(
        {
            "ok": result.ok,
            "complete": result.complete,
            "unreached": result.unreached,
            "rules": [
                {
                    "name": r.rule.name,
                    "description": r.rule.description,
                    "ok": not r.violations,
                    "skipped": r.skipped,
                    "partial": r.partial,
                    "violations": [
                        {"message": v.message, "records": [_ref_json(x) for x in v.records]}
                        for v in r.violations
                    ],
                }
                for r in result.results
            ],
            "notes": result.notes,
            "renewals": [
                {
                    "engagement": _ref_json(n.engagement),
                    "status": n.status,
                    "opportunity": _ref_json(n.opportunity) if n.opportunity else None,
                }
                for n in result.renewals
            ],
        },
        indent=2,
    )


async def audit_command(config: Config, *, output_format: str, today: date) -> tuple[str, bool]:
    """``deliverables-bot audit``: audit every base; the text to print, and whether all
    rules hold and everything could be checked (GitHub read, no repository skipped)."""
    from bot.clients.reads import base_ids, open_runtime

    rendered = []
    ok = True
    async with open_runtime(config) as runtime:
        bases = base_ids(config)
        for base in bases:
            result = await audit_base(
                runtime.lanes.for_base(base),
                runtime.github,
                today=today,
                can_read_github=runtime.github.can_read,
            )
            ok = ok and result.ok and result.complete
            if output_format == "json":
                rendered.append(render_json(result))
            else:
                header = f"base {base}\n" if len(bases) > 1 else ""
                rendered.append(header + render_text(result))
    if output_format == "json" and len(rendered) != 1:
        return "[" + ",\n".join(rendered) + "]", ok
    return "\n\n".join(rendered), ok
