"""Neutralising text that people wrote before the bot echoes it into a GitHub comment. Pure.

GitHub renders comments as GitHub Flavored Markdown with a subset of HTML, links
``@login`` and ``@org/team`` mentions (and notifies them), and turns ``#123`` into links.
Text from users (command arguments, project and issue names) goes back out either as
inline code (:func:`code`) or as escaped plain text (:func:`plain`). In both, every ``@``
is followed by a zero-width joiner so no mention is ever formed, even where GitHub would
render the text literally, and no ``<!--`` survives, so echoed text can never carry the
hidden marker (``<!-- deliverables-bot:... -->``) the bot finds its own comments by.
"""

from __future__ import annotations

import re

ZERO_WIDTH_JOINER = "\u200d"
# ASCII punctuation that can start or end Markdown syntax inline; GFM lets any ASCII
# punctuation be backslash-escaped (https://github.github.com/gfm/#backslash-escapes).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]{}()#+!|~>=-])")
_NEWLINES = re.compile(r"[\r\n\u2028\u2029]+")
_BACKTICK_RUNS = re.compile(r"`+")


def _defuse_mentions(text: str) -> str:
    # An HTML comment opener is broken too: inside a code span it renders the same.
    return text.replace("@", "@" + ZERO_WIDTH_JOINER).replace(
        "<!--", "<" + ZERO_WIDTH_JOINER + "!--"
    )


def _one_line(text: str) -> str:
    return _NEWLINES.sub(" ", text)


def plain(text: str) -> str:
    """``text`` as literal Markdown text: no HTML, no formatting, no mentions, one line."""
    text = _one_line(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return _defuse_mentions(text)


def code(text: str) -> str:
    """``text`` as an inline code span: fenced with more backticks than it contains, padded
    when it starts or ends with a backtick, one line, no mentions (GFM code spans:
    https://github.github.com/gfm/#code-spans)."""
    text = _defuse_mentions(_one_line(text))
    longest = max((len(run) for run in _BACKTICK_RUNS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    if not text.strip() or text.startswith("`") or text.endswith("`"):
        text = f" {text} "
    return f"{fence}{text}{fence}"
