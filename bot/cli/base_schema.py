"""The schema the bot needs of an Airtable base, and every way a base differs from it (pure).

:func:`expected_schema` lists the tables, fields, types, select options and links of
README's The Airtable base under the names the configuration gives them: every configured field, of
the kind :data:`KINDS` gives its key. :func:`compare_schema` holds a base's metadata API
answer against it. Every missing table or field, wrong field type, missing select option and
link to the wrong table is its own line, saying what to do.

One field is optional: a Project's ``repository`` (``owner/name``, where Airtable → GitHub
opens its deliverables' issues). A base without it passes, with one exception: when
``[airtable_to_github] enabled`` is set and the configuration gives the base no default
repository (``[airtable_to_github.repositories]``, else ``default_repository`` for the
base of ``AIRTABLE_BASE_ID``), the field is the only place an issue could go, so it is
required and its absence is a line saying to add it or to set a default. When present it
must be a text field, whether or not Airtable → GitHub is on: a value the bot cannot read
as text is wrong wherever it is read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.config import Config

MISSING_TABLE = (
    'base {base}: table "{table}" is missing: create it, or set [tables] {key} = "<its '
    'name>" in the configuration'
)
MISSING_FIELD = (
    'base {base}: {table}.{field} is missing: add a {type} field named "{field}", or set '
    '[fields.{section}] {key} = "<its name>"{hint}'
)
RENAMED_HINT = " (renamed? the table has {candidates} not in the configuration)"
WRONG_TYPE = (
    "base {base}: {table}.{field} is a {actual} field; the bot needs {expected}: change "
    "the field's type"
)
MISSING_OPTION = (
    'base {base}: {table}.{field} has no option "{option}": add it to the field{config}'
)
REPOSITORY_NEEDED = (
    " (Airtable → GitHub is on and this base has no default repository; or set "
    '[airtable_to_github.repositories] {base} = "owner/name")'
)
OPTION_CONFIG = ', or set [{section}] {key} = "<its name>"'
WRONG_LINK = 'base {base}: {table}.{field} links to "{actual}"; it must link to "{expected}"'

TEXT_TYPES = ("singleLineText", "multilineText")
Choice = tuple[str, str | None, str | None]  # (option, configuration section, key)


@dataclass(frozen=True)
class FieldSpec:
    """A field the bot needs: its configured name, acceptable types, options, link target."""

    key: str  # the attribute of the config's Fields dataclass
    name: str
    types: tuple[str, ...]
    choices: tuple[Choice, ...] = ()
    link: str | None = None
    required: bool = True  # False: a base without the field is fine (its type still counts)
    missing_hint: str = ""  # said after the usual advice when the field is missing


@dataclass(frozen=True)
class TableSpec:
    """A table the bot needs."""

    key: str  # the attribute of the config's Tables dataclass
    name: str
    fields: tuple[FieldSpec, ...]


@dataclass(frozen=True)
class _Kind:
    """What a field must be: its types, and its select options or the table it links to."""

    types: tuple[str, ...]
    options: tuple[str, ...] = ()  # fixed options, not configurable
    statuses: str | None = None  # the options are configured in [statuses.<this>]
    link: str | None = None  # the key of the linked table in [tables]


TEXT = _Kind(TEXT_TYPES)
DATE = _Kind(("date",))
DATETIME = _Kind(("dateTime",))
URL = _Kind(("url",))


def _select(*options: str) -> _Kind:
    return _Kind(("singleSelect",), options=options)


def _statuses(section: str) -> _Kind:
    return _Kind(("singleSelect",), statuses=section)


def _link(table: str) -> _Kind:
    return _Kind(("multipleRecordLinks",), link=table)


# Every field key of [fields.<table>], or "<table>.<key>" where one table's field differs.
KINDS: Mapping[str, _Kind] = {
    "name": TEXT,
    "assignees": TEXT,
    "start": DATE,
    "end": DATE,
    "projects.completed": DATE,
    "deliverables.completed": DATETIME,
    "last_synced": DATETIME,
    "statement_of_work": URL,
    "tracking_issue": URL,
    "repository": TEXT,
    "issue": URL,
    "type": _select("New", "Renewal"),
    "stage": _select("Prospect", "Proposal", "Closed-Won", "Closed-Lost"),
    "kind": _select("Contract", "MOU"),
    "engagements.status": _statuses("engagement"),
    "projects.status": _statuses("project"),
    "deliverables.status": _statuses("deliverable"),
    "opportunity": _link("opportunities"),
    "contracts": _link("contracts"),
    "engagement": _link("engagements"),
    "projects": _link("projects"),
    "project": _link("projects"),
    "deliverables": _link("deliverables"),
}


# Fields a base may leave out: "<table>.<key>" of [fields.<table>].
OPTIONAL = frozenset({"projects.repository"})


def repository_field_required(config: Config, base: str | None = None) -> bool:
    """Whether the Projects table must have its ``repository`` field: only when Airtable →
    GitHub is on and no default repository serves ``base`` (None: a base not named; then
    only ``default_repository`` counts)."""
    settings = config.airtable_to_github
    if not settings.enabled:
        return False
    if base is None:
        return not settings.default_repository
    return config.default_repository(base) is None


def expected_schema(config: Config, base: str | None = None) -> list[TableSpec]:
    """The tables, fields, types, options and links of README's The Airtable base, as configured:
    every table of ``[tables]`` and every field of its ``[fields.<table>]``, in their order.

    A field of :data:`OPTIONAL` is not required, except a Project's ``repository`` where
    :func:`repository_field_required` says so for ``base``."""
    return [
        TableSpec(
            table.name,
            getattr(config.tables, table.name),
            tuple(
                _field_spec(config, table.name, key.name, base)
                for key in dataclasses.fields(getattr(config.fields, table.name))
            ),
        )
        for table in dataclasses.fields(config.tables)
    ]


def _field_spec(config: Config, table: str, key: str, base: str | None) -> FieldSpec:
    """The field ``key`` of ``table`` as the bot needs it (its kind from :data:`KINDS`)."""
    kind = KINDS.get(f"{table}.{key}") or KINDS[key]
    choices: tuple[Choice, ...] = tuple((option, None, None) for option in kind.options)
    if kind.statuses is not None:
        configured = getattr(config.statuses, kind.statuses)
        section = f"statuses.{kind.statuses}"
        choices = tuple(
            (getattr(configured, f.name), section, f.name) for f in dataclasses.fields(configured)
        )
    link = getattr(config.tables, kind.link) if kind.link is not None else None
    name = getattr(getattr(config.fields, table), key)
    required, hint = f"{table}.{key}" not in OPTIONAL, ""
    if f"{table}.{key}" == "projects.repository" and repository_field_required(config, base):
        required, hint = True, REPOSITORY_NEEDED.format(base=base or "<base id>")
    return FieldSpec(key, name, kind.types, choices, link, required, hint)


def compare_schema(base: str, expected: list[TableSpec], actual: Mapping[str, Any]) -> list[str]:
    """Every way the base (a metadata API answer) differs from ``expected``; one line each."""
    tables = {t["name"]: t for t in actual.get("tables", ())}
    table_names = {t["id"]: t["name"] for t in actual.get("tables", ())}
    problems = []
    for spec in expected:
        table = tables.get(spec.name)
        if table is None:
            problems.append(MISSING_TABLE.format(base=base, table=spec.name, key=spec.key))
            continue
        fields = {fld["name"]: fld for fld in table.get("fields", ())}
        for fs in spec.fields:
            problems.extend(_field_problems(base, spec, fs, fields, table_names))
    return problems


def _field_problems(
    base: str,
    spec: TableSpec,
    fs: FieldSpec,
    fields: Mapping[str, Mapping[str, Any]],
    table_names: Mapping[Any, str],
) -> list[str]:
    """How one field of the table (``fields``: the base's, by name) differs from ``fs``."""

    def say(template: str, **values: object) -> str:
        return template.format(base=base, table=spec.name, field=fs.name, **values)

    fld = fields.get(fs.name)
    if fld is None and not fs.required:
        return []
    if fld is None:
        configured = {other.name for other in spec.fields}
        candidates = [
            f'"{n}"'
            for n, other in fields.items()
            if n not in configured and other.get("type") in fs.types
        ]
        hint = (
            RENAMED_HINT.format(candidates=f"{' or '.join(candidates)} ({fs.types[0]})")
            if candidates
            else ""
        )
        hint += fs.missing_hint
        return [say(MISSING_FIELD, type=fs.types[0], section=spec.key, key=fs.key, hint=hint)]
    if fld.get("type") not in fs.types:
        return [say(WRONG_TYPE, actual=fld.get("type"), expected=" or ".join(fs.types))]
    options = fld.get("options") or {}
    have = {ch.get("name") for ch in options.get("choices", ())}
    problems = [
        say(
            MISSING_OPTION,
            option=option,
            config=OPTION_CONFIG.format(section=section, key=key) if section else "",
        )
        for option, section, key in fs.choices
        if option not in have
    ]
    if fs.link is not None:
        target = table_names.get(options.get("linkedTableId"), "an unknown table")
        if target != fs.link:
            problems.append(say(WRONG_LINK, actual=target, expected=fs.link))
    return problems
