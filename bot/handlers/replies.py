"""What the comment handler says: the wording of every answer, and the reply that carries them.

A reply mentions the author, quotes each command that has an answer (:func:`quoted`) and says
what happened and what to do next; :func:`fit_reply` cuts it at an answer's line to fit
GitHub's limit on a comment's length, and says so. :func:`post_answers` reacts to the
comment (``+1`` when a command succeeded, ``confused`` when one did not) and posts the reply.
Every text from people or from Airtable goes out through :func:`bot.core.markdown.plain` or
:func:`bot.core.markdown.code`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bot.clients.github import GitHubGateway
from bot.config import Config
from bot.core.issue import IssueRef
from bot.core.markdown import code
from bot.core.projects import ProjectMatch
from bot.core.records import Record

log = logging.getLogger(__name__)

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


def _names(records: list[Record], config: Config) -> str:
    field_name = config.fields.projects.name
    return ", ".join(
        f"{code(str(r['fields'].get(field_name) or ''))} ({code(r['id'])})" for r in records
    )


def not_found(match: ProjectMatch, name: str, config: Config) -> Answer:
    """The answer when ``name`` is no Project's, or several Projects'."""
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


async def post_answers(
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
    said = [ANSWER.format(command=quoted(line), text=a.text) for line, a in answers if a.text]
    if said:
        body = fit_reply(author, said)
        if len(body) < len(REPLY.format(author=author, answers="\n\n".join(said))):
            log.warning("%s: reply to %s cut to %d characters", ref, author, len(body))
        await github.create_comment(ref, body, installation_id)


def quoted(line: str) -> str:
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
