"""What an operator reads when GitHub or Airtable fails: one wording for each, in one place.

Every command (``serve``, ``check``, ``sync``, ``audit``, ``report``, ``deliveries``) and the
scheduled sweep turn a failure into one line with :func:`github_problem` or
:func:`airtable_problem`: the status and what it means (401 the key or token, 403 a
permission or scope, 404 not installed or not visible, 429 or a spent rate limit when to
try again, 5xx their side), or that the service could not be reached, did not answer in
time, or answered something that is not its JSON (a proxy's error page). :func:`describe`
words any failure an operator can meet, so ``bot.cli.main`` prints a line instead of a
traceback (the traceback is for ``--debug``).
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime

import aiohttp
import gidgethub
import psycopg

from bot.clients.airtable import AirtableError
from bot.clients.github_auth import GitHubNotJSON
from bot.config import Config, redacted

AIRTABLE_REFUSED = "Airtable: the token was refused (HTTP 401): check AIRTABLE_TOKEN"
AIRTABLE_FORBIDDEN = (
    "Airtable HTTP 403: the token lacks a scope (data.records:read, data.records:write, "
    "schema.bases:read) or access to the base, or the base does not exist: check "
    "AIRTABLE_BASE_ID and the token's scopes and bases"
)
AIRTABLE_NOT_FOUND = (
    "Airtable HTTP 404: the base or a table is not there (or the token cannot see it): "
    "check AIRTABLE_BASE_ID and the [tables] names"
)
AIRTABLE_RATE_LIMITED = (
    "Airtable is rate limiting the base (HTTP 429): try again in {seconds:.0f} s (it asks for "
    "30 s of quiet; lower [airtable] requests_per_second if it keeps happening)"
)
AIRTABLE_BROKEN = "Airtable answered HTTP {status}: trouble on Airtable's side; try again later"
AIRTABLE_INVALID = "Airtable refused the request (HTTP {status}){detail}"
AIRTABLE_UNREACHABLE = "cannot reach Airtable at {endpoint}: {error}"
AIRTABLE_TIMEOUT = (
    "Airtable at {endpoint} did not answer within {seconds:g} s ([airtable] timeout_seconds); "
    "try again later"
)
AIRTABLE_BUDGET = (
    "the request budget in the data folder could not be used ({detail}); check that "
    "DELIVERABLES_BOT_DATA is writable and has room"
)
AIRTABLE_NOT_JSON = (
    "Airtable at {endpoint} answered with something that is not Airtable's JSON (an HTML "
    "page? a proxy or portal in between): check AIRTABLE_ENDPOINT_URL and the network"
)

GITHUB_REFUSED = (
    "GitHub refused the App's JWT or token (HTTP 401): check GITHUB_APP_ID and the private "
    "key (and this machine's clock: a JWT from a skewed clock is refused)"
)
GITHUB_FORBIDDEN = (
    "GitHub HTTP 403: the App lacks a permission for this (it needs Issues: read and write, "
    "Metadata: read) or its installation is suspended{message}"
)
GITHUB_NOT_FOUND = (
    "GitHub answers 404: the App is not installed there, cannot see it (private), or it "
    "does not exist"
)
GITHUB_GONE = "GitHub answers 410: it was deleted"
GITHUB_RATE_LIMITED = (
    "GitHub's rate limit for the App is spent (HTTP {status}): try again after {when}"
)
GITHUB_SECONDARY_LIMIT = (
    "GitHub is rate limiting the App (HTTP {status}, secondary limit): try again in {seconds} s"
)
GITHUB_BROKEN = "GitHub answered HTTP {status}: trouble on GitHub's side; try again later"
GITHUB_INVALID = "GitHub refused the request (HTTP {status}){message}"
GITHUB_UNREACHABLE = "cannot reach GitHub at {url}: {error}"
GITHUB_TIMEOUT = (
    "GitHub at {url} did not answer within {seconds:g} s ([github] timeout_seconds); try "
    "again later"
)
GITHUB_NOT_JSON = (
    "GitHub at {url} answered with something that is not GitHub's JSON{what} (a proxy's "
    "error page?): check GITHUB_API_URL and the network"
)
JOURNAL_PROBLEM = (
    "the delivery journal in {folder} cannot be used: {error} (DELIVERABLES_BOT_DATA names "
    "the folder)"
)
DATABASE_PROBLEM = (
    "the database at {where} cannot be used: {error} (DATABASE_URL names it; check that the"
    " server runs and lets the bot in)"
)
UNEXPECTED = "{kind}: {error} (run with --debug for the traceback)"


class OperatorError(Exception):
    """A failure already worded as the one line an operator should read."""


# Exceptions that mean "GitHub could not be read", wherever a GitHub call is made.
GITHUB_FAILURES: tuple[type[BaseException], ...] = (
    gidgethub.GitHubException,
    aiohttp.ClientError,
    TimeoutError,
    json.JSONDecodeError,
)


def _exception_text(exc: BaseException) -> str:
    """The most useful short text of a network error (the OS's reason, when there is one)."""
    os_error = getattr(exc, "os_error", None)
    if isinstance(os_error, OSError) and os_error.strerror:
        return os_error.strerror
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0] if text else type(exc).__name__


