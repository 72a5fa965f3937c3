"""What a sync plans and says: the planned changes, the report's lines and counts, the meter.

:class:`bot.sync.sweep.Syncer` fills a :class:`SyncReport` as it plans and carries out a
sync; the ``sync`` command prints its lines and summary (:func:`print_report`), the
scheduled sync of ``serve`` logs its counts. :class:`Meter` shows how far the work is: a
tqdm bar on a terminal, plain lines otherwise.
"""

from __future__ import annotations

import collections
import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from bot.clients.reads import Unreadable
from bot.config import Config
from bot.core.issue import IssueRef
from bot.core.projects import ProjectMatch
from bot.core.records import Record
from bot.core.renewal_rules import RenewalAction

log = logging.getLogger(__name__)

NEEDS_GITHUB = (
    "sync needs the GitHub App's credentials (GITHUB_APP_ID and GITHUB_PRIVATE_KEY or "
    "GITHUB_PRIVATE_KEY_PATH): GitHub is the truth it syncs the base to"
)
UPDATE_LINE = "{verb} deliverable {record} ({ref}): {changes}"
LINK_LINE = '{verb} {ref} "{title}" to Project {project} as {status}'
PROJECT_LINE = "{verb} Project {project} from {old} to {new}"
RENEWAL_LINE = '{verb} Engagement {engagement} {status}; Renewal Opportunity "{opportunity}" {what}'
REOPENED_ENGAGEMENT_LINE = (
    "{verb} Engagement {engagement} {status} again: one of its Projects is no longer Complete"
)
UNKNOWN_PROJECT_LINE = '{ref} has the label "{label}" but no Project is named "{name}"'
AMBIGUOUS_PROJECT_LINE = (
    '{ref} has the label "{label}" but {count} Projects are named "{name}" ({ids}); not linked'
)
UNINSTALLED_LINE = "skipped {count} deliverable(s) in {repo}: the App is not installed there"
NOT_VISIBLE_LINE = (
    "left as they are: {count} deliverable(s) in {repo}, GitHub answers 404 (the App is not "
    "installed there, cannot see a private repository, or the URL is wrong): {records}"
)
UNREADABLE_LINE = (
    "left as they are: {count} deliverable(s) in {what}, GitHub could not be read: {reason}"
)
UNREADABLE_ISSUE_LINE = (
    "left as it is: the deliverable of {what}, GitHub could not be read: {reason}"
)
SUMMARY_HEADER = "sync summary{dry}:"
SUMMARY_LINE = "  {kind}: {count}"
UNREACHED_HEADER = "could not reach ({count}; everything else was synced):"
UNREACHED_LINE = "  {what}: {reason}"

# Field kinds reported in the summary, by the DeliverableFields attribute that holds them.
_KINDS = {"status": "status", "completed": "completed", "name": "title", "assignees": "assignees"}


