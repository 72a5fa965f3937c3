"""GitHub in the demo: nothing is read or sent, every write is logged, and the demo's people
have their roles.

``serve --demo`` without App credentials hands the bot :class:`DemoGitHub`: the
:class:`~bot.clients.github_logging.LoggingGitHub` of any run without credentials (each
comment and reaction the bot would make is one "would comment on ..." / "would react ..."
line of the log), which also answers the collaborator permission endpoint for the demo
repository's people (:data:`DEMO_ROLES`), as GitHub would for them. So slash-commands run in
the demo as they would on GitHub, permission checks included: alice may link and unlink,
carol (read access) may only ask for status. Anyone else gets ``read``, as GitHub answers
for someone who is no collaborator of a public repository. Outside the demo, a bot without
credentials still refuses every command that needs a permission it cannot check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.clients.github import GitHubGateway
from bot.clients.github_logging import LoggingGitHub
from bot.config import Config

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger(__name__)

# The demo repository's people and their roles (alice wrote the demo issues; bob and carol
# are the other people of the demo).
DEMO_ROLES = {"alice": "maintain", "bob": "write", "carol": "read"}
OTHERS_ROLE = "read"

# The legacy ``permission`` GitHub gives with each role (triage reads as read, maintain as
# write: https://docs.github.com/en/rest/collaborators/collaborators#get-repository-permissions-for-a-user).
LEGACY_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
}


class DemoGitHub(LoggingGitHub):
    """No App credentials (writes logged), and the demo's people with their roles."""

    async def permission(
        self, owner: str, repo: str, login: str, installation_id: int | None
    ) -> dict[str, str]:
        """The permission endpoint's answer for ``login``, from :data:`DEMO_ROLES`."""
        role = DEMO_ROLES.get(login.lower(), OTHERS_ROLE)
        return {"permission": LEGACY_PERMISSION[role], "role_name": role}


def demo_github_factory(
    config: Config,
) -> Callable[[aiohttp.ClientSession], GitHubGateway] | None:
    """The GitHub gateway factory of ``serve --demo``: :class:`DemoGitHub` without App
    credentials; None (the App's own gateway) with them."""
    if config.has_github_app:
        return None

    def factory(session: aiohttp.ClientSession) -> GitHubGateway:
        log.info(
            "no GitHub App credentials: GitHub writes will be logged, not sent (the demo's "
            "people: %s)",
            ", ".join(f"{login} {role}" for login, role in DEMO_ROLES.items()),
        )
        return DemoGitHub()

    return factory
