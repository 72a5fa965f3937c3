"""``LOG_FORMAT`` and ``LOG_LEVEL``: the log a log collector reads (one JSON object per line,
each line about a delivery naming it, its event and its issue), the level honoured, and a
value that is none of the known ones refused in one line (exit 2).

``serve`` runs for real on the embedded Airtable and the GitHub stand-in, and gets a signed
delivery as GitHub sends it.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.airtable_local.thread import LocalAirtable
from bot.cli.logging_setup import JsonLineFormatter, LineFormatter
from bot.intake.delivery_context import DeliveryIdFilter, handling
from tests.constants import DELIVERABLES, OWNER, REPO
from tests.operator_helpers import SECRET, operator_env, records, run_bot
from tests.processes import BotProcess, background, free_port, wait_until
from tests.standins.github import GitHubStandIn
from tests.webhooks import issues_event, post_delivery_sync

ISSUE = f"{OWNER}/{REPO}#1"


def deliver_closed_issue(
    bot: BotProcess, github: GitHubStandIn, local_airtable: LocalAirtable, port: int, guid: str
) -> None:
    """Close issue 1 on the stand-in, tell the bot with a signed delivery, and wait until its
    deliverable is Done in Airtable."""
    base = f"http://127.0.0.1:{port}"
    bot.wait_http_ok(f"{base}/readyz")
    issue = github.close_issue(OWNER, REPO, 1)
    response = post_delivery_sync(
        f"{base}/webhook", "issues", issues_event("closed", issue), secret=SECRET, delivery_id=guid
    )
    assert response.status_code == 202, response.text

    def done() -> bool:
        return any(
            r["fields"].get("Status") == "Done"
            and str(r["fields"].get("GitHub Issue", "")).endswith("/issues/1")
            for r in records(local_airtable, DELIVERABLES)
        )

    wait_until(done, timeout=20, what="deliverable 1 Done", detail=bot.output)


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of the log, parsed; fails on a line that is not a JSON object."""
    parsed = []
    for line in text.splitlines():
        value = json.loads(line)
        assert isinstance(value, dict), line
        parsed.append(value)
    return parsed


def test_json_log_lines_name_the_delivery_event_and_issue(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    port = free_port()
    env = operator_env(tmp_path, local_airtable, github, LOG_FORMAT="json", PORT=str(port))
    with background("serve", env=env, folder=tmp_path) as bot:
        deliver_closed_issue(bot, github, local_airtable, port, "json-log-1")
        bot.wait_for_log('"delivery_id": "json-log-1"')
        bot.stop()
        log = bot.stderr()
    lines = json_lines(log)
    assert lines, log
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line), line
        assert line["time"].endswith("Z") and "T" in line["time"], line
        assert line["level"] in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}, line
    about = [line for line in lines if line.get("delivery_id") == "json-log-1"]
    assert about, log
    for line in about:
        assert line["event"] == "issues" and line["issue"] == ISSUE, line
    assert not [line for line in lines if line.get("delivery_id") == "-"]  # no placeholder


@pytest.mark.parametrize(
    ("level", "shown"),
    [
        pytest.param(None, {"INFO"}, id="default-INFO"),
        pytest.param("WARNING", set(), id="WARNING-hides-INFO"),
        pytest.param("warning", set(), id="case-insensitive"),
    ],
)
def test_log_level_is_honoured(
    tmp_path: Path,
    local_airtable: LocalAirtable,
    github: GitHubStandIn,
    level: str | None,
    shown: set[str],
) -> None:
    port = free_port()
    extra = {"LOG_FORMAT": "json", "PORT": str(port)}
    if level is not None:
        extra["LOG_LEVEL"] = level
    env = operator_env(tmp_path, local_airtable, github, **extra)
    with background("serve", env=env, folder=tmp_path) as bot:
        deliver_closed_issue(bot, github, local_airtable, port, "level-1")
        bot.stop()
        log = bot.stderr()
    levels = {line["level"] for line in json_lines(log)}
    assert shown <= levels, log
    if level is not None:
        assert levels <= {"WARNING", "ERROR", "CRITICAL"}, log


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        pytest.param(
            "LOG_LEVEL",
            "verbose",
            "error: LOG_LEVEL=verbose: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
            id="level",
        ),
        pytest.param(
            "LOG_FORMAT", "xml", "error: LOG_FORMAT=xml: expected one of text, json", id="format"
        ),
    ],
)
def test_an_unknown_log_setting_is_one_line_and_exit_2(
    tmp_path: Path,
    local_airtable: LocalAirtable,
    github: GitHubStandIn,
    variable: str,
    value: str,
    expected: str,
) -> None:
    env = operator_env(tmp_path, local_airtable, github, **{variable: value})
    result = run_bot("serve", "--port", str(free_port()), env=env, cwd=tmp_path)
    assert result.returncode == 2, result
    assert result.stderr.strip() == expected, result.stderr
    assert result.stdout == ""  # refused before anything started


def record_with_exception() -> logging.LogRecord:
    """An ERROR record carrying a ``ZeroDivisionError``, as ``log.exception`` makes it."""
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        exc_info = sys.exc_info()
    return logging.LogRecord("bot.x", logging.ERROR, __file__, 1, "failed %s", ("it",), exc_info)


@pytest.mark.parametrize(
    "formatter",
    [pytest.param(JsonLineFormatter, id="json"), pytest.param(LineFormatter, id="text")],
)
def test_an_exception_is_one_line_unless_debugging(formatter: Callable[..., Any]) -> None:
    quiet = formatter().format(record_with_exception())
    loud = formatter(tracebacks=True).format(record_with_exception())
    assert "\n" not in quiet and "ZeroDivisionError: division by zero" in quiet
    assert "Traceback" not in quiet
    assert "Traceback" in loud
    if formatter is JsonLineFormatter:
        assert json.loads(quiet)["message"].startswith("failed it (ZeroDivisionError")
        assert "Traceback" in json.loads(loud)["exc_info"]


def test_a_delivery_given_with_extra_keeps_its_own_id_and_no_other_event() -> None:
    record = logging.LogRecord("bot.x", logging.INFO, __file__, 1, "m", None, None)
    record.delivery_id = "from-extra"
    with handling("d-1", event="issues", issue=ISSUE):
        DeliveryIdFilter().filter(record)
        inside = logging.LogRecord("bot.x", logging.INFO, __file__, 1, "m", None, None)
        DeliveryIdFilter().filter(inside)
    line = json.loads(JsonLineFormatter().format(record))
    assert line["delivery_id"] == "from-extra" and "event" not in line and "issue" not in line
    assert json.loads(JsonLineFormatter().format(inside)) | {"time": "-"} == {
        "time": "-",
        "level": "INFO",
        "logger": "bot.x",
        "message": "m",
        "delivery_id": "d-1",
        "event": "issues",
        "issue": ISSUE,
    }
