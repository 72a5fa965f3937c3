"""Commands on one data folder share their base's request budget: two ``report``s at once
against the embedded Airtable with its 5 requests/s on meet no 429, and the same two on
separate data folders (two budgets) do — so the test shows what sharing buys."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.airtable_local.thread import LocalAirtable
from tests.constants import DELIVERABLES, PROJECTS
from tests.operator_helpers import BOT, operator_env

# Pages enough that each report reads for a couple of seconds at 4.5 requests/s.
EXTRA_DELIVERABLES = 600
CONFIG = """
[airtable]
requests_per_second = 4.5
penalty_seconds = 1
"""


@pytest.fixture
def busy_base() -> Iterator[LocalAirtable]:
    """The demo base with 600 more deliverables on its first Project, Airtable's limit on
    (a short penalty, so that the run on two budgets stays quick)."""
    with LocalAirtable(seed="demo", requests_per_second=5, penalty_seconds=1.0) as at:
        base = str(at.base_id)
        project = at.store.all_records(base, PROJECTS)[0]["id"]
        for start in range(0, EXTRA_DELIVERABLES, 10):
            rows = [
                {"Name": f"Extra {n}", "Status": "In progress", "Project": [project]}
                for n in range(start, start + 10)
            ]
            at.store.create_records(base, DELIVERABLES, rows)
        yield at


def run_reports_together(at: LocalAirtable, tmp_path: Path, folders: list[str]) -> list[str]:
    """Start one ``report`` per data folder at once; wait for all; their outputs (each
    must succeed)."""
    (tmp_path / "bot.toml").write_text(CONFIG)
    processes = []
    for folder in folders:
        env = operator_env(tmp_path, at)
        env.update(
            DELIVERABLES_BOT_DATA=str(tmp_path / folder),
            DELIVERABLES_BOT_CONFIG=str(tmp_path / "bot.toml"),
        )
        processes.append(
            subprocess.Popen(
                [*BOT, "report"],
                env=env,
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=90)
        assert process.returncode == 0, err
        outputs.append(out)
    return outputs


def test_two_reports_on_one_data_folder_never_exceed_the_base_limit(
    busy_base: LocalAirtable, tmp_path: Path
) -> None:
    busy_base.reset_stats()
    began = time.monotonic()
    first, second = run_reports_together(busy_base, tmp_path, ["data", "data"])
    elapsed = time.monotonic() - began
    stats = busy_base.stats()
    assert stats.rate_limited == 0, stats
    assert first == second and "Extra 599" in first
    # Every request went through one budget: together no faster than 4.5 per second.
    assert elapsed >= (stats.requests - 1) / 4.5 - 0.5, (elapsed, stats)


def test_two_reports_on_separate_data_folders_do_meet_429s(
    busy_base: LocalAirtable, tmp_path: Path
) -> None:
    busy_base.reset_stats()
    first, second = run_reports_together(busy_base, tmp_path, ["one", "two"])
    assert busy_base.stats().rate_limited > 0  # two budgets of 4.5/s: 9 requests a second
    assert first == second and "Extra 599" in first
