"""GitHub access: App authentication, cached installation tokens, and the calls the bot makes.

:class:`AppGitHub` acts as the GitHub App through gidgethub: an App JWT mints installation
tokens, cached per installation until a minute before they expire (never one per webhook).
:class:`LoggingGitHub` stands in when there are no App credentials: it cannot read GitHub,
and logs each write it would have made instead of making it.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any, Protocol

import aiohttp
import gidgethub
import gidgethub.aiohttp
from gidgethub import apps

from bot.config import Config
from bot.issues import IssueRef
from bot.metrics import Metrics

log = logging.getLogger(__name__)

USER_AGENT = "deliverables-bot"
# Refresh an installation token this long before GitHub says it expires.
TOKEN_REFRESH_MARGIN_SECONDS = 60.0
# Wait at most this long for GitHub's rate limit to reset before failing the call.
MAX_RATE_LIMIT_WAIT_SECONDS = 60.0


class GitHubGateway(Protocol):
    """What the bot asks of GitHub."""

    can_read: bool

    async def get_issue(self, ref: IssueRef, installation_id: int | None) -> dict[str, Any] | None:
        """The issue as GitHub's REST API returns it, or None when it no longer exists."""

    async def create_comment(self, ref: IssueRef, body: str, installation_id: int | None) -> None:
        """Post a comment on an issue."""

    async def bot_login(self) -> str | None:
        """The login of the App's bot user (``slug[bot]``), or None when unknown."""

    async def permission(
        self, owner: str, repo: str, login: str, installation_id: int | None
    ) -> dict[str, str]:
        """``{"role_name": ..., "permission": ...}`` of ``login`` on the repository; both are
        ``"none"`` for someone who is not a collaborator. Raises when GitHub cannot say."""

    async def add_reaction(
        self, owner: str, repo: str, comment_id: int, content: str, installation_id: int | None
    ) -> None:
        """React to an issue comment (``+1``, ``confused``, ...)."""

    async def list_comments(
        self, ref: IssueRef, installation_id: int | None
    ) -> list[dict[str, Any]]:
        """Every comment on an issue, oldest first."""

    async def edit_comment(
        self, owner: str, repo: str, comment_id: int, body: str, installation_id: int | None
    ) -> None:
        """Replace the body of an issue comment."""

    async def list_sub_issues(
        self, ref: IssueRef, installation_id: int | None
    ) -> list[dict[str, Any]]:
        """The sub-issues of an issue."""

    def iter_issues(
        self,
        owner: str,
        repo: str,
        installation_id: int | None,
        *,
        state: str = "all",
        labels: str | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """A repository's issues (pull requests left out), following pagination."""

    async def installations(self) -> list[dict[str, Any]]:
        """The App's installations (authenticated as the App itself)."""

    async def installation_repositories(self, installation_id: int) -> list[dict[str, Any]]:
        """The repositories an installation can reach."""


class _CountingGitHubAPI(gidgethub.aiohttp.GitHubAPI):
    """gidgethub's client, counting calls and waiting out a short primary rate limit."""

    def __init__(self, session: aiohttp.ClientSession, *, metrics: Metrics, **kwargs: Any):
        super().__init__(session, USER_AGENT, **kwargs)
        self._metrics = metrics

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, Mapping[str, str], bytes]:
        self._metrics.github_calls.labels(method=method).inc()
        try:
            status, response_headers, data = await super()._request(method, url, headers, body)
        except aiohttp.ClientError:
            self._metrics.github_errors.labels(status="network").inc()
            raise
        if status >= 400:
            self._metrics.github_errors.labels(status=str(status)).inc()
        return status, response_headers, data

    async def handle_rate_limit_error(
        self, *, method: str, url: str, exception: gidgethub.HTTPException, attempt: int
    ) -> bool:
        # GitHub answers 403 or 429 with x-ratelimit-remaining: 0 when the primary limit is
        # spent; waiting until x-ratelimit-reset is the documented remedy:
        # https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
        if attempt > 1 or not isinstance(exception, gidgethub.RateLimitExceeded):
            return False
        wait = exception.rate_limit.reset_datetime.timestamp() - time.time()
        if wait > MAX_RATE_LIMIT_WAIT_SECONDS:
            return False
        log.warning("GitHub rate limit spent; waiting %.1fs for its reset", max(wait, 0))
        await asyncio.sleep(max(wait, 0) + 0.1)
        return True


