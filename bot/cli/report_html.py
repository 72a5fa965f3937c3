"""The report as one self-contained HTML page: one ``<style>``, an inline SVG, no script,
font, image or stylesheet from anywhere. Pure (a string from the model).

The summary comes first, then the burn-up and each Project's deliverables. Statuses are
pills that carry their word, an icon (✓ Done, ● In progress, ■ Blocked, ○ Todo, ✕
Cancelled) and a border style of their own, dark text on a light tint (contrast well over
4.5:1), so they read without colour and in grey print; ``@media print`` drops every
background. Under 640px the tables become stacked cards, each cell labelled, and long names
wrap, so a phone never scrolls sideways. Every value from the base is escaped, and a link
is only made of an http(s) URL.
"""

from __future__ import annotations

import html
from datetime import date

from bot.config import Config
from bot.core.report_chart import burnup_svg
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

STYLE = """
:root { color-scheme: light; --ink: #1f2328; --muted: #505a64; --line: #d1d9e0;
  --accent: #1a7f37; --track: #eaeef2; }
* { box-sizing: border-box; }
body { font: 16px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink);
  background: #fff; max-width: 1000px; margin: 0 auto; padding: 1.5rem 1rem 3rem;
  overflow-wrap: anywhere; }
h1 { font-size: 1.7rem; line-height: 1.2; margin: 0 0 .25rem; }
h2 { font-size: 1.35rem; margin: 2rem 0 .25rem; border-bottom: 2px solid var(--line);
  padding-bottom: .25rem; }
h3 { font-size: 1.1rem; margin: 0 0 .25rem; }
.subtitle, .meta, .note { color: var(--muted); margin: 0 0 1rem; }
a { color: #0550ae; }
.summary { display: grid; grid-template-columns: repeat(auto-fit, minmax(10.5rem, 1fr));
  gap: .75rem; margin: 1rem 0; padding: 0; }
.summary div { border: 1px solid var(--line); border-radius: .5rem; padding: .6rem .8rem; }
.summary dt { color: var(--muted); font-size: .85rem; }
.summary dd { margin: 0; font-size: 1.3rem; font-weight: 600; }
.summary dd small { font-size: .9rem; font-weight: 400; color: var(--muted); }
.track { height: .8rem; background: var(--track); border: 1px solid var(--line);
  border-radius: .4rem; overflow: hidden; margin: .25rem 0 1rem; }
.fill { height: 100%; background: var(--accent); }
figure.chart { margin: 1rem 0 1.5rem; max-width: 720px; }
figure.chart figcaption { color: var(--muted); font-size: .85rem; }
svg.burnup { display: block; height: auto; }
.sales { border-left: 4px solid #9a6700; padding: .25rem .75rem; margin: 0 0 1rem; }
article.project { margin: 0 0 2rem; break-inside: avoid-page; }
.project-meta { margin: 0 0 .5rem; }
.pill { display: inline-block; white-space: nowrap; font-size: .85rem; font-weight: 600;
  line-height: 1.4; padding: 0 .55rem; border: 2px solid; border-radius: 1rem; }
.pill.done { color: #0f5323; background: #dafbe1; border-style: solid; }
.pill.progress { color: #0a3069; background: #ddf4ff; border-style: dashed; }
.pill.blocked { color: #82071e; background: #ffebe9; border: 4px double; }
.pill.todo { color: #24292f; background: #f6f8fa; border-style: dotted; }
.pill.cancelled { color: #424a53; background: #eaeef2; border-width: 1px; border-style: solid; }
.pill.sales { color: #6c4400; background: #fff8c5; border-style: solid; }
table { width: 100%; border-collapse: collapse; font-size: .95rem; }
th, td { text-align: left; vertical-align: top; padding: .4rem .5rem;
  border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 600; font-size: .85rem; white-space: nowrap; }
td.date { white-space: nowrap; }
td.name { font-weight: 500; }
@media (max-width: 640px) {
  body { padding: 1rem .75rem 2rem; }
  table, thead, tbody, tr, th, td { display: block; width: 100%; }
  thead { position: absolute; width: 1px; height: 1px; overflow: hidden;
    clip: rect(0 0 0 0); }
  tr { border: 1px solid var(--line); border-radius: .5rem; margin: 0 0 .6rem;
    padding: .4rem .6rem; }
  td { border: 0; padding: .15rem 0; display: flex; gap: .5rem; }
  td::before { content: attr(data-label); flex: 0 0 6.5rem; color: var(--muted);
    font-size: .85rem; }
  td.name { display: block; font-size: 1rem; }
  td.name::before { content: none; }
  svg.burnup text { font-size: 17px; }
}
@media print {
  @page { margin: 1.5cm; }
  body { max-width: none; padding: 0; font-size: 11pt; }
  * { background: none !important; box-shadow: none !important; }
  .pill { color: #000 !important; border-color: #000 !important; }
  a { color: inherit; text-decoration: none; }
  .track { border-color: #000; }
  .fill { background: #000 !important; print-color-adjust: exact;
    -webkit-print-color-adjust: exact; }
  h2 { break-after: avoid-page; }
  tr { break-inside: avoid; }
}
"""


