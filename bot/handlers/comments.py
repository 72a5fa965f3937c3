"""``issue_comment`` events: slash commands in new comments, answered with a reaction and,
when there is something to say, one reply.

Only ``created`` comments count (an edit or deletion runs nothing), and none written by a
bot. Every command line of the comment runs, in order, each after its own permission check
(the collaborator permission endpoint, a custom role counting as the role it extends; a
lookup that fails refuses). Each command of the table (:data:`bot.core.commands.COMMANDS`)
has its runner here (:data:`RUNNERS`); what they say, and the reply that carries it, are in
:mod:`bot.handlers.replies`.

A Project's progress lists deliverable titles and issue links only to someone who can read
every repository those issues are in; anyone else sees the counts. Every text from people
or from Airtable goes out through :func:`bot.core.markdown.plain` or :func:`bot.core.markdown.code`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from gidgethub import sansio
from gidgethub.routing import Router

from bot.clients.airtable import AirtableError, AirtableLane
from bot.clients.github import GitHubGateway
from bot.config import Config
from bot.core.commands import (
    COMMANDS,
    Command,
    CommandSpec,
    Malformed,
    effective_role,
    help_text,
    is_custom_role,
    parse,
    required_role,
    role_allows,
    who_may,
)
from bot.core.issue import IssueRef, IssueState, installation_id, parse_issue_url
from bot.core.labels import is_bot
from bot.core.markdown import code, plain
from bot.core.progress import deliverable_lines, progress, progress_text, summary
from bot.core.records import Record
from bot.handlers.replies import (
    AIRTABLE_FAILED,
    COUNTS_ONLY,
    DELIVERABLE_STATUS,
    DELIVERABLE_UNLINKED,
    HELP,
    LINKED_WITH_WARNING,
    MALFORMED,
    NO_BASE,
    NO_PROJECT_HERE,
    NOT_A_DELIVERABLE,
    NOT_LINKED,
    PERMISSION_REFUSED,
    PERMISSION_UNKNOWN,
    TRACKING_WITH_WARNING,
    Answer,
    not_found,
    post_answers,
)
from bot.sync.link import Linker

log = logging.getLogger(__name__)

router = Router()


@dataclass
class _Context:
    """What every command of one comment needs."""

    config: Config
    github: GitHubGateway
    linker: Linker
    lane: AirtableLane
    ref: IssueRef
    hint: IssueState | None
    author: str
    installation_id: int | None
    _role: str | None = None
    _role_failed: bool = False
    _readable: dict[tuple[str, str], bool] = field(default_factory=dict)

    async def role(self) -> str | None:
        """The author's effective role here (looked up once); None when the lookup failed."""
        if self._role is None and not self._role_failed:
            try:
                self._role = await self._resolve_role()
            except Exception:
                log.warning(
                    "%s: permission lookup for %s failed", self.ref, self.author, exc_info=True
                )
                self._role_failed = True
        return self._role

    async def _resolve_role(self) -> str:
        """The permission endpoint's answer, a custom role resolved to the role it extends:
        the organization's own definition (``base_role``) when the App may read it, else the
        answer's ``permissions`` hash, else its legacy ``permission``."""
        owner, repo = self.ref.owner, self.ref.repo
        answer = await self.github.permission(owner, repo, self.author, self.installation_id)
        role_name = answer.get("role_name", "")
        extends: str | None = None
        if is_custom_role(role_name):
            try:
                extends = await self.github.custom_role_base(owner, role_name, self.installation_id)
            except Exception as exc:
                log.warning("%s: custom role %r not read: %s", self.ref, role_name, exc)
            extends = extends or answer.get("granted")
        return effective_role(role_name, answer.get("permission", ""), extends)

    async def can_read(self, owner: str, repo: str) -> bool:
        """Whether the author may read ``owner/repo`` (looked up once per repository; a
        repository the App cannot see, or a failed lookup, counts as not readable)."""
        key = (owner.lower(), repo.lower())
        if key not in self._readable:
            if key == (self.ref.owner.lower(), self.ref.repo.lower()):
                role = await self.role()
            else:
                try:
                    answer = await self.github.permission(
                        owner, repo, self.author, self.installation_id
                    )
                except Exception as exc:
                    log.warning(
                        "%s: read access of %s to %s/%s unknown: %s",
                        self.ref,
                        self.author,
                        owner,
                        repo,
                        exc,
                    )
                    role = None
                else:
                    # Every custom role extends read at least: its base permission says so.
                    role = effective_role(answer.get("role_name", ""), answer.get("permission", ""))
            self._readable[key] = role is not None and role_allows(role, "read")
        return self._readable[key]