class AppGitHub:
    """GitHub as the App: reads issues, writes comments, with cached installation tokens."""

    can_read = True

    def __init__(self, session: aiohttp.ClientSession, config: Config, *, metrics: Metrics):
        if not (config.github_app_id and config.github_private_key):
            raise ValueError("AppGitHub needs GITHUB_APP_ID and a private key")
        self._session = session
        self._config = config
        self._metrics = metrics
        self._app_id: str = config.github_app_id
        self._private_key: str = config.github_private_key
        self._tokens: dict[int, tuple[str, float]] = {}
        self._token_locks: dict[int, asyncio.Lock] = collections.defaultdict(asyncio.Lock)
        self._bot_login: str | None = None

    def _api(self, **kwargs: Any) -> _CountingGitHubAPI:
        return _CountingGitHubAPI(
            self._session, metrics=self._metrics, base_url=self._config.github_api_url, **kwargs
        )

    async def installation_token(self, installation_id: int) -> str:
        """A token for the installation, minted once and reused until shortly before expiry."""
        cached = self._tokens.get(installation_id)
        if cached and cached[1] - TOKEN_REFRESH_MARGIN_SECONDS > time.time():
            return cached[0]
        async with self._token_locks[installation_id]:
            # Another task may have minted one while this one waited for the lock.
            cached = self._tokens.get(installation_id)
            if cached and cached[1] - TOKEN_REFRESH_MARGIN_SECONDS > time.time():
                return cached[0]
            response = await apps.get_installation_access_token(
                self._api(),
                installation_id=str(installation_id),
                app_id=self._app_id,
                private_key=self._private_key,
            )
            expires_at = datetime.fromisoformat(response["expires_at"].replace("Z", "+00:00"))
            self._tokens[installation_id] = (response["token"], expires_at.timestamp())
            return str(response["token"])

    async def client(self, installation_id: int | None) -> _CountingGitHubAPI:
        """A gidgethub client authenticated as the installation."""
        if installation_id is None:
            raise gidgethub.GitHubException("the delivery names no installation")
        return self._api(oauth_token=await self.installation_token(installation_id))

    def app_client(self) -> _CountingGitHubAPI:
        """A gidgethub client authenticated as the App itself (JWT)."""
        return self._api(app_id=self._app_id, private_key=self._private_key)

    async def get_issue(self, ref: IssueRef, installation_id: int | None) -> dict[str, Any] | None:
        """The issue now, or None when GitHub says it is gone (404 or 410)."""
        gh = await self.client(installation_id)
        try:
            issue = await gh.getitem(
                "/repos/{owner}/{repo}/issues/{number}",
                url_vars={"owner": ref.owner, "repo": ref.repo, "number": str(ref.number)},
            )
        except gidgethub.BadRequest as exc:
            if exc.status_code in (404, 410):
                return None
            raise
        return dict(issue)

    async def create_comment(self, ref: IssueRef, body: str, installation_id: int | None) -> None:
        """Post ``body`` as a comment on the issue."""
        gh = await self.client(installation_id)
        await gh.post(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            url_vars={"owner": ref.owner, "repo": ref.repo, "number": str(ref.number)},
            data={"body": body},
        )

    async def permission(
        self, owner: str, repo: str, login: str, installation_id: int | None
    ) -> dict[str, str]:
        """The collaborator permission endpoint's ``role_name`` and ``permission``."""
        gh = await self.client(installation_id)
        try:
            answer = await gh.getitem(
                "/repos/{owner}/{repo}/collaborators/{login}/permission",
                url_vars={"owner": owner, "repo": repo, "login": login},
            )
        except gidgethub.BadRequest as exc:
            if exc.status_code == 404:  # not a collaborator
                return {"role_name": "none", "permission": "none"}
            raise
        permission = str(answer.get("permission") or "none")
        return {"role_name": str(answer.get("role_name") or permission), "permission": permission}

    async def add_reaction(
        self, owner: str, repo: str, comment_id: int, content: str, installation_id: int | None
    ) -> None:
        """React to an issue comment."""
        gh = await self.client(installation_id)
        await gh.post(
            "/repos/{owner}/{repo}/issues/comments/{id}/reactions",
            url_vars={"owner": owner, "repo": repo, "id": str(comment_id)},
            data={"content": content},
        )

    async def _issue_listing(
        self, ref: IssueRef, what: str, installation_id: int | None
    ) -> list[dict[str, Any]]:
        """Every item of ``/repos/{owner}/{repo}/issues/{number}/{what}``, page after page."""
        gh = await self.client(installation_id)
        url_vars = {"owner": ref.owner, "repo": ref.repo, "number": str(ref.number)}
        url_vars["per_page"] = "100"
        template = "/repos/{owner}/{repo}/issues/{number}/" + what + "{?per_page}"
        return [dict(item) async for item in gh.getiter(template, url_vars=url_vars)]

    async def list_comments(
        self, ref: IssueRef, installation_id: int | None
    ) -> list[dict[str, Any]]:
        """Every comment on the issue, oldest first."""
        return await self._issue_listing(ref, "comments", installation_id)

    async def edit_comment(
        self, owner: str, repo: str, comment_id: int, body: str, installation_id: int | None
    ) -> None:
        """Replace a comment's body."""
        gh = await self.client(installation_id)
        await gh.patch(
            "/repos/{owner}/{repo}/issues/comments/{id}",
            url_vars={"owner": owner, "repo": repo, "id": str(comment_id)},
            data={"body": body},
        )

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
        gh = await self.client(installation_id)
        url_vars = {"owner": owner, "repo": repo, "state": state, "per_page": "100"}
        template = "/repos/{owner}/{repo}/issues{?state,per_page}"
        if labels:
            url_vars["labels"] = labels
            template = "/repos/{owner}/{repo}/issues{?state,labels,per_page}"
        async for issue in gh.getiter(template, url_vars=url_vars):
            if "pull_request" not in issue:
                yield dict(issue)

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
            except (gidgethub.GitHubException, aiohttp.ClientError) as exc:
                log.warning("could not read the App's slug from GitHub: %s", exc)
                return None
            self._bot_login = f"{app['slug']}[bot]"
        return self._bot_login


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

    async def list_sub_issues(
        self, ref: IssueRef, installation_id: int | None
    ) -> list[dict[str, Any]]:
        """Cannot be read without credentials."""
        raise GitHubUnavailable("no GitHub App credentials: cannot read sub-issues")

    async def iter_issues(
        self,
        owner: str,
        repo: str,
        installation_id: int | None,
        *,
        state: str = "all",
        labels: str | None = None,
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
