"""Base schemas: tables, fields and select choices with Airtable ids, and their metadata JSON.

A schema is built from a *spec*, a JSON-able dict in either of two forms (both accepted by
:func:`build_base` and by ``Store.create_base``):

- Airtable's own metadata form (``GET /v0/meta/bases/{base}/tables``), ids included; this is
  also how the store persists schemas.
- A friendlier form for data files and tests, where ids may be left out (they are derived
  from the base id and the names, so a seed gets the same ids every time), select choices
  may be plain strings, and links name their target: ``{"type": "multipleRecordLinks",
  "options": {"linkedTable": "Projects", "inverseField": "Deliverables"}}``. A link with no
  inverse gets one created in the linked table, named after the linking table, as Airtable
  does; a link from a table to itself has no inverse unless one is named.

The first field of a table is its primary field unless ``primaryFieldId`` or
``primaryField`` (a name) says otherwise. Every table has one grid view, "Grid view".
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

ALPHABET = string.ascii_letters + string.digits
ID_LENGTH = 14
RECORD_ID_RE = re.compile(r"^rec[A-Za-z0-9]{14}$")

TEXT_TYPES = frozenset(
    {"singleLineText", "multilineText", "richText", "email", "url", "phoneNumber"}
)
NUMBER_TYPES = frozenset({"number", "currency", "percent"})
SELECT_TYPES = frozenset({"singleSelect", "multipleSelects"})
FIELD_TYPES = (
    TEXT_TYPES
    | NUMBER_TYPES
    | SELECT_TYPES
    | {
        "checkbox",
        "date",
        "dateTime",
        "multipleRecordLinks",
    }
)
CHOICE_COLORS = (
    "blueLight2",
    "cyanLight2",
    "tealLight2",
    "greenLight2",
    "yellowLight2",
    "orangeLight2",
    "redLight2",
    "pinkLight2",
    "purpleLight2",
    "grayLight2",
)
ISO_DATE_FORMAT = {"format": "YYYY-MM-DD", "name": "iso"}
DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "number": {"precision": 0},
    "percent": {"precision": 0},
    "currency": {"precision": 2, "symbol": "$"},
    "checkbox": {"color": "greenBright", "icon": "check"},
    "date": {"dateFormat": ISO_DATE_FORMAT},
    "dateTime": {
        "timeZone": "utc",
        "dateFormat": ISO_DATE_FORMAT,
        "timeFormat": {"format": "HH:mm", "name": "24hour"},
    },
}


def new_id(prefix: str) -> str:
    """A fresh random Airtable-style id: ``prefix`` and 14 letters or digits."""
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(ID_LENGTH))


def stable_id(prefix: str, *parts: str) -> str:
    """An Airtable-style id derived from ``parts``: the same parts always give the same id."""
    digest = int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest(), "big")
    chars = []
    for _ in range(ID_LENGTH):
        digest, index = divmod(digest, len(ALPHABET))
        chars.append(ALPHABET[index])
    return prefix + "".join(chars)


def is_record_id(value: object) -> bool:
    """Whether ``value`` is shaped like a record id (``rec`` and 14 letters or digits)."""
    return isinstance(value, str) and RECORD_ID_RE.match(value) is not None


@dataclass
class Choice:
    """One option of a single or multiple select field."""

    id: str
    name: str
    color: str | None = None

    def to_api(self) -> dict[str, Any]:
        """The choice as the metadata API shows it."""
        out: dict[str, Any] = {"id": self.id, "name": self.name}
        if self.color:
            out["color"] = self.color
        return out


@dataclass
class Field:
    """A field of a table. Link and select details live in their own attributes."""

    id: str
    name: str
    type: str
    description: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    choices: list[Choice] = field(default_factory=list)
    linked_table_id: str | None = None
    inverse_field_id: str | None = None
    prefers_single_record_link: bool = False

    def choice(self, name_or_id: str) -> Choice | None:
        """The choice with this name (exactly) or id, if the field has it."""
        for choice in self.choices:
            if choice.name == name_or_id or choice.id == name_or_id:
                return choice
        return None

    def to_api(self) -> dict[str, Any]:
        """The field as the metadata API shows it."""
        out: dict[str, Any] = {"id": self.id, "name": self.name, "type": self.type}
        if self.description:
            out["description"] = self.description
        if self.type in SELECT_TYPES:
            out["options"] = {"choices": [choice.to_api() for choice in self.choices]}
        elif self.type == "multipleRecordLinks":
            options: dict[str, Any] = {
                "linkedTableId": self.linked_table_id,
                "isReversed": False,
                "prefersSingleRecordLink": self.prefers_single_record_link,
            }
            if self.inverse_field_id:
                options["inverseLinkFieldId"] = self.inverse_field_id
            out["options"] = options
        elif self.type in DEFAULT_OPTIONS:
            out["options"] = dict(self.options)
        return out


@dataclass
class Table:
    """A table: its fields in order, its primary field and its one grid view."""

    id: str
    name: str
    fields: list[Field]
    primary_field_id: str
    view_id: str
    description: str | None = None

    def field(self, name_or_id: str) -> Field | None:
        """The field with this name or id, if any (names are matched exactly)."""
        for candidate in self.fields:
            if candidate.name == name_or_id or candidate.id == name_or_id:
                return candidate
        return None

    @property
    def primary(self) -> Field:
        """The primary field."""
        primary = self.field(self.primary_field_id)
        assert primary is not None
        return primary

    def to_api(self, *, visible_field_ids: bool = False) -> dict[str, Any]:
        """The table as ``GET /v0/meta/bases/{base}/tables`` shows it."""
        view: dict[str, Any] = {"id": self.view_id, "name": "Grid view", "type": "grid"}
        if visible_field_ids:
            view["visibleFieldIds"] = [f.id for f in self.fields]
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "primaryFieldId": self.primary_field_id,
            "fields": [f.to_api() for f in self.fields],
            "views": [view],
        }
        if self.description:
            out["description"] = self.description
        return out


@dataclass
class BaseSchema:
    """All tables of one base."""

    id: str
    name: str
    tables: list[Table]

    def table(self, name_or_id: str) -> Table | None:
        """The table with this name or id, if any."""
        for table in self.tables:
            if table.name == name_or_id or table.id == name_or_id:
                return table
        return None

    def table_by_id(self, table_id: str) -> Table:
        """The table with this id; KeyError if there is none."""
        for table in self.tables:
            if table.id == table_id:
                return table
        raise KeyError(table_id)

    def field_by_id(self, field_id: str) -> tuple[Table, Field]:
        """The table and field with this field id; KeyError if there is none."""
        for table in self.tables:
            for candidate in table.fields:
                if candidate.id == field_id:
                    return table, candidate
        raise KeyError(field_id)

    def to_api(self, *, visible_field_ids: bool = False) -> dict[str, Any]:
        """The base's schema as the metadata API shows it."""
        return {"tables": [t.to_api(visible_field_ids=visible_field_ids) for t in self.tables]}

    def to_spec(self) -> dict[str, Any]:
        """A spec (metadata form, ids included) that :func:`build_base` turns back into this."""
        return {"name": self.name, **self.to_api()}