def _h(text: object) -> str:
    return html.escape(str(text), quote=True)


def _day(value: date | None, empty: str = NONE) -> str:
    return value.isoformat() if value else empty


def _link(url: str, label: str) -> str:
    """A link for an http(s) URL; any other scheme (``javascript:``...) stays plain text."""
    if url.lower().startswith(("https://", "http://")):
        return f'<a href="{_h(url)}">{_h(label)}</a>'
    return _h(label)


def pill(status: str, config: Config) -> str:
    """A status pill: icon, word, and the style of its kind."""
    kind = status_kind(status, config)
    return (
        f'<span class="pill {kind}">'
        f'<span class="icon" aria-hidden="true">{STATUS_ICONS[kind]}</span>'
        f" {_h(status or 'no status')}</span>"
    )


def _bar(percent: int, label: str) -> str:
    return (
        f'<div class="track" role="progressbar" aria-label="{_h(label)}" aria-valuenow="{percent}"'
        f' aria-valuemin="0" aria-valuemax="100"><div class="fill" style="width: {percent}%">'
        "</div></div>"
    )


def render_summary(summary: Summary) -> str:
    """The summary cards and bar: done of total, Projects complete, start, last completion."""
    cards = [
        (
            "Deliverables done",
            f"{summary.done} of {summary.total} <small>({summary.percent}%)</small>",
        ),
        ("Projects complete", f"{summary.projects_complete} of {summary.projects_total}"),
        ("Started", _h(_day(summary.start))),
        ("Last completion", _h(_day(summary.last_completed, "none yet"))),
    ]
    items = "".join(f"<div><dt>{_h(k)}</dt><dd>{v}</dd></div>" for k, v in cards)
    return f'<dl class="summary">{items}</dl>' + _bar(summary.percent, "deliverables done")


def _sales(label: str, record: SalesRecord | None) -> str:
    if record is None:
        return f"{_h(label)}: {NONE}"
    detail = ", ".join(_h(x) for x in (record.type, record.stage) if x)
    return f"{_h(label)}: {_h(record.name)}" + (f" ({detail})" if detail else "")


def render_deliverable(d: DeliverableItem, config: Config) -> str:
    """One table row (a card on a phone)."""
    issue = _link(d.issue_url, d.issue_label) if d.issue_url else NONE
    assignees = ", ".join(_h(a) for a in d.assignees) or NONE
    return (
        f'<tr><td class="name" data-label="Deliverable">{_h(d.name)}</td>'
        f'<td data-label="Status">{pill(d.status, config)}</td>'
        f'<td data-label="Assignees">{assignees}</td>'
        f'<td class="date" data-label="Completed">{_h(_day(d.completed))}</td>'
        f'<td data-label="Issue">{issue}</td></tr>'
    )


