"""The core is pure: importing any ``bot.core`` module, alone, loads no client or I/O library.

Each module is imported in a fresh interpreter, so what another test imported cannot hide
what the module pulls in. Modules are discovered, so a new one is covered without a change.
"""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import bot.core

FORBIDDEN = ("aiohttp", "pyairtable", "gidgethub", "requests", "sqlite3", "asyncio")
ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(name for name in sys.argv[2:] if name in sys.modules)))
"""

CORE_MODULES = sorted(
    info.name for info in pkgutil.walk_packages(bot.core.__path__, prefix="bot.core.")
)


# Under ``make test`` coverage starts itself in every subprocess (and loads sqlite3 for its
# data file); the probe runs without it, so only the module's own imports count.
PROBE_ENV = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS")}


def loaded_by(module: str) -> list[str]:
    """The forbidden modules that importing ``module`` in a fresh interpreter loads."""
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, module, *FORBIDDEN],
        cwd=ROOT,
        env=PROBE_ENV,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded: list[str] = json.loads(probe.stdout)
    return loaded


def test_the_core_modules_are_discovered() -> None:
    assert {"bot.core.progress", "bot.core.audit_rules", "bot.core.renewal_rules"} <= set(
        CORE_MODULES
    )


@pytest.mark.parametrize("module", ["bot.core", *CORE_MODULES])
def test_importing_a_core_module_loads_no_io_library(module: str) -> None:
    assert loaded_by(module) == []


def test_the_probe_sees_a_forbidden_import() -> None:
    # The probe itself must be able to fail: a module known to import asyncio.
    assert "asyncio" in loaded_by("bot.sync.renewal")