def build_base(base_id: str, spec: dict[str, Any], *, name: str | None = None) -> BaseSchema:
    """Build a base schema from a spec (see the module docstring); ValueError if it is invalid."""
    tables_spec = spec.get("tables")
    if not isinstance(tables_spec, list) or not tables_spec:
        raise ValueError("a base spec needs a non-empty list of tables")
    tables: list[Table] = []
    links: list[tuple[Table, Field, dict[str, Any]]] = []
    for table_spec in tables_spec:
        table = _build_table(base_id, table_spec, links)
        if any(t.name == table.name or t.id == table.id for t in tables):
            raise ValueError(f"duplicate table {table.name!r}")
        tables.append(table)
    base = BaseSchema(base_id, name or str(spec.get("name") or base_id), tables)
    _resolve_links(base, links)
    return base


def _build_table(
    base_id: str,
    spec: dict[str, Any],
    links: list[tuple[Table, Field, dict[str, Any]]],
) -> Table:
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"a table needs a name: {spec!r}")
    table_id = spec.get("id") or stable_id("tbl", base_id, name)
    fields_spec = spec.get("fields")
    if not isinstance(fields_spec, list) or not fields_spec:
        raise ValueError(f"table {name!r} needs a non-empty list of fields")
    views = spec.get("views") or [{}]
    view_id = views[0].get("id") or stable_id("viw", table_id)
    table = Table(table_id, name, [], "", view_id)
    table.description = spec.get("description")
    pending = []
    for field_spec in fields_spec:
        built = build_field(table, field_spec)
        if table.field(built.name) or table.field(built.id):
            raise ValueError(f"duplicate field {built.name!r} in table {name!r}")
        table.fields.append(built)
        if built.type == "multipleRecordLinks":
            pending.append((table, built, field_spec.get("options") or {}))
    links.extend(pending)
    primary = spec.get("primaryFieldId") or spec.get("primaryField")
    primary_field = table.field(primary) if primary else table.fields[0]
    if primary_field is None:
        raise ValueError(f"table {name!r}: unknown primary field {primary!r}")
    if primary_field.type == "multipleRecordLinks":
        raise ValueError(f"table {name!r}: a link field cannot be the primary field")
    table.primary_field_id = primary_field.id
    return table


