"""Slash commands end to end: a comment on the GitHub stand-in, its signed ``issue_comment``
delivery to the real app, the Airtable records after, and the reaction and reply on GitHub.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from markdown_it import MarkdownIt

from bot.airtable_local.thread import LocalAirtable
from bot.config import CommandSettings
from bot.core.commands import help_text, role_allows
from bot.core.markdown import ZERO_WIDTH_JOINER
from bot.handlers.replies import MAX_COMMENT_LENGTH, fit_reply
from tests.bot_fixtures import StartBot, issue_url
from tests.commenting import (
    add_project,
    comment,
    deliverable_record,
    project_id,
    reactions,
    replies,
)
from tests.constants import DEMO_PROJECT, OWNER, REPO
from tests.standins.github import GitHubStandIn
from tests.webhooks import issue_comment_event, make_comment, make_issue

DEMO = DEMO_PROJECT
INJECTION = "x' OR TRUE() OR '"


@pytest.fixture
def issues(github: GitHubStandIn) -> GitHubStandIn:
    """The demo issues plus #4 (not a deliverable, assigned) and #5 (a future epic)."""
    github.add_issue(OWNER, REPO, 4, title="Write the docs", assignees=["carol"])
    github.add_issue(OWNER, REPO, 5, title="Epic: workshop hub")
    return github


# -- the permission matrix ---------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One command in the matrix: where it is said, the least role it needs, its effect."""

    number: int
    body: str
    needs: str
    took_effect: Callable[[LocalAirtable, list[str]], bool]


def _linked_4(at: LocalAirtable, said: list[str]) -> bool:
    record = deliverable_record(at, 4)
    return record is not None and record["fields"].get("Project") == [project_id(at, DEMO)]


def _unlinked_3(at: LocalAirtable, said: list[str]) -> bool:
    record = deliverable_record(at, 3)
    return record is not None and record["fields"].get("Status") == "Cancelled"


def _tracking_5(at: LocalAirtable, said: list[str]) -> bool:
    [project] = [r for r in at.table("Projects").all() if r["fields"]["Name"] == DEMO]
    return bool(project["fields"].get("Tracking Issue") == issue_url(5))


CASES = {
    "deliverable-link": Case(4, f"/deliverable link {DEMO}", "triage", _linked_4),
    "deliverable-unlink": Case(3, "/deliverable unlink", "triage", _unlinked_3),
    "deliverable-status": Case(
        1, "/deliverable status", "read", lambda at, said: "**In progress**" in said[-1]
    ),
    "project-status": Case(
        4, f"/project status {DEMO}", "read", lambda at, said: "0/3 deliverables done" in said[-1]
    ),
    "project-link": Case(5, f"/project link {DEMO}", "triage", _tracking_5),
    "help": Case(4, "/deliverables help", "none", lambda at, said: "`/project link" in said[-1]),
}


def _custom_role_without_org_access(gh: GitHubStandIn) -> None:
    gh.set_permission(OWNER, REPO, "alice", "triage", role_name="labeller")
    gh.custom_roles_readable = False  # the App lacks "Custom repository roles": the hash says


# (how alice's access is set up, the role she holds; None: it cannot be known)
ROLE_SETUPS: dict[str, tuple[Callable[[GitHubStandIn], None], str | None]] = {
    "none": (lambda gh: None, "none"),
    "read": (lambda gh: gh.set_permission(OWNER, REPO, "alice", "read"), "read"),
    "triage": (lambda gh: gh.set_permission(OWNER, REPO, "alice", "triage"), "triage"),
    "write": (lambda gh: gh.set_permission(OWNER, REPO, "alice", "write"), "write"),
    "maintain": (lambda gh: gh.set_permission(OWNER, REPO, "alice", "maintain"), "maintain"),
    "admin": (lambda gh: gh.set_permission(OWNER, REPO, "alice", "admin"), "admin"),
    "custom-role-on-write": (
        lambda gh: gh.set_permission(OWNER, REPO, "alice", "write", role_name="release-manager"),
        "write",
    ),
    "custom-role-on-triage": (
        lambda gh: gh.set_permission(OWNER, REPO, "alice", "triage", role_name="labeller"),
        "triage",
    ),
    "custom-role-on-triage-org-roles-unreadable": (_custom_role_without_org_access, "triage"),
    "custom-role-on-read": (
        lambda gh: gh.set_permission(OWNER, REPO, "alice", "read", role_name="auditor"),
        "read",
    ),
    "lookup-fails": (
        lambda gh: gh.inject(r"/collaborators/alice/permission$", 502, times=None),
        None,
    ),
}