async def _may_see_details(ctx: _Context, deliverables: list[Record]) -> bool:
    """Whether the author can read every repository the deliverables' issues are in (an
    issue URL that is not a GitHub issue's counts as a repository nobody can read)."""
    repos: set[tuple[str, str]] = set()
    for record in deliverables:
        url = str(record["fields"].get(ctx.config.fields.deliverables.issue) or "")
        if not url:
            continue
        ref = parse_issue_url(url)
        if ref is None:
            return False
        repos.add((ref.owner, ref.repo))
    for owner, repo in sorted(repos):
        if not await ctx.can_read(owner, repo):
            return False
    return True


async def _project_progress(ctx: _Context, project: Record) -> str:
    config = ctx.config
    deliverables = await ctx.lane.project_deliverables(project["id"])
    names = config.fields.deliverables
    counts = progress((d["fields"].get(names.status) for d in deliverables), config.statuses)
    name = str(project["fields"].get(config.fields.projects.name) or project["id"])
    if not await _may_see_details(ctx, deliverables):
        return f"{summary(name, counts)}\n\n{COUNTS_ONLY}"
    return progress_text(
        name, deliverable_lines(deliverables, names), counts, config.statuses.deliverable.done
    )


async def _link_named(
    ctx: _Context,
    command: Command,
    link: Callable[[Record], Awaitable[object]],
    with_warning: str,
) -> Answer:
    """Find the Project the command names, ``link`` it, and answer with the Engagement
    warning (worded by ``with_warning``) when there is one."""
    match = await ctx.linker.find(ctx.lane, command.argument, near=ctx.ref)
    if match.project is None:
        return not_found(match, command.argument, ctx.config)
    project = match.project
    await link(project)
    warning = await ctx.linker.warning(ctx.lane, project)
    if warning:
        name = str(project["fields"].get(ctx.config.fields.projects.name) or project["id"])
        return Answer(True, with_warning.format(project=plain(name), warning=warning))
    return Answer(True)


async def _deliverable_link(ctx: _Context, command: Command) -> Answer:
    async def link(project: Record) -> object:
        return await ctx.linker.link(
            ctx.lane, ctx.ref, project["id"], installation_id=ctx.installation_id, hint=ctx.hint
        )

    return await _link_named(ctx, command, link, LINKED_WITH_WARNING)


async def _deliverable_unlink(ctx: _Context, command: Command) -> Answer:
    result = await ctx.linker.unlink(ctx.lane, ctx.ref, installation_id=ctx.installation_id)
    if result.record is None:
        return Answer(False, NOT_LINKED.format(deliverable_word=ctx.config.commands.deliverable))
    return Answer(True)


async def _deliverable_status(ctx: _Context, command: Command) -> Answer:
    config = ctx.config
    record = await ctx.lane.find_deliverable(ctx.ref.url)
    if record is None:
        return Answer(False, NOT_A_DELIVERABLE.format(deliverable_word=config.commands.deliverable))
    names = config.fields.deliverables
    project_ids = record["fields"].get(names.project) or []
    project = await ctx.lane.get_project(project_ids[0]) if project_ids else None
    about = await _project_progress(ctx, project) if project else DELIVERABLE_UNLINKED
    text = DELIVERABLE_STATUS.format(
        name=plain(str(record["fields"].get(names.name) or record["id"])),
        status=plain(str(record["fields"].get(names.status) or "no Status")),
        project=about,
    )
    return Answer(True, text)


