"""Announcements: the comments the bot writes because a Project completed or reopened.

Every announcement is an effect decided from the truth and looked up before it is made:

- Its **target** is the Project's Tracking Issue, else (completion) the deliverable whose
  issue closed last — the issue that completed it — or (reopening) the first deliverable that
  is not done. The same data gives the same target in ``serve``, in ``sync`` and in a retry.
- Its hidden **marker**, at the very start of the comment, names the Project and a key of the
  transition: for a completion the instant its last deliverable was done and how many are
  done, for a reopening the deliverables not done. A retry, a resumed delivery, the sweep or
  a second process computes the same marker, finds the comment and posts nothing; a later,
  genuine reopening and completion has another key and is announced again.
- The lookup reads every page of the target's comments and only counts comments authored by
  the App's own bot user whose body starts with the marker (a person quoting a marker, or a
  name that contains one, never counts).

The Reconciler posts an announcement *before* it writes the Project's new Status, so the
Status in Airtable is also the record of what was announced: a crash or a refused write in
between leaves the Status unchanged, the transition is decided again on the retry, and the
lookup finds the comment already there.

Names typed by people (Project and deliverable names, issue URLs from Airtable) pass through
:func:`bot.core.markdown.plain` via :mod:`bot.core.progress`, so no mention, markup or
marker is echoed. The same lookup (:func:`find_marked_comment`) finds the bot's other marked
comments: the progress comment, the answer to an unknown project label.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.clients.github_protocols import CommentWriter
from bot.config import Config
from bot.core.completion import Transition
from bot.core.issue import IssueRef, parse_issue_url
from bot.core.labels import is_bot
from bot.core.markdown import plain
from bot.core.progress import Progress, deliverable_lines, deliverable_list, issue_link
from bot.metrics import Metrics

log = logging.getLogger(__name__)

Record = dict[str, Any]

MARKER = "<!-- deliverables-bot:project-{kind}:{project_id}:{key} -->"
MARKER_PATTERN = re.compile(
    r"<!-- deliverables-bot:project-(?P<kind>completed|reopened):"
    r"(?P<project_id>[A-Za-z0-9]+):(?P<key>[A-Za-z0-9-]+) -->"
)
COMPLETED_COMMENT = """\
{marker}
:tada: **{project}** is complete: all {done} of its deliverables are done.

{deliverables}
"""
REOPENED_COMMENT = """\
{marker}
**{project}** is in progress again: {done} of {total} deliverables are done. Not done: \
{not_done}.
"""
# How many not-done deliverables a reopening comment names before "and N more".
MAX_NAMED = 5


@dataclass(frozen=True)
class Announcement:
    """One comment to make: where, with which marker, saying what."""

    transition: Transition
    project_id: str
    key: str
    target: IssueRef
    body: str

    @property
    def marker(self) -> str:
        """The hidden marker the comment starts with."""
        return marker(self.transition, self.project_id, self.key)


def marker(transition: Transition, project_id: str, key: str) -> str:
    """The marker of a Project's transition."""
    return MARKER.format(kind=transition.value, project_id=project_id, key=key)


def parse_marker(body: str) -> tuple[Transition, str, str] | None:
    """``(transition, project_id, key)`` of a comment that starts with a marker, else None."""
    found = MARKER_PATTERN.match(body.lstrip())
    if found is None:
        return None
    return Transition(found["kind"]), found["project_id"], found["key"]


