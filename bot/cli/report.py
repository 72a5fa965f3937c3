"""``report``: progress of Engagements, Projects and deliverables, as Markdown or one HTML file.

:func:`build_report` turns a base's records into a plain model (pure); :func:`render_markdown`
and :func:`render_html` print it. The HTML is one self-contained file — inline CSS, no
scripts, fonts or images from anywhere — that reads on screen and in print; every value from
the base is escaped.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import date

from bot.config import Config
from bot.core.issue import parse_issue_url
from bot.core.progress import progress, progress_bar
from bot.core.projects import find_by_name
from bot.core.records import BaseData, Record
from bot.core.renewal_rules import renewal_name

NO_ENGAGEMENT = "(no Engagement)"
UNKNOWN_NAME = 'no {what} named "{name}" (known: {known})'
MD_ENGAGEMENT = "## {name}\n\n{start} → {end} · **{status}**{renewal}\n"
MD_PROJECT = "### {name}\n\n`{bar}` {done}/{total} done{completed}{sow}\n"
MD_TABLE_HEAD = "| Deliverable | Issue | Status | Assignees |\n| --- | --- | --- | --- |"
MD_ROW = "| {name} | {issue} | {status} | {assignees} |"
MD_NO_DELIVERABLES = "_No deliverables yet._"


class ReportError(Exception):
    """The report cannot be made as asked (an unknown Engagement or Project name)."""


@dataclass(frozen=True)
class DeliverableRow:
    """One deliverable: its name, issue link, Status and assignees."""

    name: str
    issue: str
    status: str
    assignees: str


@dataclass(frozen=True)
class ProjectView:
    """One Project: progress and its deliverables."""

    name: str
    status: str
    done: int
    total: int
    completed: str
    statement_of_work: str
    deliverables: list[DeliverableRow]

    @property
    def percent(self) -> int:
        """Done as a whole percentage of deliverables not Cancelled."""
        return round(100 * self.done / self.total) if self.total else 0


@dataclass(frozen=True)
class EngagementView:
    """One Engagement: dates, Status, renewal and its Projects."""

    name: str
    start: str
    end: str
    status: str
    renewal: str
    projects: list[ProjectView] = field(default_factory=list)


@dataclass(frozen=True)
class Report:
    """The whole report."""

    title: str
    generated: str
    engagements: list[EngagementView]


def _text(record: Record, name: str) -> str:
    value = record["fields"].get(name)
    return "" if value is None else str(value)


def _matches(value: str, wanted: str | None) -> bool:
    return wanted is None or value.strip().casefold() == wanted.strip().casefold()


def build_report(
    data: BaseData,
    config: Config,
    *,
    today: date,
    engagement: str | None = None,
    project: str | None = None,
) -> Report:
    """The report model: Engagements by name, their Projects by name, deliverables by name.

    ``engagement`` and ``project`` keep only the one of that name (case-insensitive); an
    unknown name raises :class:`ReportError` naming the known ones.
    """
    f = config.fields
    eng_names = sorted(_text(e, f.engagements.name) for e in data.engagements)
    if engagement is not None and not any(_matches(n, engagement) for n in eng_names):
        raise ReportError(
            UNKNOWN_NAME.format(what="Engagement", name=engagement, known=", ".join(eng_names))
        )
    project_names = sorted(_text(p, f.projects.name) for p in data.projects)
    if project is not None and not any(_matches(n, project) for n in project_names):
        raise ReportError(
            UNKNOWN_NAME.format(what="Project", name=project, known=", ".join(project_names))
        )

    deliverables_of: dict[str, list[Record]] = {}
    for d in data.deliverables:
        for project_id in d["fields"].get(f.deliverables.project) or ():
            deliverables_of.setdefault(project_id, []).append(d)

    def project_view(p: Record) -> ProjectView:
        members = sorted(
            deliverables_of.get(p["id"], []), key=lambda d: _text(d, f.deliverables.name)
        )
        counts = progress(
            (d["fields"].get(f.deliverables.status) for d in members), config.statuses
        )
        return ProjectView(
            name=_text(p, f.projects.name) or p["id"],
            status=_text(p, f.projects.status) or config.statuses.project.not_started,
            done=counts.done,
            total=counts.total,
            completed=_text(p, f.projects.completed),
            statement_of_work=_text(p, f.projects.statement_of_work),
            deliverables=[
                DeliverableRow(
                    name=_text(d, f.deliverables.name) or d["id"],
                    issue=_text(d, f.deliverables.issue),
                    status=_text(d, f.deliverables.status),
                    assignees=_text(d, f.deliverables.assignees),
                )
                for d in members
            ],
        )

    groups: dict[str | None, list[Record]] = {}
    for p in data.projects:
        links = p["fields"].get(f.projects.engagement) or [None]
        for engagement_id in links:
            groups.setdefault(engagement_id, []).append(p)

    views = []
    for e in sorted(data.engagements, key=lambda r: _text(r, f.engagements.name)):
        name = _text(e, f.engagements.name) or e["id"]
        if not _matches(name, engagement):
            continue
        opportunity = find_by_name(data.opportunities, f.opportunities.name, renewal_name(name))
        projects = [
            project_view(p)
            for p in sorted(groups.get(e["id"], []), key=lambda r: _text(r, f.projects.name))
            if _matches(_text(p, f.projects.name), project)
        ]
        if project is not None and not projects:
            continue
        views.append(
            EngagementView(
                name=name,
                start=_text(e, f.engagements.start),
                end=_text(e, f.engagements.end),
                status=_text(e, f.engagements.status),
                renewal=_text(opportunity, f.opportunities.name) if opportunity else "",
                projects=projects,
            )
        )
    orphans = [
        project_view(p)
        for p in sorted(groups.get(None, []), key=lambda r: _text(r, f.projects.name))
        if _matches(_text(p, f.projects.name), project)
    ]
    if orphans and engagement is None:
        views.append(EngagementView(NO_ENGAGEMENT, "", "", "", "", orphans))
    return Report("Delivery progress", today.isoformat(), views)


def _md(text: str) -> str:
    """Text safe in a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report) -> str:
    """The report as Markdown, for pasting into an issue."""
    out = [f"# {report.title}", "", f"_As of {report.generated}._", ""]
    if not report.engagements:
        out.append("_Nothing to report._")
    for e in report.engagements:
        renewal = f" · renewal: {_md(e.renewal)}" if e.renewal else ""
        out.append(
            MD_ENGAGEMENT.format(
                name=_md(e.name),
                start=e.start or "no start",
                end=e.end or "no end",
                status=_md(e.status or "no status"),
                renewal=renewal,
            )
        )
        for p in e.projects:
            out.append(
                MD_PROJECT.format(
                    name=_md(p.name),
                    bar=progress_bar(p.done, p.total, framed=False),
                    done=p.done,
                    total=p.total,
                    completed=f" · completed {p.completed}" if p.completed else f" · {p.status}",
                    sow=f" · [Statement of Work]({p.statement_of_work})"
                    if p.statement_of_work
                    else "",
                )
            )
            if not p.deliverables:
                out.extend([MD_NO_DELIVERABLES, ""])
                continue
            out.append(MD_TABLE_HEAD)
            for d in p.deliverables:
                issue = f"[{_md(_issue_label(d.issue))}]({d.issue})" if d.issue else "—"
                out.append(
                    MD_ROW.format(
                        name=_md(d.name),
                        issue=issue,
                        status=_md(d.status or "—"),
                        assignees=_md(d.assignees or "—"),
                    )
                )
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _issue_label(url: str) -> str:
    """``owner/repo#N`` for a GitHub issue URL; the URL itself otherwise."""
    ref = parse_issue_url(url)
    return str(ref) if ref else url


