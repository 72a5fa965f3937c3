"""Issues as the bot sees them: a plain snapshot of the state that decides a deliverable.

Built from a webhook payload or from GitHub's REST API (both use the same issue shape), and
the canonical issue URL that Project Deliverable records point at.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# GitHub's names: an owner is 1-39 letters, digits and single inner hyphens (Enterprise
# Managed Users add an ``_shortcode`` suffix); a repository is 1-100 letters, digits, ``.``,
# ``-`` and ``_``, never ``.`` or ``..``. An issue number is a positive integer.
OWNER_PATTERN = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}(?:_[A-Za-z0-9]{1,38})?"
REPO_PATTERN = r"(?!\.\.?(?![A-Za-z0-9._-]))[A-Za-z0-9._-]{1,100}"
NUMBER_PATTERN = r"[1-9][0-9]{0,9}"
# Actions whose only news is the issue's state: any number of them pending for one issue
# are settled by one reconcile.
STATE_ACTIONS = (
    "opened",
    "edited",
    "closed",
    "reopened",
    "assigned",
    "unassigned",
    "labeled",
    "unlabeled",
)

_OWNER = re.compile(f"^{OWNER_PATTERN}$")
_REPO = re.compile(f"^{REPO_PATTERN}$")
_ISSUE_URL = re.compile(
    rf"^https?://github\.com/(?P<owner>{OWNER_PATTERN})/(?P<repo>{REPO_PATTERN})"
    rf"/(?:issues|pull)/(?P<number>{NUMBER_PATTERN})/?$",
    re.IGNORECASE,
)


def valid_owner(owner: str) -> bool:
    """Whether ``owner`` is a GitHub user or organisation name as GitHub allows it."""
    return bool(_OWNER.match(owner))


def valid_repo(repo: str) -> bool:
    """Whether ``repo`` is a repository name as GitHub allows it (never ``.`` or ``..``)."""
    return bool(_REPO.match(repo))


@dataclass(frozen=True)
class IssueRef:
    """Which issue: owner, repository and number. Owner and repo compare case-insensitively."""

    owner: str
    repo: str
    number: int

    def __post_init__(self) -> None:
        # API paths are built from these parts: refuse anything that could leave
        # /repos/{owner}/{repo} (``..``, ``/``) however the ref was made.
        if not (valid_owner(self.owner) and valid_repo(self.repo)) or not (
            isinstance(self.number, int) and 0 < self.number < 10**10
        ):
            raise ValueError(f"not a GitHub issue: {self.owner!r}/{self.repo!r}#{self.number!r}")

    @property
    def key(self) -> str:
        """A stable, lower-cased key such as ``example-org/infrastructure#1``."""
        return f"{self.owner.lower()}/{self.repo.lower()}#{self.number}"

    @property
    def url(self) -> str:
        """The issue's web URL, as stored in the deliverable's GitHub Issue field."""
        return f"https://github.com/{self.owner}/{self.repo}/issues/{self.number}"

    def __str__(self) -> str:
        return f"{self.owner}/{self.repo}#{self.number}"


def parse_issue_url(url: str) -> IssueRef | None:
    """The issue a ``https://github.com/OWNER/REPO/issues/N`` URL names, or None for anything
    else: names GitHub would not allow, ``.``/``..`` segments, a query or fragment, a zero
    or signed number. (A trailing ``/`` is tolerated; GitHub redirects it.)"""
    match = _ISSUE_URL.match(url.strip())
    if match is None:
        return None
    return IssueRef(match["owner"], match["repo"], int(match["number"]))


def issue_url_key(url: str) -> str:
    """The case-insensitive key of an issue URL (its ``IssueRef.key``, or the URL lower-cased)."""
    ref = parse_issue_url(url)
    return ref.key if ref else url.strip().lower()


@dataclass(frozen=True)
class IssueState:
    """The state of one issue that a deliverable mirrors."""

    ref: IssueRef
    title: str
    state: str  # "open", "closed", or "deleted"
    state_reason: str | None = None
    closed_at: str | None = None
    updated_at: str | None = None
    assignees: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    node_id: str | None = None
    id: int | None = None

    @classmethod
    def from_api(cls, issue: Mapping[str, Any], ref: IssueRef | None = None) -> IssueState:
        """Build from GitHub's issue object (REST API or webhook payload)."""
        if ref is None:
            ref = parse_issue_url(str(issue.get("html_url", "")))
            if ref is None:
                raise ValueError(f"issue has no GitHub issue URL: {issue.get('html_url')!r}")
        return cls(
            ref=ref,
            title=str(issue.get("title") or ""),
            state=str(issue.get("state") or "open"),
            state_reason=issue.get("state_reason"),
            closed_at=issue.get("closed_at"),
            updated_at=issue.get("updated_at"),
            assignees=tuple(sorted(a["login"] for a in issue.get("assignees") or ())),
            labels=tuple(
                (label["name"] if isinstance(label, Mapping) else str(label))
                for label in issue.get("labels") or ()
            ),
            node_id=issue.get("node_id"),
            id=issue.get("id"),
        )


def installation_id(payload: Mapping[str, Any]) -> int | None:
    """The App installation a webhook payload came through (``installation.id``), or None."""
    installation = payload.get("installation") or {}
    found = installation.get("id")
    return int(found) if found is not None else None
