"""Reads of a whole base and of issues, for ``serve``'s reconcile and sweep and the commands.

A base is read through its :class:`AirtableLane` (rate limit, batches, snapshots) into plain
data; issues are read from GitHub one at a time (:func:`read_issue`) or a repository's page
by page (:func:`fetch_issues`), with what could not be read and why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import gidgethub

from bot.clients.airtable import AirtableLane
from bot.clients.errors import GITHUB_FAILURES
from bot.clients.github import GitHubGateway, IssueNotVisible
from bot.clients.github_protocols import InstallationReader, IssueReader
from bot.config import Config
from bot.core.issue import IssueRef, IssueState, parse_issue_url
from bot.core.records import BaseData

log = logging.getLogger(__name__)


def base_ids(config: Config) -> list[str]:
    """Every Airtable base the configuration names, each once, in a stable order."""
    ids = [config.airtable_base_id] if config.airtable_base_id else []
    ids.extend(config.bases_by_owner.values())
    return list(dict.fromkeys(ids))


async def read_base(lane: AirtableLane) -> BaseData:
    """Read the five tables of a base through its lane (page by page, rate-limited)."""
    tables = lane.config.tables
    values = {}
    for key in ("opportunities", "contracts", "engagements", "projects", "deliverables"):
        records = await lane.table_records(getattr(tables, key))
        values[key] = list(records.values())
    return BaseData(**values)


async def installation_ids(github: InstallationReader) -> dict[str, int]:
    """The App's installation id for each account login (lower-cased)."""
    return {
        str(i["account"]["login"]).lower(): int(i["id"])
        for i in await github.installations()
        if i.get("account")
    }


async def read_issue(
    github: IssueReader, ref: IssueRef, installation_id: int | None
) -> IssueState | None:
    """The issue as GitHub has it now, at its current URL (a transfer, GitHub's 301,
    followed); None when GitHub answers 410 (deleted). Raises :class:`IssueNotVisible` for
    a 404."""
    data = await github.get_issue(ref, installation_id)
    if data is None:
        return None
    return IssueState.from_api(data, ref=parse_issue_url(data["html_url"]) or ref)


async def list_repo_issues(
    github: InstallationReader, owner: str, repo: str, installation_id: int
) -> dict[int, dict[str, Any]]:
    """Every issue of a repository (open and closed, pull requests left out), by number."""
    return {
        int(issue["number"]): issue
        async for issue in github.iter_issues(owner, repo, installation_id, state="all")
    }


@dataclass(frozen=True)
class Unreadable:
    """What GitHub would not give, and why (one line, :func:`bot.clients.errors.github_problem`)."""

    what: str  # "owner/repo" or an issue key
    reason: str
    deliverables: int = 0  # how many deliverables it leaves unchecked


@dataclass
class IssueIndex:
    """Issues read from GitHub for a set of deliverables: state by issue key, and what was
    skipped (repositories the App is not installed on, issues or repositories it could not
    read, each with the reason)."""

    states: dict[str, IssueState] = field(default_factory=dict)
    raw: dict[str, dict[str, Any]] = field(default_factory=dict)
    uninstalled: dict[str, int] = field(default_factory=dict)  # "owner/repo" → deliverables
    installations: dict[str, int] = field(default_factory=dict)
    not_visible: dict[str, IssueRef] = field(default_factory=dict)  # GitHub answered 404
    unreadable: list[Unreadable] = field(default_factory=list)  # any other failure
    unread_refs: dict[str, IssueRef] = field(default_factory=dict)  # their deliverables' issues

    def installation_for(self, owner: str) -> int | None:
        """The installation id serving ``owner``, or None."""
        return self.installations.get(owner.lower())

    @property
    def complete(self) -> bool:
        """Whether every issue asked for was read (nothing uninstalled, hidden or failed)."""
        return not (self.uninstalled or self.not_visible or self.unreadable)


def _is_not_found(exc: BaseException) -> bool:
    return isinstance(exc, gidgethub.BadRequest) and int(exc.status_code) == 404


async def fetch_issues(
    github: GitHubGateway,
    refs: Iterable[IssueRef],
    *,
    extra_repos: Iterable[tuple[str, str]] = (),
    installations: dict[str, int] | None = None,
    describe: Callable[[BaseException], str] | None = None,
    on_repo: Callable[[str, int, int], None] | None = None,
) -> IssueIndex:
    """Read the issues behind ``refs`` from GitHub: each repository listed page by page, and
    each issue missing from its listing (deleted, transferred) read on its own.

    A deleted issue (410) is recorded with state ``deleted``; an issue GitHub answers 404 for
    (or whose repository listing answers 404) goes in ``not_visible`` with no state, so its
    deliverable is left as it is. Any other failure of a repository's listing or of one
    issue (refused, GitHub failing, no answer, not JSON) is recorded in ``unreadable`` with
    the reason (``describe`` words it) and the rest goes on: one bad repository never stops
    the others. ``extra_repos`` are listed too, so their issues are in ``raw`` (``sync``
    looks there for labelled issues). ``on_repo(name, n, total)`` is told before each
    repository is read (``sync``'s progress).
    """
    word = describe or (lambda exc: str(exc) or type(exc).__name__)
    if installations is None:
        installations = await installation_ids(github)
    index = IssueIndex(installations=installations)
    by_repo: dict[tuple[str, str], list[IssueRef]] = {}
    for ref in refs:
        by_repo.setdefault((ref.owner.lower(), ref.repo.lower()), []).append(ref)
    for owner, repo in extra_repos:
        by_repo.setdefault((owner.lower(), repo.lower()), [])
    for n, ((owner, repo), wanted) in enumerate(by_repo.items(), start=1):
        name = f"{owner}/{repo}"
        installation = index.installation_for(owner)
        if installation is None:
            index.uninstalled[name] = len(wanted)
            continue
        if on_repo is not None:
            on_repo(name, n, len(by_repo))
        try:
            issues = await list_repo_issues(github, owner, repo, installation)
        except GITHUB_FAILURES as exc:
            if _is_not_found(exc):
                log.warning("GitHub answers 404 for the issues of %s: not visible", name)
                index.not_visible.update((ref.key, ref) for ref in wanted)
                continue
            reason = word(exc)
            log.warning("could not read the issues of %s: %s", name, reason)
            index.unreadable.append(Unreadable(name, reason, len(wanted)))
            index.unread_refs.update((ref.key, ref) for ref in wanted)
            continue
        for number, issue in issues.items():
            key = IssueRef(owner, repo, number).key
            index.raw[key] = issue
            index.states[key] = IssueState.from_api(issue)
        for ref in wanted:
            if ref.key in index.states:
                continue
            try:
                data = await github.get_issue(ref, installation)
            except IssueNotVisible:
                index.not_visible[ref.key] = ref
                continue
            except GITHUB_FAILURES as exc:
                reason = word(exc)
                log.warning("could not read %s: %s", ref, reason)
                index.unreadable.append(Unreadable(str(ref), reason, 1))
                index.unread_refs[ref.key] = ref
                continue
            if data is None:
                index.states[ref.key] = IssueState(ref=ref, title="", state="deleted")
            else:
                index.raw[ref.key] = data
                index.states[ref.key] = IssueState.from_api(data)
    return index
