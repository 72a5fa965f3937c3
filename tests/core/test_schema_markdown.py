"""The schema as the README shows it (:mod:`bot.core.schema_markdown`), and the README itself."""

from __future__ import annotations

from pathlib import Path

from bot.cli.base_schema import FieldSpec, TableSpec, expected_schema
from bot.config import Config
from bot.core.schema_markdown import END, START, render_schema

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_configured_field_has_its_row() -> None:
    text = render_schema(expected_schema(Config()))
    lines = text.splitlines()
    assert lines[:2] == ["| table | field | type | options, link |", "| --- | --- | --- | --- |"]
    assert "| Opportunities | Name | singleLineText (or multilineText) | primary |" in lines
    assert "| | Stage | singleSelect | Prospect, Proposal, Closed-Won, Closed-Lost |" in lines
    assert (
        "| | Project | multipleRecordLinks | → Projects (inverse: Projects.Deliverables) |" in lines
    )
    assert "| | Completed | dateTime | |" in lines
    assert "| | Repository | singleLineText (or multilineText) | optional |" in lines
    assert len(lines) == 2 + sum(len(t.fields) for t in expected_schema(Config()))


def test_a_pipe_in_a_name_does_not_break_the_table() -> None:
    spec = [TableSpec("t", "A|B", (FieldSpec("name", "x|y", ("singleLineText",)),))]
    assert render_schema(spec).splitlines()[-1] == "| A\\|B | x\\|y | singleLineText | primary |"


def test_the_readme_shows_the_default_schema() -> None:
    text = README.read_text(encoding="utf-8")
    expected = render_schema(expected_schema(Config()))
    assert START in text and END in text, (
        f"README.md lacks the schema section; add it between {START} and {END}:\n{expected}"
    )
    shown = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert shown == expected, f"README.md's schema section should read:\n{expected}"
