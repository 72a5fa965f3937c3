"""The command line's log: one handler on stderr, one line per record, the delivery it is about.

The level comes from ``-v``/``--debug``/``LOG_LEVEL`` (INFO by default). An exception is
told in one line at the end of its record's message; ``--debug`` (or ``LOG_LEVEL=DEBUG``)
restores the tracebacks. A record logged while a delivery is being handled names it
(``... bot.sync.reconcile [delivery 1234-abcd]: ...``): the handler carries the
:class:`~bot.intake.delivery_context.DeliveryIdFilter`. Operator commands print their own
results, so their routine log lines show only with ``-v``.
"""

from __future__ import annotations

import argparse
import copy
import logging
import os

from bot.intake.delivery_context import NO_DELIVERY, DeliveryIdFilter

FORMAT = "%(asctime)s %(levelname)s %(name)s%(delivery)s: %(message)s"
DELIVERY = " [delivery {id}]"


class LineFormatter(logging.Formatter):
    """A record on one line (unless ``tracebacks``), with the delivery it is about."""

    def __init__(self, *, tracebacks: bool = False) -> None:
        super().__init__(FORMAT)
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        """The record as a line (and its traceback, when those are wanted)."""
        record = copy.copy(record)
        delivery_id = getattr(record, "delivery_id", None)
        named = delivery_id not in (None, "", NO_DELIVERY)
        record.delivery = DELIVERY.format(id=delivery_id) if named else ""
        if not self.tracebacks:
            if record.exc_info and record.exc_info[1] is not None:
                from bot.clients.errors import describe

                record.msg = f"{record.getMessage()} ({describe(record.exc_info[1])})"
                record.args = ()
                record.exc_info = None
                record.exc_text = None
            record.stack_info = None
        return super().format(record)


def debugging(args: argparse.Namespace) -> bool:
    """Whether tracebacks are wanted: ``--debug``, ``-v`` or ``LOG_LEVEL=DEBUG``."""
    level = os.environ.get("LOG_LEVEL", "").strip().upper()
    return bool(getattr(args, "debug", False) or getattr(args, "verbose", False)) or (
        level == "DEBUG"
    )


def setup_logging(debug: bool) -> None:
    """One handler on stderr: the level from ``LOG_LEVEL`` (DEBUG when ``debug``), one line
    per record unless debugging, and the delivery id on the records that have one."""
    level_name = os.environ.get("LOG_LEVEL", "").strip().upper()
    level = logging.DEBUG if debug else getattr(logging, level_name, logging.INFO)
    handler = logging.StreamHandler()
    handler.addFilter(DeliveryIdFilter())
    handler.setFormatter(LineFormatter(tracebacks=debug))
    logging.basicConfig(level=level, handlers=[handler], force=True)


def quiet(args: argparse.Namespace) -> None:
    """Operator commands print their own results; routine log lines only with ``-v``."""
    if not getattr(args, "verbose", False):
        logging.getLogger().setLevel(logging.WARNING)
