"""The command line as a user meets it: ``python -m bot ...`` run as a real subprocess.

Every test runs the installed program with a controlled environment: a temporary
``DELIVERABLES_BOT_DATA``, none of the caller's ``GITHUB_*``/``AIRTABLE_*`` variables, and
only what the test sets. Assertions are on what a user sees: exit codes, what is printed,
the HTTP answers of the running server, and the Airtable records read back through an
unmodified pyairtable client. Every wait is bounded, and every process started here is
stopped (SIGTERM, then SIGKILL) when its test ends.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyairtable
import pytest
import requests
from pyairtable.formulas import match

from bot import __version__
from bot.airtable_local.thread import LocalAirtable
from bot.config import DEMO_BASE_ID
from bot.intake.journal import Journal
from tests.constants import DELIVERABLES, DEMO_PROJECT, OWNER, PROJECTS, REPO
from tests.processes import (
    BOT,
    STOP_TIMEOUT,
    WORK_TIMEOUT,
    background,
    free_port,
    wait_until,
)
from tests.standins.github import GitHubStandIn
from tests.webhooks import issues_event, make_issue, post_delivery_sync

CONSOLE_SCRIPT = Path(sys.executable).with_name("deliverables-bot")
SECRET = "cli-test-webhook-secret"

RUN_TIMEOUT = 20.0  # a command that should exit at once

# What the sub-commands of the README's Command line are called.
COMMANDS = ("serve", "airtable-local", "deliveries", "demo-deliver")


# -- running the program ------------------------------------------------------------------


def bot_env(data: Path, **extra: str) -> dict[str, str]:
    """The inherited environment without the bot's variables, plus a data folder and ``extra``.

    Nothing of the caller's GitHub or Airtable configuration (or secrets) reaches the bot.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GITHUB_", "AIRTABLE_", "DELIVERABLES_BOT_"))
    }
    env.update(DELIVERABLES_BOT_DATA=str(data), PYTHONUNBUFFERED="1", COLUMNS="100")
    env.update(extra)
    return env


