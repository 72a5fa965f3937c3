"""List-records options: parsed from a GET query string or a ``listRecords`` POST body.

Both forms carry the same options (https://airtable.com/developers/web/api/list-records):
``filterByFormula``, ``pageSize`` (1-100), ``maxRecords``, ``offset``, ``fields``, ``sort``,
``view``, ``cellFormat``, ``timeZone``, ``userLocale``, ``returnFieldsByFieldId`` and
``recordMetadata``. In a query string, lists are ``fields[]=A&fields[]=B`` and
``sort[0][field]=A&sort[0][direction]=desc``; in a body they are JSON lists.
Bad values are answered 422, as Airtable does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from multidict import MultiMapping

from bot.airtable_local import errors

MAX_PAGE_SIZE = 100
SORT_PARAM_RE = re.compile(r"^sort\[(\d+)\]\[(field|direction)\]$")
JSON_KEYS = frozenset(
    {
        "filterByFormula",
        "pageSize",
        "maxRecords",
        "offset",
        "fields",
        "sort",
        "view",
        "cellFormat",
        "timeZone",
        "userLocale",
        "returnFieldsByFieldId",
        "recordMetadata",
    }
)


@dataclass(frozen=True)
class Sort:
    """One sort key: a field name or id and its direction."""

    field: str
    descending: bool = False


@dataclass
class ListQuery:
    """The options of one list-records request."""

    formula: str | None = None
    page_size: int = MAX_PAGE_SIZE
    max_records: int | None = None
    offset: str | None = None
    fields: list[str] | None = None
    sort: list[Sort] = field(default_factory=list)
    view: str | None = None
    cell_format: str = "json"
    by_field_id: bool = False
    comment_count: bool = False

    @classmethod
    def from_params(cls, params: MultiMapping[str]) -> ListQuery:
        """Parse a GET query string."""
        query = cls()
        query.formula = params.get("filterByFormula") or None
        query.page_size = _page_size(params.get("pageSize"))
        query.max_records = _max_records(params.get("maxRecords"))
        query.offset = params.get("offset") or None
        names = params.getall("fields[]", []) + params.getall("fields", [])
        query.fields = names or None
        query.sort = _sort_from_params(params)
        query.view = params.get("view") or None
        query.cell_format = _cell_format(
            params.get("cellFormat"), params.get("timeZone"), params.get("userLocale")
        )
        query.by_field_id = _flag(params.get("returnFieldsByFieldId"))
        query.comment_count = _comment_count(
            params.getall("recordMetadata[]", []) + params.getall("recordMetadata", [])
        )
        return query

    @classmethod
    def from_json(cls, body: dict[str, Any], params: MultiMapping[str] | None = None) -> ListQuery:
        """Parse a ``listRecords`` POST body (``timeZone``/``userLocale`` may be in the URL)."""
        unknown = set(body) - JSON_KEYS
        if unknown:
            raise errors.invalid_request(f"Unknown parameter: {sorted(unknown)[0]}")
        query = cls()
        formula = body.get("filterByFormula")
        if formula is not None and not isinstance(formula, str):
            raise errors.invalid_request("filterByFormula must be a string")
        query.formula = formula or None
        query.page_size = _page_size(body.get("pageSize"))
        query.max_records = _max_records(body.get("maxRecords"))
        offset = body.get("offset")
        if offset is not None and not isinstance(offset, str):
            raise errors.invalid_request("offset must be a string")
        query.offset = offset or None
        names = body.get("fields")
        if names is not None and not (
            isinstance(names, list) and all(isinstance(n, str) for n in names)
        ):
            raise errors.invalid_request("fields must be a list of field names or ids")
        query.fields = names or None
        query.sort = _sort_from_json(body.get("sort"))
        view = body.get("view")
        if view is not None and not isinstance(view, str):
            raise errors.invalid_request("view must be a string")
        query.view = view or None
        in_url = dict(params or {})
        query.cell_format = _cell_format(
            body.get("cellFormat"),
            body.get("timeZone") or in_url.get("timeZone"),
            body.get("userLocale") or in_url.get("userLocale"),
        )
        query.by_field_id = _flag(body.get("returnFieldsByFieldId"))
        metadata = body.get("recordMetadata") or []
        if not isinstance(metadata, list):
            raise errors.invalid_request("recordMetadata must be a list")
        query.comment_count = _comment_count(metadata)
        return query


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise errors.invalid_request(f"{name} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise errors.invalid_request(f"{name} must be an integer")


def _page_size(value: Any) -> int:
    if value is None or value == "":
        return MAX_PAGE_SIZE
    size = _int(value, "pageSize")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise errors.invalid_request(f"pageSize must be between 1 and {MAX_PAGE_SIZE}")
    return size


def _max_records(value: Any) -> int | None:
    if value is None or value == "":
        return None
    count = _int(value, "maxRecords")
    if count < 1:
        raise errors.invalid_request("maxRecords must be a positive integer")
    return count


def _flag(value: Any) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("1", "true"):
        return True
    if isinstance(value, str) and value.lower() in ("0", "false"):
        return False
    raise errors.invalid_request("returnFieldsByFieldId must be a boolean")


def _cell_format(value: Any, time_zone: Any, user_locale: Any) -> str:
    if value is None or value == "" or value == "json":
        return "json"
    if value == "string":
        if not time_zone or not user_locale:
            raise errors.invalid_request(
                "The timeZone and userLocale parameters are required when using string as"
                " the cellFormat."
            )
        return "string"
    raise errors.invalid_request(f"Invalid cellFormat: {value!r}")


def _comment_count(values: list[Any]) -> bool:
    for value in values:
        if value != "commentCount":
            raise errors.invalid_request(f"Invalid recordMetadata: {value!r}")
    return bool(values)


def _direction(value: Any) -> bool:
    if value is None or value == "asc":
        return False
    if value == "desc":
        return True
    raise errors.invalid_request(f"Invalid sort direction: {value!r}")


def _sort_from_params(params: MultiMapping[str]) -> list[Sort]:
    parts: dict[int, dict[str, str]] = {}
    for key in params:
        match = SORT_PARAM_RE.match(key)
        if match:
            parts.setdefault(int(match.group(1)), {})[match.group(2)] = params.get(key) or ""
    sorts = []
    for index in sorted(parts):
        name = parts[index].get("field")
        if not name:
            raise errors.invalid_request(f"sort[{index}] needs a field")
        sorts.append(Sort(name, _direction(parts[index].get("direction"))))
    return sorts


def _sort_from_json(value: Any) -> list[Sort]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise errors.invalid_request("sort must be a list of {field, direction} objects")
    sorts = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("field"), str):
            raise errors.invalid_request("sort must be a list of {field, direction} objects")
        sorts.append(Sort(item["field"], _direction(item.get("direction"))))
    return sorts
