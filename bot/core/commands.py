"""Slash commands in issue comments: the command table, the parser and the help. Pure.

One table (:data:`COMMANDS`) says each command's words, argument, who may run it and an
example; the parser and the help are both generated from it, so they cannot drift apart
(Prow's plugin help is the model). A command is a line that starts with it, in any case,
after at most three spaces; every command line of a comment counts, in order. Lines in a
block quote (with its lazy continuation lines), in a fenced or indented code block, in an
HTML block or comment, or inside ``<pre>``, ``<code>`` or a code span are never commands:
markdown-it-py, a CommonMark parser (https://spec.commonmark.org/0.31.2/), decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markdown_it import MarkdownIt

from bot.config import ROLES, CommandSettings
from bot.core.markdown import code

# Longer project arguments are refused, not looked up.
MAX_ARGUMENT_LENGTH = 200

NEEDS_ARGUMENT = "it needs {argument}"
TAKES_NO_ARGUMENT = "it takes no argument"
UNKNOWN_SUBCOMMAND = "{verb} is not one of its subcommands"
MISSING_SUBCOMMAND = "it needs a subcommand"
ARGUMENT_TOO_LONG = f"its argument is longer than {MAX_ARGUMENT_LENGTH} characters"


@dataclass(frozen=True)
class CommandSpec:
    """One command of the table: its words, argument, required role, summary and example."""

    key: str  # stable name, e.g. "deliverable link"
    group: str  # the CommandSettings attribute naming its first word
    verb: str
    argument: str  # "" (none), "<project>" (required) or "[<project>]" (optional)
    role: str  # the CommandSettings attribute naming the least role (link_role, status_role),
    # or "" for a command anyone may run
    summary: str
    example: str = ""  # the example's argument

    @property
    def takes_argument(self) -> bool:
        """Whether the command accepts an argument at all."""
        return bool(self.argument)

    @property
    def needs_argument(self) -> bool:
        """Whether the argument is required."""
        return self.argument.startswith("<")


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "deliverable link",
        "deliverable",
        "link",
        "<project>",
        "link_role",
        "Link this issue to a Project (its exact name, any case, or its record id `rec…`), "
        "creating its deliverable record or moving it.",
        "Setup workshop hub",
    ),
    CommandSpec(
        "deliverable unlink",
        "deliverable",
        "unlink",
        "",
        "link_role",
        "Remove this issue from its Project; the record is kept, marked Cancelled.",
    ),
    CommandSpec(
        "deliverable status",
        "deliverable",
        "status",
        "",
        "status_role",
        "This deliverable's Status and its Project's progress (deliverable titles and links "
        "only for those who can read every repository the Project's issues are in).",
    ),
    CommandSpec(
        "project status",
        "project",
        "status",
        "[<project>]",
        "status_role",
        "A Project's progress: done/total and every deliverable (titles and links only for "
        "those who can read every repository the Project's issues are in). Without a name: "
        "the Project of this issue. Close names are offered only from Projects with issues "
        "in this repository.",
        "Setup workshop hub",
    ),
    CommandSpec(
        "project link",
        "project",
        "link",
        "<project>",
        "link_role",
        "Make this issue the Project's tracking issue: its sub-issues become the Project's "
        "deliverables.",
        "Setup workshop hub",
    ),
    CommandSpec(
        "help",
        "help",
        "help",
        "",
        "",
        "This list of commands.",
    ),
)


@dataclass(frozen=True)
class Command:
    """A command line found in a comment."""

    spec: CommandSpec
    argument: str  # "" when none was given
    line: str  # the line as written, stripped


@dataclass(frozen=True)
class Malformed:
    """A line that starts with one of the bot's words but is not a valid command."""

    line: str
    problem: str
    usages: tuple[str, ...]  # the usage of each command starting with the same word


def word(spec: CommandSpec, settings: CommandSettings) -> str:
    """The configured first word of a command (without the slash)."""
    return str(getattr(settings, spec.group))


def required_role(spec: CommandSpec, settings: CommandSettings) -> str:
    """The least repository role that may run the command."""
    return str(getattr(settings, spec.role)) if spec.role else "none"


def usage(spec: CommandSpec, settings: CommandSettings) -> str:
    """How to write the command, e.g. ``/deliverable link <project>``."""
    return " ".join(p for p in (f"/{word(spec, settings)}", spec.verb, spec.argument) if p)


def example(spec: CommandSpec, settings: CommandSettings) -> str:
    """An example line running the command."""
    return " ".join(p for p in (f"/{word(spec, settings)}", spec.verb, spec.example) if p)


def who_may(role: str) -> str:
    """Who holds ``role`` or more, in words."""
    if role == "none":
        return "anyone"
    return f"{role} access or more"


def is_custom_role(role_name: str) -> bool:
    """Whether ``role_name`` (the permission endpoint's) names a custom repository role."""
    return bool(role_name) and role_name.lower() not in ROLES


def effective_role(role_name: str, permission: str, extends: str | None = None) -> str:
    """The role that counts: ``role_name`` when it is a built-in role; for a custom role the
    role it ``extends`` when known, else the legacy base ``permission`` (which maps triage
    to read and maintain to write, so it never grants more); unknown: ``none``."""
    role_name = (role_name or "").lower()
    if role_name in ROLES:
        return role_name
    extends = (extends or "").lower()
    if extends in ROLES and extends != "none":
        return extends
    permission = (permission or "").lower()
    return permission if permission in ROLES else "none"


def role_allows(role: str, needed: str) -> bool:
    """Whether ``role`` is at least ``needed`` in the order of :data:`bot.config.ROLES`."""
    if needed not in ROLES:
        return False
    return ROLES.index(role if role in ROLES else "none") >= ROLES.index(needed)


