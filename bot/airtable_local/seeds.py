"""Seed bases from the JSON files in ``data/``: ``demo`` (README: Quick start), ``empty`` and
``blank``.

``empty`` has the bot's schema and no records; ``blank`` is what Airtable makes of a new base,
one table "Table 1" (Name, Notes, Status) and nothing of the bot's, where ``init-base`` starts.

A seed file is ``{"name": ..., "schema": "schema.json", "records": {TABLE: [FIELDS, ...]}}``.
``schema`` names a schema spec in ``data/`` (see :mod:`schema`; ``schema.json`` is the base
of README's The Airtable base), or is the spec itself. Records give fields by name; a link lists
the *primary values* of the records it links to, and the loader turns them into record ids.
Seed records get ids derived from the base id, table and primary value, so they are the same
on every run.

:func:`seed` is the entry point (``LocalAirtable`` and ``airtable-local`` call it); this
module builds on :class:`~bot.airtable_local.store.Store`, which knows nothing of seeds.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING, Any

from bot.airtable_local.schema import stable_id

if TYPE_CHECKING:
    from bot.airtable_local.store import Store

DEFAULT_BASE_IDS = {
    "demo": "appDemoBase000001",
    "empty": "appEmptyBase00001",
    "blank": "appBlankBase00001",
}
CHUNK = 10


def seed_names() -> list[str]:
    """The seeds that can be loaded."""
    return sorted(DEFAULT_BASE_IDS)


def default_base_id(name: str) -> str:
    """The base id a seed gets unless another is asked for; ValueError for an unknown seed."""
    if name not in DEFAULT_BASE_IDS:
        raise ValueError(f"unknown seed {name!r}; choose one of {', '.join(seed_names())}")
    return DEFAULT_BASE_IDS[name]


def read_data(filename: str) -> Any:
    """A JSON file from ``bot/airtable_local/data``."""
    text = resources.files("bot.airtable_local").joinpath("data", filename).read_text("utf-8")
    return json.loads(text)


def read_seed(name: str) -> dict[str, Any]:
    """The seed ``name`` with its schema spec read in place of the schema's file name."""
    default_base_id(name)
    seed: dict[str, Any] = read_data(f"{name}.json")
    if isinstance(seed.get("schema"), str):
        seed["schema"] = read_data(seed["schema"])
    return seed


def seed(store: Store, name: str, *, base_id: str | None = None) -> str:
    """Create the seed base ``name`` (see :func:`seed_names`) in ``store`` unless it exists;
    its id."""
    base_id = base_id or default_base_id(name)
    with store.exclusive():
        if base_id not in store.base_ids():
            load_seed(store, name, base_id)
    return base_id


def load_seed(store: Store, name: str, base_id: str) -> None:
    """Create base ``base_id`` in ``store`` from the seed ``name``, with its records."""
    seed = read_seed(name)
    store.create_base(base_id, seed["schema"], name=seed.get("name"))
    try:
        _load_records(store, base_id, seed.get("records") or {})
    except BaseException:
        store.delete_base(base_id)
        raise


def _load_records(store: Store, base_id: str, records: dict[str, list[dict[str, Any]]]) -> None:
    tables = {t["name"]: t for t in store.schema(base_id)["tables"]}
    table_names = {t["id"]: t["name"] for t in tables.values()}
    ids: dict[tuple[str, str], str] = {}
    links: list[tuple[str, str, dict[str, list[str]]]] = []
    for table_name, rows in records.items():
        table = tables[table_name]
        primary = next(f["name"] for f in table["fields"] if f["id"] == table["primaryFieldId"])
        link_targets = {
            f["name"]: table_names[f["options"]["linkedTableId"]]
            for f in table["fields"]
            if f["type"] == "multipleRecordLinks"
        }
        for row in rows:
            key = (table_name, str(row[primary]))
            if key in ids:
                raise ValueError(f"seed: two {table_name} records are named {key[1]!r}")
            ids[key] = stable_id("rec", base_id, *key)
            row_links = {k: v for k, v in row.items() if k in link_targets}
            if row_links:
                links.append((table_name, ids[key], row_links))
        plain = [{k: v for k, v in row.items() if k not in link_targets} for row in rows]
        keys = [ids[(table_name, str(row[primary]))] for row in rows]
        for start in range(0, len(plain), CHUNK):
            store.create_records(
                base_id,
                table_name,
                plain[start : start + CHUNK],
                record_ids=keys[start : start + CHUNK],
            )
    for table_name, record_id, row_links in links:
        table = tables[table_name]
        fields = {}
        for field_name, names in row_links.items():
            target = next(
                table_names[f["options"]["linkedTableId"]]
                for f in table["fields"]
                if f["name"] == field_name
            )
            try:
                fields[field_name] = [ids[(target, name)] for name in names]
            except KeyError as exc:
                raise ValueError(f"seed: {table_name}.{field_name} names {exc}") from None
        store.update_records(base_id, table_name, [{"id": record_id, "fields": fields}])
