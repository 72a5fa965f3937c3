"""A Project's progress: its counts, and how they are shown (the bar, the deliverable list,
the tracking-issue comment). Pure.

:func:`progress` counts a Project's deliverables by Status; :func:`progress_bar` is the one
bar, used by the comments and by the ``report`` command. Deliverable names are issue titles
and URLs typed into Airtable, written by people, so they are escaped
(:func:`bot.core.markdown.plain`) or rebuilt from their parsed parts (:func:`issue_link`)
before they reach a comment. The completion comment lists deliverables with the same
:func:`deliverable_list` as the progress comment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.config import DeliverableFields, Statuses
from bot.core.issue import parse_issue_url
from bot.core.markdown import plain

PROGRESS_MARKER = "<!-- deliverables-bot:progress:{project_id} -->"
BAR_WIDTH = 20
PROGRESS_SUMMARY = "**{project}**: {done}/{total} deliverables done {bar}"
CANCELLED_NOTE = " ({cancelled} cancelled, not counted)"
NO_DELIVERABLES = "_No deliverables yet._"
PROGRESS_COMMENT = """\
{marker}
### Progress of {summary}

{deliverables}

<sub>Kept up to date by deliverables-bot; this comment is edited in place.</sub>
"""


@dataclass(frozen=True)
class Progress:
    """How far a Project is: deliverables Done out of those not Cancelled."""

    done: int
    total: int
    cancelled: int

    @property
    def complete(self) -> bool:
        """Every deliverable not Cancelled is Done, and at least one is Done."""
        return self.done > 0 and self.done == self.total


def progress(deliverable_statuses: Iterable[str | None], statuses: Statuses) -> Progress:
    """Count a Project's deliverables by Status."""
    done = total = cancelled = 0
    for status in deliverable_statuses:
        if status == statuses.deliverable.cancelled:
            cancelled += 1
            continue
        total += 1
        if status == statuses.deliverable.done:
            done += 1
    return Progress(done=done, total=total, cancelled=cancelled)


@dataclass(frozen=True)
class DeliverableLine:
    """One deliverable as the progress text lists it."""

    name: str
    issue_url: str
    status: str


def progress_bar(done: int, total: int, width: int = BAR_WIDTH, *, framed: bool = True) -> str:
    """A bar of ``width`` block characters for ``done`` out of ``total``.

    Framed, as comments show it: in a code span, in brackets, then the percentage, e.g.
    ``[██████░░░░░░░░░░░░░░] 33%``. Unframed, as the report sets it in its own code span:
    the characters alone, e.g. ``██████░░░░░░░░░░░░░░``.
    """
    ratio = done / total if total > 0 else 0.0
    ratio = min(max(ratio, 0.0), 1.0)
    filled = round(ratio * width)
    cells = "█" * filled + "░" * (width - filled)
    if not framed:
        return cells
    return f"`[{cells}]` {round(ratio * 100)}%"


def deliverable_lines(records: Iterable[dict], names: DeliverableFields) -> list[DeliverableLine]:
    """Deliverable records (Airtable's ``{"id", "fields"}``) as lines, sorted by name."""
    lines = [
        DeliverableLine(
            name=str(r["fields"].get(names.name) or r["id"]),
            issue_url=str(r["fields"].get(names.issue) or ""),
            status=str(r["fields"].get(names.status) or "no Status"),
        )
        for r in records
    ]
    return sorted(lines, key=lambda line: (line.name.lower(), line.issue_url))


def issue_link(url: str) -> str:
    """An issue URL as a comment may show it: rebuilt from its owner, repository and number
    when it is a GitHub issue URL, else escaped as plain text (it came from Airtable)."""
    ref = parse_issue_url(url)
    if ref is not None:
        return ref.url
    return plain(url) if url else "no issue"


def summary(project: str, counts: Progress) -> str:
    """One line: the Project's name, done/total and the bar."""
    text = PROGRESS_SUMMARY.format(
        project=plain(project),
        done=counts.done,
        total=counts.total,
        bar=progress_bar(counts.done, counts.total),
    )
    if counts.cancelled:
        text += CANCELLED_NOTE.format(cancelled=counts.cancelled)
    return text


def deliverable_list(lines: Iterable[DeliverableLine], done_status: str) -> str:
    """A Markdown task list: one line per deliverable with its issue and Status."""
    items = []
    for line in lines:
        mark = "x" if line.status == done_status else " "
        items.append(
            f"- [{mark}] {plain(line.name)} — {issue_link(line.issue_url)} ({plain(line.status)})"
        )
    return "\n".join(items) or NO_DELIVERABLES


def progress_text(
    project: str, lines: list[DeliverableLine], counts: Progress, done_status: str
) -> str:
    """The summary line followed by the deliverable list."""
    return f"{summary(project, counts)}\n\n{deliverable_list(lines, done_status)}"


def progress_comment(
    project_id: str,
    project: str,
    lines: list[DeliverableLine],
    counts: Progress,
    done_status: str,
) -> str:
    """The tracking issue's progress comment, with its hidden marker."""
    return PROGRESS_COMMENT.format(
        marker=PROGRESS_MARKER.format(project_id=project_id),
        summary=summary(project, counts),
        deliverables=deliverable_list(lines, done_status),
    )