def _status(exc: gidgethub.HTTPException) -> int:
    return int(exc.status_code)


def _retry_after(headers: object) -> str | None:
    """The ``retry-after`` header's seconds, when the answer carries one."""
    getter = getattr(headers, "get", None)
    value = getter("retry-after") if getter else None
    return str(value).strip() if value else None


def _message(exc: gidgethub.HTTPException) -> str:
    """GitHub's own message of an error answer, as ``: message`` (empty when none)."""
    args = [str(a) for a in exc.args[1:] if a]
    return f": {args[0]}" if args else ""


def github_problem(
    exc: BaseException,
    *,
    api_url: str | None = None,
    timeout: float | None = None,
    what: str | None = None,
) -> str:
    """One line saying what a GitHub failure means and what to do (``what``: the call, as
    "listing the issues of o/r", put in front)."""
    url = api_url or "the GitHub API"
    line: str
    if isinstance(exc, gidgethub.RateLimitExceeded):
        reset = exc.rate_limit.reset_datetime if exc.rate_limit else None
        when = (
            reset.astimezone(UTC).strftime("%H:%M:%S UTC")
            if reset is not None
            else "the limit resets (within the hour)"
        )
        line = GITHUB_RATE_LIMITED.format(status=_status(exc), when=when)
    elif isinstance(exc, GitHubNotJSON):
        line = GITHUB_NOT_JSON.format(
            url=url, what=f" (HTTP {exc.status}, {exc.content_type or 'no content type'})"
        )
    elif isinstance(exc, json.JSONDecodeError):
        line = GITHUB_NOT_JSON.format(url=url, what=" (malformed JSON)")
    elif isinstance(exc, gidgethub.GitHubBroken):
        line = GITHUB_BROKEN.format(status=_status(exc))
    elif isinstance(exc, gidgethub.HTTPException):
        status = _status(exc)
        retry = _retry_after(exc.headers)
        if status == 429 or (status == 403 and retry):
            line = GITHUB_SECONDARY_LIMIT.format(status=status, seconds=retry or 60)
        elif status == 401:
            line = GITHUB_REFUSED
        elif status == 403:
            line = GITHUB_FORBIDDEN.format(message=_message(exc))
        elif status == 404:
            line = GITHUB_NOT_FOUND
        elif status == 410:
            line = GITHUB_GONE
        elif status >= 500:
            line = GITHUB_BROKEN.format(status=status)
        else:
            line = GITHUB_INVALID.format(status=status, message=_message(exc))
    elif isinstance(exc, TimeoutError):  # before ClientError: aiohttp's timeouts are both
        line = GITHUB_TIMEOUT.format(url=url, seconds=timeout or 0)
        if timeout is None:
            line = f"GitHub at {url} did not answer in time; try again later"
    elif isinstance(exc, aiohttp.ContentTypeError):
        line = GITHUB_NOT_JSON.format(url=url, what="")
    elif isinstance(exc, aiohttp.ClientError):
        line = GITHUB_UNREACHABLE.format(url=url, error=_exception_text(exc))
    else:
        line = str(exc) or type(exc).__name__
    return f"{what}: {line}" if what else line


