"""The stand-in's state: repositories, issues, comments and reactions, in memory.

:class:`State` is the base of :class:`~tests.standins.github.GitHubStandIn`: it keeps the
records under one re-entrant lock (``self.lock``), finds them, links them and renders them
as the API shows them (with :mod:`.objects`). The routes resolve path parameters with
``request_repo``, ``request_issue`` and ``request_comment``, which answer as GitHub does for
a transferred (301/307) or deleted (410) issue.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aiohttp import web

from tests.standins.github.answers import JSON_BODY, ApiError, int_param, validation_failed
from tests.standins.github.objects import (
    JsonDict,
    app_object,
    comment_object,
    installation_object,
    issue_object,
    label_object,
    node_id,
    parse_timestamp,
    repository_object,
    stable_id,
    timestamp,
    user_object,
)


class Call(NamedTuple):
    """One request the stand-in received: method, path, query and decoded JSON body."""

    method: str
    path: str
    query: dict[str, str]
    json: Any


class Unset:
    """Marker for "argument not given" where ``None`` is a meaningful value."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = Unset()


@dataclass
class Repo:
    """A repository: its labels and collaborators."""

    owner: str
    name: str
    id: int
    private: bool = False
    owner_type: str = "Organization"
    next_number: int = 1
    labels: dict[str, JsonDict] = field(default_factory=dict)
    permissions: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)


@dataclass
class Issue:
    """An issue; a transferred one points at where it went, a deleted one is kept."""

    id: int
    repo: Repo
    number: int
    title: str
    body: str | None
    state: str
    state_reason: str | None
    user: str
    assignees: list[str]
    labels: list[str]
    created_at: str
    updated_at: str
    closed_at: str | None
    closed_by: str | None
    locked: bool
    author_association: str
    deleted: bool = False
    moved_to: Issue | None = None
    parent: Issue | None = None
    sub_issues: list[Issue] = field(default_factory=list)


@dataclass
class Reaction:
    """A reaction on a comment."""

    id: int
    user: str
    content: str
    created_at: str


@dataclass
class Comment:
    """An issue comment; ``via_app`` when the App wrote it."""

    id: int
    issue: Issue
    body: str
    user: str
    created_at: str
    updated_at: str
    author_association: str
    via_app: bool
    reactions: list[Reaction] = field(default_factory=list)
    deleted: bool = False


