"""The command line's log: one handler on stderr, one line per record, the delivery it is about.

The level comes from ``-v``/``--debug``/``LOG_LEVEL`` (INFO by default); the shape from
``LOG_FORMAT``: ``text`` (the default) or ``json``. An exception is told in one line at the
end of its record's message; ``--debug`` (or ``LOG_LEVEL=DEBUG``) restores the tracebacks.
A record logged while a delivery is being handled names it: the handler carries the
:class:`~bot.intake.delivery_context.DeliveryIdFilter`. Operator commands print their own
results, so their routine log lines show only with ``-v``.

- ``text``: ``2026-01-01 12:00:00,000 INFO bot.sync.reconcile [delivery 1234-abcd]: ...``
- ``json``: one JSON object per line (python-json-logger), with ``time`` (ISO 8601, UTC),
  ``level``, ``logger`` and ``message``, and ``delivery_id``, ``event`` and ``issue`` when
  the record is about a delivery; with ``--debug``, ``exc_info`` holds the traceback.

A ``LOG_LEVEL`` or ``LOG_FORMAT`` that is none of these is refused in one line, exit 2.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from bot.cli.exits import EXIT_USAGE
from bot.intake.delivery_context import NO_DELIVERY, DeliveryIdFilter

FORMAT = "%(asctime)s %(levelname)s %(name)s%(delivery)s: %(message)s"
DELIVERY = " [delivery {id}]"

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")
BAD_LEVEL = "error: LOG_LEVEL={value}: expected one of " + ", ".join(LEVELS)
BAD_FORMAT = "error: LOG_FORMAT={value}: expected one of " + ", ".join(FORMATS)

# The JSON object's keys, from the record's attributes.
JSON_FIELDS = {"asctime": "time", "levelname": "level", "name": "logger", "message": "message"}
# Attributes about the delivery a record is about, kept in the JSON object when present.
DELIVERY_FIELDS = ("delivery_id", "event", "issue")


def _one_line(record: logging.LogRecord) -> logging.LogRecord:
    """A copy of the record whose exception (if any) is told at the end of its message."""
    record = copy.copy(record)
    if record.exc_info and record.exc_info[1] is not None:
        from bot.clients.errors import describe

        record.msg = f"{record.getMessage()} ({describe(record.exc_info[1])})"
        record.args = ()
        record.exc_info = None
        record.exc_text = None
    record.stack_info = None
    return record


class LineFormatter(logging.Formatter):
    """A record on one line (unless ``tracebacks``), with the delivery it is about."""

    def __init__(self, *, tracebacks: bool = False) -> None:
        super().__init__(FORMAT)
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        """The record as a line (and its traceback, when those are wanted)."""
        record = copy.copy(record) if self.tracebacks else _one_line(record)
        delivery_id = getattr(record, "delivery_id", None)
        named = delivery_id not in (None, "", NO_DELIVERY)
        record.delivery = DELIVERY.format(id=delivery_id) if named else ""
        return super().format(record)


class JsonLineFormatter(JsonFormatter):
    """A record as one JSON object on one line: time, level, logger, message, and the
    delivery's id, event and issue when it is about one; the traceback (``exc_info``) only
    with ``tracebacks``."""

    def __init__(self, *, tracebacks: bool = False) -> None:
        super().__init__(
            list(JSON_FIELDS),
            rename_fields={key: name for key, name in JSON_FIELDS.items() if key != name},
            json_ensure_ascii=False,
        )
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        return super().format(record if self.tracebacks else _one_line(record))

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The record's time in ISO 8601, UTC, to the millisecond."""
        moment = datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        """The fixed fields, then only the delivery's (other attributes stay out)."""
        super().add_fields(log_data, record, message_dict)
        for key in list(log_data):
            if key not in JSON_FIELDS.values() and key not in message_dict and key != "exc_info":
                del log_data[key]
        for key in DELIVERY_FIELDS:
            value = getattr(record, key, None)
            if value not in (None, "", NO_DELIVERY):
                log_data[key] = value


def debugging(args: argparse.Namespace) -> bool:
    """Whether tracebacks are wanted: ``--debug``, ``-v`` or ``LOG_LEVEL=DEBUG``."""
    level = os.environ.get("LOG_LEVEL", "").strip().upper()
    return bool(getattr(args, "debug", False) or getattr(args, "verbose", False)) or (
        level == "DEBUG"
    )


def log_settings(environ: Mapping[str, str]) -> tuple[int, str] | str:
    """The level and format ``LOG_LEVEL`` and ``LOG_FORMAT`` ask for (INFO and text when
    unset), or the one line refusing a value that is neither."""
    level_name = environ.get("LOG_LEVEL", "").strip()
    if level_name and level_name.upper() not in LEVELS:
        return BAD_LEVEL.format(value=level_name)
    shape = environ.get("LOG_FORMAT", "").strip()
    if shape and shape.lower() not in FORMATS:
        return BAD_FORMAT.format(value=shape)
    level = getattr(logging, level_name.upper()) if level_name else logging.INFO
    return level, (shape.lower() or "text")


def setup_logging(debug: bool) -> None:
    """One handler on stderr: the level from ``LOG_LEVEL`` (DEBUG when ``debug``), the shape
    from ``LOG_FORMAT``, one line per record unless debugging, and the delivery on the
    records that are about one. A bad ``LOG_LEVEL`` or ``LOG_FORMAT`` is one line on stderr
    and exit 2 (:class:`SystemExit`)."""
    settings = log_settings(os.environ)
    if isinstance(settings, str):
        print(settings, file=sys.stderr)
        raise SystemExit(EXIT_USAGE)
    level, shape = settings
    handler = logging.StreamHandler()
    handler.addFilter(DeliveryIdFilter())
    if shape == "json":
        handler.setFormatter(JsonLineFormatter(tracebacks=debug))
        logging.captureWarnings(True)  # a warning is a line of JSON too
    else:
        handler.setFormatter(LineFormatter(tracebacks=debug))
    logging.basicConfig(level=logging.DEBUG if debug else level, handlers=[handler], force=True)


def quiet(args: argparse.Namespace) -> None:
    """Operator commands print their own results; routine log lines only with ``-v``."""
    if not getattr(args, "verbose", False):
        logging.getLogger().setLevel(logging.WARNING)
