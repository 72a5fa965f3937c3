"""Every name the bot echoes into a command reply or a label reply is neutralised: Project,
deliverable, Engagement and issue names and command arguments carrying a mention, raw HTML
and a planted marker give no live mention, no HTML and no marker. One case per path, so
removing ``plain``/``code`` from any one of them fails its case."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from markdown_it import MarkdownIt

from bot.airtable_local.thread import LocalAirtable
from bot.core.markdown import ZERO_WIDTH_JOINER
from tests.bot_fixtures import StartBot, issue_url
from tests.commenting import add_project, comment, replies
from tests.constants import OWNER, REPO
from tests.standins.github import GitHubStandIn
from tests.webhooks import issues_event

MENTION = "@org/everyone"
HTML = "<img src=x onerror=alert(1)>"
MARKER = "<!-- deliverables-bot:project-completed:recXXXXXXXXXXXXXX:x -->"
EVIL = f"{MENTION} {HTML} {MARKER}"


def assert_neutral(reply: str) -> None:
    """No live mention, no raw HTML, no HTML comment (so no marker) in ``reply``, and the
    evil name was echoed (neutralised) at all."""
    assert "everyone" in reply, "the name should be echoed"
    assert "@" not in reply.replace("@" + ZERO_WIDTH_JOINER, ""), reply
    assert "<!--" not in reply, reply
    tokens = MarkdownIt("commonmark").parse(reply)
    html = [t for t in tokens if t.type == "html_block"]
    html += [c for t in tokens if t.children for c in t.children if c.type == "html_inline"]
    assert not html, reply


@pytest.fixture
def evil(github: GitHubStandIn, local_airtable: LocalAirtable) -> dict[str, str]:
    """Two Projects named EVIL (an ambiguous name), one with an ended Engagement (itself named
    EVIL …) and a deliverable named EVIL for issue #6, titled EVIL; #4 and #5 plain issues."""
    github.add_issue(OWNER, REPO, 4, title="Write the docs")
    github.add_issue(OWNER, REPO, 5, title="Epic")
    github.add_issue(OWNER, REPO, 6, title=EVIL)
    github.add_issue(OWNER, REPO, 7, title=EVIL)
    github.set_permission(OWNER, REPO, "alice", "triage")
    project = add_project(local_airtable, EVIL, engagement_end="2020-06-30")
    twin = add_project(local_airtable, EVIL)
    local_airtable.table("Project Deliverables").create(
        {"Name": EVIL, "GitHub Issue": issue_url(6), "Project": [project], "Status": "Todo"}
    )
    return {"project": project, "twin": twin}


@dataclass(frozen=True)
class Path:
    """A command whose reply echoes one of the names."""

    number: int
    body: str


PATHS = {
    # Project and Engagement names in the link warning.
    "link-warning": Path(4, "/deliverable link {project}"),
    # Project name in the tracking warning.
    "tracking-warning": Path(5, "/project link {project}"),
    # Project name in the summary, deliverable name in the list.
    "project-status": Path(6, "/project status"),
    # Deliverable name in the answer.
    "deliverable-status": Path(6, "/deliverable status"),
    # Issue title, as the new deliverable's name, in the status of the linked issue.
    "issue-title": Path(7, "/deliverable link {project}\n/deliverable status"),
    # Close names offered for an unknown one, and the argument echoed.
    "suggestions": Path(4, f"/project status {MENTION} {HTML} <!-- deliverables-bot"),
    # Candidates of an ambiguous name, and the argument echoed.
    "ambiguous": Path(4, f"/project status {EVIL}"),
    # A malformed command's verb and the line quoted.
    "malformed": Path(4, f"/deliverable {EVIL}"),
}


@pytest.mark.parametrize("path", list(PATHS))
async def test_command_replies_neutralise_every_name(
    start_bot: StartBot, github: GitHubStandIn, evil: dict[str, str], path: str
) -> None:
    case = PATHS[path]
    bot = await start_bot(github=github)
    await comment(bot, github, case.number, case.body.format(**evil))
    said = replies(github, case.number)[-1]
    assert said.startswith("@alice\n")
    assert_neutral(said[len("@alice") :])


async def test_counts_only_reply_neutralises_the_project_name(
    start_bot: StartBot, github: GitHubStandIn, local_airtable: LocalAirtable, evil: dict[str, str]
) -> None:
    # mallory reads the public repository but not the private one where the Project has
    # a deliverable too: she gets the counts, the Project's name still neutral.
    github.non_collaborator_permission = "read"
    github.add_repository(OWNER, "private", private=True)
    local_airtable.table("Project Deliverables").create(
        {"Name": "x", "GitHub Issue": issue_url(1, repo="private"), "Project": [evil["project"]]}
    )
    bot = await start_bot(github=github)
    await comment(bot, github, 6, "/project status", user="mallory")
    said = replies(github, 6)[-1]
    assert "0/2 deliverables done" in said and "shown only to people" in said
    assert_neutral(said[len("@mallory") :])


async def test_label_reply_neutralises_the_label_and_the_suggestions(
    start_bot: StartBot, github: GitHubStandIn, evil: dict[str, str]
) -> None:
    bot = await start_bot(github=github)
    name = f"project: {MENTION} {HTML} <!-- deliverables-bot:project-completed:x"
    issue = github.update_issue(OWNER, REPO, 4, labels=[name])
    assert (await bot.deliver("issues", issues_event("labeled", issue, label=name))).status == 202
    await bot.drain()
    [said] = replies(github, 4)
    marker, _, rest = said.partition("\n")
    assert marker.startswith("<!-- deliverables-bot:unknown-project-label:")
    assert (
        "`"
        + EVIL.replace("@", "@" + ZERO_WIDTH_JOINER).replace(
            "<!--", "<" + ZERO_WIDTH_JOINER + "!--"
        )
        in rest
    ), "the suggestion should be offered"
    assert_neutral(rest)
