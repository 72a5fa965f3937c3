"""The state API tests script: what people do on GitHub, while clients talk to the stand-in.

Repositories and issues (open, edit, close, reopen, transfer, delete), sub-issues, comments
and reactions. Every method takes the lock and returns objects as the API shows them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from tests.standins.github.objects import JsonDict, timestamp
from tests.standins.github.state import UNSET, Issue, State


class Actions(State):
    """The state API of :class:`~tests.standins.github.GitHubStandIn` for issues and comments."""

    # ---- repositories and issues ---------------------------------------------------

    def add_repository(
        self, owner: str, repo: str, *, private: bool = False, owner_type: str = "Organization"
    ) -> JsonDict:
        """Create a repository (``add_issue`` creates them as needed) and return it."""
        with self.lock:
            record = self._repo(owner, repo, create=True)
            record.private = private
            record.owner_type = owner_type
            return self.render_repo(record)

    def repository(self, owner: str, repo: str) -> JsonDict:
        """A repository as GitHub shows it."""
        with self.lock:
            return self.render_repo(self._repo(owner, repo))

    def add_issue(
        self,
        owner: str,
        repo: str,
        number: int | None = None,
        *,
        title: str,
        body: str | None = None,
        state: str = "open",
        state_reason: str | None = None,
        assignees: Iterable[str] = (),
        labels: Iterable[str] = (),
        closed_at: str | None = None,
        user: str = "octocat",
        created_at: str | None = None,
        updated_at: str | None = None,
        locked: bool = False,
        author_association: str = "MEMBER",
    ) -> JsonDict:
        """Create an issue (number: next free one when omitted) and return it as the API would.

        A closed issue without ``closed_at`` is closed now; ``state_reason`` is kept as
        given (``None`` is what GitHub shows for issues closed before state reasons existed).
        """
        if state not in ("open", "closed"):
            raise ValueError(f"state must be 'open' or 'closed', not {state!r}")
        with self.lock:
            record = self._repo(owner, repo, create=True)
            if number is None:
                number = record.next_number
            key = (record.owner.lower(), record.name.lower(), number)
            if key in self._issues:
                raise ValueError(f"{owner}/{repo}#{number} already exists")
            now = timestamp()
            created = timestamp(created_at) if created_at else now
            issue = Issue(
                id=next(self._issue_ids),
                repo=record,
                number=number,
                title=title,
                body=body,
                state=state,
                state_reason=state_reason,
                user=user,
                assignees=list(assignees),
                labels=[],
                created_at=created,
                updated_at=timestamp(updated_at) if updated_at else max(created, now),
                closed_at=(timestamp(closed_at) if closed_at else now)
                if state == "closed"
                else None,
                closed_by=user if state == "closed" else None,
                locked=locked,
                author_association=author_association,
            )
            issue.labels = [self._label(record, name)["name"] for name in labels]
            record.next_number = max(record.next_number, number + 1)
            self._issues[key] = issue
            self._issues_by_id[issue.id] = issue
            return self.render_issue(issue)

    def issue(self, owner: str, repo: str, number: int) -> JsonDict:
        """The issue as the API shows it (its last known state if deleted or transferred)."""
        with self.lock:
            return self.render_issue(self._issue(owner, repo, number))

    def issues(self, owner: str, repo: str, *, state: str = "all") -> list[JsonDict]:
        """The repository's live issues (``state``: open, closed or all), by number."""
        with self.lock:
            record = self._repo(owner, repo)
            return [
                self.render_issue(issue)
                for issue in sorted(self.live_issues(record), key=lambda i: i.number)
                if state == "all" or issue.state == state
            ]

    def update_issue(
        self,
        owner: str,
        repo: str,
        number: int,
        *,
        title: str = UNSET,
        body: str | None = UNSET,
        state: str = UNSET,
        state_reason: str | None = UNSET,
        assignees: Iterable[str] = UNSET,
        labels: Iterable[str] = UNSET,
        closed_at: str | None = UNSET,
        locked: bool = UNSET,
        closed_by: str = UNSET,
    ) -> JsonDict:
        """Change an issue as a person on GitHub would; bumps ``updated_at``; returns it.

        Closing sets ``closed_at`` (now) and ``state_reason`` (``completed``) unless given;
        reopening clears ``closed_at`` and sets ``state_reason`` to ``reopened``, as GitHub does.
        """
        with self.lock:
            issue = self._issue(owner, repo, number)
            if title is not UNSET:
                issue.title = title
            if body is not UNSET:
                issue.body = body
            if assignees is not UNSET:
                issue.assignees = list(assignees)
            if labels is not UNSET:
                issue.labels = [self._label(issue.repo, name)["name"] for name in labels]
            if locked is not UNSET:
                issue.locked = locked
            if state is not UNSET and state != issue.state:
                if state == "closed":
                    issue.state = "closed"
                    issue.closed_at = timestamp()
                    issue.state_reason = "completed"
                    issue.closed_by = issue.user
                elif state == "open":
                    issue.state = "open"
                    issue.closed_at = None
                    issue.closed_by = None
                    issue.state_reason = "reopened"
                else:
                    raise ValueError(f"state must be 'open' or 'closed', not {state!r}")
            if state_reason is not UNSET:
                issue.state_reason = state_reason
            if closed_at is not UNSET:
                issue.closed_at = timestamp(closed_at) if closed_at else None
            if closed_by is not UNSET:
                issue.closed_by = closed_by
            self.touch(issue)
            return self.render_issue(issue)

    def close_issue(
        self, owner: str, repo: str, number: int, *, state_reason: str | None = "completed"
    ) -> JsonDict:
        """Close an issue (``completed``, ``not_planned``, ``duplicate`` or ``None``)."""
        return self.update_issue(owner, repo, number, state="closed", state_reason=state_reason)

    def reopen_issue(self, owner: str, repo: str, number: int) -> JsonDict:
        """Reopen an issue."""
        return self.update_issue(owner, repo, number, state="open")

    def transfer_issue(
        self,
        owner: str,
        repo: str,
        number: int,
        new_owner: str,
        new_repo: str,
        *,
        new_number: int | None = None,
    ) -> JsonDict:
        """Move an issue to another repository and return it there.

        The old address then answers 301 (see the module docstring); comments and sub-issue
        links move with the issue, which keeps its id.
        """
        with self.lock:
            old = self._issue(owner, repo, number)
            if old.deleted or old.moved_to is not None:
                raise ValueError(f"{owner}/{repo}#{number} is deleted or already transferred")
            target = self._repo(new_owner, new_repo, create=True)
            num = new_number if new_number is not None else target.next_number
            key = (target.owner.lower(), target.name.lower(), num)
            if key in self._issues:
                raise ValueError(f"{new_owner}/{new_repo}#{num} already exists")
            new = dataclasses.replace(
                old,
                repo=target,
                number=num,
                moved_to=None,
                assignees=list(old.assignees),
                labels=[self._label(target, name)["name"] for name in old.labels],
                sub_issues=list(old.sub_issues),
            )
            target.next_number = max(target.next_number, num + 1)
            old.moved_to = new
            self._issues[key] = new
            self._issues_by_id[new.id] = new
            for comment in self._comments.values():
                if comment.issue is old:
                    comment.issue = new
            if old.parent is not None:
                siblings = old.parent.sub_issues
                siblings[siblings.index(old)] = new
            for child in new.sub_issues:
                child.parent = new
            old.parent = None
            old.sub_issues = []
            self.touch(new)
            return self.render_issue(new)

    def delete_issue(self, owner: str, repo: str, number: int) -> JsonDict:
        """Delete an issue (its address then answers 410) and return its last state."""
        with self.lock:
            issue = self._issue(owner, repo, number)
            rendered = self.render_issue(issue)
            issue.deleted = True
            if issue.parent is not None:
                issue.parent.sub_issues.remove(issue)
                issue.parent = None
            for child in issue.sub_issues:
                child.parent = None
            issue.sub_issues = []
            return rendered

    # ---- sub-issues --------------------------------------------------------------------

    def add_sub_issue(
        self,
        owner: str,
        repo: str,
        parent_number: int,
        sub_number: int,
        *,
        sub_owner: str | None = None,
        sub_repo: str | None = None,
    ) -> JsonDict:
        """Make an issue a sub-issue of another (replacing any parent); return the parent."""
        with self.lock:
            parent = self._issue(owner, repo, parent_number)
            child = self._issue(sub_owner or owner, sub_repo or repo, sub_number)
            self.link_sub_issue(parent, child, replace_parent=True)
            return self.render_issue(parent)

    def remove_sub_issue(
        self,
        owner: str,
        repo: str,
        parent_number: int,
        sub_number: int,
        *,
        sub_owner: str | None = None,
        sub_repo: str | None = None,
    ) -> JsonDict:
        """Detach a sub-issue from its parent; return the parent."""
        with self.lock:
            parent = self._issue(owner, repo, parent_number)
            child = self._issue(sub_owner or owner, sub_repo or repo, sub_number)
            if child.parent is not parent:
                raise ValueError("not a sub-issue of this parent")
            self.unlink_sub_issue(parent, child)
            return self.render_issue(parent)

    def sub_issues(self, owner: str, repo: str, number: int) -> list[JsonDict]:
        """The sub-issues of an issue, in the order they were added."""
        with self.lock:
            parent = self._issue(owner, repo, number)
            return [self.render_issue(child) for child in parent.sub_issues]

    # ---- comments and reactions ----------------------------------------------------

    def add_comment(
        self,
        owner: str,
        repo: str,
        number: int,
        body: str,
        *,
        user: str = "octocat",
        author_association: str | None = None,
    ) -> JsonDict:
        """Add a comment written by a person (to be announced with ``issue_comment_event``).

        ``author_association`` defaults to COLLABORATOR for logins given a permission with
        ``set_permission``, NONE otherwise.
        """
        with self.lock:
            issue = self._issue(owner, repo, number)
            if author_association is None:
                known = issue.repo.permissions.get(user.lower())
                author_association = "COLLABORATOR" if known else "NONE"
            comment = self.new_comment(issue, body, user, author_association, via_app=False)
            return self.render_comment(comment)

    def comments(self, owner: str, repo: str, number: int) -> list[JsonDict]:
        """The issue's comments, oldest first, as the API shows them."""
        with self.lock:
            issue = self._follow(self._issue(owner, repo, number))
            return [self.render_comment(c) for c in self.comments_of(issue)]

    def comment(self, comment_id: int) -> JsonDict:
        """One comment as the API shows it."""
        with self.lock:
            return self.render_comment(self._comments[comment_id])

    def reactions(self, comment_id: int) -> list[JsonDict]:
        """The reactions on a comment, oldest first."""
        with self.lock:
            comment = self._comments[comment_id]
            return [self.render_reaction(r) for r in comment.reactions]
