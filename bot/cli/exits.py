"""What every sub-command shares: its exit codes, and the lines it ends on when it cannot work.

``0`` done (or everything checked holds), ``1`` something failed (Airtable or GitHub
refusing or failing, a check or a rule that does not hold), ``2`` the command cannot run as
configured or called (a port out of range too; one that cannot be listened on is a
failure). A command that needs a base and has none says so in :data:`NO_BASE`;
one whose base cannot be read says so in one line worded by :mod:`bot.clients.errors`.
Heavy imports stay inside the functions, so that ``--help`` loads no HTTP client.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from bot.config import Config

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

NO_BASE_PROBLEM = "AIRTABLE_BASE_ID is not set (and no [bases] in the configuration)"
NO_BASE = f"error: {NO_BASE_PROBLEM}"
FAILED = "error: {error}"
BAD_PORT = "error: --port {port}: a TCP port is a number from 0 to 65535"
CANNOT_LISTEN = "error: cannot listen on {host}:{port}: {reason}"


def has_base(config: Config) -> bool:
    """Whether the configuration names a base: ``AIRTABLE_BASE_ID`` or ``[bases]``."""
    return bool(config.airtable_base_id or config.bases_by_owner)


def refuse_without_base(config: Config) -> bool:
    """Print :data:`NO_BASE` and return True when the configuration names no base."""
    if has_base(config):
        return False
    print(NO_BASE, file=sys.stderr)
    return True


def refuse_bad_port(port: int) -> bool:
    """Print :data:`BAD_PORT` and return True when ``port`` is no TCP port."""
    if 0 <= port <= 65535:
        return False
    print(BAD_PORT.format(port=port), file=sys.stderr)
    return True


def print_failure(error: object) -> int:
    """Print ``error: ...`` on stderr; returns :data:`EXIT_FAILED`."""
    print(FAILED.format(error=error), file=sys.stderr)
    return EXIT_FAILED


def reading_base(config: Config, work: Callable[[], Coroutine[Any, Any, T]]) -> T | None:
    """Run ``work`` (which reads the base) to its end; when Airtable fails, print the one
    line that says how (:func:`bot.clients.errors.airtable_problem_for`) and return None."""
    from bot.clients.airtable import AirtableError
    from bot.clients.errors import airtable_problem_for

    try:
        return asyncio.run(work())
    except AirtableError as exc:
        print_failure(airtable_problem_for(config, exc))
        return None