def _instant(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _digest(parts: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def _done(deliverables: Sequence[Record], config: Config) -> list[Record]:
    status = config.fields.deliverables.status
    return [d for d in deliverables if d["fields"].get(status) == config.statuses.deliverable.done]


def _not_done(deliverables: Sequence[Record], config: Config) -> list[Record]:
    status = config.fields.deliverables.status
    options = config.statuses.deliverable
    waiting = [
        d for d in deliverables if d["fields"].get(status) not in (options.done, options.cancelled)
    ]
    return sorted(waiting, key=lambda d: _url_of(d, config))


def _url_of(record: Record, config: Config) -> str:
    return str(record["fields"].get(config.fields.deliverables.issue) or "")


def _last_done(deliverables: Sequence[Record], config: Config) -> Record | None:
    """The Done deliverable whose Completed time is latest (ties: the larger URL)."""
    completed = config.fields.deliverables.completed
    done = _done(deliverables, config)
    if not done:
        return None
    floor = datetime.min.replace(tzinfo=UTC)
    return max(
        done, key=lambda d: (_instant(d["fields"].get(completed)) or floor, _url_of(d, config))
    )


def completion_key(deliverables: Sequence[Record], config: Config) -> str:
    """The key of a completion: when its last deliverable was done, and how many are done."""
    done = _done(deliverables, config)
    last = _last_done(deliverables, config)
    when = _instant(last["fields"].get(config.fields.deliverables.completed)) if last else None
    if when is None:  # Done with no Completed time (set by hand): the set of done records
        return f"{_digest(sorted(d['id'] for d in done))}-{len(done)}"
    return f"{when.astimezone(UTC):%Y%m%dT%H%M%SZ}-{len(done)}"


def reopen_key(deliverables: Sequence[Record], config: Config) -> str:
    """The key of a reopening: which deliverables are not done."""
    return _digest([d["id"] for d in _not_done(deliverables, config)])


def announcement_target(
    project: Record, deliverables: Sequence[Record], transition: Transition, config: Config
) -> IssueRef | None:
    """Where the announcement goes (see the module docstring); None when nowhere can."""
    tracking = parse_issue_url(
        str(project["fields"].get(config.fields.projects.tracking_issue) or "")
    )
    if tracking is not None:
        return tracking
    if transition is Transition.COMPLETED:
        last = _last_done(deliverables, config)
        return parse_issue_url(_url_of(last, config)) if last else None
    for record in _not_done(deliverables, config):
        ref = parse_issue_url(_url_of(record, config))
        if ref is not None:
            return ref
    return None


def plan_announcement(
    transition: Transition,
    project: Record,
    deliverables: Sequence[Record],
    counts: Progress,
    config: Config,
) -> Announcement | None:
    """The announcement of ``transition``, or None when it has nowhere to go. Pure."""
    target = announcement_target(project, deliverables, transition, config)
    if target is None:
        return None
    project_id = project["id"]
    name = plain(str(project["fields"].get(config.fields.projects.name) or project_id))
    if transition is Transition.COMPLETED:
        key = completion_key(deliverables, config)
        body = COMPLETED_COMMENT.format(
            marker=marker(transition, project_id, key),
            project=name,
            done=counts.done,
            deliverables=deliverable_list(
                deliverable_lines(deliverables, config.fields.deliverables),
                config.statuses.deliverable.done,
            ),
        )
    else:
        key = reopen_key(deliverables, config)
        waiting = [issue_link(_url_of(d, config)) for d in _not_done(deliverables, config)]
        named = ", ".join(waiting[:MAX_NAMED]) or "none"
        if len(waiting) > MAX_NAMED:
            named += f" and {len(waiting) - MAX_NAMED} more"
        body = REOPENED_COMMENT.format(
            marker=marker(transition, project_id, key),
            project=name,
            done=counts.done,
            total=counts.total,
            not_done=named,
        )
    return Announcement(transition, project_id, key, target, body)


async def own_comments(
    github: CommentWriter, ref: IssueRef, installation_id: int | None
) -> list[dict[str, Any]]:
    """Every comment on ``ref`` (all pages) written by the App's bot user, oldest first.

    When the App's login cannot be read, any bot account's comment counts.
    """
    login = await github.bot_login()
    mine: Callable[[Mapping[str, Any]], bool] = (
        (lambda c: str((c.get("user") or {}).get("login", "")) == login)
        if login
        else lambda c: is_bot(c.get("user"))
    )
    return [c for c in await github.list_comments(ref, installation_id) if mine(c)]


async def find_marked_comment(
    github: CommentWriter, ref: IssueRef, marker: str, installation_id: int | None
) -> dict[str, Any] | None:
    """The bot's own comment on ``ref`` that starts with ``marker``, if any (a person
    quoting the marker, or a comment that only contains it, does not count)."""
    for comment in await own_comments(github, ref, installation_id):
        if str(comment.get("body") or "").lstrip().startswith(marker):
            return comment
    return None


class Announcer:
    """Posts a Project's announcements exactly once, looking each up by its marker first."""

    def __init__(self, config: Config, github: CommentWriter, metrics: Metrics) -> None:
        self.config = config
        self.github = github
        self.metrics = metrics

    async def announce(
        self,
        transition: Transition,
        project: Record,
        deliverables: Sequence[Record],
        counts: Progress,
        installation_id: int | None,
        *,
        any_key: bool = False,
    ) -> bool:
        """Post the announcement of ``transition`` unless it is there; True when posted.

        With ``any_key`` (the sweep checking a Project that is Complete already), a comment
        for the same transition with any key counts as made.
        """
        planned = plan_announcement(transition, project, deliverables, counts, self.config)
        if planned is None:
            log.warning(
                "Project %s %s, but it has no tracking issue or deliverable issue to say so on",
                project["id"],
                transition.value,
            )
            return False
        if self._made(await self._same(planned, installation_id), planned, any_key):
            return False
        await self.github.create_comment(planned.target, planned.body, installation_id)
        self.metrics.comments.labels(kind=f"project-{transition.value}").inc()
        log.info(
            "%s: Project %s %s; announced", planned.target, planned.project_id, transition.value
        )
        await self._keep_the_first(planned, installation_id)
        return True

    async def _same(self, planned: Announcement, installation_id: int | None) -> list[Any]:
        """The bot's comments on the target announcing the same transition of the Project,
        as ``(comment, key)``, oldest first."""
        found = []
        for comment in await own_comments(self.github, planned.target, installation_id):
            parsed = parse_marker(str(comment.get("body") or ""))
            if parsed is not None and parsed[:2] == (planned.transition, planned.project_id):
                found.append((comment, parsed[2]))
        return found

    @staticmethod
    def _made(same: list[Any], planned: Announcement, any_key: bool) -> bool:
        for comment, key in same:
            if any_key or key == planned.key:
                log.info(
                    "%s: Project %s %s: announced already (comment %s)",
                    planned.target,
                    planned.project_id,
                    planned.transition.value,
                    comment.get("id"),
                )
                return True
        return False

    async def _keep_the_first(self, planned: Announcement, installation_id: int | None) -> None:
        """Two processes (``serve`` and an operator's ``sync``, two replicas) can each look,
        find nothing and post. After posting, look again: every process keeps the oldest
        comment with this marker and deletes the others, so exactly one stays."""
        same = [c for c, key in await self._same(planned, installation_id) if key == planned.key]
        for duplicate in sorted(same, key=lambda c: int(c["id"]))[1:]:
            log.warning(
                "%s: Project %s %s was announced twice at once; deleting comment %s",
                planned.target,
                planned.project_id,
                planned.transition.value,
                duplicate["id"],
            )
            await self.github.delete_comment(
                planned.target.owner, planned.target.repo, int(duplicate["id"]), installation_id
            )
