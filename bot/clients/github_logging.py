"""GitHub without App credentials: nothing is read, and every write is logged instead.

``serve`` and the commands use :class:`LoggingGitHub` when GITHUB_APP_ID or the private key
is missing (the demo, a first run): the reconcile then works from the delivery's copy of the
issue (``can_read`` is False), and each comment, edit, deletion or reaction the bot would
have made is one INFO line of the ``bot.clients.github`` logger ("would comment on ...").

The Airtable → GitHub direction cannot work without credentials: an issue opened must be
found again by its marker before another is opened, and nothing can be read. Each issue it
would open or edit is logged ("would open an issue in ...: needs GitHub App credentials")
and then :class:`GitHubUnavailable` is raised, so no caller takes an issue for opened (and
writes a URL that names nothing into Airtable).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from bot.core.issue import IssueRef

# The gateway's logger, whichever gateway writes: operators filter GitHub writes by one name.
log = logging.getLogger("bot.clients.github")


NEEDS_APP = (
    "the Airtable → GitHub direction needs GitHub App credentials (GITHUB_APP_ID and "
    "GITHUB_PRIVATE_KEY)"
)


class GitHubUnavailable(RuntimeError):
    """The bot has no App credentials, so it cannot read GitHub."""


class LoggingGitHub:
    """No App credentials: nothing is read from GitHub, and every write is logged instead."""

    can_read = False

    async def get_issue(self, ref: IssueRef, installation_id: int | None) -> dict[str, Any] | None:
        """Never called: without credentials the reconcile uses the delivery's issue."""
        raise GitHubUnavailable("no GitHub App credentials: cannot read issues from GitHub")

    async def permission(
        self, owner: str, repo: str, login: str, installation_id: int | None
    ) -> dict[str, str]:
        """Unknown without credentials: the caller must refuse."""
        raise GitHubUnavailable("no GitHub App credentials: cannot check permissions")

    async def add_reaction(
        self, owner: str, repo: str, comment_id: int, content: str, installation_id: int | None
    ) -> None:
        """Log the reaction that would have been added."""
        log.info("would react %s to comment %s in %s/%s", content, comment_id, owner, repo)

    async def list_comments(
        self, ref: IssueRef, installation_id: int | None
    ) -> list[dict[str, Any]]:
        """Nothing can be read: no comments are known."""
        return []

    async def edit_comment(
        self, owner: str, repo: str, comment_id: int, body: str, installation_id: int | None
    ) -> None:
        """Log the edit that would have been made."""
        log.info("would edit comment %s in %s/%s: %s", comment_id, owner, repo, body)

    async def delete_comment(
        self, owner: str, repo: str, comment_id: int, installation_id: int | None
    ) -> None:
        """Log the deletion that would have been made."""
        log.info("would delete comment %s in %s/%s", comment_id, owner, repo)

    async def list_sub_issues(
        self, ref: IssueRef, installation_id: int | None
    ) -> list[dict[str, Any]]:
        """Cannot be read without credentials."""
        raise GitHubUnavailable("no GitHub App credentials: cannot read sub-issues")

    async def iter_issues(
        self, owner: str, repo: str, installation_id: int | None, *, state: str = "all"
    ) -> AsyncIterator[dict[str, Any]]:
        """Cannot be read without credentials."""
        raise GitHubUnavailable("no GitHub App credentials: cannot list issues")
        yield {}  # pragma: no cover - makes this an async generator

    async def installations(self) -> list[dict[str, Any]]:
        """Cannot be read without credentials."""
        raise GitHubUnavailable("no GitHub App credentials: cannot list installations")

    async def installation_repositories(self, installation_id: int) -> list[dict[str, Any]]:
        """Cannot be read without credentials."""
        raise GitHubUnavailable("no GitHub App credentials: cannot list repositories")

    async def create_comment(self, ref: IssueRef, body: str, installation_id: int | None) -> None:
        """Log the comment that would have been posted."""
        log.info("would comment on %s: %s", ref, body)

    async def bot_login(self) -> str | None:
        """Unknown without credentials."""
        return None

    async def custom_role_base(
        self, org: str, role_name: str, installation_id: int | None
    ) -> str | None:
        """Unknown without credentials."""
        raise GitHubUnavailable("no GitHub App credentials: cannot read custom roles")

    async def create_issue(
        self, owner: str, repo: str, title: str, body: str, installation_id: int | None
    ) -> dict[str, Any]:
        """Log the issue that would have been opened, then refuse: no issue exists."""
        log.info("would open an issue in %s/%s titled %r: %s", owner, repo, title, NEEDS_APP)
        raise GitHubUnavailable(f"no issue opened in {owner}/{repo}: {NEEDS_APP}")

    async def edit_issue(
        self,
        ref: IssueRef,
        installation_id: int | None,
        *,
        title: str | None = None,
        body: str | None = None,
        state: str | None = None,
        state_reason: str | None = None,
    ) -> dict[str, Any]:
        """Log the edit that would have been made, then refuse (the issue is not read)."""
        log.info("would edit issue %s: %s", ref, NEEDS_APP)
        raise GitHubUnavailable(f"{ref} not edited: {NEEDS_APP}")

    async def add_sub_issue(
        self,
        parent: IssueRef,
        child_issue_id: int,
        installation_id: int | None,
        *,
        replace_parent: bool,
    ) -> None:
        """Log the sub-issue that would have been added."""
        log.info("would add issue id %s as a sub-issue of %s", child_issue_id, parent)

    async def remove_sub_issue(
        self, parent: IssueRef, child_issue_id: int, installation_id: int | None
    ) -> None:
        """Log the sub-issue that would have been removed."""
        log.info("would remove issue id %s from the sub-issues of %s", child_issue_id, parent)

    async def find_issue_with_marker(
        self,
        owner: str,
        repo: str,
        marker: str,
        *,
        since: str,
        creator: str | None,
        installation_id: int | None,
    ) -> dict[str, Any] | None:
        """Cannot be read without credentials (and "none found" would open a duplicate)."""
        raise GitHubUnavailable(f"cannot look for issues in {owner}/{repo}: {NEEDS_APP}")

    async def repository_installation(self, owner: str, repo: str) -> int | None:
        """Unknown without credentials."""
        raise GitHubUnavailable(f"cannot find the App's installation on {owner}/{repo}")