@pytest.mark.parametrize("role", list(ROLE_SETUPS))
async def test_permission_matrix(
    start_bot: StartBot, issues: GitHubStandIn, local_airtable: LocalAirtable, role: str
) -> None:
    setup, held = ROLE_SETUPS[role]
    setup(issues)
    bot = await start_bot(github=issues)
    for name, case in CASES.items():
        posted = await comment(bot, issues, case.number, case.body)
        said = replies(issues, case.number)
        allowed = case.needs == "none" or (held is not None and role_allows(held, case.needs))
        assert case.took_effect(local_airtable, said) is allowed, (role, name)
        assert reactions(issues, posted) == ({"+1"} if allowed else {"confused"}), (role, name)
        if not allowed:
            assert said[-1].startswith("@alice")
            assert f"`{case.body}`" in said[-1]
            if role == "lookup-fails":
                assert "could not check your permission" in said[-1]
            else:
                assert f"needs {case.needs} access or more" in said[-1]


async def test_without_credentials_the_lookup_fails_and_refuses(
    start_bot: StartBot, local_airtable: LocalAirtable, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.clients.github")
    bot = await start_bot()
    issue = make_issue(OWNER, REPO, 4, title="Write the docs")
    payload = issue_comment_event(
        "created", issue, make_comment(issue, f"/deliverable link {DEMO}", user="alice")
    )
    await bot.deliver("issue_comment", payload)
    await bot.drain()
    assert deliverable_record(local_airtable, 4) is None
    logged = [r.getMessage() for r in caplog.records if "would comment on" in r.getMessage()]
    assert len(logged) == 1 and "could not check your permission" in logged[0]
    assert any("would react confused" in r.getMessage() for r in caplog.records)


# -- each command's effect ------------------------------------------------------------------


@pytest.fixture
def triager(issues: GitHubStandIn) -> GitHubStandIn:
    """The stand-in, with alice holding triage access."""
    issues.set_permission(OWNER, REPO, "alice", "triage")
    return issues


async def test_link_creates_the_deliverable_from_the_issue(
    start_bot: StartBot, triager: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    bot = await start_bot(github=triager)
    posted = await comment(bot, triager, 4, "/Deliverable LINK setup WORKSHOP hub")
    fields = bot.deliverable(4)
    assert fields["Name"] == "Write the docs"
    assert fields["GitHub Issue"] == issue_url(4)
    assert fields["Status"] == "In progress"
    assert fields["Assignees"] == "carol"
    assert fields["Project"] == [project_id(local_airtable, DEMO)]
    assert reactions(triager, posted) == {"+1"}
    assert replies(triager, 4) == []


async def test_link_by_record_id_moves_an_existing_deliverable(
    start_bot: StartBot, triager: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    other = add_project(local_airtable, "Second hub")
    bot = await start_bot(github=triager)
    posted = await comment(bot, triager, 1, f"/deliverable link {other}")
    assert bot.deliverable(1)["Project"] == [other]
    assert reactions(triager, posted) == {"+1"}
    assert len(local_airtable.table("Project Deliverables").all()) == 3
    # Both Projects were decided again: the new one has its deliverable.
    await comment(bot, triager, 1, "/project status")
    assert "**Second hub**: 0/1 deliverables done" in replies(triager, 1)[-1]


async def test_unlink_keeps_the_record_cancelled(
    start_bot: StartBot, triager: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    bot = await start_bot(github=triager)
    posted = await comment(bot, triager, 3, "/deliverable unlink")
    fields = bot.deliverable(3)
    assert fields["Status"] == "Cancelled"
    assert "Project" not in fields
    assert fields["Name"] == "Load workshop materials"
    assert reactions(triager, posted) == {"+1"}
    again = await comment(bot, triager, 3, "/deliverable unlink")
    assert reactions(triager, again) == {"confused"}
    assert "not linked to any Project" in replies(triager, 3)[-1]


async def test_statuses(start_bot: StartBot, triager: GitHubStandIn) -> None:
    bot = await start_bot(github=triager)
    await comment(bot, triager, 2, "/deliverable status")
    said = replies(triager, 2)[-1]
    assert "**Configure login** is **In progress**" in said
    assert "0/3 deliverables done" in said
    assert "`[░░░░░░░░░░░░░░░░░░░░]` 0%" in said
    for number in (1, 2, 3):
        assert issue_url(number) in said
    posted = await comment(bot, triager, 4, "/deliverable status")
    assert reactions(triager, posted) == {"confused"}
    assert "not a deliverable yet" in replies(triager, 4)[-1]
    posted = await comment(bot, triager, 4, "/project status")
    assert reactions(triager, posted) == {"confused"}
    assert "`/project status <project>`" in replies(triager, 4)[-1]


async def test_project_link_then_status_on_the_tracking_issue(
    start_bot: StartBot, triager: GitHubStandIn
) -> None:
    bot = await start_bot(github=triager)
    posted = await comment(bot, triager, 5, f"/project link {DEMO}")
    assert bot.project()["Tracking Issue"] == issue_url(5)
    assert reactions(triager, posted) == {"+1"}
    await comment(bot, triager, 5, "/project status")
    said = replies(triager, 5)[-1]
    assert said.startswith("@alice")
    assert "0/3 deliverables done" in said
    # The progress comment was posted on it once.
    assert sum("deliverables-bot:progress:" in body for body in replies(triager, 5)) == 1


async def test_help_is_the_command_table(start_bot: StartBot, triager: GitHubStandIn) -> None:
    bot = await start_bot(github=triager)
    posted = await comment(bot, triager, 4, "/deliverables help")
    assert help_text(CommandSettings()) in replies(triager, 4)[-1]
    assert reactions(triager, posted) == {"+1"}


async def test_several_commands_run_in_order(start_bot: StartBot, triager: GitHubStandIn) -> None:
    bot = await start_bot(github=triager)
    body = f"Linking this.\n/deliverable link {DEMO}\n\n/deliverable status\n/deliverable frob"
    posted = await comment(bot, triager, 4, body)
    said = replies(triager, 4)
    assert len(said) == 1
    assert "**Write the docs** is **In progress**" in said[0]
    assert "1/4" not in said[0] and "0/4 deliverables done" in said[0]
    assert "`frob` is not one of its subcommands" in said[0]
    assert reactions(triager, posted) == {"+1", "confused"}


# -- unknown, ambiguous and injected project names ----------------------------------------------


async def test_unknown_project_names_the_closest(
    start_bot: StartBot, triager: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    bot = await start_bot(github=triager)
    posted = await comment(bot, triager, 4, "/deliverable link Setup workshop hubb")
    assert deliverable_record(local_airtable, 4) is None
    assert reactions(triager, posted) == {"confused"}
    said = replies(triager, 4)[-1]
    assert "no Project is named `Setup workshop hubb`" in said
    assert "closest names are `Setup workshop hub`" in said


async def test_ambiguous_project_lists_the_candidates(
    start_bot: StartBot, triager: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    first = add_project(local_airtable, "Twin")
    second = add_project(local_airtable, "twin")
    bot = await start_bot(github=triager)
    posted = await comment(bot, triager, 4, "/deliverable link TWIN")
    assert reactions(triager, posted) == {"confused"}
    said = replies(triager, 4)[-1]
    assert "2 Projects are named `TWIN`" in said
    assert first in said and second in said
    assert deliverable_record(local_airtable, 4) is None


@pytest.mark.parametrize(
    ("end", "warning"),
    [
        pytest.param("2020-06-30", "ended on 2020-06-30", id="ended"),
        pytest.param(None, "belongs to no Engagement", id="missing"),
    ],
)
async def test_link_to_a_project_without_a_running_engagement_warns(
    start_bot: StartBot,
    triager: GitHubStandIn,
    local_airtable: LocalAirtable,
    end: str | None,
    warning: str,
) -> None:
    old = add_project(local_airtable, "Old hub", engagement_end=end)
    bot = await start_bot(github=triager)
    posted = await comment(bot, triager, 4, "/deliverable link Old hub")
    assert bot.deliverable(4)["Project"] == [old]
    assert reactions(triager, posted) == {"+1"}
    assert warning in replies(triager, 4)[-1]


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(f"/deliverable link {INJECTION}", id="deliverable-link"),
        pytest.param(f"/project status {INJECTION}", id="project-status"),
        pytest.param(f"/project link {INJECTION}", id="project-link"),
        pytest.param("/deliverable link Setup workshop hub' OR '1'='1", id="or-true"),
        pytest.param('/deliverable link ") OR TRUE() OR ("', id="double-quotes"),
    ],
)
async def test_injected_names_match_nothing(
    start_bot: StartBot, triager: GitHubStandIn, local_airtable: LocalAirtable, command: str
) -> None:
    bot = await start_bot(github=triager)
    posted = await comment(bot, triager, 4, command)
    assert reactions(triager, posted) == {"confused"}
    assert deliverable_record(local_airtable, 4) is None
    assert "Tracking Issue" not in bot.project()
    assert "no Project is named" in replies(triager, 4)[-1]


async def test_an_injection_like_name_matches_only_itself(
    start_bot: StartBot, triager: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    odd = add_project(local_airtable, INJECTION)
    bot = await start_bot(github=triager)
    posted = await comment(bot, triager, 4, f"/deliverable link {INJECTION}")
    assert reactions(triager, posted) == {"+1"}
    assert bot.deliverable(4)["Project"] == [odd]


async def test_echoed_text_is_neutralised(start_bot: StartBot, triager: GitHubStandIn) -> None:
    bot = await start_bot(github=triager)
    await comment(
        bot, triager, 4, "/deliverable link @octocat <img src=x onerror=alert(1)> `x` **b**"
    )
    said = replies(triager, 4)[-1]
    assert said.startswith("@alice")
    assert "@octocat" not in said
    assert f"@{ZERO_WIDTH_JOINER}octocat" in said
    # User text only ever appears inside code spans.
    outside_code = said.split("``")[0::2]
    assert not any("<img" in part for part in outside_code)
    await comment(bot, triager, 4, "/deliverable @everyone")
    assert "@everyone" not in replies(triager, 4)[-1]


# -- what runs nothing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("> /deliverable unlink", id="quoted"),
        pytest.param("> I ran\n/deliverable unlink", id="quote-continuation"),
        pytest.param("```\n/deliverable unlink\n```", id="fenced"),
        pytest.param("    /deliverable unlink", id="indented"),
        pytest.param("Shall we /deliverable unlink?", id="mid-line"),
        pytest.param("<pre>\n/deliverable unlink\n</pre>", id="pre"),
        pytest.param("<pre>\n\n/deliverable unlink\n\n</pre>", id="pre-blank-lines"),
        pytest.param("Run <code>\n/deliverable unlink\n</code>", id="code-element"),
        pytest.param("<!--\n/deliverable unlink\n-->", id="html-comment"),
        pytest.param("Done <!--\n/deliverable unlink -->", id="inline-html-comment"),
    ],
)
async def test_lines_that_are_not_commands_do_nothing(
    start_bot: StartBot, triager: GitHubStandIn, body: str
) -> None:
    bot = await start_bot(github=triager)
    posted = await comment(bot, triager, 3, body)
    assert bot.deliverable(3)["Project"]
    assert reactions(triager, posted) == set()
    assert replies(triager, 3) == []


async def test_edited_and_bot_comments_are_ignored(
    start_bot: StartBot, triager: GitHubStandIn
) -> None:
    triager.set_permission(OWNER, REPO, "helper[bot]", "admin")
    bot = await start_bot(github=triager)
    issue = triager.issue(OWNER, REPO, 3)
    posted = triager.add_comment(OWNER, REPO, 3, "/deliverable unlink", user="alice")
    edited = issue_comment_event("edited", issue, posted, previous_body="hi")
    by_bot = triager.add_comment(OWNER, REPO, 3, "/deliverable unlink", user="helper[bot]")
    deleted = issue_comment_event("deleted", issue, posted)
    for payload in (edited, deleted, issue_comment_event("created", issue, by_bot)):
        assert (await bot.deliver("issue_comment", payload)).status == 202
    await bot.drain()
    assert bot.deliverable(3)["Project"]
    assert reactions(triager, posted) == set() and reactions(triager, by_bot) == set()
    assert replies(triager, 3) == []


async def test_an_airtable_failure_is_answered(
    start_bot: StartBot, triager: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    bot = await start_bot(github=triager)
    local_airtable.inject(422, times=1)  # not worth retrying: the lane gives up at once
    posted = await comment(bot, triager, 4, f"/deliverable link {DEMO}")
    assert reactions(triager, posted) == {"confused"}
    assert "run the command again in a few minutes" in replies(triager, 4)[-1]
    assert deliverable_record(local_airtable, 4) is None


async def test_an_owner_without_a_base_is_told_so(
    start_bot: StartBot, triager: GitHubStandIn
) -> None:
    bot = await start_bot(github=triager, bases_by_owner={"other-org": "appOtherBase00001"})
    posted = await comment(bot, triager, 4, "/deliverable status\n/deliverables help")
    assert reactions(triager, posted) == {"confused"}
    [said] = replies(triager, 4)
    assert said.count("no Airtable base serves `example-org`") == 2


# -- replies cut to fit GitHub's limit -------------------------------------------------------

LONG_NAME = "no such hub <img src=x onerror=alert(1)> @org/everyone " + "z" * 120


async def test_a_reply_over_the_limit_is_cut_and_says_so(
    start_bot: StartBot, triager: GitHubStandIn
) -> None:
    # 300 command lines, each answered at length: the whole reply would be ~170,000
    # characters, and the stand-in, like GitHub, refuses a body over 65,536 (422).
    bot = await start_bot(github=triager)
    body = "\n".join(f"/deliverable link {LONG_NAME} {n}" for n in range(300))
    posted = await comment(bot, triager, 4, body)
    [said] = replies(triager, 4)
    assert len(said) <= MAX_COMMENT_LENGTH
    assert said.startswith("@alice")
    assert "This reply was cut to fit GitHub's limit of 65,536 characters" in said
    assert "more commands" in said
    assert f"{LONG_NAME} 0" in said.replace(ZERO_WIDTH_JOINER, "")
    assert reactions(triager, posted) == {"confused"}
    # Cut between lines: no code span is left open, so no echoed text became markup.
    tokens = MarkdownIt("commonmark").parse(said)
    assert not any(t.type == "html_block" for t in tokens)
    assert not any(c.type == "html_inline" for t in tokens if t.children for c in t.children)


@pytest.mark.parametrize(
    ("answers", "limit", "kept", "note"),
    [
        pytest.param(["a" * 10, "b" * 10], 1000, 2, None, id="fits"),
        pytest.param(
            ["a" * 300, "b" * 300, "c" * 300],
            800,
            1,
            "the answers to 2 more commands",
            id="cut-between-answers",
        ),
        pytest.param(
            ["\n".join(["x" * 50] * 40)],
            1000,
            1,
            "the rest of the last answer",
            id="cut-inside-an-answer",
        ),
    ],
)
def test_fit_reply(answers: list[str], limit: int, kept: int, note: str | None) -> None:
    reply = fit_reply("alice", answers, limit)
    assert len(reply) <= limit
    assert reply.startswith("@alice\n\n")
    if note is None:
        assert "was cut" not in reply
        assert all(a in reply for a in answers)
    else:
        assert note in reply and "was cut" in reply
        assert answers[0][:50] in reply
        assert sum(a in reply for a in answers) == (kept if len(answers) > 1 else 0)


# -- status only for those who may see it ----------------------------------------------------

SECRET_REPO = "secret-plans"
SECRET = "Acquisition of Initech"
SECRET_TITLE = "Draft the Initech term sheet"


@pytest.fixture
def secret_project(issues: GitHubStandIn, local_airtable: LocalAirtable) -> str:
    """example-org/infrastructure is public (anyone reads it); example-org/secret-plans is
    private, and its issue #1 is the only deliverable of the Project SECRET."""
    issues.non_collaborator_permission = "read"
    issues.add_repository(OWNER, SECRET_REPO, private=True)
    issues.add_issue(OWNER, SECRET_REPO, 1, title=SECRET_TITLE)
    project = add_project(local_airtable, SECRET)
    local_airtable.table("Project Deliverables").create(
        {
            "Name": SECRET_TITLE,
            "GitHub Issue": issue_url(1, repo=SECRET_REPO),
            "Project": [project],
            "Status": "Todo",
        }
    )
    return project


@dataclass(frozen=True)
class Asker:
    """Who asks about the secret Project, and what they should see."""

    login: str
    secret_access: str | None  # their role on the private repository (None: no access)
    sees_details: bool


ASKERS = {
    "non-collaborator": Asker("mallory", None, False),
    "reader-of-both": Asker("rita", "read", True),
    "triager-of-both": Asker("tom", "triage", True),
}


@pytest.mark.parametrize("asker", list(ASKERS))
async def test_project_details_only_for_readers_of_every_repository(
    start_bot: StartBot, issues: GitHubStandIn, secret_project: str, asker: str
) -> None:
    who = ASKERS[asker]
    if who.secret_access:
        issues.set_permission(OWNER, SECRET_REPO, who.login, who.secret_access)
    bot = await start_bot(github=issues)
    posted = await comment(bot, issues, 4, f"/project status {SECRET}", user=who.login)
    said = replies(issues, 4)[-1]
    assert reactions(issues, posted) == {"+1"}
    assert "0/1 deliverables done" in said
    assert (SECRET_TITLE in said) is who.sees_details
    assert (issue_url(1, repo=SECRET_REPO) in said) is who.sees_details
    assert ("shown only to people who can read every repository" in said) is (not who.sees_details)


async def test_status_needs_read_on_the_repository(
    start_bot: StartBot, issues: GitHubStandIn, secret_project: str
) -> None:
    # mallory cannot read the private repository, so she may not ask there at all.
    bot = await start_bot(github=issues)
    issues.add_issue(OWNER, SECRET_REPO, 2, title="Another")
    posted = issues.add_comment(OWNER, SECRET_REPO, 2, "/deliverable status", user="mallory")
    payload = issue_comment_event("created", issues.issue(OWNER, SECRET_REPO, 2), posted)
    await bot.deliver("issue_comment", payload)
    await bot.drain()
    assert reactions(issues, posted) == {"confused"}
    [said] = [c["body"] for c in issues.comments(OWNER, SECRET_REPO, 2)[1:]]
    assert "needs read access or more" in said


@pytest.mark.parametrize(
    ("query", "offered", "withheld"),
    [
        pytest.param("Acquisition of Initec", [], [SECRET], id="project-elsewhere-not-offered"),
        pytest.param("Setup workshop hubb", [DEMO], [SECRET], id="project-here-offered"),
    ],
)
async def test_suggestions_only_among_projects_of_this_repository(
    start_bot: StartBot,
    issues: GitHubStandIn,
    secret_project: str,
    query: str,
    offered: list[str],
    withheld: list[str],
) -> None:
    bot = await start_bot(github=issues)
    await comment(bot, issues, 4, f"/project status {query}", user="mallory")
    said = replies(issues, 4)[-1]
    assert "no Project is named" in said
    for name in offered:
        assert f"`{name}`" in said
    for name in withheld:
        assert name not in said.replace(f"`{query}`", "")
