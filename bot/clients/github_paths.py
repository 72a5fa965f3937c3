"""The variables of GitHub API paths, built only from names as GitHub allows them.

A name that came from a delivery or a comment (an owner, a repository, a login, a comment
id) is checked before it goes into a path such as ``/repos/{owner}/{repo}/...``, so no path
can leave the routes it was meant for (``..``, ``/``); anything else raises ValueError
before a request is made.
"""

from __future__ import annotations

import re

from bot.core.issue import IssueRef, valid_owner, valid_repo

# A login, and a bot's (a GitHub App's ``slug[bot]``, ``dependabot[bot]``) with one
# ``[bot]`` suffix. gidgethub's URI-template expansion percent-encodes the brackets
# (``%5Bbot%5D``) in a path segment and in a query alike.
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,98}[A-Za-z0-9])?(?:\[bot\])?")


def checked_login(login: str) -> str:
    """A user login as GitHub allows it, or a bot's (one ``[bot]`` suffix); ValueError
    otherwise."""
    if not _LOGIN.fullmatch(login) or ".." in login:
        raise ValueError(f"not a GitHub login: {login!r}")
    return login


def repo_vars(owner: str, repo: str | None, **more: str) -> dict[str, str]:
    """URL variables for ``/repos/{owner}/{repo}/...`` (or ``/orgs/{org}`` when ``repo`` is
    None), with ``more`` added; ValueError for a name GitHub would not allow."""
    if not valid_owner(owner) or (repo is not None and not valid_repo(repo)):
        raise ValueError(f"not a GitHub repository: {owner!r}/{repo!r}")
    names = {"owner": owner, "org": owner} if repo is None else {"owner": owner, "repo": repo}
    return names | more


def issue_vars(ref: IssueRef, **more: str) -> dict[str, str]:
    """URL variables for ``/repos/{owner}/{repo}/issues/{number}/...``."""
    return repo_vars(ref.owner, ref.repo, number=str(ref.number), **more)


def comment_vars(owner: str, repo: str, comment_id: int) -> dict[str, str]:
    """URL variables for ``/repos/{owner}/{repo}/issues/comments/{id}``; the id must be an
    integer (``int()`` raises ValueError for anything else)."""
    return repo_vars(owner, repo, id=str(int(comment_id)))
