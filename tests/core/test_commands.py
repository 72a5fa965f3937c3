"""The slash-command parser, its help table and the text neutralising of bot/markdown.py."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import ROLES, CommandSettings
from bot.core.commands import (
    COMMANDS,
    MAX_ARGUMENT_LENGTH,
    Command,
    CommandSpec,
    Malformed,
    effective_role,
    example,
    help_text,
    parse,
    role_allows,
    usage,
)
from bot.core.markdown import ZERO_WIDTH_JOINER, code, plain
from tests.core.hostile import HOSTILE

SETTINGS = CommandSettings()


def parsed(body: str, settings: CommandSettings = SETTINGS) -> list[tuple[str, str] | str]:
    """Commands as (key, argument), malformed lines as "malformed: LINE"."""
    return [
        (item.spec.key, item.argument) if isinstance(item, Command) else f"malformed: {item.line}"
        for item in parse(body, settings)
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            "/deliverable link Setup workshop hub",
            [("deliverable link", "Setup workshop hub")],
            id="link",
        ),
        pytest.param("/DELIVERABLE Unlink", [("deliverable unlink", "")], id="any-case"),
        pytest.param("   /deliverable status", [("deliverable status", "")], id="three-spaces"),
        pytest.param("/project status", [("project status", "")], id="project-status-bare"),
        pytest.param(
            "/project status Setup workshop hub",
            [("project status", "Setup workshop hub")],
            id="project-status-named",
        ),
        pytest.param(
            "/project link recAAAAAAAAAAAAAA",
            [("project link", "recAAAAAAAAAAAAAA")],
            id="project-link-record-id",
        ),
        pytest.param("/deliverables help", [("help", "")], id="help"),
        pytest.param(
            "Thanks!\r\n/deliverable link A\r\nand\n/deliverable status\n",
            [("deliverable link", "A"), ("deliverable status", "")],
            id="several-in-order",
        ),
        pytest.param(
            "/deliverable link   x' OR TRUE() OR '  ",
            [("deliverable link", "x' OR TRUE() OR '")],
            id="argument-kept-verbatim",
        ),
        pytest.param("please /deliverable unlink", [], id="not-at-line-start"),
        pytest.param("/deliverableunlink", [], id="glued-word"),
        pytest.param("/lgtm\n/assign @me", [], id="other-bots-commands"),
        pytest.param("> /deliverable unlink", [], id="quoted"),
        pytest.param("> context\n/deliverable unlink", [], id="quote-lazy-continuation"),
        pytest.param(
            "> context\n\n/deliverable unlink", [("deliverable unlink", "")], id="after-quote"
        ),
        pytest.param("```\n/deliverable unlink\n```", [], id="fenced"),
        pytest.param("~~~md\n/deliverable unlink\n~~~", [], id="tilde-fenced"),
        pytest.param("````\n```\n/deliverable unlink\n````", [], id="longer-fence"),
        pytest.param("```\n/deliverable unlink", [], id="unclosed-fence"),
        pytest.param(
            "```\ncode\n```\n/deliverable unlink",
            [("deliverable unlink", "")],
            id="after-fence",
        ),
        pytest.param("    /deliverable unlink", [], id="indented-code"),
        pytest.param("\t/deliverable unlink", [], id="tab-indented-code"),
        pytest.param("<pre>\n/deliverable unlink\n</pre>", [], id="pre-block"),
        pytest.param("<pre>\n\n/deliverable unlink\n\n</pre>", [], id="pre-with-blank-lines"),
        pytest.param("see <pre>\n/deliverable unlink\n</pre>", [], id="pre-inline"),
        pytest.param("<code>\n\n/deliverable unlink\n\n</code>", [], id="code-element"),
        pytest.param("x <code>a\n/deliverable unlink</code>", [], id="code-inline"),
        pytest.param("<!--\n/deliverable unlink\n-->", [], id="html-comment"),
        pytest.param("<!--\n\n/deliverable unlink\n\n-->", [], id="html-comment-blank-lines"),
        pytest.param("x <!-- a\n/deliverable unlink -->", [], id="inline-html-comment"),
        pytest.param("x `a\n/deliverable unlink`", [], id="code-span"),
        pytest.param("<div>\n/deliverable unlink\n</div>", [], id="html-block"),
        pytest.param(
            "<pre>x</pre>\n\n/deliverable unlink", [("deliverable unlink", "")], id="after-pre"
        ),
        pytest.param(
            "<!-- note -->\n/deliverable unlink",
            [("deliverable unlink", "")],
            id="after-html-comment",
        ),
        pytest.param(
            "<!-- <pre> -->\n\n/deliverable unlink",
            [("deliverable unlink", "")],
            id="pre-inside-a-comment-opens-nothing",
        ),
        pytest.param(
            "<details>\n<summary>Why</summary>\n\n/deliverable unlink\n\n</details>",
            [("deliverable unlink", "")],
            id="inside-details",
        ),
        pytest.param("- a\n  /deliverable unlink", [("deliverable unlink", "")], id="list-item"),
        pytest.param("text\n    /deliverable unlink", [], id="four-spaces-in-paragraph"),
        pytest.param("/deliverable", ["malformed: /deliverable"], id="no-subcommand"),
        pytest.param("/deliverable frob", ["malformed: /deliverable frob"], id="unknown-verb"),
        pytest.param("/deliverable link", ["malformed: /deliverable link"], id="missing-project"),
        pytest.param(
            "/deliverable unlink now", ["malformed: /deliverable unlink now"], id="extra-argument"
        ),
        pytest.param(
            "/deliverable link " + "x" * (MAX_ARGUMENT_LENGTH + 1),
            ["malformed: /deliverable link " + "x" * (MAX_ARGUMENT_LENGTH + 1)],
            id="argument-too-long",
        ),
    ],
)
def test_parse(body: str, expected: list[tuple[str, str] | str]) -> None:
    assert parsed(body) == expected


def test_words_are_configurable() -> None:
    custom = dataclasses.replace(SETTINGS, deliverable="task", project="epic", help="bot")
    body = "/task link A\n/epic status\n/bot help\n/deliverable unlink"
    assert parsed(body, custom) == [("deliverable link", "A"), ("project status", ""), ("help", "")]


def test_malformed_lists_the_usages_and_neutralises_the_verb() -> None:
    [item] = parse("/deliverable @team", SETTINGS)
    assert isinstance(item, Malformed)
    assert "/deliverable link <project>" in item.usages
    assert "@team" not in item.problem


@pytest.mark.parametrize(
    ("role_name", "permission", "expected"),
    [
        pytest.param("triage", "read", "triage", id="builtin"),
        pytest.param("maintain", "write", "maintain", id="maintain"),
        pytest.param("release-manager", "write", "write", id="custom-role"),
        pytest.param("odd", "odd", "none", id="unknown"),
        pytest.param("", "none", "none", id="not-a-collaborator"),
    ],
)
def test_effective_role(role_name: str, permission: str, expected: str) -> None:
    assert effective_role(role_name, permission) == expected


@pytest.mark.parametrize(
    ("role_name", "permission", "extends", "expected"),
    [
        pytest.param("labeller", "read", "triage", "triage", id="custom-on-triage"),
        pytest.param("lead", "write", "maintain", "maintain", id="custom-on-maintain"),
        pytest.param("labeller", "read", None, "read", id="custom-base-unknown"),
        pytest.param("labeller", "read", "none", "read", id="custom-base-none"),
        pytest.param("triage", "read", "admin", "triage", id="built-in-ignores-extends"),
    ],
)
def test_effective_role_of_a_custom_role(
    role_name: str, permission: str, extends: str | None, expected: str
) -> None:
    assert effective_role(role_name, permission, extends) == expected


def test_role_order() -> None:
    for i, role in enumerate(ROLES):
        for j, needed in enumerate(ROLES):
            assert role_allows(role, needed) is (i >= j)
    assert not role_allows("admin", "superuser")


def test_help_lists_every_command_with_who_and_example() -> None:
    text = help_text(SETTINGS)
    for spec in COMMANDS:
        assert usage(spec, SETTINGS) in text
        assert example(spec, SETTINGS) in text
    assert "anyone" in text
    assert "triage access or more" in text
    assert "read access or more" in text


# -- properties -----------------------------------------------------------------------------

ANY_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),
    max_size=300,
)
COMMAND_LINES = st.sampled_from([example(spec, SETTINGS) for spec in COMMANDS])
LINES = st.lists(
    st.one_of(COMMAND_LINES, st.text(max_size=40).map(lambda t: t.replace("\n", " "))),
    max_size=8,
)


NO_FENCES = LINES.map(lambda ls: [x for x in ls if not x.lstrip().startswith(("`", "~"))])


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_no_input_crashes_the_parser(body: str) -> None:
    for item in parse(body, SETTINGS):
        assert isinstance(item, Command | Malformed)
        assert item.line.startswith("/")


@settings(max_examples=200, deadline=None)
@given(COMMAND_LINES, st.sampled_from(["> ", " > ", ">"]), LINES)
def test_quoted_lines_never_run(line: str, quote: str, around: list[str]) -> None:
    body = "\n".join([*around, "", quote + line, ""])
    before = parse("\n".join([*around, ""]), SETTINGS)
    assert parse(body, SETTINGS) == before


@settings(max_examples=200, deadline=None)
@given(COMMAND_LINES, st.sampled_from(["```", "~~~", "````py"]), NO_FENCES, LINES)
def test_fenced_lines_never_run(line: str, fence: str, inside: list[str], after: list[str]) -> None:
    closing = fence.rstrip("py")
    body = "\n".join([fence, *inside, line, closing, "", *after])
    assert all(
        not isinstance(item, Command) or item.line in after for item in parse(body, SETTINGS)
    )
    assert parse(body, SETTINGS) == parse("\n".join(after), SETTINGS)


@settings(max_examples=100, deadline=None)
@given(COMMAND_LINES, st.sampled_from(["    ", "\t", "  \t", "     "]))
def test_indented_lines_never_run(line: str, indent: str) -> None:
    assert parse(f"text\n\n{indent}{line}", SETTINGS) == []


@pytest.mark.parametrize("spec", COMMANDS, ids=lambda spec: spec.key)
@pytest.mark.parametrize(
    "settings_",
    [SETTINGS, CommandSettings(deliverable="task", project="epic", help="bot")],
    ids=["default-words", "custom-words"],
)
def test_every_help_entry_parses_back_to_its_command(
    spec: CommandSpec, settings_: CommandSettings
) -> None:
    [item] = parse(example(spec, settings_), settings_)
    assert isinstance(item, Command)
    assert (item.spec, item.argument) == (spec, spec.example)
    assert example(spec, settings_) in help_text(settings_)
    if not spec.needs_argument:
        [bare] = parse(usage(spec, settings_).replace(" [<project>]", ""), settings_)
        assert isinstance(bare, Command) and bare.spec == spec


# -- neutralising echoed text ----------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE)
def test_echoed_text_is_neutralised(text: str) -> None:
    for rendered in (plain(text), code(text)):
        assert "@" not in rendered.replace("@" + ZERO_WIDTH_JOINER, "")
        assert "\n" not in rendered
    assert "<" not in plain(text)
    assert "](" not in plain(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_code_span_holds_any_text(text: str) -> None:
    rendered = code(text)
    fence = len(rendered) - len(rendered.lstrip("`"))
    inner = rendered[fence:-fence]
    # No run of backticks inside is as long as the fence, so the span cannot end early.
    assert "`" * fence not in inner
    assert "@" not in inner.replace("@" + ZERO_WIDTH_JOINER, "")
