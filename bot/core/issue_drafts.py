"""Issues the bot opens for Airtable (the Airtable → GitHub direction): their text and their
hidden markers. Pure.

A deliverable typed into Airtable gets an issue whose body starts with the marker
``<!-- deliverables-bot:deliverable:recXXXXXXXXXXXXXX -->`` (the record's id), and a
Project with a repository gets a tracking issue marked
``<!-- deliverables-bot:tracking:recYYYYYYYYYYYYYY -->``: the same form as the bot's
comment markers (:mod:`bot.core.progress`, :mod:`bot.sync.announce`). Before an issue is
opened the bot looks for its marker among the issues it opened, so a retry, a second
trigger or a process that died between opening the issue and writing its URL back never
opens a second one.

Values typed by people (names, the Statement of Work) go into a body neutralised
(:func:`bot.core.markdown.plain`: no mention, no markup, no marker), a URL only as an
autolink rebuilt from a checked ``http(s)`` URL, a missing value as ``—``. Titles are plain
text on GitHub (never rendered as Markdown), so a title is the name itself, on one line:
the reconcile writes the issue's title back into the record's Name, which must then stay
what it was.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.config import REPOSITORY_PATTERN
from bot.core.issue import IssueRef, parse_issue_url
from bot.core.markdown import plain

DELIVERABLE = "deliverable"
TRACKING = "tracking"
MARKER = "<!-- deliverables-bot:{kind}:{record_id} -->"
MARKER_PATTERN = re.compile(
    r"<!-- deliverables-bot:(?P<kind>deliverable|tracking):(?P<record_id>rec[A-Za-z0-9]{14}) -->"
)
MISSING = "—"
# GitHub refuses an issue title longer than this (422).
MAX_TITLE_LENGTH = 256
# How far before a record's createdTime the lookup of its issue reaches: Airtable's and
# GitHub's clocks are not the same clock.
LOOKUP_MARGIN = timedelta(hours=1)
TRACKING_BODY = """\
{marker}
Deliverables of **{project}** ({engagement}), kept up to date by deliverables-bot from \
Airtable. Statement of Work: {statement_of_work}

{deliverables}
"""
NO_DELIVERABLES = "_No deliverables yet._"
DUPLICATE_NOTE = (
    "Closed as a duplicate: deliverables-bot opened this issue at the same moment as "
    "{kept}, which carries on."
)

_RECORD_ID = re.compile(r"^rec[A-Za-z0-9]{14}$")
_SAFE_URL = re.compile(r"^https?://[^\s<>\"'`\\]+$", re.IGNORECASE)
_NEWLINES = re.compile(r"\s*[\r\n\u2028\u2029]+\s*")
_API_ISSUE_PATH = re.compile(r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/issues/(?P<number>\d+)/?$")


def marker(kind: str, record_id: str) -> str:
    """The hidden marker of the issue opened for a record (``kind``: deliverable, tracking)."""
    if kind not in (DELIVERABLE, TRACKING) or not _RECORD_ID.match(record_id):
        raise ValueError(f"no marker for {kind!r} {record_id!r}")
    return MARKER.format(kind=kind, record_id=record_id)


def marked_record(body: str | None, kind: str) -> str | None:
    """The record id of the first ``kind`` marker in an issue body, or None."""
    for found in MARKER_PATTERN.finditer(body or ""):
        if found["kind"] == kind:
            return found["record_id"]
    return None


def has_marker(body: str | None, kind: str, record_id: str) -> bool:
    """Whether an issue body carries the ``kind`` marker of ``record_id``."""
    return any(
        found["kind"] == kind and found["record_id"] == record_id
        for found in MARKER_PATTERN.finditer(body or "")
    )


def duplicate_body(body: str | None, kept: IssueRef) -> str:
    """The body of an issue opened twice at once, closed in favour of ``kept``: its markers
    taken out (so no lookup ever finds it again), and a note pointing at ``kept``."""
    rest = MARKER_PATTERN.sub("", body or "").strip("\n")
    note = DUPLICATE_NOTE.format(kept=f"{kept.owner}/{kept.repo}#{kept.number}")
    return f"{note}\n\n{rest}\n" if rest else f"{note}\n"


def parse_repository(text: str | None) -> tuple[str, str] | None:
    """``(owner, name)`` of an ``owner/name`` repository as GitHub allows the names (spaces
    around it and a ``https://github.com/`` in front tolerated), or None."""
    value = (text or "").strip().removesuffix("/").removesuffix(".git")
    value = re.sub(r"^https?://github\.com/", "", value, flags=re.IGNORECASE)
    match = REPOSITORY_PATTERN.fullmatch(value)
    return (match["owner"], match["name"]) if match else None


def lookup_since(created_time: str | None) -> str:
    """The ``since`` of the lookup for a record's issue: its ``createdTime`` less a margin
    for the two clocks (GitHub's ``since`` keeps issues updated at or after it, and an
    issue opened for a record was updated after the record was made)."""
    when = datetime(2008, 1, 1, tzinfo=UTC)  # before any GitHub issue
    if created_time:
        try:
            parsed = datetime.fromisoformat(created_time.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None:
            when = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)) - LOOKUP_MARGIN
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def issue_title(name: str | None, fallback: str) -> str:
    """An issue title from a name: one line, trimmed, within GitHub's length (``fallback``
    when the name is empty)."""
    title = _NEWLINES.sub(" ", name or "").strip() or fallback
    return title[:MAX_TITLE_LENGTH]