def render_project(p: ProjectItem, config: Config) -> str:
    """One Project: name, state, counts, completion, Statement of Work, deliverables."""
    bits = [pill(p.status, config), f"{p.done} of {p.total} done ({p.percent}%)"]
    if p.completed:
        bits.append(f"completed {_h(p.completed.isoformat())}")
    if p.cancelled:
        bits.append(f"{p.cancelled} cancelled, not counted")
    if p.statement_of_work:
        bits.append(_link(p.statement_of_work, "Statement of Work"))
    out = [
        f'<article class="project"><h3>{_h(p.name)}</h3>',
        f'<p class="project-meta">{" · ".join(bits)}</p>',
        _bar(p.percent, f"{p.name}: deliverables done"),
    ]
    if not p.deliverables:
        out.append('<p class="note"><em>No deliverables yet.</em></p></article>')
        return "".join(out)
    out.append(
        "<table><thead><tr><th>Deliverable</th><th>Status</th><th>Assignees</th>"
        "<th>Completed</th><th>Issue</th></tr></thead><tbody>"
    )
    out.extend(render_deliverable(d, config) for d in p.deliverables)
    out.append("</tbody></table></article>")
    return "".join(out)


def _period(e: EngagementItem, config: Config) -> str:
    return (
        f"{_h(_day(e.start, 'no start'))} → {_h(_day(e.end, 'no end'))} · {pill(e.status, config)}"
    )


def _chart(e: EngagementItem, index: int) -> str:
    return (
        f'<figure class="chart">{burnup_svg(e.burnup, chart_id=f"burnup-{index}")}'
        "<figcaption>Solid line: deliverables done, by completion date. Dashed line: "
        "all deliverables to do (not counting cancelled ones).</figcaption></figure>"
    )


def _projects(e: EngagementItem, config: Config) -> list[str]:
    if not e.projects:
        return ['<p class="note"><em>No Projects yet.</em></p>']
    return [render_project(p, config) for p in e.projects]


def render_engagement(e: EngagementItem, index: int, report: Report, config: Config) -> str:
    """One Engagement of the internal overview: dates and state, sales records, its
    summary (when there are several), burn-up, Projects."""
    out = [f'<section class="engagement"><h2>{_h(e.name)}</h2>']
    if e.status:
        recorded = (
            f" · in Airtable: {_h(e.recorded_status or NONE)}"
            if e.recorded_status != e.status
            else ""
        )
        out.append(f'<p class="meta">{_period(e, config)}</p>')
        out.append(
            f'<p class="sales">{_sales("Opportunity", e.opportunity)} · '
            f"{_sales('Renewal', e.renewal)}{recorded}</p>"
        )
    if len(report.engagements) > 1:
        out.append(render_summary(e.summary))
    out.append(_chart(e, index))
    out.extend(_projects(e, config))
    out.append("</section>")
    return "".join(out)


def _page(title: str, body: list[str]) -> str:
    head = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_h(title)}</title><style>{STYLE}</style></head><body>",
    ]
    return "\n".join([*head, *body, "</body></html>"]) + "\n"


def render_html(report: Report, config: Config) -> str:
    """The report as one self-contained HTML document: for a customer, one Engagement
    (summary, burn-up, Projects); internally, the overview of every Engagement."""
    as_of = f"As of {_h(report.generated.isoformat())}"
    if not report.internal and len(report.engagements) == 1:
        e = report.engagements[0]
        title = f"{report.title}: {e.name}"
        meta = f"{_period(e, config)} · {as_of}" if e.status else as_of
        return _page(
            title,
            [
                f"<header><h1>{_h(title)}</h1>",
                f'<p class="subtitle">{meta}</p></header>',
                render_summary(report.summary),
                "<h2>Progress over time</h2>",
                _chart(e, 1),
                "<h2>Projects</h2>",
                *_projects(e, config),
            ],
        )
    body = [
        f"<header><h1>{_h(report.title)}</h1>",
        f'<p class="subtitle">{as_of}</p></header>',
    ]
    if not report.engagements:
        body.append("<p>Nothing to report.</p>")
    else:
        body.append(render_summary(report.summary))
    body.extend(
        render_engagement(e, i, report, config) for i, e in enumerate(report.engagements, 1)
    )
    return _page(report.title, body)
