"""How the bot talks to GitHub as the App: authentication and a metered gidgethub client.

:class:`AppAuth` holds the App's credentials. As the App itself it signs a JWT with the
private key (``GET /app``, the delivery log, the installations); as an installation it uses
an installation token, minted with that JWT and cached per installation until a minute
before it expires (never one per webhook; one lock per installation, so concurrent calls
mint one token). Every request goes through :class:`CountingGitHubAPI`: counted in the
metrics, reported to the health record, refused when a 2xx answer is not JSON, and a spent
primary rate limit that resets soon is waited out.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import aiohttp
import gidgethub
import gidgethub.aiohttp
from gidgethub import apps

from bot.config import Config
from bot.metrics import Metrics, status_label

log = logging.getLogger(__name__)

USER_AGENT = "deliverables-bot"
# Refresh an installation token this long before GitHub says it expires.
TOKEN_REFRESH_MARGIN_SECONDS = 60.0
# Wait at most this long for GitHub's rate limit to reset before failing the call.
MAX_RATE_LIMIT_WAIT_SECONDS = 60.0


class GitHubNotJSON(gidgethub.GitHubException):
    """GitHub (or something in its place) answered a request with a body that is not JSON."""

    def __init__(self, status: int, content_type: str | None) -> None:
        super().__init__(f"HTTP {status} answered with {content_type or 'no content type'}")
        self.status = status
        self.content_type = content_type


def _is_json(headers: Mapping[str, str]) -> bool:
    """Whether an answer says its body is JSON (``application/json``, ``...+json``)."""
    content_type = str(headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    return content_type == "application/json" or content_type.endswith("+json")


class CountingGitHubAPI(gidgethub.aiohttp.GitHubAPI):
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
        """Wait for the reset of a spent primary rate limit once, when it is near."""
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


class AppAuth:
    """The App's credentials: clients as the App (JWT) and as an installation (its token)."""

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

    def _api(self, **kwargs: Any) -> CountingGitHubAPI:
        return CountingGitHubAPI(
            self._session, metrics=self._metrics, base_url=self._config.github_api_url, **kwargs
        )

    def _cached_token(self, installation_id: int) -> str | None:
        """The installation's token, unless it expires within the refresh margin."""
        cached = self._tokens.get(installation_id)
        if cached and cached[1] - TOKEN_REFRESH_MARGIN_SECONDS > time.time():
            return cached[0]
        return None

    async def installation_token(self, installation_id: int) -> str:
        """A token for the installation, minted once and reused until shortly before expiry."""
        token = self._cached_token(installation_id)
        if token is not None:
            return token
        async with self._token_locks[installation_id]:
            # Another task may have minted one while this one waited for the lock.
            token = self._cached_token(installation_id)
            if token is not None:
                return token
            response = await apps.get_installation_access_token(
                self._api(),
                installation_id=str(installation_id),
                app_id=self._app_id,
                private_key=self._private_key,
            )
            expires_at = datetime.fromisoformat(response["expires_at"].replace("Z", "+00:00"))
            self._tokens[installation_id] = (response["token"], expires_at.timestamp())
            return str(response["token"])

    async def client(self, installation_id: int | None) -> CountingGitHubAPI:
        """A gidgethub client authenticated as the installation."""
        if installation_id is None:
            raise gidgethub.GitHubException("the delivery names no installation")
        return self._api(oauth_token=await self.installation_token(installation_id))

    def app_client(self) -> CountingGitHubAPI:
        """A gidgethub client authenticated as the App itself (JWT)."""
        return self._api(app_id=self._app_id, private_key=self._private_key)
