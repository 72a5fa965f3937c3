"""What each part of the bot asks of GitHub: small protocols, one per need.

As Prow's plugins each declare the few GitHub methods they use, a consumer types its
``github`` against the protocol of what it does, not against every call the bot makes:

- :class:`IssueReader`: read one issue now (the reconcile, the linker, the issue readers);
- :class:`CommentWriter`: the bot's own comments, found by its login and posted, edited or
  deleted (the announcer, the progress comment, the marker lookup, replies);
- :class:`SubIssueReader`: the sub-issues of a tracking issue (the linker);
- :class:`Collaborators`: who may run a slash command, and the reaction that answers it
  (the comment handler);
- :class:`InstallationReader`: where the App is installed and what it can see there (the
  ``sync`` sweep, ``check``, the whole-base readers);
- :class:`IssueWriter`: issues the bot opens and edits itself, found again by their hidden
  marker, and their place under a tracking issue (the Airtable → GitHub direction,
  :mod:`bot.sync.issue_opener`);
- :class:`DeliveryLog`: the App's webhook delivery log (recovery).

:class:`GitHubGateway` is what the App's gateway (:class:`bot.clients.github.AppGitHub`)
and its stand-in without credentials (:class:`bot.clients.github_logging.LoggingGitHub`)
both offer: every protocol but the delivery log, which only the App can read
(``AppGitHub`` offers it too; recovery checks for it with ``isinstance``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol, runtime_checkable

from bot.core.issue import IssueRef


class IssueReader(Protocol):
    """Reads one issue as GitHub has it now; ``can_read`` is False without App credentials."""

    can_read: bool

    async def get_issue(self, ref: IssueRef, installation_id: int | None) -> dict[str, Any] | None:
        """The issue as GitHub's REST API returns it; None when it was deleted (410). Raises
        :class:`bot.clients.github.IssueNotVisible` when GitHub answers 404."""


class CommentWriter(Protocol):
    """The comments the bot writes on issues, and the login they are written under."""

    async def bot_login(self) -> str | None:
        """The login of the App's bot user (``slug[bot]``), or None when unknown."""

    async def list_comments(
        self, ref: IssueRef, installation_id: int | None
    ) -> list[dict[str, Any]]:
        """Every comment on an issue, oldest first."""

    async def create_comment(self, ref: IssueRef, body: str, installation_id: int | None) -> None:
        """Post a comment on an issue."""

    async def edit_comment(
        self, owner: str, repo: str, comment_id: int, body: str, installation_id: int | None
    ) -> None:
        """Replace the body of an issue comment."""

    async def delete_comment(
        self, owner: str, repo: str, comment_id: int, installation_id: int | None
    ) -> None:
        """Delete an issue comment; one already gone is no error."""


class SubIssueReader(Protocol):
    """Reads the sub-issues of an issue; ``can_read`` is False without App credentials."""

    can_read: bool

    async def list_sub_issues(
        self, ref: IssueRef, installation_id: int | None
    ) -> list[dict[str, Any]]:
        """The sub-issues of an issue."""


class Collaborators(Protocol):
    """Who may do what in a repository, and the reaction that answers a comment."""

    async def permission(
        self, owner: str, repo: str, login: str, installation_id: int | None
    ) -> dict[str, str]:
        """``{"role_name": ..., "permission": ..., "granted": ...}`` of ``login`` on the
        repository (``granted``: the highest role the answer's ``permissions`` hash allows);
        all ``"none"`` for someone who is not a collaborator. Raises when GitHub cannot say."""

    async def custom_role_base(
        self, org: str, role_name: str, installation_id: int | None
    ) -> str | None:
        """The ``base_role`` of the organization's custom repository role ``role_name``, or
        None when GitHub does not say (no such role, or the App may not read them)."""

    async def add_reaction(
        self, owner: str, repo: str, comment_id: int, content: str, installation_id: int | None
    ) -> None:
        """React to an issue comment (``+1``, ``confused``, ...)."""


class InstallationReader(Protocol):
    """Where the App is installed, and the repositories and issues it can see there."""

    async def installations(self) -> list[dict[str, Any]]:
        """The App's installations (authenticated as the App itself)."""

    async def installation_repositories(self, installation_id: int) -> list[dict[str, Any]]:
        """The repositories an installation can reach."""

    def iter_issues(
        self, owner: str, repo: str, installation_id: int | None, *, state: str = "all"
    ) -> AsyncIterator[dict[str, Any]]:
        """A repository's issues (pull requests left out), following pagination."""


class IssueWriter(Protocol):
    """Issues the bot opens and keeps itself: opened, edited, placed under a tracking issue,
    and found again by the marker in their body (the Airtable → GitHub direction)."""

    async def create_issue(
        self, owner: str, repo: str, title: str, body: str, installation_id: int | None
    ) -> dict[str, Any]:
        """Open an issue; GitHub's issue object (``number``, ``id``, ``html_url``, ...)."""

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
        """Change an issue's title, body, state (``open``, ``closed``) and state reason
        (``completed``, ``not_planned``, ``duplicate``); None leaves one as it is. The issue
        as it is after."""

    async def add_sub_issue(
        self,
        parent: IssueRef,
        child_issue_id: int,
        installation_id: int | None,
        *,
        replace_parent: bool,
    ) -> None:
        """Make the issue with id ``child_issue_id`` a sub-issue of ``parent``
        (``replace_parent``: move it from the parent it has). GitHub answers 422 when it is
        one already, or has another parent and ``replace_parent`` is False."""

    async def remove_sub_issue(
        self, parent: IssueRef, child_issue_id: int, installation_id: int | None
    ) -> None:
        """Take a sub-issue out of ``parent``; one not there (404) is no error."""

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
        """The oldest issue of the repository (open or closed) updated since ``since``,
        opened by ``creator`` (None: anyone), whose body contains ``marker``; None when none
        is. Lists the issues, which GitHub answers from its database at once (its search is
        eventually consistent: an issue opened a moment ago may not be found there)."""

    async def repository_installation(self, owner: str, repo: str) -> int | None:
        """The id of the App's installation on the repository, or None when the App is not
        installed there (GitHub answers 404)."""


@runtime_checkable
class DeliveryLog(Protocol):
    """The App's webhook delivery log (only the App itself can read it)."""

    async def hook_deliveries(
        self, *, cursor: str | None = None, per_page: int = 100
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the log, newest first, and the cursor of the next (older) page."""

    async def hook_delivery(self, delivery_id: int) -> dict[str, Any] | None:
        """One logged delivery with its request and response, or None when it is gone."""


class GitHubGateway(
    IssueReader,
    CommentWriter,
    SubIssueReader,
    Collaborators,
    InstallationReader,
    IssueWriter,
    Protocol,
):
    """Everything the bot asks of GitHub but the delivery log: the union of the protocols."""