def build_field(table: Table, spec: dict[str, Any]) -> Field:
    """A field of ``table`` from its spec; links are left for the caller to resolve."""
    name = spec.get("name")
    field_type = spec.get("type")
    if not isinstance(name, str) or not name:
        raise ValueError(f"a field needs a name: {spec!r}")
    if field_type not in FIELD_TYPES:
        raise ValueError(f"field {name!r}: unsupported type {field_type!r}")
    field_id = spec.get("id") or stable_id("fld", table.id, name)
    options = dict(spec.get("options") or {})
    built = Field(field_id, name, field_type, description=spec.get("description"))
    if field_type in SELECT_TYPES:
        for index, choice in enumerate(options.pop("choices", [])):
            if isinstance(choice, str):
                choice = {"name": choice}
            choice_name = choice.get("name")
            if not isinstance(choice_name, str) or not choice_name:
                raise ValueError(f"field {name!r}: a choice needs a name")
            if built.choice(choice_name):
                raise ValueError(f"field {name!r}: duplicate choice {choice_name!r}")
            built.choices.append(
                Choice(
                    choice.get("id") or stable_id("sel", field_id, choice_name),
                    choice_name,
                    choice.get("color") or CHOICE_COLORS[index % len(CHOICE_COLORS)],
                )
            )
    elif field_type == "multipleRecordLinks":
        built.prefers_single_record_link = bool(options.get("prefersSingleRecordLink"))
    elif field_type in DEFAULT_OPTIONS:
        defaults = DEFAULT_OPTIONS[field_type]
        built.options = {**defaults, **{k: v for k, v in options.items() if k in defaults}}
    return built


def _resolve_links(base: BaseSchema, links: list[tuple[Table, Field, dict[str, Any]]]) -> None:
    # First pass: every link learns its target table and, if named, its inverse.
    for table, link, options in links:
        target_ref = options.get("linkedTableId") or options.get("linkedTable")
        target = base.table(target_ref) if isinstance(target_ref, str) else None
        if target is None:
            raise ValueError(f"{table.name}.{link.name}: unknown linked table {target_ref!r}")
        link.linked_table_id = target.id
        inverse_ref = options.get("inverseLinkFieldId") or options.get("inverseField")
        if inverse_ref is None:
            continue
        inverse = target.field(inverse_ref)
        if inverse is None or inverse.type != "multipleRecordLinks":
            raise ValueError(f"{table.name}.{link.name}: unknown inverse field {inverse_ref!r}")
        link.inverse_field_id = inverse.id
    # Second pass: pair inverses both ways; create the missing ones as Airtable would.
    for table, link, _ in links:
        assert link.linked_table_id is not None
        target = base.table_by_id(link.linked_table_id)
        if link.inverse_field_id is None:
            partner = _unpaired_partner(target, table, link)
            if partner is None:
                if target.id == table.id:
                    continue  # a self-link without a named inverse has none
                partner = Field(
                    stable_id("fld", target.id, "inverse", link.id),
                    _free_name(target, table.name),
                    "multipleRecordLinks",
                    linked_table_id=table.id,
                )
                target.fields.append(partner)
            link.inverse_field_id = partner.id
        _, inverse = base.field_by_id(link.inverse_field_id)
        if inverse.linked_table_id != table.id:
            raise ValueError(f"{table.name}.{link.name}: its inverse does not link back")
        if inverse.inverse_field_id in (None, link.id):
            inverse.inverse_field_id = link.id
        else:
            raise ValueError(f"{table.name}.{link.name}: its inverse names another field")


def _unpaired_partner(target: Table, source: Table, link: Field) -> Field | None:
    for candidate in target.fields:
        if (
            candidate is not link
            and candidate.type == "multipleRecordLinks"
            and candidate.linked_table_id == source.id
            and candidate.inverse_field_id == link.id
        ):
            return candidate
    return None


def _free_name(table: Table, wanted: str) -> str:
    name, n = wanted, 1
    while table.field(name):
        n += 1
        name = f"{wanted} {n}"
    return name