HTML_STYLE = """
:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0;
  --done: #1a7f37; --bar: #eaeef2; }
* { box-sizing: border-box; }
body { font: 15px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink);
  max-width: 960px; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
.generated { color: var(--muted); margin: 0 0 2rem; }
section.engagement { margin: 0 0 2.5rem; }
h2 { font-size: 1.3rem; border-bottom: 2px solid var(--line); padding-bottom: .25rem; }
.meta { color: var(--muted); margin: .25rem 0 1rem; }
.status { display: inline-block; padding: 0 .5rem; border: 1px solid var(--line);
  border-radius: 1rem; font-size: .85rem; color: var(--ink); }
article.project { margin: 0 0 1.5rem; page-break-inside: avoid; break-inside: avoid; }
h3 { font-size: 1.1rem; margin: 0 0 .25rem; }
.progress { display: flex; align-items: center; gap: .75rem; margin: .25rem 0 .5rem; }
.bar { flex: 0 0 240px; height: .75rem; background: var(--bar); border-radius: .375rem;
  overflow: hidden; border: 1px solid var(--line); }
.fill { height: 100%; background: var(--done); }
table { width: 100%; border-collapse: collapse; font-size: .9rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 600; }
a { color: #0969da; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; }
  a { color: inherit; text-decoration: none; }
  .bar, .fill { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  section.engagement { page-break-after: auto; }
}
"""


