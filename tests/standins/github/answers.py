"""How the stand-in answers: GitHub's JSON errors, JSON bodies, pages with ``Link`` headers.

Handlers raise :class:`ApiError`; the middleware (:mod:`.standin`) renders it with
:func:`error_response` as GitHub does: ``{"message", "documentation_url", "status"}`` and,
for 422s, ``errors``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from tests.standins.github.objects import DOCS_URL, JsonDict

# GitHub refuses a comment body longer than this many characters (422).
MAX_COMMENT_LENGTH = 65536
# The request's JSON body, decoded once by the middleware (None when there is none).
JSON_BODY = web.RequestKey("json_body", object)


class ApiError(Exception):
    """An error answer of the stand-in, rendered like GitHub's JSON errors."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        errors: list[JsonDict] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        """An answer with ``status``; ``body`` replaces GitHub's error body when given."""
        self.status = status
        self.body = body
        self.message = message or HTTPStatus(status).phrase
        self.errors = errors
        self.headers = dict(headers or {})
        super().__init__(f"{status} {self.message}")


def validation_failed(
    resource: str, field_name: str, code: str = "invalid", message: str | None = None
) -> ApiError:
    """GitHub's 422 for one bad field of a request body."""
    error: JsonDict = {"resource": resource, "code": code, "field": field_name}
    if message is not None:
        error["message"] = message
    return ApiError(422, "Validation Failed", errors=[error])


def check_comment_length(body: str) -> None:
    """Refuse a comment body GitHub would find too long."""
    if len(body) > MAX_COMMENT_LENGTH:
        raise validation_failed(
            "IssueComment",
            "body",
            "custom",
            f"body is too long (maximum is {MAX_COMMENT_LENGTH} characters)",
        )


def json_response(
    data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON answer, with GitHub's content type."""
    return web.json_response(
        data,
        status=status,
        headers=dict(headers or {}),
        content_type="application/json",
        dumps=json.dumps,
    )


def error_response(exc: ApiError) -> web.Response:
    """The answer for an :class:`ApiError`."""
    body = exc.body
    if body is None:
        body = {"message": exc.message, "documentation_url": DOCS_URL}
        if exc.errors is not None:
            body["errors"] = exc.errors
        body["status"] = str(exc.status)
    response = json_response(body, status=exc.status)
    response.headers.update(exc.headers)
    return response


def int_param(request: web.Request, name: str) -> int:
    """A numeric path parameter; a path with anything else names nothing (404)."""
    try:
        return int(request.match_info[name])
    except ValueError:
        raise ApiError(404) from None


def per_page(query: Mapping[str, str]) -> int:
    """The ``per_page`` asked for: 1 to 100, 30 unless given."""
    try:
        return min(100, max(1, int(query.get("per_page", "30"))))
    except ValueError:
        return 30


def paginate(base_url: str, request: web.Request, items: Sequence[Any]) -> web.Response:
    """One page of ``items`` with GitHub's ``Link`` header (absolute URLs on ``base_url``)."""
    query = dict(request.query)
    size = per_page(query)
    try:
        page = max(1, int(query.get("page", "1")))
    except ValueError:
        page = 1
    last = max(1, math.ceil(len(items) / size))
    chunk = list(items[(page - 1) * size : page * size])

    def link(n: int) -> str:
        params = {**query, "per_page": str(size), "page": str(n)}
        return f"{base_url}{request.path}?{urlencode(params)}"

    rels: list[tuple[str, int]] = []
    if page > 1:
        rels.append(("prev", min(page - 1, last)))
    if page < last:
        rels += [("next", page + 1), ("last", last)]
    if page > 1:
        rels.append(("first", 1))
    headers = {"Link": ", ".join(f'<{link(n)}>; rel="{rel}"' for rel, n in rels)}
    return json_response(chunk, headers=headers if rels else None)
