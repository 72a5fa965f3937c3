"""``issue_comment`` events: slash commands in new comments, answered with a reaction and,
when there is something to say, one reply.

Only ``created`` comments count (an edit or deletion runs nothing), and none written by a
bot. Every command line of the comment runs, in order, each after its own permission check
(the collaborator permission endpoint, a custom role counting as the role it extends; a
lookup that fails refuses). The comment gets ``+1`` when a command succeeded and
``confused`` when one did not; the reply mentions the author, quotes each command that has
an answer, and says what happened and what to do next, cut at an answer's line to fit
GitHub's limit on a comment's length and saying so.

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
    Command,
    Malformed,
    effective_role,
    help_text,
    is_custom_role,
    parse,
    required_role,
    role_allows,
    who_may,
)
from bot.core.completion import progress
from bot.core.issue import IssueRef, IssueState, parse_issue_url
from bot.core.labels import is_bot
from bot.core.markdown import code, plain
from bot.core.progress import deliverable_lines, progress_text, summary
from bot.core.projects import ProjectMatch
from bot.core.records import Record
from bot.sync.link import Linker
from bot.sync.reconcile import Reconciler

log = logging.getLogger(__name__)

router = Router()

REPLY = "@{author}\n\n{answers}\n"
# A longer command line is quoted only up to here.
MAX_QUOTED_LINE = 300
# GitHub refuses a comment body longer than this (422 "body is too long").
MAX_COMMENT_LENGTH = 65536
REPLY_CUT = (
    "_This reply was cut to fit GitHub's limit of {limit:,} characters for a comment: "
    "{what} not shown. Put fewer commands in one comment to see every answer._"
)
COUNTS_ONLY = (
    "_Deliverable titles and links are shown only to people who can read every repository "
    "this Project's issues are in._"
)
ANSWER = "> {command}\n\n{text}"
HELP = "Commands of deliverables-bot (one per line, at the start of the line):\n\n{table}"
MALFORMED = "I did not run it: {problem}. Usage: {usages}. `/{help_word} help` lists every command."
PERMISSION_REFUSED = (
    "I did not run it: it needs {needed}, and your role on this repository is {role}. "
    "Ask someone with {needed} to run it, or a maintainer for that access."
)
PERMISSION_UNKNOWN = (
    "I did not run it: I could not check your permission on this repository, and I do not "
    "run commands for people whose permission I cannot check. Try again in a few minutes; "
    "if it keeps failing, tell the bot's operators."
)
NO_BASE = (
    "I did not run it: no Airtable base serves {owner}. Ask the bot's operators to configure "
    "one for it."
)
AIRTABLE_FAILED = (
    "I could not finish it: Airtable did not answer as expected. Nothing was lost; run the "
    "command again in a few minutes."
)
UNKNOWN_PROJECT = (
    "I did not run it: no Project is named {name}. The closest names are {suggestions}. Run "
    "the command again with one of them, or with the Project's record id (`rec…`)."
)
UNKNOWN_PROJECT_NOTHING_CLOSE = (
    "I did not run it: no Project is named {name}, and no name comes close. Check the "
    "Project's name in Airtable, or use its record id (`rec…`)."
)
AMBIGUOUS_PROJECT = (
    "I did not run it: {count} Projects are named {name}: {candidates}. Run the command "
    "again with the record id of the one you mean."
)
LINKED_WITH_WARNING = (
    "Linked this issue to **{project}**, but {warning}. Deliverables should belong to a "
    "running Engagement: check the Project's Engagement in Airtable."
)
TRACKING_WITH_WARNING = (
    "This issue now tracks **{project}**, but {warning}. Deliverables should belong to a "
    "running Engagement: check the Project's Engagement in Airtable."
)
NOT_LINKED = (
    "There was nothing to do: this issue is not linked to any Project. "
    "`/{deliverable_word} link <project>` links it."
)
NOT_A_DELIVERABLE = (
    "This issue is not a deliverable yet. Link it to its Project with "
    "`/{deliverable_word} link <project>`."
)
DELIVERABLE_STATUS = "**{name}** is **{status}**.\n\n{project}"
DELIVERABLE_UNLINKED = "It belongs to no Project."
NO_PROJECT_HERE = (
    "I do not know which Project you mean: this issue is neither a deliverable nor a "
    "Project's tracking issue. Name it: `/{project_word} status <project>`."
)


@dataclass
class Answer:
    """The outcome of one command line: success or not, and what to reply (if anything)."""

    ok: bool
    text: str | None = None


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


def _names(records: list[Record], config: Config) -> str:
    field_name = config.fields.projects.name
    return ", ".join(
        f"{code(str(r['fields'].get(field_name) or ''))} ({code(r['id'])})" for r in records
    )


def _not_found(match: ProjectMatch, name: str, config: Config) -> Answer:
    if match.candidates:
        return Answer(
            False,
            AMBIGUOUS_PROJECT.format(
                count=len(match.candidates),
                name=code(name),
                candidates=_names(match.candidates, config),
            ),
        )
    if match.suggestions:
        suggestions = ", ".join(code(s) for s in match.suggestions)
        return Answer(False, UNKNOWN_PROJECT.format(name=code(name), suggestions=suggestions))
    return Answer(False, UNKNOWN_PROJECT_NOTHING_CLOSE.format(name=code(name)))


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


async def _deliverable_link(ctx: _Context, command: Command) -> Answer:
    match = await ctx.linker.find(ctx.lane, command.argument, near=ctx.ref)
    if match.project is None:
        return _not_found(match, command.argument, ctx.config)
    project = match.project
    await ctx.linker.link(
        ctx.lane, ctx.ref, project["id"], installation_id=ctx.installation_id, hint=ctx.hint
    )
    warning = await ctx.linker.warning(ctx.lane, project)
    if warning:
        name = str(project["fields"].get(ctx.config.fields.projects.name) or project["id"])
        return Answer(True, LINKED_WITH_WARNING.format(project=plain(name), warning=warning))
    return Answer(True)


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
            return _not_found(match, command.argument, config)
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
    match = await ctx.linker.find(ctx.lane, command.argument, near=ctx.ref)
    if match.project is None:
        return _not_found(match, command.argument, ctx.config)
    project = match.project
    await ctx.linker.track(ctx.lane, ctx.ref, project, installation_id=ctx.installation_id)
    warning = await ctx.linker.warning(ctx.lane, project)
    if warning:
        name = str(project["fields"].get(ctx.config.fields.projects.name) or project["id"])
        return Answer(True, TRACKING_WITH_WARNING.format(project=plain(name), warning=warning))
    return Answer(True)


async def _help(ctx: _Context, command: Command) -> Answer:
    return Answer(True, HELP.format(table=help_text(ctx.config.commands)))


_RUNNERS: dict[str, Callable[[_Context, Command], Awaitable[Answer]]] = {
    "deliverable link": _deliverable_link,
    "deliverable unlink": _deliverable_unlink,
    "deliverable status": _deliverable_status,
    "project status": _project_status,
    "project link": _project_link,
    "help": _help,
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
        return await _RUNNERS[command.spec.key](ctx, command)
    except AirtableError:
        log.exception("%s: %s failed in Airtable", ctx.ref, command.spec.key)
        return Answer(False, AIRTABLE_FAILED)


@router.register("issue_comment", action="created")
async def comment_created(
    event: sansio.Event,
    *,
    reconciler: Reconciler,
    github: GitHubGateway,
    config: Config,
    **_: Any,
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
    installation_id = (data.get("installation") or {}).get("id")
    author = str((comment.get("user") or {}).get("login") or "")
    linker = Linker(config, reconciler=reconciler, github=github)
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
            installation_id,
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
    await _answer(github, ref, comment, author, answers, installation_id)


async def _answer(
    github: GitHubGateway,
    ref: IssueRef,
    comment: dict[str, Any],
    author: str,
    answers: list[tuple[str, Answer]],
    installation_id: int | None,
) -> None:
    """React to the comment and post the reply, if any command had something to say."""
    comment_id = comment.get("id")
    if comment_id is not None:
        if any(a.ok for _, a in answers):
            await github.add_reaction(ref.owner, ref.repo, int(comment_id), "+1", installation_id)
        if not all(a.ok for _, a in answers):
            await github.add_reaction(
                ref.owner, ref.repo, int(comment_id), "confused", installation_id
            )
    said = [ANSWER.format(command=_quoted(line), text=a.text) for line, a in answers if a.text]
    if said:
        body = fit_reply(author, said)
        if len(body) < len(REPLY.format(author=author, answers="\n\n".join(said))):
            log.warning("%s: reply to %s cut to %d characters", ref, author, len(body))
        await github.create_comment(ref, body, installation_id)


def _quoted(line: str) -> str:
    """A command line as the reply quotes it: in a code span, cut after
    :data:`MAX_QUOTED_LINE` characters."""
    if len(line) > MAX_QUOTED_LINE:
        line = line[:MAX_QUOTED_LINE] + "…"
    return code(line)


def fit_reply(author: str, said: list[str], limit: int = MAX_COMMENT_LENGTH) -> str:
    """The reply with every answer in ``said``, or, when that is longer than ``limit``, as
    many answers as fit, the last one cut after a whole line, and a note saying what was cut.

    Cuts fall between lines: every line the bot writes is whole Markdown on its own (code
    spans and escapes never span lines), so a cut never leaves a code span open and
    turns echoed text into markup.
    """
    full = REPLY.format(author=author, answers="\n\n".join(said))
    if len(full) <= limit:
        return full
    note_room = len(REPLY_CUT.format(limit=limit, what="x" * 80)) + 4
    budget = limit - len(REPLY.format(author=author, answers="")) - note_room
    kept: list[str] = []
    used = 0
    partial = False
    for answer in said:
        room = budget - used - (2 if kept else 0)
        if len(answer) <= room:
            kept.append(answer)
            used += len(answer) + (2 if len(kept) > 1 else 0)
            continue
        lines: list[str] = []
        size = 0
        for line in answer.split("\n"):
            if size + len(line) + (1 if lines else 0) > room:
                break
            size += len(line) + (1 if lines else 0)
            lines.append(line)
        if lines:
            kept.append("\n".join(lines))
            partial = True
        break
    hidden = len(said) - len(kept)
    parts = []
    if partial:
        parts.append("the rest of the last answer")
    if hidden:
        parts.append(
            f"the answer{'s' if hidden > 1 else ''} to {hidden} more command"
            f"{'s' if hidden > 1 else ''}"
        )
    what = " and ".join(parts) + (" is" if len(parts) == 1 and not hidden > 1 else " are")
    note = REPLY_CUT.format(limit=limit, what=what)
    return REPLY.format(author=author, answers="\n\n".join([*kept, note]))