def _h(text: str) -> str:
    return html.escape(text, quote=True)


def _link(url: str, label: str) -> str:
    """A link for an http(s) URL; any other scheme (``javascript:``...) stays plain text."""
    if url.lower().startswith(("https://", "http://")):
        return f'<a href="{_h(url)}">{_h(label)}</a>'
    return _h(label)


def render_html(report: Report) -> str:
    """The report as one self-contained HTML document (inline CSS, nothing external)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_h(report.title)}</title><style>{HTML_STYLE}</style></head><body>",
        f"<h1>{_h(report.title)}</h1>",
        f'<p class="generated">As of {_h(report.generated)}</p>',
    ]
    if not report.engagements:
        parts.append("<p>Nothing to report.</p>")
    for e in report.engagements:
        renewal = f" · renewal: {_h(e.renewal)}" if e.renewal else ""
        parts.append(f'<section class="engagement"><h2>{_h(e.name)}</h2>')
        if e.name != NO_ENGAGEMENT:
            parts.append(
                f'<p class="meta">{_h(e.start or "no start")} → {_h(e.end or "no end")} · '
                f'<span class="status">{_h(e.status or "no status")}</span>{renewal}</p>'
            )
        for p in e.projects:
            completed = f"completed {_h(p.completed)}" if p.completed else _h(p.status)
            sow = (
                f" · {_link(p.statement_of_work, 'Statement of Work')}"
                if p.statement_of_work
                else ""
            )
            parts.append(
                f'<article class="project"><h3>{_h(p.name)}</h3>'
                f'<div class="progress"><div class="bar" role="progressbar" '
                f'aria-valuenow="{p.percent}" aria-valuemin="0" aria-valuemax="100">'
                f'<div class="fill" style="width: {p.percent}%"></div></div>'
                f'<span class="count">{p.done}/{p.total} done ({p.percent}%) · {completed}{sow}'
                "</span></div>"
            )
            if not p.deliverables:
                parts.append("<p><em>No deliverables yet.</em></p></article>")
                continue
            parts.append(
                "<table><thead><tr><th>Deliverable</th><th>Issue</th><th>Status</th>"
                "<th>Assignees</th></tr></thead><tbody>"
            )
            for d in p.deliverables:
                issue = _link(d.issue, _issue_label(d.issue)) if d.issue else "—"
                parts.append(
                    f"<tr><td>{_h(d.name)}</td><td>{issue}</td><td>{_h(d.status or '—')}</td>"
                    f"<td>{_h(d.assignees or '—')}</td></tr>"
                )
            parts.append("</tbody></table></article>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


async def report_command(
    config: Config,
    *,
    output_format: str,
    today: date,
    engagement: str | None,
    project: str | None,
) -> str:
    """``deliverables-bot report``: read the base and render the report (raises ReportError)."""
    from bot.app import open_runtime
    from bot.clients.reads import base_ids, read_base

    bases = base_ids(config)
    if not bases:
        raise ReportError("no base: set AIRTABLE_BASE_ID, or map owners to bases in [bases]")
    async with open_runtime(config) as runtime:
        data = BaseData.combined([await read_base(runtime.lanes.for_base(b)) for b in bases])
    model = build_report(data, config, today=today, engagement=engagement, project=project)
    return render_html(model) if output_format == "html" else render_markdown(model)