class Meter:
    """How far the planned work is: a tqdm bar on a terminal, plain lines otherwise."""

    def __init__(self, stream: TextIO | None = None, *, every: int = 10) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        self._bar: Any = None
        self._done = 0
        self._total = 0
        self._label = ""

    def start(self, label: str, total: int) -> None:
        """Begin a phase of ``total`` steps."""
        self._label, self._total, self._done = label, total, 0
        if total and self.stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=label, file=self.stream, unit="item")
        elif total:
            print(f"{label}: 0/{total}", file=self.stream, flush=True)

    def step(self) -> None:
        """One step done."""
        self._done += 1
        if self._bar is not None:
            self._bar.update(1)
        elif self._done % self.every == 0 or self._done == self._total:
            print(f"{self._label}: {self._done}/{self._total}", file=self.stream, flush=True)

    def note(self, text: str) -> None:
        """A line about what is happening (reading a repository, ...)."""
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        """End the phase."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class SilentMeter(Meter):
    """No output at all (the scheduled sync of ``serve`` logs instead)."""

    def start(self, label: str, total: int) -> None:
        """Nothing to show."""

    def step(self) -> None:
        """Nothing to show."""

    def note(self, text: str) -> None:
        """Logged at debug level."""
        log.debug("%s", text)


@dataclass(frozen=True)
class PlannedUpdate:
    """A deliverable whose fields differ from its issue."""

    record: Record
    ref: IssueRef
    changes: dict[str, Any]


@dataclass(frozen=True)
class PlannedLink:
    """A labelled issue with no deliverable: the record to create."""

    ref: IssueRef
    project: Record
    fields: dict[str, Any]


@dataclass(frozen=True)
class PlannedProject:
    """A Project whose Status its deliverables no longer support."""

    project: Record
    old: str | None
    new: str
    ref: IssueRef


def record_name(config: Config, table: str, record: Record) -> str:
    """A record as a line names it: ``"Name" (recId)``."""
    name = record["fields"].get(getattr(config.fields, table).name) or "(unnamed)"
    return f'"{name}" ({record["id"]})'


def _describe(record: Record, changes: dict[str, Any]) -> str:
    parts = []
    for field_name, new in changes.items():
        old = record["fields"].get(field_name)
        parts.append(f"{field_name} {old or 'empty'} → {new or 'empty'}")
    return ", ".join(parts)


@dataclass
class SyncReport:
    """What a sync did (or, in a dry run, would do): lines to print and counts by kind."""

    dry_run: bool
    lines: list[str] = field(default_factory=list)
    counts: collections.Counter[str] = field(default_factory=collections.Counter)
    unreached: list[tuple[str, str]] = field(default_factory=list)  # (what, why)

    @property
    def complete(self) -> bool:
        """Whether everything was reached (nothing skipped for a failure or a 404)."""
        return not self.unreached

    def skip(self, what: str, reason: str) -> None:
        """Record something the sync could not reach, and why; the rest goes on."""
        self.unreached.append((what, reason))

    def uninstalled(self, by_repo: dict[str, int]) -> None:
        """Deliverables skipped because the App is not installed on their repository."""
        for repo_name, count in by_repo.items():
            self.lines.append(UNINSTALLED_LINE.format(count=count, repo=repo_name))
            self.counts["skipped: App not installed"] += count
            if count:
                self.skip(repo_name, f"the App is not installed there ({count} deliverable(s))")

    def not_visible(
        self,
        config: Config,
        in_scope: Iterable[tuple[Record, IssueRef]],
        not_visible: dict[str, IssueRef],
    ) -> None:
        """Name the deliverables whose issues GitHub answered 404 for, by repository."""
        by_repo: dict[str, list[str]] = collections.defaultdict(list)
        for record, ref in in_scope:
            if ref.key in not_visible:
                by_repo[f"{ref.owner}/{ref.repo}"].append(
                    record_name(config, "deliverables", record)
                )
        for repo_name, records in sorted(by_repo.items()):
            self.lines.append(
                NOT_VISIBLE_LINE.format(
                    count=len(records), repo=repo_name, records=", ".join(records)
                )
            )
            self.counts["skipped: not visible on GitHub (404)"] += len(records)
            self.skip(
                repo_name,
                f"GitHub answers 404: the App is not installed there, cannot see it, or it "
                f"does not exist ({len(records)} deliverable(s))",
            )

    def unreadable(self, items: Iterable[Unreadable]) -> None:
        """Name each repository or issue GitHub failed to give, and why."""
        for item in items:
            if "#" in item.what:
                self.lines.append(UNREADABLE_ISSUE_LINE.format(what=item.what, reason=item.reason))
            else:
                self.lines.append(
                    UNREADABLE_LINE.format(
                        count=item.deliverables, what=item.what, reason=item.reason
                    )
                )
            self.counts["skipped: GitHub could not be read"] += item.deliverables
            self.skip(item.what, item.reason)

    def unmatched_label(self, ref: IssueRef, label: str, name: str, match: ProjectMatch) -> None:
        """A project label naming no Project, or several: the issue is not linked."""
        if match.candidates:
            ids = ", ".join(r["id"] for r in match.candidates)
            self.lines.append(
                AMBIGUOUS_PROJECT_LINE.format(
                    ref=ref, label=label, count=len(match.candidates), name=name, ids=ids
                )
            )
            self.counts["labelled issues naming several Projects (skipped)"] += 1
            return
        self.lines.append(UNKNOWN_PROJECT_LINE.format(ref=ref, label=label, name=name))
        self.counts["labelled issues naming no Project (skipped)"] += 1

    def plan(
        self,
        config: Config,
        updates: list[PlannedUpdate],
        links: list[PlannedLink],
        projects: list[PlannedProject],
    ) -> None:
        """One line per planned change, and their counts."""
        names = config.fields.deliverables
        dry = self.dry_run
        for u in updates:
            self.lines.append(
                UPDATE_LINE.format(
                    verb="would update" if dry else "updated",
                    record=record_name(config, "deliverables", u.record),
                    ref=u.ref,
                    changes=_describe(u.record, u.changes),
                )
            )
            for attribute, kind in _KINDS.items():
                if getattr(names, attribute) in u.changes:
                    self.counts[f"deliverable {kind} changed"] += 1
        self.counts["deliverables updated"] += len(updates)
        for link in links:
            self.lines.append(
                LINK_LINE.format(
                    verb="would link" if dry else "linked",
                    ref=link.ref,
                    title=link.fields[names.name],
                    project=record_name(config, "projects", link.project),
                    status=link.fields[names.status],
                )
            )
        self.counts["deliverables linked"] += len(links)
        for p in projects:
            self.lines.append(
                PROJECT_LINE.format(
                    verb="would move" if dry else "moved",
                    project=record_name(config, "projects", p.project),
                    old=p.old or "empty",
                    new=p.new,
                )
            )
        self.counts["projects updated"] += len(projects)

    def renewals(self, actions: list[RenewalAction]) -> None:
        """One line per Engagement signalled for renewal, and their counts."""
        dry = self.dry_run
        for action in actions:
            if action.reopened:
                self.lines.append(
                    REOPENED_ENGAGEMENT_LINE.format(
                        verb="would mark" if dry else "marked",
                        engagement=f'"{action.engagement}" ({action.engagement_id})',
                        status=action.status,
                    )
                )
                self.counts["engagements reopened"] += 1
                continue
            what = ("would be created" if dry else "created") if action.created else "exists"
            self.lines.append(
                RENEWAL_LINE.format(
                    verb="would mark" if dry else "marked",
                    engagement=f'"{action.engagement}" ({action.engagement_id})',
                    status=action.status,
                    opportunity=action.opportunity,
                    what=what,
                )
            )
            self.counts["engagements signalled for renewal"] += 1
            if action.created:
                self.counts["renewal opportunities created"] += 1

    def drop_empty_counts(self) -> None:
        """Leave out the kinds nothing was counted for."""
        for kind in [k for k, v in self.counts.items() if v == 0]:
            del self.counts[kind]

    def summary(self) -> str:
        """The counts by kind, one per line, then what could not be reached and why."""
        out = [SUMMARY_HEADER.format(dry=" (dry run: nothing written)" if self.dry_run else "")]
        for kind, count in self.counts.items():
            out.append(SUMMARY_LINE.format(kind=kind, count=count))
        if self.unreached:
            out.append(UNREACHED_HEADER.format(count=len(self.unreached)))
            out.extend(UNREACHED_LINE.format(what=w, reason=r) for w, r in self.unreached)
        return "\n".join(out)


def print_report(report: SyncReport, out: TextIO) -> int:
    """Print each line and the summary; the ``sync`` command's exit code (1: something was
    not reached)."""
    for line in report.lines:
        print(line, file=out)
    print(report.summary(), file=out)
    return 0 if report.complete else 1
