"""The App's GitHub gateway: the calls the bot makes, as the App or one of its installations.

:class:`AppGitHub` makes them through gidgethub, authenticated by
:class:`bot.clients.github_auth.AppAuth` (an App JWT, installation tokens cached until a
minute before they expire), with every path built from checked names
(:mod:`bot.clients.github_paths`). What each consumer needs of it is declared in
:mod:`bot.clients.github_protocols`; :class:`bot.clients.github_logging.LoggingGitHub`
stands in when there are no App credentials.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import gidgethub
from gidgethub import sansio

from bot.clients.github_auth import AppAuth
from bot.clients.github_paths import checked_login, comment_vars, issue_vars, repo_vars
from bot.clients.github_protocols import GitHubGateway
from bot.config import Config
from bot.core.issue import IssueRef
from bot.metrics import Metrics

__all__ = ["AppGitHub", "GitHubGateway", "IssueNotVisible"]

log = logging.getLogger(__name__)


class IssueNotVisible(Exception):
    """GitHub answered 404 for an issue: the App is not installed on its repository, cannot
    see a private one, or the URL is wrong. Not a deletion (that is 410)."""

    def __init__(self, ref: IssueRef) -> None:
        super().__init__(f"GitHub answers 404 for {ref}: not visible to the App")
        self.ref = ref


class AppGitHub(AppAuth):
    """GitHub as the App: reads issues, writes comments, with cached installation tokens."""

    can_read = True

    def __init__(self, session: aiohttp.ClientSession, config: Config, *, metrics: Metrics):
        super().__init__(session, config, metrics=metrics)
        self._bot_login: str | None = None
        # (owner, repo) lower-cased → installation id; only found ones are kept, so an App
        # installed later is seen at the next call.
        self._repo_installations: dict[tuple[str, str], int] = {}

    async def get_issue(self, ref: IssueRef, installation_id: int | None) -> dict[str, Any] | None:
        """The issue now; None when GitHub says it was deleted (410).

        A transferred issue answers 301 with its new place, which aiohttp follows: the issue
        returned then has its new ``html_url``. A 404 raises :class:`IssueNotVisible`: GitHub
        answers 404 alike for an App not installed on the repository, a private repository
        it cannot see and a mistyped URL, so it says nothing about the issue itself.
        """
        gh = await self.client(installation_id)
        try:
            issue = await gh.getitem(
                "/repos/{owner}/{repo}/issues/{number}", url_vars=issue_vars(ref)
            )
        except gidgethub.BadRequest as exc:
            if exc.status_code == 410:
                return None
            if exc.status_code == 404:
                raise IssueNotVisible(ref) from exc
            raise
        return dict(issue)

    async def create_comment(self, ref: IssueRef, body: str, installation_id: int | None) -> None:
        """Post ``body`` as a comment on the issue."""
        gh = await self.client(installation_id)
        await gh.post(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            url_vars=issue_vars(ref),
            data={"body": body},
        )

    async def permission(
        self, owner: str, repo: str, login: str, installation_id: int | None
    ) -> dict[str, str]:
        """The collaborator permission endpoint's ``role_name`` and ``permission``."""
        url_vars = repo_vars(owner, repo, login=checked_login(login))
        gh = await self.client(installation_id)
        try:
            answer = await gh.getitem(
                "/repos/{owner}/{repo}/collaborators/{login}/permission", url_vars=url_vars
            )
        except gidgethub.BadRequest as exc:
            if exc.status_code == 404:  # not a collaborator
                return {"role_name": "none", "permission": "none", "granted": "none"}
            raise
        permission = str(answer.get("permission") or "none")
        return {
            "role_name": str(answer.get("role_name") or permission),
            "permission": permission,
            "granted": _granted_role((answer.get("user") or {}).get("permissions")),
        }

    async def _on_comment(
        self,
        method: str,
        owner: str,
        repo: str,
        comment_id: int,
        installation_id: int | None,
        *,
        below: str = "",
        data: Any = b"",
    ) -> None:
        """``method`` (``post``, ``patch``, ``delete``) on the issue comment's path, with
        ``below`` after it (``/reactions``); the names are checked before any request."""
        url_vars = comment_vars(owner, repo, comment_id)
        gh = await self.client(installation_id)
        send = getattr(gh, method)
        await send("/repos/{owner}/{repo}/issues/comments/{id}" + below, url_vars, data=data)

    async def add_reaction(
        self, owner: str, repo: str, comment_id: int, content: str, installation_id: int | None
    ) -> None:
        """React to an issue comment."""
        reaction = {"content": content}
        await self._on_comment(
            "post", owner, repo, comment_id, installation_id, below="/reactions", data=reaction
        )

    async def edit_comment(
        self, owner: str, repo: str, comment_id: int, body: str, installation_id: int | None
    ) -> None:
        """Replace a comment's body."""
        edit = {"body": body}
        await self._on_comment("patch", owner, repo, comment_id, installation_id, data=edit)

    async def delete_comment(
        self, owner: str, repo: str, comment_id: int, installation_id: int | None
    ) -> None:
        """Delete a comment; a 404 (deleted already, by another process) is fine."""
        try:
            await self._on_comment("delete", owner, repo, comment_id, installation_id)
        except gidgethub.BadRequest as exc:
            if exc.status_code != 404:
                raise

    async def _issue_listing(
        self, ref: IssueRef, what: str, installation_id: int | None
    ) -> list[dict[str, Any]]:
        """Every item of ``/repos/{owner}/{repo}/issues/{number}/{what}``, page after page."""
        gh = await self.client(installation_id)
        template = "/repos/{owner}/{repo}/issues/{number}/" + what + "{?per_page}"
        url_vars = issue_vars(ref, per_page="100")
        return [dict(item) async for item in gh.getiter(template, url_vars=url_vars)]

    async def list_comments(
        self, ref: IssueRef, installation_id: int | None
    ) -> list[dict[str, Any]]:
        """Every comment on the issue, oldest first."""
        return await self._issue_listing(ref, "comments", installation_id)

    async def list_sub_issues(
        self, ref: IssueRef, installation_id: int | None
    ) -> list[dict[str, Any]]:
        """The issue's sub-issues."""
        return await self._issue_listing(ref, "sub_issues", installation_id)

    async def iter_issues(
        self,
        owner: str,
        repo: str,
        installation_id: int | None,
        *,
        state: str = "all",
        labels: str | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """A repository's issues, pull requests left out, page after page."""
        url_vars = repo_vars(owner, repo, state=state, per_page="100")
        gh = await self.client(installation_id)
        template = "/repos/{owner}/{repo}/issues{?state,per_page}"
        if labels:
            url_vars["labels"] = labels
            template = "/repos/{owner}/{repo}/issues{?state,labels,per_page}"
        async for issue in gh.getiter(template, url_vars=url_vars):
            if "pull_request" not in issue:
                yield dict(issue)

    async def create_issue(
        self, owner: str, repo: str, title: str, body: str, installation_id: int | None
    ) -> dict[str, Any]:
        """Open an issue as the App's bot user (``POST /repos/{owner}/{repo}/issues``)."""
        url_vars = repo_vars(owner, repo)
        gh = await self.client(installation_id)
        issue = await gh.post(
            "/repos/{owner}/{repo}/issues", url_vars=url_vars, data={"title": title, "body": body}
        )
        return dict(issue)

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
        """Change an issue's title, body, state and state reason (``PATCH``; None: left as
        it is); the issue as it is after."""
        given = (("title", title), ("body", body), ("state", state), ("state_reason", state_reason))
        edit = {k: v for k, v in given if v is not None}
        gh = await self.client(installation_id)
        issue = await gh.patch(
            "/repos/{owner}/{repo}/issues/{number}", url_vars=issue_vars(ref), data=edit
        )
        return dict(issue)

    async def add_sub_issue(
        self,
        parent: IssueRef,
        child_issue_id: int,
        installation_id: int | None,
        *,
        replace_parent: bool,
    ) -> None:
        """Make an issue (by its ``id``, not its number) a sub-issue of ``parent``.

        https://docs.github.com/en/rest/issues/sub-issues#add-sub-issue: 422 when it is one
        already, or has another parent and ``replace_parent`` is False (raised).
        """
        gh = await self.client(installation_id)
        await gh.post(
            "/repos/{owner}/{repo}/issues/{number}/sub_issues",
            url_vars=issue_vars(parent),
            data={"sub_issue_id": int(child_issue_id), "replace_parent": bool(replace_parent)},
        )

    async def remove_sub_issue(
        self, parent: IssueRef, child_issue_id: int, installation_id: int | None
    ) -> None:
        """Take a sub-issue out of ``parent``; 404 (not one of its sub-issues) is fine."""
        gh = await self.client(installation_id)
        try:
            await gh.delete(
                "/repos/{owner}/{repo}/issues/{number}/sub_issue",
                url_vars=issue_vars(parent),
                data={"sub_issue_id": int(child_issue_id)},
            )
        except gidgethub.BadRequest as exc:
            if exc.status_code != 404:
                raise

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
        """The oldest issue opened by ``creator`` and updated since ``since`` whose body
        contains ``marker`` (pull requests left out), from every page of the listing.

        The listing (``GET /repos/{owner}/{repo}/issues``) is read from GitHub's database;
        its search API is eventually consistent and could miss an issue just opened, which
        is exactly the one a retry must find.
        """
        url_vars = repo_vars(owner, repo, state="all", since=since, per_page="100")
        template = "/repos/{owner}/{repo}/issues{?state,since,sort,direction,per_page}"
        url_vars |= {"sort": "created", "direction": "asc"}
        if creator:
            url_vars["creator"] = checked_login(creator)
            template = "/repos/{owner}/{repo}/issues{?state,since,creator,sort,direction,per_page}"
        gh = await self.client(installation_id)
        async for issue in gh.getiter(template, url_vars=url_vars):
            if "pull_request" not in issue and marker in str(issue.get("body") or ""):
                return dict(issue)
        return None

    async def repository_installation(self, owner: str, repo: str) -> int | None:
        """The App's installation on a repository (``GET /repos/{owner}/{repo}/installation``,
        as the App); None when it is not installed there (404). Found ids are cached."""
        key = (owner.lower(), repo.lower())
        cached = self._repo_installations.get(key)
        if cached is not None:
            return cached
        url_vars = repo_vars(owner, repo)
        try:
            answer = await self.app_client().getitem(
                "/repos/{owner}/{repo}/installation", url_vars=url_vars
            )
        except gidgethub.BadRequest as exc:
            if exc.status_code == 404:
                return None
            raise
        found = self._repo_installations[key] = int(answer["id"])
        return found

    async def installations(self) -> list[dict[str, Any]]:
        """The App's installations."""
        return [dict(i) async for i in self.app_client().getiter("/app/installations")]

    async def installation_repositories(self, installation_id: int) -> list[dict[str, Any]]:
        """The repositories the installation can reach, page after page."""
        gh = await self.client(installation_id)
        return [
            dict(repo)
            async for repo in gh.getiter(
                "/installation/repositories{?per_page}",
                url_vars={"per_page": "100"},
                iterable_key="repositories",
            )
        ]

    async def bot_login(self) -> str | None:
        """``slug[bot]``, from ``GET /app`` once; None when that call fails."""
        if self._bot_login is None:
            try:
                app = await self.app_client().getitem("/app")
            except (
                gidgethub.GitHubException,
                aiohttp.ClientError,
                TimeoutError,
                ValueError,
            ) as exc:
                log.warning("could not read the App's slug from GitHub: %s", exc or repr(exc))
                return None
            self._bot_login = f"{app['slug']}[bot]"
        return self._bot_login

    async def hook_deliveries(
        self, *, cursor: str | None = None, per_page: int = 100
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the App's webhook delivery log, newest first, and the ``cursor`` of the
        next (older) page, or None on the last page (``GET /app/hook/deliveries``, as the App).

        https://docs.github.com/en/rest/apps/webhooks#list-deliveries-for-an-app-webhook
        """
        url_vars: dict[str, str] = {"per_page": str(per_page)}
        template = "/app/hook/deliveries{?per_page}"
        if cursor is not None:
            url_vars["cursor"] = cursor
            template = "/app/hook/deliveries{?per_page,cursor}"
        gh = self.app_client()
        # The cursor of the next page is only in the Link header, and gidgethub hands that
        # header's rel="next" URL out only from _make_request (getiter follows it unseen).
        data, next_url, _ = await gh._make_request(
            "GET", template, url_vars, b"", sansio.accept_format()
        )
        cursors = parse_qs(urlsplit(next_url).query).get("cursor", []) if next_url else []
        page: Any = data  # typed as bytes by gidgethub; it is the decoded JSON
        items: list[dict[str, Any]] = [dict(item) for item in page]
        return items, cursors[0] if cursors else None

    async def hook_delivery(self, delivery_id: int) -> dict[str, Any] | None:
        """One logged delivery with its ``request`` (headers, payload) and ``response``; None
        when the log no longer has it (404).

        https://docs.github.com/en/rest/apps/webhooks#get-a-delivery-for-an-app-webhook
        """
        try:
            delivery = await self.app_client().getitem(
                "/app/hook/deliveries/{id}", url_vars={"id": str(delivery_id)}
            )
        except gidgethub.BadRequest as exc:
            if exc.status_code == 404:
                return None
            raise
        return dict(delivery)

    async def custom_role_base(
        self, org: str, role_name: str, installation_id: int | None
    ) -> str | None:
        """The ``base_role`` of ``org``'s custom repository role named ``role_name``.

        ``GET /orgs/{org}/custom-repository-roles`` (https://docs.github.com/en/rest/orgs/
        custom-roles) needs the App's "Custom repository roles" organization permission
        (read); without it GitHub answers 403, and a user-owned repository has no
        organization (404): both give None, and the caller falls back to the permission
        endpoint's own answer.
        """
        url_vars = repo_vars(org, None)
        gh = await self.client(installation_id)
        try:
            answer = await gh.getitem("/orgs/{org}/custom-repository-roles", url_vars=url_vars)
        except gidgethub.BadRequest as exc:
            if exc.status_code in (403, 404):
                return None
            raise
        for role in answer.get("custom_roles") or []:
            if str(role.get("name", "")).lower() == role_name.lower():
                base = role.get("base_role")
                return str(base) if base else None
        return None


# The ``permissions`` hash of a collaborator, strongest first, and the role each flag means.
_GRANTS = (
    ("admin", "admin"),
    ("maintain", "maintain"),
    ("push", "write"),
    ("triage", "triage"),
    ("pull", "read"),
)


def _granted_role(permissions: Any) -> str:
    """The highest role a collaborator's ``permissions`` hash grants (``none`` without one).

    GitHub: "The permissions hash can also be used to determine which base level of access
    the collaborator has to the repository" (get repository permissions for a user).
    """
    if not isinstance(permissions, Mapping):
        return "none"
    return next((role for flag, role in _GRANTS if permissions.get(flag) is True), "none")
