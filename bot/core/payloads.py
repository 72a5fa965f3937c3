"""The fields of a delivery's payload that the bot reads, checked before it is journaled. Pure.

A signed delivery can still carry a payload the handlers cannot use (an ``issues`` event
without ``issue``, an ``issue`` that is a string): journaled, it would fail on every retry
until it is a dead letter. :func:`payload_problem` names the first field the bot reads that
is missing or of the wrong type, so ``POST /webhook`` refuses it with 400 and journals
nothing. Only the fields the handlers read are checked, in the types GitHub documents; other
events (``installation*`` and any the bot does not handle) are taken as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.core.issue import parse_issue_url

# The events whose payloads the handlers read (and so are checked).
_HANDLED = frozenset({"issues", "issue_comment", "sub_issues"})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _optional(kind: type | tuple[type, ...]) -> Callable[[Any], bool]:
    return lambda value: value is None or isinstance(value, kind)


# The fields of an issue that IssueState.from_api reads, besides html_url.
_ISSUE_FIELDS: dict[str, Callable[[Any], bool]] = {
    "id": _optional(int),
    "node_id": _optional(str),
    "title": _optional(str),
    "state": _optional(str),
    "state_reason": _optional(str),
    "closed_at": _optional(str),
    "updated_at": _optional(str),
    "assignees": _optional(list),
    "labels": _optional(list),
}


def _issue_problem(where: str, issue: Any) -> str | None:
    if not isinstance(issue, Mapping):
        return f"{where} must be an object"
    url = issue.get("html_url")
    if not isinstance(url, str) or parse_issue_url(url) is None:
        return (
            f"{where}.html_url must be a GitHub issue URL (https://github.com/OWNER/REPO/issues/N)"
        )
    for name, valid in _ISSUE_FIELDS.items():
        if name in issue and not valid(issue[name]):
            return f"{where}.{name} is of the wrong type"
    for n, assignee in enumerate(issue.get("assignees") or ()):
        if not isinstance(assignee, Mapping) or not isinstance(assignee.get("login"), str):
            return f"{where}.assignees[{n}].login must be a string"
    for n, label in enumerate(issue.get("labels") or ()):
        if not isinstance(label, str) and not (
            isinstance(label, Mapping) and isinstance(label.get("name"), str)
        ):
            return f"{where}.labels[{n}] must be a label object with a name"
    return None


def _comment_problem(comment: Any) -> str | None:
    if not isinstance(comment, Mapping):
        return "comment must be an object"
    if not _is_int(comment.get("id")):
        return "comment.id must be an integer"
    if not isinstance(comment.get("body"), str | None):
        return "comment.body must be a string"
    user = comment.get("user")
    if not isinstance(user, Mapping) or not isinstance(user.get("login"), str):
        return "comment.user.login must be a string"
    return None


def payload_problem(event: str, payload: Mapping[str, Any]) -> str | None:
    """What is wrong with the payload of an ``event`` delivery, or None when the bot can use
    it (see the module docstring)."""
    action = payload.get("action")
    if "action" in payload and not isinstance(action, str):
        return "action must be a string"
    sender = payload.get("sender")  # the worker reads it for every event
    if sender is not None and not (
        isinstance(sender, Mapping) and isinstance(sender.get("login"), str)
    ):
        return "sender.login must be a string"
    if event not in _HANDLED:
        return None
    if action is None:
        return "action is missing"
    installation = payload.get("installation")
    if installation is not None and not (
        isinstance(installation, Mapping) and _is_int(installation.get("id"))
    ):
        return "installation.id must be an integer"
    if event == "issues":
        return _issues_problem(action, payload)
    if event == "issue_comment":
        return _issue_problem("issue", payload.get("issue")) or _comment_problem(
            payload.get("comment")
        )
    return _issue_problem("parent_issue", payload.get("parent_issue")) or _issue_problem(
        "sub_issue", payload.get("sub_issue")
    )


def _issues_problem(action: str, payload: Mapping[str, Any]) -> str | None:
    problem = _issue_problem("issue", payload.get("issue"))
    if problem is not None:
        return problem
    label = payload.get("label")
    if label is not None and not (
        isinstance(label, Mapping) and isinstance(label.get("name"), str | None)
    ):
        return "label must be an object with a name"
    changes = payload.get("changes")
    if changes is not None and not isinstance(changes, Mapping):
        return "changes must be an object"
    if action == "transferred":
        return _issue_problem("changes.new_issue", (changes or {}).get("new_issue"))
    return None
