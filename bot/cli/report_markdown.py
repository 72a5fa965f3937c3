"""The report as Markdown, for pasting into an issue or an e-mail. Pure.

The same content as the HTML page (:mod:`bot.cli.report_html`) in text: the summary with a
text progress bar, then each Project's deliverables in a table, live work first. Every name
from the base goes through :func:`bot.core.markdown.plain`, so no title or login can
mention anyone, close an issue, or bring in HTML or Markdown; issue links are rebuilt from
the parsed URL, and only http(s) links are made.
"""

from __future__ import annotations

from datetime import date

from bot.config import Config
from bot.core.issue import parse_issue_url
from bot.core.markdown import plain
from bot.core.progress import progress_bar
from bot.core.report_model import (
    STATUS_ICONS,
    DeliverableItem,
    EngagementItem,
    ProjectItem,
    Report,
    SalesRecord,
    Summary,
    status_kind,
)

NONE = "—"
TABLE_HEAD = (
    "| Deliverable | Status | Assignees | Completed | Issue |\n| --- | --- | --- | --- | --- |"
)


def _day(value: date | None, empty: str = NONE) -> str:
    return value.isoformat() if value else empty


def status_text(status: str, config: Config) -> str:
    """A Status with its icon, escaped: ``✓ Done``."""
    icon = STATUS_ICONS[status_kind(status, config)]
    return f"{icon} {plain(status or 'no status')}"


def _link(url: str, label: str, *, trusted_label: bool = False) -> str:
    """A Markdown link for an http(s) URL without spaces or brackets, else plain text.
    ``trusted_label`` keeps a label the bot built (``owner/repo#N``) unescaped."""
    shown = label if trusted_label else plain(label)
    if url.lower().startswith(("https://", "http://")) and not any(c in url for c in " ()<>"):
        return f"[{shown}]({url})"
    return plain(label)


def render_summary(summary: Summary) -> list[str]:
    """The summary lines: done of total with a bar, Projects complete, start, last done."""
    bar = progress_bar(summary.done, summary.total, framed=False)
    return [
        f"**Deliverables done:** {summary.done} of {summary.total} ({summary.percent}%) `{bar}`  ",
        f"**Projects complete:** {summary.projects_complete} of {summary.projects_total}  ",
        f"**Started:** {_day(summary.start)}  ",
        f"**Last completion:** {_day(summary.last_completed, 'none yet')}",
        "",
    ]


def _row(d: DeliverableItem, config: Config) -> str:
    trusted = parse_issue_url(d.issue_url) is not None
    issue = _link(d.issue_url, d.issue_label, trusted_label=trusted) if d.issue_url else NONE
    assignees = ", ".join(plain(a) for a in d.assignees) or NONE
    return (
        f"| {plain(d.name)} | {status_text(d.status, config)} | {assignees} | {_day(d.completed)} "
        f"| {issue} |"
    )


def render_project(p: ProjectItem, config: Config) -> list[str]:
    """One Project's heading, state line and deliverables table."""
    bits = [status_text(p.status, config), f"{p.done} of {p.total} done ({p.percent}%)"]
    if p.completed:
        bits.append(f"completed {p.completed.isoformat()}")
    if p.cancelled:
        bits.append(f"{p.cancelled} cancelled, not counted")
    if p.statement_of_work:
        bits.append(_link(p.statement_of_work, "Statement of Work"))
    bar = progress_bar(p.done, p.total, framed=False)
    out = [f"### {plain(p.name)}", "", f"`{bar}` " + " · ".join(bits), ""]
    if not p.deliverables:
        return [*out, "_No deliverables yet._", ""]
    return [*out, TABLE_HEAD, *(_row(d, config) for d in p.deliverables), ""]


def _sales(label: str, record: SalesRecord | None) -> str:
    if record is None:
        return f"{label}: {NONE}"
    detail = ", ".join(plain(x) for x in (record.type, record.stage) if x)
    return f"{label}: {plain(record.name)}" + (f" ({detail})" if detail else "")


def _period(e: EngagementItem, config: Config) -> str:
    return (
        f"{_day(e.start, 'no start')} → {_day(e.end, 'no end')} · {status_text(e.status, config)}"
    )


def _projects(e: EngagementItem, config: Config) -> list[str]:
    if not e.projects:
        return ["_No Projects yet._", ""]
    return [line for p in e.projects for line in render_project(p, config)]


def render_engagement(e: EngagementItem, report: Report, config: Config) -> list[str]:
    """One Engagement of the internal overview: dates and state, sales records, its
    summary (when there are several), Projects."""
    out = [f"## {plain(e.name)}", ""]
    if e.status:
        recorded = (
            f" · in Airtable: {plain(e.recorded_status or NONE)}"
            if e.recorded_status != e.status
            else ""
        )
        out += [_period(e, config), ""]
        sales = f"{_sales('Opportunity', e.opportunity)} · {_sales('Renewal', e.renewal)}"
        out += [f"> {sales}{recorded}", ""]
    if len(report.engagements) > 1:
        out += render_summary(e.summary)
    return out + _projects(e, config)


def render_markdown(report: Report, config: Config) -> str:
    """The report as Markdown: for a customer, one Engagement (summary, Projects);
    internally, the overview of every Engagement."""
    as_of = f"as of {report.generated.isoformat()}"
    if not report.internal and len(report.engagements) == 1:
        e = report.engagements[0]
        meta = f"{_period(e, config)} · {as_of}" if e.status else as_of
        out = [f"# {plain(report.title)}: {plain(e.name)}", "", meta, ""]
        out += render_summary(report.summary)
        out += ["## Projects", "", *_projects(e, config)]
        return "\n".join(out).rstrip() + "\n"
    out = [f"# {plain(report.title)}", "", f"_{as_of.capitalize()}._", ""]
    if not report.engagements:
        out.append("_Nothing to report._")
    else:
        out += render_summary(report.summary)
    for e in report.engagements:
        out += render_engagement(e, report, config)
    return "\n".join(out).rstrip() + "\n"
