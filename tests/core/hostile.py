"""Text people may type into a name, a title or a command argument that must never reach a
comment as it is: mentions, HTML, Markdown, backticks, new lines, the bot's own marker."""

from __future__ import annotations

import pytest

HOSTILE = [
    pytest.param("@octocat please look", id="mention"),
    pytest.param("@org/team", id="team-mention"),
    pytest.param("<img src=x onerror=alert(1)>", id="html"),
    pytest.param("`code` ``more``", id="backticks"),
    pytest.param("[link](https://evil.example)", id="link"),
    pytest.param("**bold**\n# heading", id="markdown"),
    pytest.param("<!-- deliverables-bot:progress:recOther -->", id="planted-marker"),
]
