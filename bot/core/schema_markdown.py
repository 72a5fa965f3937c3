"""The schema the bot needs of its base, as the Markdown table the README shows (pure).

:func:`render_schema` writes one row per field of every configured table: its type (the
one ``init-base`` creates, then any other the bot accepts), its select options, the table
it links to and the inverse field of that link, and whether the field is primary or
optional. The README's section between :data:`START` and :data:`END` is this rendering
of the default configuration, and a test keeps it so.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.base_plan import TableWanted, inverse_pairs

START = "<!-- schema:start -->"
END = "<!-- schema:end -->"
HEADER = (
    "| table | field | type | options, link |",
    "| --- | --- | --- | --- |",
)


def render_schema(expected: Sequence[TableWanted]) -> str:
    """The Markdown table of ``expected`` (tables, fields, types, options, links)."""
    pairs = inverse_pairs(expected)
    rows = list(HEADER)
    for table in expected:
        for index, fld in enumerate(table.fields):
            notes = []
            if index == 0:
                notes.append("primary")
            if not fld.required:
                notes.append("optional")
            if fld.choices:
                notes.append(", ".join(option for option, _, _ in fld.choices))
            if fld.link is not None:
                link = f"→ {fld.link}"
                inverse = pairs.get((table.name, fld.name))
                if inverse is not None:
                    link += f" (inverse: {inverse[0]}.{inverse[1]})"
                notes.append(link)
            types = fld.types[0] + (f" (or {', '.join(fld.types[1:])})" if fld.types[1:] else "")
            cells = (table.name if index == 0 else "", fld.name, types, "; ".join(notes))
            rows.append("|" + "|".join(f" {_cell(c)} " if c else " " for c in cells) + "|")
    return "\n".join(rows)


def _cell(text: str) -> str:
    """``text`` safe in a Markdown table cell."""
    return text.replace("|", "\\|")
