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
import re
import time
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import aiohttp
import gidgethub
import gidgethub.aiohttp
from gidgethub import apps, sansio

from bot.config import Config
from bot.core.issue import IssueRef, valid_owner, valid_repo
from bot.metrics import Metrics, status_label

log = logging.getLogger(__name__)

USER_AGENT = "deliverables-bot"
# Refresh an installation token this long before GitHub says it expires.
TOKEN_REFRESH_MARGIN_SECONDS = 60.0
# Wait at most this long for GitHub's rate limit to reset before failing the call.
MAX_RATE_LIMIT_WAIT_SECONDS = 60.0


_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,98}[A-Za-z0-9\]])?$")


def _login(login: str) -> str:
    """A user login as GitHub allows it (bots end in ``[bot]``); ValueError otherwise."""
    if not _LOGIN.match(login) or ".." in login:
        raise ValueError(f"not a GitHub login: {login!r}")
    return login


def _repo_vars(owner: str, repo: str | None, **more: str) -> dict[str, str]:
    """URL variables for ``/repos/{owner}/{repo}/...`` (or ``/orgs/{org}``) from names checked
    as GitHub allows them, so no path can leave the repository's routes; ValueError
    otherwise."""
    if not valid_owner(owner) or (repo is not None and not valid_repo(repo)):
        raise ValueError(f"not a GitHub repository: {owner!r}/{repo!r}")
    names = {"owner": owner, "org": owner} if repo is None else {"owner": owner, "repo": repo}
    return names | more


class IssueNotVisible(Exception):
    """GitHub answered 404 for an issue: the App is not installed on its repository, cannot
    see a private one, or the URL is wrong. Not a deletion (that is 410)."""

    def __init__(self, ref: IssueRef) -> None:
        super().__init__(f"GitHub answers 404 for {ref}: not visible to the App")
        self.ref = ref


class GitHubNotJSON(gidgethub.GitHubException):
    """GitHub (or something in its place) answered a request with a body that is not JSON."""

    def __init__(self, status: int, content_type: str | None) -> None:
        super().__init__(f"HTTP {status} answered with {content_type or 'no content type'}")
        self.status = status
        self.content_type = content_type


class GitHubGateway(Protocol):
    """What the bot asks of GitHub."""

    can_read: bool

    async def get_issue(self, ref: IssueRef, installation_id: int | None) -> dict[str, Any] | None:
        """The issue as GitHub's REST API returns it; None when it was deleted (410). Raises
        :class:`IssueNotVisible` when GitHub answers 404."""

    async def create_comment(self, ref: IssueRef, body: str, installation_id: int | None) -> None:
        """Post a comment on an issue."""

    async def bot_login(self) -> str | None:
        """The login of the App's bot user (``slug[bot]``), or None when unknown."""

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

    async def list_comments(
        self, ref: IssueRef, installation_id: int | None
    ) -> list[dict[str, Any]]:
        """Every comment on an issue, oldest first."""

    async def edit_comment(
        self, owner: str, repo: str, comment_id: int, body: str, installation_id: int | None
    ) -> None:
        """Replace the body of an issue comment."""

    async def delete_comment(
        self, owner: str, repo: str, comment_id: int, installation_id: int | None
    ) -> None:
        """Delete an issue comment; one already gone is no error."""

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
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._metrics.github_errors.labels(status="network").inc()
            self._metrics.health.failure("github", f"{method} {url}: {exc!r}", kind="network")
            raise
        if 200 <= status < 300 and data and not _is_json(response_headers):
            # Not GitHub's answer: a proxy's or portal's page, a wrong GITHUB_API_URL. gidgethub
            # would hand the text on as if it were the JSON asked for.
            self._metrics.github_errors.labels(status="not_json").inc()
            self._metrics.health.failure(
                "github", f"{method} {url}: HTTP {status}, not JSON", kind="not_json"
            )
            raise GitHubNotJSON(status, response_headers.get("content-type"))
        if status >= 400:
            self._metrics.github_errors.labels(status=status_label(status)).inc()
        if status >= 500 or status in (401, 403, 429):
            # 404, 410 and 422 are answers about what was asked (a hidden or deleted issue,
            # a refused write), not GitHub failing.
            self._metrics.health.failure(
                "github", f"{method} {url}: HTTP {status}", kind=str(status)
            )
        else:
            self._metrics.health.success("github")
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


def _is_json(headers: Mapping[str, str]) -> bool:
    """Whether an answer says its body is JSON (``application/json``, ``...+json``)."""
    content_type = str(headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    return content_type == "application/json" or content_type.endswith("+json")


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
        """The issue now; None when GitHub says it was deleted (410).

        A transferred issue answers 301 with its new place, which aiohttp follows: the issue
        returned then has its new ``html_url``. A 404 raises :class:`IssueNotVisible`: GitHub
        answers 404 alike for an App not installed on the repository, a private repository
        it cannot see and a mistyped URL, so it says nothing about the issue itself.
        """
        gh = await self.client(installation_id)
        try:
            issue = await gh.getitem(
                "/repos/{owner}/{repo}/issues/{number}",
                url_vars={"owner": ref.owner, "repo": ref.repo, "number": str(ref.number)},
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
                url_vars=_repo_vars(owner, repo, login=_login(login)),
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

    async def add_reaction(
        self, owner: str, repo: str, comment_id: int, content: str, installation_id: int | None
    ) -> None:
        """React to an issue comment."""
        gh = await self.client(installation_id)
        await gh.post(
            "/repos/{owner}/{repo}/issues/comments/{id}/reactions",
            url_vars=_repo_vars(owner, repo, id=str(int(comment_id))),
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
            url_vars=_repo_vars(owner, repo, id=str(int(comment_id))),
            data={"body": body},
        )

    async def delete_comment(
        self, owner: str, repo: str, comment_id: int, installation_id: int | None
    ) -> None:
        """Delete a comment; a 404 (deleted already, by another process) is fine."""
        gh = await self.client(installation_id)
        try:
            await gh.delete(
                "/repos/{owner}/{repo}/issues/comments/{id}",
                url_vars=_repo_vars(owner, repo, id=str(int(comment_id))),
            )
        except gidgethub.BadRequest as exc:
            if exc.status_code != 404:
                raise

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
        url_vars = _repo_vars(owner, repo, state=state, per_page="100")
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
        gh = await self.client(installation_id)
        try:
            answer = await gh.getitem(
                "/orgs/{org}/custom-repository-roles", url_vars=_repo_vars(org, None)
            )
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

    async def custom_role_base(
        self, org: str, role_name: str, installation_id: int | None
    ) -> str | None:
        """Unknown without credentials."""
        raise GitHubUnavailable("no GitHub App credentials: cannot read custom roles")