async def _project_status(ctx: _Context, command: Command) -> Answer:
    config = ctx.config
    project: Record | None
    if command.argument:
        match = await ctx.linker.find(ctx.lane, command.argument, near=ctx.ref)
        if match.project is None:
            return not_found(match, command.argument, config)
        project = match.project
    else:
        project = await ctx.linker.tracked_by(ctx.lane, ctx.ref)
        if project is None:
            record = await ctx.lane.find_deliverable(ctx.ref.url)
            linked = (record or {}).get("fields", {}).get(config.fields.deliverables.project)
            project = await ctx.lane.get_project(linked[0]) if linked else None
        if project is None:
            return Answer(False, NO_PROJECT_HERE.format(project_word=config.commands.project))
    return Answer(True, await _project_progress(ctx, project))


async def _project_link(ctx: _Context, command: Command) -> Answer:
    async def track(project: Record) -> object:
        return await ctx.linker.track(
            ctx.lane, ctx.ref, project, installation_id=ctx.installation_id
        )

    return await _link_named(ctx, command, track, TRACKING_WITH_WARNING)


async def _help(ctx: _Context, command: Command) -> Answer:
    return Answer(True, HELP.format(table=help_text(ctx.config.commands)))


def _command(key: str) -> CommandSpec:
    """The command of the table named ``key`` (a name not in the table fails at import)."""
    [spec] = [spec for spec in COMMANDS if spec.key == key]
    return spec


Runner = Callable[[_Context, Command], Awaitable[Answer]]
# One runner for each command of the table, keyed by the table's own entries.
RUNNERS: dict[CommandSpec, Runner] = {
    _command("deliverable link"): _deliverable_link,
    _command("deliverable unlink"): _deliverable_unlink,
    _command("deliverable status"): _deliverable_status,
    _command("project status"): _project_status,
    _command("project link"): _project_link,
    _command("help"): _help,
}


async def _run(ctx: _Context, command: Command) -> Answer:
    """Check the author's permission, then run the command."""
    needed = required_role(command.spec, ctx.config.commands)
    if needed != "none":
        role = await ctx.role()
        if role is None:
            return Answer(False, PERMISSION_UNKNOWN)
        if not role_allows(role, needed):
            return Answer(False, PERMISSION_REFUSED.format(needed=who_may(needed), role=code(role)))
    try:
        return await RUNNERS[command.spec](ctx, command)
    except AirtableError:
        log.exception("%s: %s failed in Airtable", ctx.ref, command.spec.key)
        return Answer(False, AIRTABLE_FAILED)


@router.register("issue_comment", action="created")
async def comment_created(
    event: sansio.Event, *, linker: Linker, github: GitHubGateway, config: Config, **_: Any
) -> None:
    """Run the slash commands of a new comment and answer them."""
    data = event.data
    comment = data.get("comment") or {}
    if is_bot(data.get("sender")) or is_bot(comment.get("user")):
        return
    commands = parse(str(comment.get("body") or ""), config.commands)
    if not commands:
        return
    issue = data.get("issue") or {}
    ref = parse_issue_url(str(issue.get("html_url", "")))
    if ref is None:
        log.warning("delivery %s: issue_comment without an issue URL", event.delivery_id)
        return
    installation = installation_id(data)
    author = str((comment.get("user") or {}).get("login") or "")
    lane = linker.lane(ref)
    answers: list[tuple[str, Answer]] = []
    if lane is None:
        text = NO_BASE.format(owner=code(ref.owner))
        answers = [(item.line, Answer(False, text)) for item in commands]
    else:
        ctx = _Context(
            config,
            github,
            linker,
            lane,
            ref,
            IssueState.from_api(issue, ref=ref),
            author,
            installation,
        )
        for item in commands:
            if isinstance(item, Malformed):
                answer = Answer(
                    False,
                    MALFORMED.format(
                        problem=item.problem,
                        usages=", ".join(code(u) for u in item.usages),
                        help_word=config.commands.help,
                    ),
                )
            else:
                answer = await _run(ctx, item)
            log.info(
                "delivery %s: %s: %r by %s → %s",
                event.delivery_id,
                ref,
                item.line,
                author,
                "ok" if answer.ok else "refused",
            )
            answers.append((item.line, answer))
    await post_answers(github, ref, comment, author, answers, installation)