def help_text(settings: CommandSettings) -> str:
    """The command list as a Markdown table, from :data:`COMMANDS`."""
    rows = [
        "| command | what it does | who may use it | example |",
        "| --- | --- | --- | --- |",
    ]
    for spec in COMMANDS:
        rows.append(
            f"| `{usage(spec, settings)}` | {spec.summary} | "
            f"{who_may(required_role(spec, settings))} | `{example(spec, settings)}` |"
        )
    return "\n".join(rows)


def _indent_columns(line: str) -> int:
    """Columns of leading whitespace, tabs stopping at multiples of four."""
    columns = 0
    for char in line:
        if char == " ":
            columns += 1
        elif char == "\t":
            columns += 4 - columns % 4
        else:
            break
    return columns


# GitHub renders comments as GitHub Flavored Markdown: CommonMark plus tables (and inline
# extensions that cannot change where a line starts). Raw HTML is on, as on GitHub.
_MARKDOWN = MarkdownIt("commonmark").enable("table")
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_LITERAL_TAG = re.compile(r"<(/?)(pre|code)(?=[\s/>])[^>]*?(/?)>", re.IGNORECASE)
_CANDIDATE = re.compile(r"^([ \t]*)/")


def _literal_depth(html: str, depth: int) -> int:
    """``depth`` (how many ``<pre>``/``<code>`` elements are open) after the raw ``html``;
    tags inside HTML comments do not count."""
    for closing, _, self_closing in _LITERAL_TAG.findall(_HTML_COMMENT.sub("", html)):
        if closing:
            depth = max(depth - 1, 0)
        elif not self_closing:
            depth += 1
    return depth


def _command_lines(body: str) -> list[str]:
    """The lines of ``body`` that may hold a command, in order: lines that start with ``/``
    after at most three spaces, in a paragraph's (or heading's) text as GitHub renders it.

    A CommonMark parser (markdown-it-py) decides the structure, so block quotes (and their
    lazy continuation lines), fenced and indented code, HTML blocks and HTML comments are
    never commands, nor is text inside a code span, an inline HTML comment or an open
    ``<pre>`` or ``<code>`` element. To know where a line lands, each candidate line gets a
    sentinel (letters and digits only, which no Markdown construct starts or ends with)
    before its ``/``; a line is a command line when its sentinel ends up in plain text.
    """
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    sentinel = "Zdlvbot"
    while sentinel.lower() in text.lower():
        sentinel += "q"
    marked: list[str] = []
    candidates: dict[int, str] = {}
    for number, line in enumerate(lines):
        found = _CANDIDATE.match(line)
        if found and _indent_columns(line) <= 3:
            candidates[number] = line.strip()
            indent = found.group(1)
            line = f"{indent}{sentinel}{number}x{line[len(indent) :]}"
        marked.append(line)
    if not candidates:
        return []
    where = re.compile(rf"{sentinel}(\d+)x")
    chosen: set[int] = set()
    quotes = 0
    depth = 0
    parents: list[str] = []
    for token in _MARKDOWN.parse("\n".join(marked)):
        if token.nesting == 1:
            parents.append(token.type)
            quotes += token.type == "blockquote_open"
        elif token.nesting == -1:
            opened = parents.pop() if parents else ""
            quotes -= opened == "blockquote_open"
        if token.type == "html_block":
            depth = _literal_depth(token.content, depth)
        if token.type != "inline" or not token.children:
            continue
        in_text = not quotes and parents[-1:] in (["paragraph_open"], ["heading_open"])
        for child in token.children:
            if child.type in ("html_inline", "html_block"):
                depth = _literal_depth(child.content, depth)
            elif child.type == "text" and in_text and depth == 0:
                chosen.update(int(n) for n in where.findall(child.content))
    return [candidates[n] for n in sorted(chosen) if n in candidates]


def parse(body: str, settings: CommandSettings) -> list[Command | Malformed]:
    """Every command (or malformed attempt at one) in a comment body, in order.

    Lines whose first word is not one of the bot's (``/lgtm``) are left to other bots.
    """
    by_word: dict[str, list[CommandSpec]] = {}
    for spec in COMMANDS:
        by_word.setdefault(word(spec, settings).lower(), []).append(spec)
    found: list[Command | Malformed] = []
    for line in _command_lines(body):
        if not line.startswith("/"):
            continue
        parts = line[1:].split(None, 2)
        if not parts or parts[0].lower() not in by_word:
            continue
        specs = by_word[parts[0].lower()]
        usages = tuple(usage(spec, settings) for spec in specs)
        if len(parts) == 1:
            found.append(Malformed(line, MISSING_SUBCOMMAND, usages))
            continue
        verb = parts[1].lower()
        found_spec = next((s for s in specs if s.verb == verb), None)
        if found_spec is None:
            found.append(Malformed(line, UNKNOWN_SUBCOMMAND.format(verb=code(parts[1])), usages))
            continue
        spec = found_spec
        argument = parts[2].strip() if len(parts) == 3 else ""
        if argument and not spec.takes_argument:
            found.append(Malformed(line, TAKES_NO_ARGUMENT, usages))
        elif not argument and spec.needs_argument:
            found.append(Malformed(line, NEEDS_ARGUMENT.format(argument=spec.argument), usages))
        elif len(argument) > MAX_ARGUMENT_LENGTH:
            found.append(Malformed(line, ARGUMENT_TOO_LONG, usages))
        else:
            found.append(Command(spec, argument, line))
    return found
