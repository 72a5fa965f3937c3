"""The README names what the program has: every sub-command and every rule ``audit`` checks."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bot.cli.main import build_parser
from bot.core.audit_rules import RULES, Rule

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def _sub_commands() -> list[str]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    raise AssertionError("the parser has no sub-commands")


@pytest.mark.parametrize("command", _sub_commands())
def test_the_command_line_table_names_every_sub_command(command: str) -> None:
    assert f"| `deliverables-bot {command}" in README, f"README's Command line lacks {command}"


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_the_rules_table_names_every_rule_audit_checks(rule: Rule) -> None:
    line = f"| `{rule.name}` | {rule.description} |"
    assert line in README, f"README's rules table lacks {rule.name}"


def test_the_readme_needs_no_document_outside_the_repository() -> None:
    assert "DESIGN.md" not in README