def github_problem_for(config: Config, exc: BaseException, *, what: str | None = None) -> str:
    """:func:`github_problem` with the configured API URL and timeout."""
    return github_problem(
        exc, api_url=config.github_api_url, timeout=config.github.timeout_seconds, what=what
    )


def airtable_problem(
    exc: AirtableError,
    *,
    endpoint: str | None = None,
    timeout: float | None = None,
    penalty: float = 30.0,
    base: str | None = None,
) -> str:
    """One line saying what an Airtable failure means and what to do (``base`` in front)."""
    where = endpoint or "the Airtable API"
    status = exc.status
    if status == 401:
        line = AIRTABLE_REFUSED
    elif status == 403:
        line = AIRTABLE_FORBIDDEN
    elif status == 404:
        line = AIRTABLE_NOT_FOUND
    elif status == 429:
        line = AIRTABLE_RATE_LIMITED.format(seconds=penalty)
    elif status is not None and status >= 500:
        line = AIRTABLE_BROKEN.format(status=status)
    elif status is not None:
        line = AIRTABLE_INVALID.format(
            status=status, detail=f": {exc.detail}" if exc.detail else ""
        )
    elif exc.kind == "timeout":
        line = AIRTABLE_TIMEOUT.format(endpoint=where, seconds=timeout or 0)
    elif exc.kind == "not_json":
        line = AIRTABLE_NOT_JSON.format(endpoint=where)
    elif exc.kind == "budget":
        line = AIRTABLE_BUDGET.format(detail=exc.detail)
    else:
        cause = exc.__cause__
        line = AIRTABLE_UNREACHABLE.format(
            endpoint=where, error=_requests_reason(cause) if cause else str(exc)
        )
    return f"base {base}: {line}" if base else line


def airtable_problem_for(config: Config, exc: AirtableError, *, base: str | None = None) -> str:
    """:func:`airtable_problem` with the configured endpoint, timeout and penalty."""
    return airtable_problem(
        exc,
        endpoint=config.airtable_endpoint_url,
        timeout=config.airtable.timeout_seconds,
        penalty=config.airtable.penalty_seconds,
        base=base,
    )


def _requests_reason(exc: BaseException) -> str:
    """The innermost reason of a requests connection error ("Connection refused", ...)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    reason = str(exc)
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            reason = current.strerror
        nested = current.args[0] if current.args else None
        if isinstance(nested, BaseException):
            current = nested
            continue
        inner = getattr(current, "reason", None)
        current = inner if isinstance(inner, BaseException) else current.__cause__
    if "Connection refused" in reason or "Errno 111" in reason:
        return "connection refused"
    if "Name or service not known" in reason or "nodename nor servname" in reason:
        return "the host name is unknown"
    return reason.splitlines()[0] if reason else type(exc).__name__


def describe(exc: BaseException, config: Config | None = None) -> str:
    """One line for any failure a command can meet; unknown ones name their type."""
    if isinstance(exc, OperatorError):
        return str(exc)
    if isinstance(exc, AirtableError):
        return airtable_problem_for(config, exc) if config is not None else airtable_problem(exc)
    if isinstance(exc, GITHUB_FAILURES):
        return github_problem_for(config, exc) if config is not None else github_problem(exc)
    if isinstance(exc, sqlite3.Error):
        folder = config.data_dir if config is not None else "the data folder"
        return JOURNAL_PROBLEM.format(folder=folder, error=exc)
    if isinstance(exc, psycopg.Error):
        where = redacted(config.database_url) if config and config.database_url else "PostgreSQL"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return DATABASE_PROBLEM.format(where=where, error=first)
    if isinstance(exc, OSError) and exc.strerror:
        where = f" {exc.filename}" if exc.filename else ""
        return f"cannot use{where}: {exc.strerror}"
    return UNEXPECTED.format(kind=type(exc).__name__, error=exc)


def retry_at(epoch: float) -> str:
    """A time to try again, as an operator reads it (UTC, to the second)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def seconds_from_now(epoch: float) -> float:
    """Seconds from now until ``epoch`` (never negative)."""
    return max(0.0, epoch - time.time())
