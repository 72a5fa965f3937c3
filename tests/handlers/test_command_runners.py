"""The command table and the comment handler's runners cover exactly the same commands."""

from __future__ import annotations

from bot.core.commands import COMMANDS
from bot.handlers.comments import RUNNERS


def test_every_command_of_the_table_has_one_runner_and_no_runner_is_extra() -> None:
    assert set(RUNNERS) == set(COMMANDS)
    assert len(RUNNERS) == len(COMMANDS) == len(set(COMMANDS))


def test_each_runner_is_keyed_by_the_tables_own_entry() -> None:
    for spec in COMMANDS:
        assert any(key is spec for key in RUNNERS), spec.key
