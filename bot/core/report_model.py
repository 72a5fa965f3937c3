"""The ``report`` model: what a report says about one Engagement (or, internally, all). Pure.

:func:`build_report` turns a base's records into plain frozen data that the renderers
(:mod:`bot.cli.report_html`, :mod:`bot.cli.report_markdown`) print. A customer report is
one Engagement: a summary (deliverables done of total, start, last completion, Projects
complete), a burn-up (:class:`BurnUp`, drawn by :mod:`bot.core.report_chart`) and each
Project's deliverables, live work first. It carries none of the internal sales records
(Opportunities, their Stages, the renewal Opportunity) and says Active where the base
says Needs renewal. The internal overview (``internal=True``) has every Engagement, its
Opportunity and renewal Opportunity with their Stages, and the Projects of no Engagement.

States are the ones the bot would decide now, not only what Airtable holds: a Project's is
:func:`bot.core.completion.decide_project`'s (a Complete Project with a deliverable open
again is In progress), an Engagement's is :func:`bot.core.renewal_rules.completion_status`'s
over those (Delivered with a Project open again is Active).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from bot.config import Config
from bot.core.completion import decide_project
from bot.core.issue import parse_issue_url
from bot.core.progress import progress
from bot.core.projects import find_by_name
from bot.core.records import BaseData, Record
from bot.core.renewal_rules import completion_status, parse_date, projects_of, renewal_name

REPORT_TITLE = "Delivery report"
OVERVIEW_TITLE = "Delivery overview (internal)"
NO_ENGAGEMENT = "(no Engagement)"
UNKNOWN_NAME = 'no {what} named "{name}" (known: {known})'
CHOOSE_ENGAGEMENT = (
    "the base has {count} Engagements; choose one with --engagement NAME "
    "(or --all for the internal overview): {names}"
)
NO_ENGAGEMENTS = "the base has no Engagement to report on (--all shows its Projects)"


class ReportError(Exception):
    """The report cannot be made as asked (an unknown Engagement or Project name)."""


class EngagementNeeded(ReportError):
    """A customer report needs one Engagement and the call names none of several (usage)."""


@dataclass(frozen=True)
class DeliverableItem:
    """One deliverable as the report shows it."""

    name: str
    status: str
    assignees: tuple[str, ...]
    completed: date | None
    issue_url: str
    issue_label: str


@dataclass(frozen=True)
class ProjectItem:
    """One Project: its state now, its counts, and its deliverables (live work first)."""

    name: str
    status: str
    recorded_status: str
    done: int
    total: int
    cancelled: int
    completed: date | None
    statement_of_work: str
    deliverables: tuple[DeliverableItem, ...]

    @property
    def percent(self) -> int:
        """Done as a whole percentage of the deliverables not Cancelled."""
        return percent(self.done, self.total)


@dataclass(frozen=True)
class Summary:
    """The head of a report: how much is done, since when, and the Projects complete."""

    done: int
    total: int
    start: date | None
    last_completed: date | None
    projects_complete: int
    projects_total: int

    @property
    def percent(self) -> int:
        """Done as a whole percentage of the deliverables not Cancelled."""
        return percent(self.done, self.total)


@dataclass(frozen=True)
class BurnUp:
    """The data of a burn-up chart: cumulative counts as steps ``(day, count)`` from
    ``start`` to ``end``. ``done`` counts deliverables done (by Completed date); ``total``
    is the deliverables not Cancelled, today's count drawn across the whole span (a
    record's creation day says when it was typed into Airtable, not when the work was
    agreed, so it is no history of the scope)."""

    start: date
    end: date
    done: tuple[tuple[date, int], ...]
    total: tuple[tuple[date, int], ...]

    @property
    def top(self) -> int:
        """The highest count on the chart (at least 1)."""
        return max([1, *(n for _, n in self.done), *(n for _, n in self.total)])


@dataclass(frozen=True)
class SalesRecord:
    """An Opportunity as the internal overview shows it."""

    name: str
    type: str
    stage: str


@dataclass(frozen=True)
class EngagementItem:
    """One Engagement: its state now, summary, burn-up and Projects; sales records when
    the report is internal (else None)."""

    name: str
    start: date | None
    end: date | None
    status: str
    recorded_status: str
    summary: Summary
    burnup: BurnUp
    projects: tuple[ProjectItem, ...]
    opportunity: SalesRecord | None = None
    renewal: SalesRecord | None = None


@dataclass(frozen=True)
class Report:
    """A whole report: customer (one Engagement) or internal (every Engagement)."""

    title: str
    generated: date
    internal: bool
    summary: Summary
    engagements: tuple[EngagementItem, ...]


STATUS_ICONS = {
    "done": "✓",
    "progress": "●",
    "blocked": "■",
    "todo": "○",
    "cancelled": "✕",
    "sales": "!",
}


def status_kind(status: str, config: Config) -> str:
    """How a Status of any table is shown (its icon in :data:`STATUS_ICONS`): done,
    progress, blocked, todo, cancelled, or sales (Needs renewal, shown only internally)."""
    s = config.statuses
    if status in (s.deliverable.done, s.project.complete, s.engagement.delivered):
        return "done"
    if status in (s.deliverable.in_progress, s.project.in_progress, s.engagement.active):
        return "progress"
    if status == s.deliverable.blocked:
        return "blocked"
    if status in (s.deliverable.cancelled, s.engagement.ended):
        return "cancelled"
    if status == s.engagement.needs_renewal:
        return "sales"
    return "todo"


def percent(done: int, total: int) -> int:
    """``done`` of ``total`` as a whole percentage (0 when there is nothing to do)."""
    return round(100 * done / total) if total else 0


def _text(record: Record | None, name: str) -> str:
    value = (record or {}).get("fields", {}).get(name)
    return "" if value is None else str(value)


def _same(value: str, wanted: str) -> bool:
    return value.strip().casefold() == wanted.strip().casefold()


def _created(record: Record) -> date | None:
    return parse_date(record.get("createdTime"))


def _assignees(value: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in value.split(",") if a.strip())


def status_rank(status: str, config: Config) -> int:
    """Where a deliverable's Status sorts: In progress, Blocked, Todo (and any other), Done,
    Cancelled."""
    s = config.statuses.deliverable
    order = {s.in_progress: 0, s.blocked: 1, s.todo: 2, s.done: 4, s.cancelled: 5}
    return order.get(status, 3)


def order_deliverables(items: Iterable[DeliverableItem], config: Config) -> list[DeliverableItem]:
    """Live work first (In progress, Blocked, Todo), then Done, newest completion first,
    then Cancelled; by name within each."""
    ordered = sorted(items, key=lambda d: (d.name.casefold(), d.issue_url))
    ordered.sort(key=lambda d: -(d.completed or date.min).toordinal())
    ordered.sort(key=lambda d: status_rank(d.status, config))
    return ordered


def project_item(project: Record, members: list[Record], config: Config) -> ProjectItem:
    """One Project with its deliverable records, in the state the bot would decide now."""
    f = config.fields
    statuses = [_text(d, f.deliverables.status) or None for d in members]
    counts = progress(statuses, config.statuses)
    recorded = _text(project, f.projects.status)
    decided = decide_project(recorded or None, counts, config.statuses).status
    items = []
    for d in members:
        url = _text(d, f.deliverables.issue)
        ref = parse_issue_url(url)
        status = _text(d, f.deliverables.status) or config.statuses.deliverable.todo
        items.append(
            DeliverableItem(
                name=_text(d, f.deliverables.name) or d["id"],
                status=status,
                assignees=_assignees(_text(d, f.deliverables.assignees)),
                completed=parse_date(_text(d, f.deliverables.completed))
                if status == config.statuses.deliverable.done
                else None,
                issue_url=ref.url if ref else url,
                issue_label=str(ref) if ref else url,
            )
        )
    last = max((d.completed for d in items if d.completed), default=None)
    complete = decided == config.statuses.project.complete
    return ProjectItem(
        name=_text(project, f.projects.name) or project["id"],
        status=decided,
        recorded_status=recorded,
        done=counts.done,
        total=counts.total,
        cancelled=counts.cancelled,
        completed=(parse_date(_text(project, f.projects.completed)) or last) if complete else None,
        statement_of_work=_text(project, f.projects.statement_of_work),
        deliverables=tuple(order_deliverables(items, config)),
    )


def order_projects(items: Iterable[ProjectItem], config: Config) -> list[ProjectItem]:
    """Live Projects first (In progress, then Not started), Complete last; by name within."""
    p = config.statuses.project
    rank = {p.in_progress: 0, p.not_started: 1, p.complete: 2}
    return sorted(items, key=lambda i: (rank.get(i.status, 1), i.name.casefold()))


def engagement_status(
    engagement: Record, projects: list[ProjectItem], config: Config, *, internal: bool
) -> str:
    """The Engagement's state now: Delivered when its Projects are all Complete; Active
    again when the base says Delivered and a Project is open again; for a customer, Active
    where the base says Needs renewal (a sales state)."""
    options = config.statuses.engagement
    recorded = _text(engagement, config.fields.engagements.status) or options.active
    project_statuses = [p.status for p in projects]
    all_complete = bool(projects) and all(
        s == config.statuses.project.complete for s in project_statuses
    )
    status = recorded
    if recorded == options.delivered and not all_complete:
        status = options.active
    else:
        status = completion_status(engagement["fields"], project_statuses, config) or recorded
    if not internal and status == options.needs_renewal:
        status = options.active
    return status


def summarize(
    projects: Iterable[ProjectItem], starts: Iterable[date | None], config: Config
) -> Summary:
    """The summary of some Projects; ``starts`` are the dates work may have begun on
    (an Engagement's Start, records' creation days): the earliest is the start."""
    projects = list(projects)
    completions = [d.completed for p in projects for d in p.deliverables if d.completed]
    return Summary(
        done=sum(p.done for p in projects),
        total=sum(p.total for p in projects),
        start=min((d for d in starts if d), default=None),
        last_completed=max(completions, default=None),
        projects_complete=sum(p.status == config.statuses.project.complete for p in projects),
        projects_total=len(projects),
    )


def _steps(days: Iterable[date], start: date) -> tuple[tuple[date, int], ...]:
    """Cumulative counts of ``days`` (each clamped to ``start``), one step per day."""
    counts: dict[date, int] = {start: 0}
    for day in days:
        day = max(day, start)
        counts[day] = counts.get(day, 0) + 1
    total = 0
    out = []
    for day in sorted(counts):
        total += counts[day]
        out.append((day, total))
    return tuple(out)


def burnup(members: Iterable[Record], summary: Summary, today: date, config: Config) -> BurnUp:
    """The burn-up of some deliverable records: done by Completed date (a Done one without
    a date counts from ``today``), and the total not Cancelled."""
    s = config.statuses.deliverable
    f = config.fields.deliverables
    members = [d for d in members if _text(d, f.status) != s.cancelled]
    done_days = [
        parse_date(_text(d, f.completed)) or today for d in members if _text(d, f.status) == s.done
    ]
    start = summary.start or min(done_days, default=today)
    end = max([today, start, *done_days])
    return BurnUp(
        start=start, end=end, done=_steps(done_days, start), total=((start, len(members)),)
    )


def _sales(record: Record | None, config: Config) -> SalesRecord | None:
    if record is None:
        return None
    names = config.fields.opportunities
    return SalesRecord(
        name=_text(record, names.name) or record["id"],
        type=_text(record, names.type),
        stage=_text(record, names.stage),
    )


def choose_engagements(
    data: BaseData,
    config: Config,
    *,
    engagement: str | None,
    project: str | None,
    internal: bool,
) -> list[Record]:
    """The Engagement records the report covers: the one named, the only one, the one of
    the Project named, or (internal) all. Raises :class:`EngagementNeeded` when a customer
    report names none of several, :class:`ReportError` for an unknown name."""
    f = config.fields
    everyone = sorted(data.engagements, key=lambda r: _text(r, f.engagements.name).casefold())
    names = [_text(e, f.engagements.name) or e["id"] for e in everyone]
    if project is not None:
        project_names = sorted(_text(p, f.projects.name) for p in data.projects)
        if not any(_same(n, project) for n in project_names):
            raise ReportError(
                UNKNOWN_NAME.format(what="Project", name=project, known=", ".join(project_names))
            )
    if engagement is not None:
        chosen = [e for e, n in zip(everyone, names, strict=True) if _same(n, engagement)]
        if not chosen:
            raise ReportError(
                UNKNOWN_NAME.format(what="Engagement", name=engagement, known=", ".join(names))
            )
        return chosen
    if internal or len(everyone) == 1:
        return everyone
    if project is not None:
        holding = [
            e
            for e in everyone
            if any(
                _same(_text(p, f.projects.name), project)
                for p in projects_of(e["id"], data.projects, config)
            )
        ]
        if len(holding) == 1:
            return holding
    if not everyone:
        raise EngagementNeeded(NO_ENGAGEMENTS)
    raise EngagementNeeded(
        CHOOSE_ENGAGEMENT.format(count=len(everyone), names=", ".join(f'"{n}"' for n in names))
    )


def build_report(
    data: BaseData,
    config: Config,
    *,
    today: date,
    engagement: str | None = None,
    project: str | None = None,
    internal: bool = False,
) -> Report:
    """The report model. A customer report covers one Engagement (see
    :func:`choose_engagements`); ``internal`` covers every Engagement (or the one named),
    their sales records, and the Projects of no Engagement. ``project`` keeps only the
    Project of that name (case-insensitive)."""
    f = config.fields
    chosen = choose_engagements(
        data, config, engagement=engagement, project=project, internal=internal
    )
    deliverables_of: dict[str, list[Record]] = {}
    for d in data.deliverables:
        for project_id in d["fields"].get(f.deliverables.project) or ():
            deliverables_of.setdefault(project_id, []).append(d)

    def wanted(p: Record) -> bool:
        return project is None or _same(_text(p, f.projects.name), project)

    def section(e: Record | None, records: list[Record]) -> EngagementItem:
        records = [p for p in records if wanted(p)]
        members = [d for p in records for d in deliverables_of.get(p["id"], [])]
        items = order_projects(
            (project_item(p, deliverables_of.get(p["id"], []), config) for p in records), config
        )
        start = parse_date(_text(e, f.engagements.start))
        starts = [start, *(_created(r) for r in [*records, *members])]
        if e is not None:
            starts.append(_created(e))
        summary = summarize(items, starts, config)
        name = (_text(e, f.engagements.name) or e["id"]) if e is not None else NO_ENGAGEMENT
        opportunity = renewal = None
        if internal and e is not None:
            links = e["fields"].get(f.engagements.opportunity) or []
            by_id = {o["id"]: o for o in data.opportunities}
            opportunity = _sales(next((by_id[i] for i in links if i in by_id), None), config)
            renewal = _sales(
                find_by_name(data.opportunities, f.opportunities.name, renewal_name(name)),
                config,
            )
        return EngagementItem(
            name=name,
            start=start,
            end=parse_date(_text(e, f.engagements.end)),
            status=engagement_status(e, items, config, internal=internal) if e else "",
            recorded_status=_text(e, f.engagements.status),
            summary=summary,
            burnup=burnup(members, summary, today, config),
            projects=tuple(items),
            opportunity=opportunity,
            renewal=renewal,
        )

    sections = [section(e, projects_of(e["id"], data.projects, config)) for e in chosen]
    if project is not None:
        sections = [s for s in sections if s.projects]
    if internal and engagement is None:
        orphans = [p for p in data.projects if not p["fields"].get(f.projects.engagement)]
        if any(wanted(p) for p in orphans):
            sections.append(section(None, orphans))
    all_projects = [p for s in sections for p in s.projects]
    overall = summarize(all_projects, [s.summary.start for s in sections], config)
    return Report(
        title=OVERVIEW_TITLE if internal else REPORT_TITLE,
        generated=today,
        internal=internal,
        summary=overall,
        engagements=tuple(sections),
    )
