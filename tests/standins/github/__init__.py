"""A local stand-in for the slice of GitHub's REST API the bot uses, served over real HTTP.

``GitHubStandIn`` runs an aiohttp application on 127.0.0.1 (a free port) in a background
thread with its own event loop, so synchronous tests, asynchronous tests and benchmark
scripts can all point a real client (gidgethub) at ``gh.url``::

    with GitHubStandIn() as gh:
        gh.add_issue("example-org", "infrastructure", 1, title="Deploy the hub")
        ...  # GITHUB_API_URL=gh.url, GITHUB_APP_ID=gh.app_id, key gh.private_key_pem

The package, by concern:

- :mod:`.objects`: the JSON shapes of GitHub objects (pure; ``tests/webhooks.py`` uses them);
- :mod:`.state`: the repositories, issues and comments in memory, and their rendering;
- :mod:`.actions`: the state API tests script (issues, sub-issues, comments);
- :mod:`.auth`: App JWTs, installation tokens, collaborators and custom repository roles;
- :mod:`.faults`: recorded calls, injected faults and delays, rate-limit headers;
- :mod:`.hooks`: the App's webhook delivery log;
- :mod:`.routes`: the HTTP routes by area (app, issues, comments, sub-issues, roles,
  deliveries); :mod:`.answers`: errors, JSON and pages as GitHub answers them;
- :mod:`.standin`: ``GitHubStandIn``, all of it served.

The choices it makes where GitHub leaves room:

* Authentication as GitHub does it (see :mod:`.auth`); anything else is 401.
* Every response carries ``x-ratelimit-*`` headers (see :mod:`.faults`). The stand-in never
  refuses on its own; use ``inject_rate_limit`` for that.
* Absolute URLs in bodies and ``Link`` headers point at the stand-in itself; ``html_url``
  values point at https://github.com, as the bot stores those.
* A transferred issue answers ``301 Moved Permanently`` with ``Location:
  {url}/repositories/{repo_id}/issues/{n}`` (GitHub's own form) for GET requests; aiohttp
  follows it. Writes to a transferred issue answer ``307`` so a client that follows keeps
  its method and body. A deleted issue answers ``410 Gone``. Both apply to sub-resources
  (comments, sub-issues) too. ``gh.issue(...)`` still returns the issue's last known state.
* ``GET /repos/{o}/{r}/collaborators/{login}/permission`` answers 404 for a login that is no
  collaborator; pass ``non_collaborator_permission="read"`` to get the 200 ``read`` answer
  GitHub gives for public repositories instead.
* A custom repository role (``set_permission(..., role_name="release-manager")``) is also
  registered in the owner's organization, with the given permission as its ``base_role``;
  ``GET /orgs/{org}/custom-repository-roles`` lists them, or answers 403 as GitHub does for
  an App without the "Custom repository roles" organization permission when
  ``gh.custom_roles_readable`` is False. Private repositories answer 404 for a
  non-collaborator whatever ``non_collaborator_permission`` says.
* ``POST /repos/{o}/{r}/issues`` opens an issue as the App's bot user (every token is an
  installation token) and answers 201; ``PATCH .../issues/{n}`` edits title, body, state,
  state reason, labels and assignees (closing sets ``closed_by`` to the bot user). Both
  refuse with GitHub's 422s (see :mod:`.routes.issues`).
* ``POST .../sub_issues`` and ``DELETE .../sub_issue`` answer with the parent issue;
  adding an issue that has a parent needs ``replace_parent`` (422 otherwise), and so does
  adding one that is a sub-issue of this parent already (422 always).
* The App's webhook delivery log (see :mod:`.hooks`): ``send_delivery`` really POSTs a
  signed delivery to the URL set with ``configure_hook`` and logs the outcome;
  ``log_delivery`` logs an attempt without sending it.
* Timestamps have GitHub's one-second resolution; ``updated_at`` strictly increases on
  every change so "newer wins" logic can be tested without sleeping.
"""

from __future__ import annotations

from tests.standins.github.answers import MAX_COMMENT_LENGTH, ApiError
from tests.standins.github.auth import app_private_key, app_private_key_pem
from tests.standins.github.objects import (
    APP_EVENTS,
    APP_PERMISSIONS,
    DEFAULT_ACCOUNT,
    DEFAULT_APP_ID,
    DEFAULT_APP_SLUG,
    DEFAULT_INSTALLATION_ID,
    GITHUB_API,
    GITHUB_WEB,
    REACTION_CONTENTS,
    JsonDict,
    app_object,
    comment_object,
    installation_object,
    issue_object,
    label_object,
    node_id,
    organization_object,
    parse_timestamp,
    reactions_summary,
    repository_object,
    stable_id,
    timestamp,
    user_object,
)
from tests.standins.github.standin import GitHubStandIn
from tests.standins.github.state import UNSET, Call

__all__ = [
    "APP_EVENTS",
    "APP_PERMISSIONS",
    "DEFAULT_ACCOUNT",
    "DEFAULT_APP_ID",
    "DEFAULT_APP_SLUG",
    "DEFAULT_INSTALLATION_ID",
    "GITHUB_API",
    "GITHUB_WEB",
    "MAX_COMMENT_LENGTH",
    "REACTION_CONTENTS",
    "UNSET",
    "ApiError",
    "Call",
    "GitHubStandIn",
    "JsonDict",
    "app_object",
    "app_private_key",
    "app_private_key_pem",
    "comment_object",
    "installation_object",
    "issue_object",
    "label_object",
    "node_id",
    "organization_object",
    "parse_timestamp",
    "reactions_summary",
    "repository_object",
    "stable_id",
    "timestamp",
    "user_object",
]
