"""Routes of issue comments and their reactions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from tests.standins.github.answers import (
    JSON_BODY,
    ApiError,
    check_comment_length,
    json_response,
    paginate,
    validation_failed,
)
from tests.standins.github.objects import REACTION_CONTENTS, parse_timestamp, timestamp
from tests.standins.github.routes.route import Route
from tests.standins.github.state import Reaction

if TYPE_CHECKING:
    from tests.standins.github.standin import GitHubStandIn


async def list_comments(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``GET .../issues/{number}/comments``, oldest first (``since``: updated since)."""
    issue = gh.request_issue(request, "/comments")
    since = request.query.get("since")
    with gh.lock:
        comments = gh.comments_of(issue)
        if since:
            limit = parse_timestamp(since)
            comments = [c for c in comments if parse_timestamp(c.updated_at) >= limit]
        rendered = [gh.render_comment(c) for c in comments]
    return paginate(gh.url, request, rendered)


async def create_comment(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``POST .../issues/{number}/comments``: the App comments (403 on a locked issue)."""
    issue = gh.request_issue(request, "/comments")
    data = request[JSON_BODY]
    if not isinstance(data, dict) or "body" not in data:
        raise validation_failed("IssueComment", "body", "missing_field")
    if not isinstance(data["body"], str) or not data["body"]:
        raise validation_failed("IssueComment", "body")
    check_comment_length(data["body"])
    with gh.lock:
        if issue.locked:
            raise ApiError(403, "Unable to create comment because issue is locked.")
        comment = gh.new_comment(issue, data["body"], gh.bot_login, "NONE", via_app=True)
        rendered = gh.render_comment(comment)
    return json_response(rendered, status=201, headers={"Location": rendered["url"]})


async def get_comment(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``GET .../issues/comments/{comment_id}``."""
    comment = gh.request_comment(request)
    with gh.lock:
        return json_response(gh.render_comment(comment))


async def edit_comment(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``PATCH .../issues/comments/{comment_id}``: a new body."""
    comment = gh.request_comment(request)
    data = request[JSON_BODY]
    if not isinstance(data, dict) or not isinstance(data.get("body"), str):
        raise validation_failed("IssueComment", "body", "missing_field")
    check_comment_length(data["body"])
    with gh.lock:
        comment.body = data["body"]
        comment.updated_at = timestamp()
        return json_response(gh.render_comment(comment))


async def delete_comment(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``DELETE .../issues/comments/{comment_id}``."""
    comment = gh.request_comment(request)
    with gh.lock:
        comment.deleted = True
    return web.Response(status=204)


async def list_reactions(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``GET .../issues/comments/{comment_id}/reactions`` (``content``: of one kind)."""
    comment = gh.request_comment(request)
    content = request.query.get("content")
    with gh.lock:
        rendered = [
            gh.render_reaction(r)
            for r in comment.reactions
            if content is None or r.content == content
        ]
    return paginate(gh.url, request, rendered)


async def add_reaction(gh: GitHubStandIn, request: web.Request) -> web.Response:
    """``POST .../issues/comments/{comment_id}/reactions``: 201, or 200 if the App's is there."""
    comment = gh.request_comment(request)
    data = request[JSON_BODY]
    content = data.get("content") if isinstance(data, dict) else None
    if content not in REACTION_CONTENTS:
        raise validation_failed("Reaction", "content")
    with gh.lock:
        for reaction in comment.reactions:
            if reaction.user == gh.bot_login and reaction.content == content:
                return json_response(gh.render_reaction(reaction), status=200)
        reaction = Reaction(next(gh.reaction_ids), gh.bot_login, content, timestamp())
        comment.reactions.append(reaction)
        return json_response(gh.render_reaction(reaction), status=201)


REPO_ROUTES = [
    Route("GET", "/issues/comments/{comment_id}", get_comment),
    Route("PATCH", "/issues/comments/{comment_id}", edit_comment),
    Route("DELETE", "/issues/comments/{comment_id}", delete_comment),
    Route("GET", "/issues/comments/{comment_id}/reactions", list_reactions),
    Route("POST", "/issues/comments/{comment_id}/reactions", add_reaction),
    Route("GET", "/issues/{number}/comments", list_comments),
    Route("POST", "/issues/{number}/comments", create_comment),
]