def _text(value: Any) -> str:
    """A value for a body: escaped one-line text, or ``—`` when there is none."""
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value if v)
    text = str(value).strip() if value is not None else ""
    return plain(text) if text else MISSING


def _url(value: Any) -> str:
    """A URL for a body: an autolink when it is a plain ``http(s)`` URL, else escaped text."""
    text = str(value).strip() if value is not None else ""
    if _SAFE_URL.match(text):
        return f"<{text}>"
    return _text(text)


@dataclass(frozen=True)
class DeliverableFacts:
    """What an issue of a deliverable is written from: its name and its Project's facts
    (None where Airtable has no value)."""

    record_id: str
    name: str | None
    project: str | None
    engagement: str | None
    statement_of_work: str | None


def template_values(facts: DeliverableFacts) -> dict[str, str]:
    """The neutralised values of a body template (``{name}``, ``{project}``,
    ``{engagement}``, ``{statement_of_work}``)."""
    return {
        "name": _text(facts.name),
        "project": _text(facts.project),
        "engagement": _text(facts.engagement),
        "statement_of_work": _url(facts.statement_of_work),
    }


def _fill(template: str, values: Mapping[str, str]) -> str:
    """``template`` with ``values``; a name the template uses and is not given shows ``—``."""
    return template.format_map(_Defaulting(values))


class _Defaulting(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return MISSING


def deliverable_body(template: str, facts: DeliverableFacts) -> str:
    """The body of a deliverable's issue: its marker, then the template filled in."""
    filled = _fill(template, template_values(facts)).strip("\n")
    return f"{marker(DELIVERABLE, facts.record_id)}\n{filled}\n"


def deliverable_title(facts: DeliverableFacts) -> str:
    """The title of a deliverable's issue: its name (the record id when it has none)."""
    return issue_title(facts.name, facts.record_id)


@dataclass(frozen=True)
class TrackedDeliverable:
    """One deliverable as a tracking issue lists it."""

    name: str
    issue_url: str | None
    status: str | None


def tracked_deliverables(
    records: Iterable[Mapping[str, Any]], *, name: str, issue: str, status: str
) -> list[TrackedDeliverable]:
    """Deliverable records (``{"id", "fields"}``) as tracking-list entries (field names given)."""
    return [
        TrackedDeliverable(
            name=str(r["fields"].get(name) or r["id"]),
            issue_url=str(r["fields"].get(issue) or "") or None,
            status=r["fields"].get(status),
        )
        for r in records
    ]


def _tracking_line(entry: TrackedDeliverable, done: str, cancelled: str) -> str:
    ref = parse_issue_url(entry.issue_url or "")
    label = plain(entry.name)
    if ref is not None:
        label = f"{ref.owner}/{ref.repo}#{ref.number} {label}"
    elif entry.issue_url:
        label = f"{label} ({plain(entry.issue_url)})"
    else:
        label = f"{label} (no issue yet)"
    if entry.status == cancelled:
        return f"- [ ] ~~{label}~~ (cancelled)"
    return f"- [{'x' if entry.status == done else ' '}] {label}"


def tracking_list(entries: Iterable[TrackedDeliverable], *, done: str, cancelled: str) -> str:
    """The task list of a tracking issue, sorted by name: ``- [x] owner/repo#N Name`` for a
    deliverable with an issue, its name alone for one without, cancelled ones struck out."""
    ordered = sorted(entries, key=lambda e: (e.name.lower(), e.issue_url or ""))
    return "\n".join(_tracking_line(e, done, cancelled) for e in ordered) or NO_DELIVERABLES


@dataclass(frozen=True)
class ProjectFacts:
    """What a Project's tracking issue is written from."""

    record_id: str
    name: str | None
    engagement: str | None
    statement_of_work: str | None


def tracking_title(template: str, facts: ProjectFacts) -> str:
    """The tracking issue's title from its template (plain text: values as typed)."""
    values = {
        "name": facts.name or "",
        "project": facts.name or "",
        "engagement": facts.engagement or "",
        "statement_of_work": facts.statement_of_work or "",
    }
    return issue_title(_fill(template, values), facts.record_id)


def tracking_body(
    facts: ProjectFacts,
    entries: Iterable[TrackedDeliverable],
    *,
    done: str,
    cancelled: str,
) -> str:
    """The tracking issue's body: its marker, the Project, and its deliverables."""
    return TRACKING_BODY.format(
        marker=marker(TRACKING, facts.record_id),
        project=_text(facts.name),
        engagement=_text(facts.engagement),
        statement_of_work=_url(facts.statement_of_work),
        deliverables=tracking_list(entries, done=done, cancelled=cancelled),
    )


def same_body(a: str | None, b: str | None) -> bool:
    """Whether two issue bodies say the same (GitHub may hand ``\\r\\n`` back, or trim)."""

    def norm(text: str | None) -> str:
        return "\n".join(line.rstrip() for line in (text or "").replace("\r\n", "\n").split("\n"))

    return norm(a).strip() == norm(b).strip()


def parent_issue(issue: Mapping[str, Any]) -> IssueRef | None:
    """The parent of an issue as GitHub's issue object names it (``parent_issue_url``, an
    API URL), or None when it has none or the object does not say."""
    url = str(issue.get("parent_issue_url") or "")
    found = _API_ISSUE_PATH.search(url)
    if found is None:
        return None
    try:
        return IssueRef(found["owner"], found["repo"], int(found["number"]))
    except ValueError:
        return None
