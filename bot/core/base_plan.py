"""What ``init-base`` does to a base: the tables and fields to create, and what it leaves (pure).

:func:`plan_base` holds a base's metadata API answer (``GET /v0/meta/bases/{id}/tables``)
against the schema the bot needs (the tables of :func:`bot.cli.base_schema.expected_schema`,
or anything shaped like them: :class:`TableWanted`) and gives the ordered actions that
build what is missing, through Airtable's metadata API:

- a missing table is created with its fields, except links to tables that do not exist yet
  at that point (the first field configured is the primary field, as Airtable takes it);
- a missing field of an existing table is created on its own.

A link is created once, on one side: Airtable adds the inverse field in the linked table by
itself, named after the linking table (https://airtable.com/developers/web/api/field-model,
"Link to another record"), so the inverse is never created again; when the configuration
names it differently, the new inverse is renamed (:attr:`NewField.inverse`). Which fields are
each other's inverse is read from the configuration: :func:`inverse_pairs`.

Nothing existing is deleted or altered. What would need that is a problem line instead: a
field of the wrong type, a link to the wrong table, a select without an option the bot needs
(Airtable's API only renames and describes existing fields: it cannot add options), a link
whose inverse exists under another name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

LINK = "multipleRecordLinks"
SELECT_TYPES = ("singleSelect", "multipleSelects")
# The write format of each type's options that has any (dates as ISO, times 24-hour, UTC).
WRITE_OPTIONS: Mapping[str, Mapping[str, Any]] = {
    "date": {"dateFormat": {"name": "iso"}},
    "dateTime": {
        "dateFormat": {"name": "iso"},
        "timeFormat": {"name": "24hour"},
        "timeZone": "utc",
    },
    "number": {"precision": 0},
    "percent": {"precision": 0},
    "currency": {"precision": 2, "symbol": "$"},
    "checkbox": {"icon": "check", "color": "greenBright"},
}

CREATE_TABLE = "create table {table} ({count} fields{inverses})"
CREATE_FIELD = "create field {table}.{field} ({type}{inverses})"
LINK_TYPE = "link to {table}"
INVERSES = "; Airtable adds {fields}"
WRONG_TYPE = (
    "{table}.{field} is a {actual} field; the bot needs {expected}: change its type in "
    "Airtable (init-base leaves existing fields as they are)"
)
MISSING_OPTIONS = (
    "{table}.{field} has no option{s} {options}: add {them} to the field in Airtable "
    "(Airtable's API cannot add options to an existing field)"
)
WRONG_LINK = (
    '{table}.{field} links to "{actual}"; the bot needs a link to "{expected}": change it in '
    "Airtable (init-base leaves existing fields as they are)"
)
INVERSE_NAMED = (
    '{table}.{field} is missing, but {other}.{inverse} links here through "{name}": rename '
    '"{name}" to "{field}" in Airtable (a new link would not be the inverse of {other}.{inverse})'
)
INVERSE_NONE = (
    "{table}.{field} is missing, but {other}.{inverse} links here without an inverse field: "
    'turn on its field in {table} in Airtable and name it "{field}"'
)


class FieldWanted(Protocol):
    """A field the bot needs (:class:`bot.cli.base_schema.FieldSpec` is one)."""

    @property
    def name(self) -> str:
        """Its name in the base."""
        ...

    @property
    def types(self) -> tuple[str, ...]:
        """The types the bot accepts, the one to create first."""
        ...

    @property
    def choices(self) -> Sequence[tuple[str, str | None, str | None]]:
        """Its select options, each ``(option, configuration section, key)``."""
        ...

    @property
    def link(self) -> str | None:
        """The name of the table it links to, if it is a link."""
        ...

    @property
    def required(self) -> bool:
        """Whether a base without it fails ``check``."""
        ...


class TableWanted(Protocol):
    """A table the bot needs (:class:`bot.cli.base_schema.TableSpec` is one)."""

    @property
    def name(self) -> str:
        """Its name in the base."""
        ...

    @property
    def fields(self) -> Sequence[FieldWanted]:
        """Its fields, the primary one first."""
        ...


FieldKey = tuple[str, str]  # (table name, field name)


@dataclass(frozen=True)
class NewField:
    """A field to create: in ``table``, of ``type``, with its options in Airtable's write
    format; a link names the table it links to (its id is known only when it runs) and the
    name its inverse, which Airtable adds, must have (None: whatever Airtable names it)."""

    table: str
    name: str
    type: str
    options: Mapping[str, Any] | None = None
    link: str | None = None
    inverse: str | None = None

    @property
    def inverse_renamed(self) -> bool:
        """Whether the inverse Airtable adds (named after this field's table) must be renamed."""
        return self.inverse is not None and self.inverse != self.table

    def config(self, table_ids: Mapping[str, str]) -> dict[str, Any]:
        """The field as Airtable's create-table and create-field requests take it;
        ``table_ids`` gives the id of the linked table by name."""
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.link is not None:
            out["options"] = {"linkedTableId": table_ids[self.link]}
        elif self.options:
            out["options"] = _plain(self.options)
        return out

    def describe(self) -> str:
        """Its type as a plan line says it."""
        return LINK_TYPE.format(table=self.link) if self.link is not None else self.type


@dataclass(frozen=True)
class CreateTable:
    """Create table ``name`` with ``fields`` (the first is its primary field)."""

    name: str
    fields: tuple[NewField, ...]

    def line(self) -> str:
        """The plan's line for it."""
        return CREATE_TABLE.format(
            table=self.name, count=len(self.fields), inverses=_inverses(self.fields)
        )


@dataclass(frozen=True)
class CreateField:
    """Create ``field`` in its (existing) table."""

    field: NewField

    def line(self) -> str:
        """The plan's line for it."""
        return CREATE_FIELD.format(
            table=self.field.table,
            field=self.field.name,
            type=self.field.describe(),
            inverses=_inverses((self.field,)),
        )


Action = CreateTable | CreateField


@dataclass(frozen=True)
class BasePlan:
    """The actions, in the order to take them, and the problems they leave for a person."""

    actions: tuple[Action, ...]
    problems: tuple[str, ...]

    def lines(self) -> list[str]:
        """One line per action."""
        return [action.line() for action in self.actions]


def inverse_pairs(expected: Sequence[TableWanted]) -> dict[FieldKey, FieldKey]:
    """Which configured links are each other's inverse, both ways: between two tables, the
    n-th link from one to the other pairs with the n-th link back (a self-link pairs with
    nothing: Airtable gives it no inverse)."""
    links: dict[tuple[str, str], list[str]] = {}
    for table in expected:
        for fld in table.fields:
            if fld.link is not None and fld.link != table.name:
                links.setdefault((table.name, fld.link), []).append(fld.name)
    pairs: dict[FieldKey, FieldKey] = {}
    for (source, target), names in links.items():
        for mine, theirs in zip(names, links.get((target, source), ()), strict=False):
            pairs[(source, mine)] = (target, theirs)
    return pairs


def plan_base(expected: Sequence[TableWanted], actual: Mapping[str, Any]) -> BasePlan:
    """The plan that builds ``expected`` in the base whose metadata is ``actual``."""
    tables = {t["name"]: t for t in actual.get("tables", ())}
    names_by_id = {t["id"]: t["name"] for t in tables.values()}
    pairs = inverse_pairs(expected)
    present = set(tables)  # tables that exist when the next action runs
    provided: set[FieldKey] = set()  # fields a planned link brings as its inverse
    deferred: list[tuple[str, FieldWanted]] = []  # links to tables not there yet
    actions: list[Action] = []
    problems: list[str] = []

    def new_field(table: str, fld: FieldWanted) -> NewField:
        if fld.link is None:
            return NewField(table, fld.name, fld.types[0], _options(fld))
        inverse = pairs.get((table, fld.name))
        inverse_name = None
        if inverse is not None and not _has_field(tables, inverse):
            provided.add(inverse)
            inverse_name = inverse[1]
        return NewField(table, fld.name, LINK, link=fld.link, inverse=inverse_name)

    for spec in expected:
        table = tables.get(spec.name)
        if table is None:
            fields = []
            for fld in spec.fields:
                if (spec.name, fld.name) in provided:
                    continue
                if fld.link is not None and fld.link not in present:
                    deferred.append((spec.name, fld))
                else:
                    fields.append(new_field(spec.name, fld))
            actions.append(CreateTable(spec.name, tuple(fields)))
            present.add(spec.name)
            continue
        existing = {f["name"]: f for f in table.get("fields", ())}
        for fld in spec.fields:
            key = (spec.name, fld.name)
            found = existing.get(fld.name)
            if found is not None:
                problems.extend(_field_problems(spec.name, fld, found, names_by_id))
            elif key in provided:
                continue  # it comes as the inverse of a link planned already
            elif fld.link is not None and fld.link not in present:
                deferred.append((spec.name, fld))
            elif (inverse := pairs.get(key)) is not None and _has_field(tables, inverse):
                problems.append(_inverse_problem(key, inverse, tables, existing))
            else:
                actions.append(CreateField(new_field(spec.name, fld)))
    # Links to tables created after theirs, unless the inverse of another link brought them.
    for table_name, fld in deferred:
        if (table_name, fld.name) not in provided:
            actions.append(CreateField(new_field(table_name, fld)))
    return BasePlan(tuple(actions), tuple(problems))


def _options(fld: FieldWanted) -> Mapping[str, Any] | None:
    """The write-format options of a new field of the bot's kind ``fld`` (not a link)."""
    if fld.types[0] in SELECT_TYPES:
        return {"choices": [{"name": option} for option, _, _ in fld.choices]}
    return WRITE_OPTIONS.get(fld.types[0])


def _plain(value: Any) -> Any:
    """``value`` with every mapping a dict and every sequence a list (JSON-ready)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _inverses(fields: Sequence[NewField]) -> str:
    added = [f"{f.link}.{f.inverse}" for f in fields if f.link is not None and f.inverse]
    return INVERSES.format(fields=", ".join(added)) if added else ""


def _field_names(table: Mapping[str, Any]) -> set[str]:
    return {f["name"] for f in table.get("fields", ())}


def _has_field(tables: Mapping[str, Mapping[str, Any]], key: FieldKey) -> bool:
    """Whether the base (before the plan) has this field."""
    table = tables.get(key[0])
    return table is not None and key[1] in _field_names(table)


def _field_problems(
    table: str, fld: FieldWanted, found: Mapping[str, Any], names_by_id: Mapping[str, str]
) -> list[str]:
    """What init-base cannot mend in an existing field: its type, options, link target."""
    say = {"table": table, "field": fld.name}
    if found.get("type") not in fld.types:
        return [WRONG_TYPE.format(**say, actual=found.get("type"), expected=" or ".join(fld.types))]
    options = found.get("options") or {}
    have = {choice.get("name") for choice in options.get("choices", ())}
    missing = [option for option, _, _ in fld.choices if option not in have]
    problems = []
    if missing:
        listed = ", ".join(f'"{option}"' for option in missing)
        problems.append(
            MISSING_OPTIONS.format(
                **say,
                options=listed,
                s="" if len(missing) == 1 else "s",
                them="it" if len(missing) == 1 else "them",
            )
        )
    if fld.link is not None:
        target = names_by_id.get(str(options.get("linkedTableId")), "an unknown table")
        if target != fld.link:
            problems.append(WRONG_LINK.format(**say, actual=target, expected=fld.link))
    return problems


def _inverse_problem(
    key: FieldKey,
    inverse: FieldKey,
    tables: Mapping[str, Mapping[str, Any]],
    existing: Mapping[str, Mapping[str, Any]],
) -> str:
    """The line for a missing link whose inverse exists: it links here under another name,
    or with no inverse at all (creating the link would make a second, unpaired one)."""
    other = next(f for f in tables[inverse[0]]["fields"] if f["name"] == inverse[1])
    back = (other.get("options") or {}).get("inverseLinkFieldId")
    name = next((n for n, f in existing.items() if f.get("id") == back), None)
    say = {"table": key[0], "field": key[1], "other": inverse[0], "inverse": inverse[1]}
    if name is None:
        return INVERSE_NONE.format(**say)
    return INVERSE_NAMED.format(**say, name=name)