class State:
    """The records of a stand-in and the App it plays, with lookups and rendering."""

    def __init__(self, *, app_id: int, installation_id: int, app_slug: str, account: str) -> None:
        """Empty state for the App ``app_id`` installed (``installation_id``) on ``account``."""
        self.app_id = app_id
        self.installation_id = installation_id
        self.app_slug = app_slug
        self.account = account
        self.lock = threading.RLock()
        self._url: str | None = None
        self._repos: dict[tuple[str, str], Repo] = {}
        self._repos_by_id: dict[int, Repo] = {}
        self._issues: dict[tuple[str, str, int], Issue] = {}
        self._issues_by_id: dict[int, Issue] = {}
        self._comments: dict[int, Comment] = {}
        self._issue_ids = itertools.count(1_700_000_001)
        self._comment_ids = itertools.count(2_600_000_001)
        self.reaction_ids = itertools.count(310_000_001)

    @property
    def url(self) -> str:
        """Base URL of the API (use as ``GITHUB_API_URL``), e.g. ``http://127.0.0.1:40123``."""
        if self._url is None:
            raise RuntimeError("GitHubStandIn is not started; use `with GitHubStandIn() as gh`")
        return self._url

    @property
    def bot_login(self) -> str:
        """Login of the app's bot user, the author of what the bot writes."""
        return f"{self.app_slug}[bot]"

    def installation(self) -> JsonDict:
        """The app's installation as ``GET /app/installations`` shows it."""
        return installation_object(
            installation_id=self.installation_id,
            account=self.account,
            app_id=self.app_id,
            app_slug=self.app_slug,
            api_url=self.url,
        )

    def app(self) -> JsonDict:
        """The app as ``GET /app`` shows it."""
        return app_object(
            app_id=self.app_id, slug=self.app_slug, owner=self.account, api_url=self.url
        )

    # ---- finding and changing records (callers hold the lock) --------------------------

    def _repo(self, owner: str, repo: str, *, create: bool = False) -> Repo:
        key = (owner.lower(), repo.lower())
        record = self._repos.get(key)
        if record is None:
            if not create:
                raise KeyError(f"unknown repository {owner}/{repo}")
            record = Repo(owner=owner, name=repo, id=stable_id("repo", owner, repo))
            self._repos[key] = record
            self._repos_by_id[record.id] = record
        return record

    def _issue(self, owner: str, repo: str, number: int) -> Issue:
        try:
            return self._issues[(owner.lower(), repo.lower(), number)]
        except KeyError:
            raise KeyError(f"unknown issue {owner}/{repo}#{number}") from None

    @staticmethod
    def _follow(issue: Issue) -> Issue:
        while issue.moved_to is not None:
            issue = issue.moved_to
        return issue

    def repo_records(self) -> list[Repo]:
        """Every repository the stand-in knows."""
        return list(self._repos.values())

    def live_issues(self, record: Repo) -> list[Issue]:
        """The issues of a repository that are neither deleted nor transferred away."""
        return [
            issue
            for issue in self._issues.values()
            if issue.repo is record and not issue.deleted and issue.moved_to is None
        ]

    def _label(self, record: Repo, name: str) -> JsonDict:
        label = record.labels.get(name.lower())
        if label is None:
            label = label_object(name, owner=record.owner, repo=record.name, api_url=self.url)
            record.labels[name.lower()] = label
        return label

    def touch(self, issue: Issue) -> None:
        """Bump ``updated_at``: always forward, by a second at least."""
        now = int(time.time())
        previous = int(parse_timestamp(issue.updated_at))
        issue.updated_at = timestamp(max(now, previous + 1))

    def link_sub_issue(self, parent: Issue, child: Issue, *, replace_parent: bool) -> None:
        """Make ``child`` a sub-issue of ``parent``, refused (422) as GitHub refuses it."""
        if child is parent:
            raise validation_failed("Issue", "sub_issue_id")
        if child.repo.owner.lower() != parent.repo.owner.lower():
            raise validation_failed("Issue", "sub_issue_id")
        if child.parent is parent:
            raise ApiError(422, "Issue may not contain duplicate sub-issues")
        ancestor = parent
        while ancestor is not None:
            if ancestor is child:
                raise ApiError(422, "Sub-issue may not be an ancestor of its parent")
            ancestor = ancestor.parent  # type: ignore[assignment]
        if child.parent is not None:
            if not replace_parent:
                raise ApiError(422, "Sub-issue may only have one parent")
            child.parent.sub_issues.remove(child)
        parent.sub_issues.append(child)
        child.parent = parent
        self.touch(parent)

    def unlink_sub_issue(self, parent: Issue, child: Issue) -> None:
        """Detach a sub-issue (the caller has checked it is one of ``parent``)."""
        parent.sub_issues.remove(child)
        child.parent = None
        self.touch(parent)

    def new_comment(
        self, issue: Issue, body: str, user: str, association: str, *, via_app: bool
    ) -> Comment:
        """Add a comment to ``issue`` now."""
        now = timestamp()
        comment = Comment(
            id=next(self._comment_ids),
            issue=issue,
            body=body,
            user=user,
            created_at=now,
            updated_at=now,
            author_association=association,
            via_app=via_app,
        )
        self._comments[comment.id] = comment
        self.touch(issue)
        return comment

    def comments_of(self, issue: Issue) -> list[Comment]:
        """The issue's comments that are not deleted, oldest first."""
        return sorted(
            (c for c in self._comments.values() if c.issue is issue and not c.deleted),
            key=lambda c: c.id,
        )

    # ---- path parameters of a request, answered as GitHub answers them ------------------

    def request_repo(self, request: web.Request) -> Repo:
        """The repository named by ``/repos/{owner}/{repo}`` or ``/repositories/{repo_id}``."""
        info = request.match_info
        with self.lock:
            if "repo_id" in info:
                try:
                    return self._repos_by_id[int(info["repo_id"])]
                except (KeyError, ValueError):
                    raise ApiError(404) from None
            record = self._repos.get((info["owner"].lower(), info["repo"].lower()))
        if record is None:
            raise ApiError(404)
        return record

    def request_issue(self, request: web.Request, tail: str = "") -> Issue:
        """The live issue named by the path, or the GitHub answer for a moved/deleted one."""
        record = self.request_repo(request)
        number = int_param(request, "number")
        with self.lock:
            issue = self._issues.get((record.owner.lower(), record.name.lower(), number))
            if issue is None:
                raise ApiError(404)
            if issue.moved_to is not None:
                target = issue.moved_to
                location = f"{self.url}/repositories/{target.repo.id}/issues/{target.number}{tail}"
                if request.query_string:
                    location += f"?{request.query_string}"
                status = 301 if request.method in ("GET", "HEAD") else 307
                raise ApiError(status, "Moved Permanently", headers={"Location": location})
            if issue.deleted:
                raise ApiError(410, "This issue was deleted")
            return issue

    def request_comment(self, request: web.Request) -> Comment:
        """The comment named by ``.../issues/comments/{comment_id}``."""
        record = self.request_repo(request)
        comment_id = int_param(request, "comment_id")
        with self.lock:
            comment = self._comments.get(comment_id)
            if comment is None or comment.deleted or comment.issue.repo is not record:
                raise ApiError(404)
            if comment.issue.deleted:
                raise ApiError(410, "This issue was deleted")
            return comment

    def request_sub_issue(self, request: web.Request) -> Issue:
        """The issue a sub-issue request body names by ``sub_issue_id``."""
        data = request[JSON_BODY]
        sub_id = data.get("sub_issue_id") if isinstance(data, dict) else None
        if not isinstance(sub_id, int) or isinstance(sub_id, bool):
            raise validation_failed("Issue", "sub_issue_id", "missing_field")
        with self.lock:
            child = self._issues_by_id.get(sub_id)
        if child is None or child.deleted:
            raise ApiError(404)
        return child

    # ---- rendering (callers hold the lock) ---------------------------------------------

    def render_repo(self, record: Repo) -> JsonDict:
        """A repository as the API shows it."""
        return repository_object(
            record.owner,
            record.name,
            api_url=self.url,
            private=record.private,
            owner_type=record.owner_type,
            repo_id=record.id,
            open_issues=sum(1 for i in self.live_issues(record) if i.state == "open"),
        )

    def render_issue(self, issue: Issue) -> JsonDict:
        """An issue as the API shows it."""
        record = issue.repo
        children = issue.sub_issues
        completed = sum(1 for child in children if child.state == "closed")
        parent = issue.parent
        return issue_object(
            record.owner,
            record.name,
            issue.number,
            title=issue.title,
            api_url=self.url,
            issue_id=issue.id,
            body=issue.body,
            state=issue.state,
            state_reason=issue.state_reason,
            user=issue.user,
            assignees=issue.assignees,
            labels=[self._label(record, name) for name in issue.labels],
            comments=len(self.comments_of(issue)),
            created_at=issue.created_at,
            updated_at=issue.updated_at,
            closed_at=issue.closed_at,
            closed_by=issue.closed_by,
            locked=issue.locked,
            author_association=issue.author_association,
            sub_issues_summary={
                "total": len(children),
                "completed": completed,
                "percent_completed": completed * 100 // len(children) if children else 0,
            },
            parent_issue_url=(
                f"{self.url}/repos/{parent.repo.owner}/{parent.repo.name}/issues/{parent.number}"
                if parent is not None
                else None
            ),
        )

    def render_comment(self, comment: Comment) -> JsonDict:
        """A comment as the API shows it, with its reactions counted."""
        issue = comment.issue
        counts: dict[str, int] = {}
        for reaction in comment.reactions:
            counts[reaction.content] = counts.get(reaction.content, 0) + 1
        return comment_object(
            issue.repo.owner,
            issue.repo.name,
            issue.number,
            comment.id,
            body=comment.body,
            user=comment.user,
            api_url=self.url,
            created_at=comment.created_at,
            updated_at=comment.updated_at,
            author_association=comment.author_association,
            performed_via_github_app=self.app() if comment.via_app else None,
            reaction_counts=counts,
        )

    def render_reaction(self, reaction: Reaction) -> JsonDict:
        """A reaction as the API shows it."""
        return {
            "id": reaction.id,
            "node_id": node_id("REA", reaction.id),
            "user": user_object(reaction.user, api_url=self.url),
            "content": reaction.content,
            "created_at": reaction.created_at,
        }
