"""Airtable's error answers: one exception type carrying the status and the JSON body.

Airtable answers errors as ``{"error": {"type": TYPE, "message": MESSAGE}}`` with a status
from https://airtable.com/developers/web/api/errors; a few answers differ and are
reproduced as Airtable sends them:

- 404 for an unknown route or record: ``{"error": "NOT_FOUND"}`` (no message).
- 429: ``{"errors": [{"error": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded. Please
  try again later"}]}`` (see :mod:`bot.airtable_local.ratelimit`).

The store raises :class:`AirtableError`; the server turns it into the HTTP answer, so a
caller of the store in-process sees the same error a client would.
"""

from __future__ import annotations

from typing import Any

RATE_LIMIT_MESSAGE = "Rate limit exceeded. Please try again later"
INVALID_REQUEST_MESSAGE = "Invalid request: parameter validation failed. Check your request data."


class AirtableError(Exception):
    """An error answered the way Airtable answers it: an HTTP status and a JSON body."""

    def __init__(self, status: int, error_type: str, message: str | None = None) -> None:
        """Build an error; with no message the body is Airtable's bare ``{"error": TYPE}``."""
        super().__init__(
            f"{status} {error_type}: {message}" if message else f"{status} {error_type}"
        )
        self.status = status
        self.error_type = error_type
        self.message = message

    def body(self) -> dict[str, Any]:
        """The JSON body Airtable sends for this error."""
        if self.message is None:
            return {"error": self.error_type}
        return {"error": {"type": self.error_type, "message": self.message}}


def rate_limited_body() -> dict[str, Any]:
    """The body of a 429, in the list form Airtable uses for it."""
    return {"errors": [{"error": "RATE_LIMIT_REACHED", "message": RATE_LIMIT_MESSAGE}]}


def authentication_required() -> AirtableError:
    """401: no bearer token, or not the one the server accepts."""
    return AirtableError(401, "AUTHENTICATION_REQUIRED", "Authentication required")


def model_not_found() -> AirtableError:
    """403: unknown base or table (Airtable does not tell which, nor whether it exists)."""
    return AirtableError(
        403,
        "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
        "Invalid permissions, or the requested model was not found. Check that both your user"
        " and your token have the required permissions, and that the model names and/or ids"
        " are correct.",
    )


def not_found() -> AirtableError:
    """404 for an unknown route or an unknown record addressed by URL."""
    return AirtableError(404, "NOT_FOUND")


def invalid_request(message: str = INVALID_REQUEST_MESSAGE) -> AirtableError:
    """422 INVALID_REQUEST_UNKNOWN: a request Airtable understands but rejects."""
    return AirtableError(422, "INVALID_REQUEST_UNKNOWN", message)


def invalid_body() -> AirtableError:
    """400: the body is not JSON."""
    return AirtableError(400, "INVALID_REQUEST_BODY", "Could not parse request body")


def missing_field(name: str) -> AirtableError:
    """422: a required key (``fields``, ``records``, ``id``) is missing from the body."""
    return AirtableError(
        422,
        "INVALID_REQUEST_MISSING_FIELDS",
        f'Could not find field "{name}" in the request body',
    )


def too_many_records(count: int, verb: str = "created") -> AirtableError:
    """422 INVALID_RECORDS: more than 10 records (or none) in one write."""
    return AirtableError(
        422,
        "INVALID_RECORDS",
        f"A maximum of 10 records can be {verb} per request but you have provided {count}.",
    )


def unknown_field(name: str) -> AirtableError:
    """422 UNKNOWN_FIELD_NAME: a field name or id the table does not have."""
    return AirtableError(422, "UNKNOWN_FIELD_NAME", f'Unknown field name: "{name}"')


def invalid_value(field_name: str, detail: str | None = None) -> AirtableError:
    """422 INVALID_VALUE_FOR_COLUMN: a value of the wrong type or shape for its field."""
    message = f'Field "{field_name}" cannot accept the provided value'
    if detail:
        message += f": {detail}"
    return AirtableError(422, "INVALID_VALUE_FOR_COLUMN", message)


def invalid_select_option(value: str) -> AirtableError:
    """422 INVALID_MULTIPLE_CHOICE_OPTIONS: a select option the field lacks, without typecast."""
    return AirtableError(
        422,
        "INVALID_MULTIPLE_CHOICE_OPTIONS",
        f'Insufficient permissions to create new select option ""{value}""',
    )


def row_does_not_exist(record_id: str) -> AirtableError:
    """422 ROW_DOES_NOT_EXIST: a linked or batch-addressed record id that is not in the table."""
    return AirtableError(
        422, "ROW_DOES_NOT_EXIST", f"Record ID {record_id} does not exist in this table"
    )


def invalid_formula(detail: str) -> AirtableError:
    """422 INVALID_FILTER_BY_FORMULA: a formula that does not parse or names unknown fields."""
    return AirtableError(
        422,
        "INVALID_FILTER_BY_FORMULA",
        f"The formula for filtering records is invalid: {detail}",
    )


def request_too_large(limit: int) -> AirtableError:
    """413: a body over the server's size limit."""
    return AirtableError(
        413, "REQUEST_TOO_LARGE", f"The request body exceeds the limit of {limit} bytes"
    )


def url_too_long(limit: int) -> AirtableError:
    """414: a URL over Airtable's length limit (Airtable does not document the body)."""
    return AirtableError(
        414,
        "URL_TOO_LONG",
        f"Request URLs are limited to {limit} characters; list records with POST"
        " .../listRecords instead",
    )


def too_many_webhooks(limit: int) -> AirtableError:
    """422 TOO_MANY_WEBHOOKS_IN_BASE: the base has its 10 webhooks already
    (https://airtable.com/developers/web/api/create-a-webhook)."""
    return AirtableError(
        422,
        "TOO_MANY_WEBHOOKS_IN_BASE",
        f"A base can have at most {limit} webhooks; delete one before creating another.",
    )


def duplicate_table_name(name: str) -> AirtableError:
    """422 DUPLICATE_TABLE_NAME: a new table named like one the base has (ignoring case)."""
    return AirtableError(
        422, "DUPLICATE_TABLE_NAME", f'A table named "{name}" already exists in this base'
    )


def duplicate_field_name(name: str) -> AirtableError:
    """422 DUPLICATE_OR_EMPTY_FIELD_NAME: a field named like another of its table (ignoring
    case), or not named at all."""
    message = (
        f'A field named "{name}" already exists in this table'
        if name
        else "A field needs a non-empty name"
    )
    return AirtableError(422, "DUPLICATE_OR_EMPTY_FIELD_NAME", message)