def run(
    *args: str,
    env: dict[str, str],
    cwd: Path,
    program: Sequence[str] = BOT,
    timeout: float = RUN_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run a command to its end (killed after ``timeout``) and return what it printed."""
    return subprocess.run(
        [*program, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def one_line(text: str) -> str:
    """``text`` as a single line (fails when it has several or none)."""
    lines = text.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got {len(lines)}: {text!r}"
    return lines[0]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """The bot's data folder (created by the bot when it needs it)."""
    return tmp_path / "data"


# -- 1. serve refuses to start without what it needs ----------------------------------------


def test_serve_without_webhook_secret_exits_2_naming_it(tmp_path: Path, data: Path) -> None:
    # With no App at all serve runs the setup site instead (tests/cli/test_register.py).
    from tests.standins.github import app_private_key_pem

    env = bot_env(data, GITHUB_APP_ID="12345", GITHUB_PRIVATE_KEY=app_private_key_pem())
    result = run("serve", "--port", str(free_port()), env=env, cwd=tmp_path)

    assert result.returncode == 2, result
    assert "GITHUB_WEBHOOK_SECRET" in one_line(result.stderr)
    assert "--demo" in result.stderr  # and says how to try the bot without one
    assert result.stdout == ""
    assert not (data / "journal.sqlite3").exists()


def test_serve_with_token_but_no_base_exits_2_naming_it(tmp_path: Path, data: Path) -> None:
    env = bot_env(data, GITHUB_WEBHOOK_SECRET=SECRET, AIRTABLE_TOKEN="patSomething")

    result = run("serve", "--port", str(free_port()), env=env, cwd=tmp_path)

    assert result.returncode == 2, result
    assert "AIRTABLE_BASE_ID" in one_line(result.stderr)


@pytest.mark.parametrize(
    ("toml", "env", "problems"),
    [
        pytest.param(
            "[nonsense]\nkey = 1\n",
            {},
            ["unknown section [nonsense]"],
            id="unknown-section",
        ),
        pytest.param(
            '[tables]\nprojets = "Projets"\n[worker]\nconcurrency = "many"\n',
            {},
            ["tables: unknown setting 'projets'", "worker.concurrency: expected a number"],
            id="two-problems",
        ),
        pytest.param("[tables\n", {}, ["is not valid TOML"], id="bad-toml"),
        pytest.param(
            None,
            {"GITHUB_APP_ID": "my-app", "GITHUB_PRIVATE_KEY": "pem", "AIRTABLE_BASE_ID": "base1"},
            [
                "GITHUB_APP_ID: expected the App's numeric id",
                "GITHUB_PRIVATE_KEY: not a PEM private key: expected",
                "AIRTABLE_BASE_ID",
            ],
            id="bad-environment",
        ),
    ],
)
def test_config_problems_exit_2_and_are_listed(
    tmp_path: Path, data: Path, toml: str | None, env: dict[str, str], problems: list[str]
) -> None:
    extra = dict(env, GITHUB_WEBHOOK_SECRET=SECRET)
    if toml is not None:
        config = tmp_path / "bot.toml"
        config.write_text(toml, encoding="utf-8")
        extra["DELIVERABLES_BOT_CONFIG"] = str(config)

    # --demo: were the problems missed, serve would start (and the run time out).
    result = run(
        "serve", "--demo", "--port", str(free_port()), env=bot_env(data, **extra), cwd=tmp_path
    )

    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "configuration problems:"
    assert len(lines) == 1 + len(problems), result.stderr
    for line, problem in zip(lines[1:], problems, strict=True):
        assert line.startswith("  - ")
        assert problem in line
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_missing_config_file_is_a_problem(tmp_path: Path, data: Path) -> None:
    env = bot_env(data, DELIVERABLES_BOT_CONFIG=str(tmp_path / "missing.toml"))

    result = run("deliveries", "list", env=env, cwd=tmp_path)

    assert result.returncode == 2, result
    assert "DELIVERABLES_BOT_CONFIG: cannot read" in result.stderr
    assert "missing.toml" in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(("serve", "--demo"), id="serve"),
        pytest.param(("airtable-local",), id="airtable-local"),
    ],
)
def test_port_in_use_is_a_one_line_error(
    tmp_path: Path, data: Path, command: tuple[str, ...]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = run(*command, "--port", str(port), env=bot_env(data), cwd=tmp_path)

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert str(port) in one_line(result.stderr)
    assert "is running" not in result.stdout


# -- 2. the demo: serve --demo, then demo-deliver --------------------------------------------


BANNER_AIRTABLE = re.compile(r"Airtable\s+(\S+)\s+\(token: (\S+); base (\w+)\)")


def test_demo_closes_the_three_issues_and_completes_the_project(tmp_path: Path, data: Path) -> None:
    port = free_port()
    env = bot_env(data)
    with background("serve", "--demo", "--port", str(port), env=env, folder=tmp_path) as bot:
        banner = bot.wait_for_stdout("Ctrl-C stops.")
        base = f"http://127.0.0.1:{port}"
        webhook = f"{base}/webhook"
        assert f"POST {webhook}" in banner
        assert f"demo-deliver closed 1 --url {webhook}" in banner
        found = BANNER_AIRTABLE.search(banner)
        assert found, banner
        airtable_url, token, base_id = found.groups()
        assert base_id == DEMO_BASE_ID
        assert airtable_url.startswith("http://127.0.0.1:")

        assert bot.wait_http_ok(f"{base}/healthz").status_code == 200

        # Signed with another data folder's demo secret: refused, and the exit code says so.
        stranger = run(
            "demo-deliver", "closed", "1", "--url", webhook,
            env=bot_env(tmp_path / "other-data"), cwd=tmp_path,
        )  # fmt: skip
        assert stranger.returncode == 1, stranger
        assert stranger.stdout.startswith("401 ")

        for number in (1, 2, 3):
            sent = run(
                "demo-deliver", "closed", str(number), "--url", webhook, env=env, cwd=tmp_path
            )
            assert sent.returncode == 0, sent
            assert one_line(sent.stdout).startswith("202 ")
            assert '"accepted"' in sent.stdout

        # The comment is decided once all three deliverables are Done (Airtable at 5/s).
        log = bot.wait_for_log("would comment on example-org/infrastructure#3")
        comment = log[log.index("would comment on example-org/infrastructure#3") :]
        assert f"**{DEMO_PROJECT}** is complete" in comment
        assert "all 3 of its deliverables are done" in comment

        # The journal of the running bot, as the operator's command shows it: all done.
        def journaled() -> list[dict[str, Any]] | None:
            listing = run("deliveries", "list", "--json", env=env, cwd=tmp_path)
            assert listing.returncode == 0, listing
            rows: list[dict[str, Any]] = json.loads(listing.stdout)
            return rows if {row["state"] for row in rows} == {"done"} else None

        rows = wait_until(journaled, timeout=WORK_TIMEOUT, what="3 done", detail=bot.output)
        assert sorted(row["issue"] for row in rows) == [f"{OWNER}/{REPO}#{n}" for n in (1, 2, 3)]

        # Read back through an unmodified pyairtable client, as a user would. The demo base
        # allows 5 requests in any rolling second and answers a 6th with 429 and a 30 s
        # penalty (bot/airtable_local/ratelimit.py): let the bot's last second of calls pass.
        time.sleep(1.1)
        api = pyairtable.Api(token, endpoint_url=airtable_url)
        deliverables = api.table(DEMO_BASE_ID, DELIVERABLES).all()
        statuses = {r["fields"]["Name"]: r["fields"].get("Status") for r in deliverables}
        assert statuses == {
            "Deploy the hub": "Done",
            "Configure login": "Done",
            "Load workshop materials": "Done",
        }
        project = api.table(DEMO_BASE_ID, PROJECTS).first(formula=match({"Name": DEMO_PROJECT}))
        assert project is not None
        assert project["fields"]["Status"] == "Complete"

        # "Ctrl-C stops."
        assert bot.signal(signal.SIGINT) == 0
        assert "Traceback" not in bot.stderr()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        pytest.param(("closed", "4"), 2, "the demo has issues [1, 2, 3], not 4", id="no-issue-4"),
        pytest.param(("merged", "1"), 2, "invalid choice: 'merged'", id="unknown-action"),
        pytest.param(("closed", "1"), 1, "could not reach", id="nobody-listening"),
    ],
)
def test_demo_deliver_errors(
    tmp_path: Path, data: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    url = f"http://127.0.0.1:{free_port()}/webhook"

    result = run("demo-deliver", *args, "--url", url, env=bot_env(data), cwd=tmp_path)

    assert result.returncode == code, result
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_deliver_sends_every_action_the_bot_handles(tmp_path: Path, data: Path) -> None:
    port = free_port()
    env = bot_env(data)
    webhook = f"http://127.0.0.1:{port}/webhook"
    with background("serve", "--demo", "--port", str(port), env=env, folder=tmp_path) as bot:
        bot.wait_for_stdout("Ctrl-C stops.")
        for action in ("assigned", "unassigned", "closed", "reopened"):
            sent = run("demo-deliver", action, "2", "--url", webhook, env=env, cwd=tmp_path)
            assert sent.returncode == 0, sent
            status, answer = one_line(sent.stdout).split(" ", 1)
            assert status == "202", sent.stdout
            delivery_id = json.loads(answer)["delivery"]
            bot.wait_for_log(f"delivery {delivery_id}: issues.{action} {OWNER}/{REPO}#2 → ")
        assert "Traceback" not in bot.stderr()


def test_the_log_lines_of_a_delivery_name_it(tmp_path: Path, data: Path) -> None:
    delivery_id = "log-5e1f-delivery"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = bot_env(data, GITHUB_WEBHOOK_SECRET=SECRET)
    with background("serve", "--demo", "--port", str(port), env=env, folder=tmp_path) as bot:
        bot.wait_for_stdout("Ctrl-C stops.")
        bot.wait_http_ok(f"{base}/healthz")
        issue = make_issue(OWNER, REPO, 1, title="Deploy the hub", assignees=["alice"])
        response = post_delivery_sync(
            f"{base}/webhook",
            "issues",
            issues_event("closed", issue),
            secret=SECRET,
            delivery_id=delivery_id,
        )
        assert response.status_code == 202, response.text
        log = bot.wait_for_log(f"issues.closed {OWNER}/{REPO}#1 → updated")

    lines = log.splitlines()
    handling = [line for line in lines if f"{OWNER}/{REPO}#1" in line]
    assert len(handling) >= 2, log  # the deliverable's update, and the handler's outcome
    for line in handling:
        assert f"[delivery {delivery_id}]: " in line, line
    starting = [line for line in lines if "no GitHub App credentials" in line]
    assert starting, log
    assert not [line for line in starting if "[delivery" in line], log


# -- 3. crash safety: a delivery answered 202 survives SIGKILL ------------------------------


def deliverable(at: LocalAirtable, number: int) -> dict[str, Any]:
    """The fields of the deliverable linked to demo issue ``number``."""
    url = f"https://github.com/{OWNER}/{REPO}/issues/{number}"
    records = at.table(DELIVERABLES).all(formula=match({"GitHub Issue": url}))
    assert len(records) == 1, records
    return dict(records[0]["fields"])


def journal_state(path: Path, delivery_id: str) -> str | None:
    """The state of one delivery in the journal at ``path`` (None when it is not there)."""
    with Journal(path) as journal:
        states = {d.id: d.state for d in journal.list()}
    return states.get(delivery_id)


@pytest.mark.parametrize("kill_at", ["right-after-202", "mid-github-read"])
def test_sigkill_after_202_loses_nothing(
    tmp_path: Path, data: Path, github: GitHubStandIn, kill_at: str
) -> None:
    journal_path = data / "journal.sqlite3"
    delivery_id = f"crash-{kill_at}"
    issue_read = rf"^/repos/{OWNER}/{REPO}/issues/1$"
    with LocalAirtable(seed="demo", requests_per_second=None) as at:
        assert at.base_id is not None
        env = bot_env(
            data,
            AIRTABLE_TOKEN=at.token,
            AIRTABLE_BASE_ID=at.base_id,
            AIRTABLE_ENDPOINT_URL=at.url,
            GITHUB_API_URL=github.url,
            GITHUB_APP_ID=str(github.app_id),
            GITHUB_PRIVATE_KEY=github.private_key_pem,
            GITHUB_WEBHOOK_SECRET=SECRET,
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"

        with background(
            "serve", "--port", str(port), env=env, folder=tmp_path, name="first"
        ) as first:
            first.wait_for_stdout(f"webhook POST {base}/webhook")
            first.wait_http_ok(f"{base}/readyz")  # the worker runs
            github.delay(issue_read, 5.0, method="GET")  # the issue read hangs: work in flight
            issue = github.close_issue(OWNER, REPO, 1)

            response = post_delivery_sync(
                f"{base}/webhook",
                "issues",
                issues_event("closed", issue),
                secret=SECRET,
                delivery_id=delivery_id,
            )
            assert response.status_code == 202, response.text
            if kill_at == "mid-github-read":
                wait_until(
                    lambda: github.calls_matching("GET", issue_read),
                    timeout=5,
                    what="the bot to read the issue",
                    detail=first.output,
                )
            os.kill(first.pid, signal.SIGKILL)
            assert first.proc.wait(STOP_TIMEOUT) == -signal.SIGKILL

        # Journaled before the 202, not finished: the next start must take it up.
        state = journal_state(journal_path, delivery_id)
        if kill_at == "mid-github-read":
            assert state == "processing"
        else:
            assert state in ("pending", "processing")
        assert deliverable(at, 1)["Status"] == "In progress"

        github.clear_faults()
        with background(
            "serve", "--port", str(port), env=env, folder=tmp_path, name="second"
        ) as second:
            second.wait_for_stdout(f"webhook POST {base}/webhook")
            wait_until(
                lambda: deliverable(at, 1)["Status"] == "Done",
                timeout=WORK_TIMEOUT,
                what="deliverable 1 to be Done after the restart",
                detail=second.output,
            )
            wait_until(
                lambda: journal_state(journal_path, delivery_id) == "done",
                timeout=WORK_TIMEOUT,
                what="the journal to say done",
                detail=second.output,
            )
            if kill_at == "mid-github-read":
                assert "resumed 1 deliveries" in second.stderr()
            assert second.signal(signal.SIGTERM) == 0

    with Journal(journal_path) as journal:
        assert [(d.id, d.state) for d in journal.list()] == [(delivery_id, "done")]


# -- 4. deliveries list / retry -------------------------------------------------------------


def seed_journal(path: Path) -> None:
    """One delivery done, one failed after 3 attempts (the last with a 503 from Airtable)."""
    with Journal(path) as journal:
        for number, delivery_id in ((1, "d-done-1"), (2, "d-failed-2")):
            issue = make_issue(OWNER, REPO, number)
            journal.record(
                delivery_id,
                "issues",
                "closed",
                issues_event("closed", issue),
                issue_key=f"{OWNER}/{REPO}#{number}",
            )
        journal.mark_done(["d-done-1"])
        state = "pending"
        while state != "failed":
            state = journal.mark_retry(
                "d-failed-2",
                "HTTPError: 503 Service Unavailable from Airtable",
                max_attempts=3,
                base_delay=0,
                max_delay=0,
            )


@pytest.mark.parametrize("flags", [(), ("--failed",)], ids=["all", "failed"])
def test_deliveries_list_without_a_journal(
    tmp_path: Path, data: Path, flags: tuple[str, ...]
) -> None:
    result = run("deliveries", "list", *flags, env=bot_env(data), cwd=tmp_path)

    assert result.returncode == 0, result
    assert one_line(result.stdout) == (
        f"no journal at {data / 'journal.sqlite3'}: no delivery has been received yet"
    )
    assert not (data / "journal.sqlite3").exists()


def test_deliveries_list_json_without_a_journal_is_json(tmp_path: Path, data: Path) -> None:
    result = run("deliveries", "list", "--json", env=bot_env(data), cwd=tmp_path)

    assert result.returncode == 0, result
    assert json.loads(result.stdout) == []


def test_deliveries_list_shows_failed_with_last_error(tmp_path: Path, data: Path) -> None:
    seed_journal(data / "journal.sqlite3")
    env = bot_env(data)

    everything = run("deliveries", "list", env=env, cwd=tmp_path)
    failed = run("deliveries", "list", "--failed", env=env, cwd=tmp_path)

    assert everything.returncode == 0, everything
    assert "d-done-1" in everything.stdout and "d-failed-2" in everything.stdout
    assert failed.returncode == 0, failed
    line = one_line(failed.stdout)
    assert line.startswith("d-failed-2 ")
    assert " failed " in line
    assert "issues.closed" in line
    assert f"{OWNER}/{REPO}#2" in line
    assert "attempts=3" in line
    assert line.endswith("last error: HTTPError: 503 Service Unavailable from Airtable")


def test_deliveries_list_json(tmp_path: Path, data: Path) -> None:
    seed_journal(data / "journal.sqlite3")
    env = bot_env(data)

    everything = run("deliveries", "list", "--json", env=env, cwd=tmp_path)
    failed = run("deliveries", "list", "--failed", "--json", env=env, cwd=tmp_path)

    assert everything.returncode == 0, everything
    rows = {row["id"]: row for row in json.loads(everything.stdout)}
    assert set(rows) == {"d-done-1", "d-failed-2"}
    assert rows["d-done-1"]["state"] == "done"
    assert failed.returncode == 0, failed
    assert json.loads(failed.stdout) == [
        {
            "id": "d-failed-2",
            "event": "issues",
            "action": "closed",
            "state": "failed",
            "attempts": 3,
            "received_at": rows["d-failed-2"]["received_at"],
            "issue": f"{OWNER}/{REPO}#2",
            "last_error": "HTTPError: 503 Service Unavailable from Airtable",
        }
    ]


def test_deliveries_retry_puts_a_failed_delivery_back(tmp_path: Path, data: Path) -> None:
    journal_path = data / "journal.sqlite3"
    seed_journal(journal_path)
    env = bot_env(data)

    result = run("deliveries", "retry", "d-failed-2", env=env, cwd=tmp_path)

    assert result.returncode == 0, result
    assert "d-failed-2" in one_line(result.stdout)
    assert "pending again" in result.stdout
    with Journal(journal_path) as journal:
        retried = {d.id: d for d in journal.list()}["d-failed-2"]
    assert (retried.state, retried.attempts) == ("pending", 0)
    after = run("deliveries", "list", "--failed", env=env, cwd=tmp_path)
    assert one_line(after.stdout) == "no failed deliveries"


@pytest.mark.parametrize(
    "journal",
    [
        pytest.param(True, id="journal"),
        pytest.param(False, id="no-journal"),
    ],
)
def test_deliveries_retry_unknown_id_exits_1_naming_it(
    tmp_path: Path, data: Path, journal: bool
) -> None:
    if journal:
        seed_journal(data / "journal.sqlite3")

    result = run("deliveries", "retry", "nope", env=bot_env(data), cwd=tmp_path)

    assert result.returncode == 1, result
    assert "nope" in one_line(result.stderr)
    assert result.stdout == ""


def test_deliveries_retry_without_a_journal_creates_none(tmp_path: Path, data: Path) -> None:
    env = bot_env(data)

    result = run("deliveries", "retry", "nope", env=env, cwd=tmp_path)

    assert result.returncode == 1, result
    assert "no journal" in one_line(result.stderr)
    assert not (data / "journal.sqlite3").exists()
    listing = run("deliveries", "list", env=env, cwd=tmp_path)
    assert listing.stdout.startswith("no journal at ")


def test_deliveries_retry_of_a_delivery_in_progress_is_refused_cleanly(
    tmp_path: Path, data: Path
) -> None:
    journal_path = data / "journal.sqlite3"
    with Journal(journal_path) as journal:
        journal.record("d-busy", "issues", "closed", issues_event("closed"))
        assert [d.id for d in journal.claim_due()] == ["d-busy"]

    result = run("deliveries", "retry", "d-busy", env=bot_env(data), cwd=tmp_path)

    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    assert "d-busy" in one_line(result.stderr)
    assert "being processed" in result.stderr


def test_deliveries_list_limit_below_1_is_a_usage_error(tmp_path: Path, data: Path) -> None:
    seed_journal(data / "journal.sqlite3")

    result = run("deliveries", "list", "--limit", "0", env=bot_env(data), cwd=tmp_path)

    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert "--limit" in result.stderr


# -- 5. airtable-local ----------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "patLocalTestToken"], ids=["default-token", "env-token"])
def test_airtable_local_serves_pyairtable(tmp_path: Path, data: Path, token: str | None) -> None:
    port = free_port()
    env = bot_env(data) if token is None else bot_env(data, AIRTABLE_TOKEN=token)
    with background(
        "airtable-local", "--port", str(port), "--seed", "demo", env=env, folder=tmp_path
    ) as local:
        banner = local.wait_for_stdout("Ctrl-C stops.")
        url = f"http://127.0.0.1:{port}"
        assert f"Airtable-compatible server on {url}" in banner
        assert DEMO_BASE_ID in banner

        table = pyairtable.Api(token or "local", endpoint_url=url).table(DEMO_BASE_ID, DELIVERABLES)
        names = sorted(r["fields"]["Name"] for r in table.all())
        assert names == ["Configure login", "Deploy the hub", "Load workshop materials"]
        created = table.create({"Name": "Write the runbook", "Status": "Todo"})
        assert table.get(created["id"])["fields"] == {"Name": "Write the runbook", "Status": "Todo"}
        assert len(table.all()) == 4

        wrong = pyairtable.Api("not-the-token", endpoint_url=url).table(DEMO_BASE_ID, DELIVERABLES)
        with pytest.raises(requests.HTTPError) as refused:
            wrong.all()
        assert refused.value.response is not None
        assert refused.value.response.status_code == 401

        # "Ctrl-C stops." (and so does SIGTERM, from a service manager), cleanly.
        assert local.signal(signal.SIGINT if token is None else signal.SIGTERM) == 0
        assert "Traceback" not in local.stderr()


def test_airtable_local_db_keeps_records_across_restarts(tmp_path: Path, data: Path) -> None:
    db = tmp_path / "local.sqlite3"
    env = bot_env(data)
    args = ("airtable-local", "--db", str(db), "--seed", "demo", "--rate-limit", "0")
    for attempt in ("first", "second"):
        port = free_port()
        with background(
            *args, "--port", str(port), env=env, folder=tmp_path, name=attempt
        ) as local:
            local.wait_for_stdout("Ctrl-C stops.")
            table = pyairtable.Api("local", endpoint_url=f"http://127.0.0.1:{port}").table(
                DEMO_BASE_ID, DELIVERABLES
            )
            if attempt == "first":
                table.create({"Name": "Write the runbook", "Status": "Todo"})
            names = sorted(r["fields"]["Name"] for r in table.all())
            assert "Write the runbook" in names
            assert len(names) == 4  # the seed is not added a second time


# -- 6. --version, --help, and the two ways to run the program -----------------------------


def test_version(tmp_path: Path, data: Path) -> None:
    result = run("--version", env=bot_env(data), cwd=tmp_path)

    assert result.returncode == 0, result
    assert result.stdout == f"deliverables-bot {__version__}\n"


def test_help_lists_the_commands(tmp_path: Path, data: Path) -> None:
    result = run("--help", env=bot_env(data), cwd=tmp_path)

    assert result.returncode == 0, result
    assert result.stdout.startswith("usage: deliverables-bot ")
    for command in COMMANDS:
        assert re.search(rf"^\s+{re.escape(command)}\b", result.stdout, re.MULTILINE), command
    journal_help = run("deliveries", "--help", env=bot_env(data), cwd=tmp_path)
    assert journal_help.returncode == 0, journal_help
    assert "list" in journal_help.stdout and "retry" in journal_help.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param((), "the following arguments are required: COMMAND", id="no-command"),
        pytest.param(("frobnicate",), "invalid choice: 'frobnicate'", id="unknown-command"),
        pytest.param(("deliveries",), "required", id="no-journal-command"),
    ],
)
def test_usage_errors_exit_2(
    tmp_path: Path, data: Path, args: tuple[str, ...], message: str
) -> None:
    result = run(*args, env=bot_env(data), cwd=tmp_path)

    assert result.returncode == 2, result
    assert result.stderr.startswith("usage: deliverables-bot")
    assert message in result.stderr


@pytest.mark.parametrize("args", [("--help",), ("--version",), ("deliveries", "list")])
def test_console_script_behaves_like_python_m_bot(
    tmp_path: Path, data: Path, args: tuple[str, ...]
) -> None:
    assert CONSOLE_SCRIPT.exists(), f"{CONSOLE_SCRIPT} is not installed"
    env = bot_env(data)

    module = run(*args, env=env, cwd=tmp_path)
    script = run(*args, env=env, cwd=tmp_path, program=(str(CONSOLE_SCRIPT),))

    assert (script.returncode, script.stdout, script.stderr) == (
        module.returncode,
        module.stdout,
        module.stderr,
    )
    assert module.returncode == 0
