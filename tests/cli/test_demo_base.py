"""The demo that shows everything: ``serve --demo`` on a known Airtable port, the operator
commands with ``--demo``, and ``demo-deliver``'s slash-command and project label.

Every test runs the installed program as a real subprocess (``serve --demo`` in the
background, the rest to their end) with a temporary data folder, free ports and none of the
caller's ``GITHUB_*``/``AIRTABLE_*`` variables. What the bot would post on GitHub is read
from its log; the demo base is read back through an unmodified pyairtable client, with the
embedded server's person token (a person's requests count against no rate limit, so the
reads never take from the bot's 5 requests a second).
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyairtable
import pytest

from bot.airtable_local.server import LOCAL_CLIENT_TOKEN, LOCAL_TOKEN
from bot.cli.demo import DEMO_PROJECT, demo_comment_payload, demo_payload
from bot.cli.demo_base import (
    DEFAULT_PORT,
    DEMO_TOKEN,
    demo_config,
    demo_port,
    demo_secret_result,
)
from bot.cli.demo_github import DemoGitHub, demo_github_factory
from bot.config import DEMO_BASE_ID, Config, ConfigError
from bot.core.commands import effective_role
from tests.constants import DELIVERABLES, OWNER, PROJECTS, REPO
from tests.operator_helpers import operator_env, run_bot
from tests.processes import WORK_TIMEOUT, BotProcess, background, free_port, wait_until
from tests.schemas import validator

ISSUE_URL = f"https://github.com/{OWNER}/{REPO}/issues/{{number}}"


def one_line(text: str) -> str:
    """``text`` as a single line (fails when it has several or none)."""
    lines = text.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got {len(lines)}: {text!r}"
    return lines[0]


def two_free_ports() -> tuple[int, int]:
    """Two different ports nothing listens on right now."""
    first = free_port()
    second = free_port()
    while second == first:
        second = free_port()
    return first, second


# -- a running demo -----------------------------------------------------------------------


@dataclass
class Demo:
    """``serve --demo`` in the background, and how to talk to it."""

    bot: BotProcess
    env: dict[str, str]
    folder: Path
    webhook: str
    airtable: str

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a command of the bot with the demo's environment and folder."""
        return run_bot(*args, env=self.env, cwd=self.folder)

    def deliver(self, *args: str) -> str:
        """``demo-deliver ARGS --url WEBHOOK``; its one line, once accepted (202)."""
        sent = self.run("demo-deliver", *args, "--url", self.webhook)
        assert sent.returncode == 0, sent
        line = one_line(sent.stdout)
        assert line.startswith("202 "), line
        return line

    def deliverable(self, number: int) -> dict[str, Any]:
        """The fields of the deliverable record of demo issue ``number``."""
        api = pyairtable.Api(LOCAL_CLIENT_TOKEN, endpoint_url=self.airtable)
        url = ISSUE_URL.format(number=number)
        [record] = [
            r
            for r in api.table(DEMO_BASE_ID, DELIVERABLES).all()
            if r["fields"].get("GitHub Issue") == url
        ]
        return dict(record["fields"])

    def wait_for_deliverable(self, number: int, **expected: Any) -> dict[str, Any]:
        """Wait until the deliverable of issue ``number`` has the ``expected`` fields
        (``Project`` compared as a list of ids, ``None`` meaning empty)."""

        def matches() -> dict[str, Any] | None:
            fields = self.deliverable(number)
            wanted = {key.replace("_", " "): value for key, value in expected.items()}
            same = all((fields.get(key) or None) == value for key, value in wanted.items())
            return fields if same else None

        return wait_until(
            matches,
            timeout=WORK_TIMEOUT,
            what=f"deliverable #{number} with {expected}",
            detail=self.bot.output,
        )

    def project_id(self) -> str:
        """The record id of the demo Project."""
        api = pyairtable.Api(LOCAL_CLIENT_TOKEN, endpoint_url=self.airtable)
        [project] = [
            r
            for r in api.table(DEMO_BASE_ID, PROJECTS).all()
            if r["fields"].get("Name") == DEMO_PROJECT
        ]
        return str(project["id"])


@contextmanager
def running_demo(tmp_path: Path) -> Iterator[Demo]:
    """``serve --demo`` on free ports, its Airtable on ``DEMO_AIRTABLE_PORT``, once it answers."""
    port, airtable_port = two_free_ports()
    env = operator_env(tmp_path, None, DEMO_AIRTABLE_PORT=str(airtable_port), COLUMNS="100")
    with background("serve", "--demo", "--port", str(port), env=env, folder=tmp_path) as bot:
        banner = bot.wait_for_stdout("Ctrl-C stops.")
        airtable = f"http://127.0.0.1:{airtable_port}"
        assert f"Airtable  {airtable}  (token: {LOCAL_TOKEN}; base {DEMO_BASE_ID})" in banner
        base = f"http://127.0.0.1:{port}"
        bot.wait_http_ok(f"{base}/healthz")
        yield Demo(bot, env, tmp_path, f"{base}/webhook", airtable)
        assert "Traceback" not in bot.stderr()


# -- 1. the banner lists everything ---------------------------------------------------------


def test_the_banner_lists_the_deliveries_and_the_operator_commands(tmp_path: Path) -> None:
    with running_demo(tmp_path) as demo:
        banner = demo.bot.stdout()

    webhook = demo.webhook
    for line in (
        f"demo-deliver closed 1 --url {webhook}",
        f"demo-deliver closed 3 --url {webhook}",
        f'demo-deliver comment 1 "/project status" --url {webhook}',
        f'demo-deliver comment 3 "/deliverable unlink" --url {webhook}',
        f'demo-deliver labeled 3 --label "project: {DEMO_PROJECT}"',
        "deliverables-bot report --demo --format html --output report.html",
        "deliverables-bot audit --demo",
        "deliverables-bot check --demo",
    ):
        assert line in banner, line


# -- 2. report, audit and check --demo read the running demo ------------------------------


def test_report_audit_and_check_read_the_running_demo(tmp_path: Path) -> None:
    with running_demo(tmp_path) as demo:
        demo.deliver("closed", "1")
        demo.wait_for_deliverable(1, Status="Done")

        report = demo.run("report", "--demo", "--format", "html", "--output", "report.html")
        assert report.returncode == 0, report
        assert one_line(report.stderr) == "report written to report.html"
        html = (tmp_path / "report.html").read_text(encoding="utf-8")
        assert html.startswith("<!DOCTYPE html>")
        for text in (DEMO_PROJECT, "Deploy the hub", "Configure login", "Done"):
            assert text in html, text

        markdown = demo.run("report", "--demo")
        assert markdown.returncode == 0, markdown
        assert "| Deploy the hub |" in markdown.stdout
        assert "1 of 3 done" in markdown.stdout or "1/3 done" in markdown.stdout

        audit = demo.run("audit", "--demo")
        assert audit.returncode == 0, audit
        last = audit.stdout.strip().splitlines()[-1]
        assert "rules checked hold" in last, audit.stdout
        assert "skip deliverable-status-disagrees" in audit.stdout  # no GitHub in the demo

        check = demo.run("check", "--demo")
        assert check.returncode == 0, check
        lines = check.stdout.strip().splitlines()
        assert f"ok   Airtable base {DEMO_BASE_ID}: base {DEMO_BASE_ID} is reachable" in (
            check.stdout
        )
        assert f"ok   Airtable schema: base {DEMO_BASE_ID} schema matches" in check.stdout
        assert any(line.startswith("skip GitHub App: GitHub App not configured") for line in lines)
        secret = tmp_path / "data" / "demo-webhook-secret"
        assert f"ok   webhook secret: the demo's webhook secret is in {secret}" in check.stdout
        assert lines[-1].startswith("all ") and lines[-1].endswith(" checks passed"), lines[-1]
        assert not [line for line in lines if line.startswith("FAIL")]


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(("report", "--demo", "--format", "html", "--output", "r.html"), id="report"),
        pytest.param(("audit", "--demo"), id="audit"),
        pytest.param(("check", "--demo"), id="check"),
    ],
)
def test_without_a_running_demo_the_command_stops_in_one_line(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    port = free_port()
    env = operator_env(tmp_path, None, DEMO_AIRTABLE_PORT=str(port))

    result = run_bot(*command, env=env, cwd=tmp_path)

    assert result.returncode == 1, result
    assert one_line(result.stderr) == (
        f"error: no demo is running on 127.0.0.1:{port}; start it with `make run`"
    )
    assert result.stdout == ""
    assert not (tmp_path / "r.html").exists()


def test_something_else_on_the_demo_port_is_named_so(tmp_path: Path) -> None:
    # The bot's own webhook server answers there, but not as Airtable does.
    with running_demo(tmp_path) as demo:
        port = demo.webhook.split(":")[2].split("/")[0]
        env = dict(demo.env, DEMO_AIRTABLE_PORT=port)

        result = run_bot("audit", "--demo", env=env, cwd=tmp_path)

    assert result.returncode == 1, result
    line = one_line(result.stderr)
    assert line.startswith(f"error: 127.0.0.1:{port} answers, but not as the demo's Airtable")
    assert "DEMO_AIRTABLE_PORT" in line


# -- 3. demo-deliver: a slash-command and a project label ------------------------------------


def test_a_slash_command_is_answered_in_the_log_and_changes_the_base(tmp_path: Path) -> None:
    with running_demo(tmp_path) as demo:
        project = demo.project_id()

        demo.deliver("comment", "1", "/project status")
        said = f"would comment on {OWNER}/{REPO}#1: @alice"
        log = demo.bot.wait_for_log(said)
        reply = log[log.index(said) :]
        assert "> `/project status`" in reply
        assert f"**{DEMO_PROJECT}**: 0/3 deliverables done" in reply
        assert "Load workshop materials" in reply  # alice may read the repository: details

        demo.deliver("comment", "3", "/deliverable unlink")
        demo.bot.wait_for_log(f"{OWNER}/{REPO}#3: '/deliverable unlink' by alice → ok")
        demo.bot.wait_for_log("would react +1 to comment")
        demo.wait_for_deliverable(3, Status="Cancelled", Project=None)

        # carol has read access only: refused, and the reply says why.
        demo.deliver("comment", "1", "/deliverable unlink", "--user", "carol")
        said = f"would comment on {OWNER}/{REPO}#1: @carol"
        log = demo.bot.wait_for_log(said)
        assert "your role on this repository is `read`" in log[log.index(said) :]
        fields = demo.deliverable(1)
        assert fields["Project"] == [project]
        assert fields["Status"] == "In progress"


def test_a_project_label_links_the_issue_and_an_unknown_one_is_answered(tmp_path: Path) -> None:
    with running_demo(tmp_path) as demo:
        project = demo.project_id()
        demo.deliver("comment", "3", "/deliverable unlink")
        demo.wait_for_deliverable(3, Status="Cancelled", Project=None)

        demo.deliver("labeled", "3", "--label", f"project: {DEMO_PROJECT}")
        demo.wait_for_deliverable(3, Status="Todo", Project=[project])
        demo.bot.wait_for_log(f"{OWNER}/{REPO}#3: deliverable ")
        assert f" linked to Project {project}" in demo.bot.stderr()

        demo.deliver("labeled", "2", "--label", "project: Workshop hub")
        said = f"would comment on {OWNER}/{REPO}#2:"
        log = demo.bot.wait_for_log(said)
        reply = log[log.index(said) :]
        assert "The label `project: Workshop hub` names no Project" in reply
        assert f"`{DEMO_PROJECT}`" in reply  # the closest name
        assert demo.deliverable(2)["Project"] == [project]  # unchanged


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(("comment", "1"), "comment needs the comment's text", id="no-text"),
        pytest.param(("closed", "1", "/project status"), "takes no comment text", id="text"),
        pytest.param(("closed", "1", "--label", "x"), "--label is for labeled", id="label"),
        pytest.param(("comment", "4", "/project status"), "not 4", id="no-issue-4"),
    ],
)
def test_demo_deliver_refuses_arguments_that_do_not_fit(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    url = f"http://127.0.0.1:{free_port()}/webhook"

    result = run_bot(
        "demo-deliver", *args, "--url", url, env=operator_env(tmp_path, None), cwd=tmp_path
    )

    assert result.returncode == 2, result
    assert message in one_line(result.stderr)


def test_the_demo_comment_is_an_issue_comment_created_delivery() -> None:
    payload = demo_comment_payload(1, "/project status", user="carol")

    errors = list(validator("issue_comment", "created").iter_errors(payload))

    assert not errors, [e.message for e in errors]
    assert payload["action"] == "created"
    assert payload["comment"]["body"] == "/project status"
    assert payload["comment"]["user"]["login"] == "carol"
    assert payload["sender"]["login"] == "carol"
    assert payload["issue"]["html_url"] == ISSUE_URL.format(number=1)
    assert payload["comment"]["id"] != demo_comment_payload(1, "/project status")["comment"]["id"]


def test_the_demo_label_is_an_issues_labeled_delivery() -> None:
    payload = demo_payload("labeled", 3, label=f"project: {DEMO_PROJECT}")

    errors = list(validator("issues", "labeled").iter_errors(payload))

    assert not errors, [e.message for e in errors]
    assert payload["label"]["name"] == f"project: {DEMO_PROJECT}"
    assert [label["name"] for label in payload["issue"]["labels"]] == [f"project: {DEMO_PROJECT}"]
    assert payload["issue"]["state"] == "open"


# -- 4. the demo's Airtable port ------------------------------------------------------------


def test_the_demo_airtable_port_in_use_is_one_line_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = operator_env(tmp_path, None, DEMO_AIRTABLE_PORT=str(port))

        result = run_bot("serve", "--demo", "--port", str(free_port()), env=env, cwd=tmp_path)

    assert result.returncode == 1, result
    line = one_line(result.stderr)
    assert line.startswith(f"error: cannot listen on 127.0.0.1:{port} for the demo's Airtable")
    assert "DEMO_AIRTABLE_PORT" in line
    assert "Traceback" not in result.stderr
    assert "is running" not in result.stdout


def test_a_demo_airtable_port_that_is_no_port_is_a_configuration_problem(tmp_path: Path) -> None:
    env = operator_env(tmp_path, None, DEMO_AIRTABLE_PORT="99999")

    result = run_bot("serve", "--demo", "--port", str(free_port()), env=env, cwd=tmp_path)

    assert result.returncode == 2, result
    assert "DEMO_AIRTABLE_PORT=99999: a TCP port is a number from 0 to 65535" in result.stderr


def test_the_demo_port_default_and_its_variable() -> None:
    assert demo_port({}) == DEFAULT_PORT == 8081
    assert demo_port({"DEMO_AIRTABLE_PORT": " 9000 "}) == 9000
    assert demo_port({"DEMO_AIRTABLE_PORT": "0"}) == 0
    for bad in ("-1", "65536", "http"):
        with pytest.raises(ConfigError):
            demo_port({"DEMO_AIRTABLE_PORT": bad})


def test_the_demo_config_is_what_serve_hands_the_bot(tmp_path: Path) -> None:
    config = Config(airtable_token="patReal", airtable_base_id="appReal", data_dir=tmp_path)

    demo = demo_config(config, "http://127.0.0.1:8765")

    assert DEMO_TOKEN == LOCAL_TOKEN  # the embedded server's well-known token
    assert (demo.airtable_endpoint_url, demo.airtable_token, demo.airtable_base_id) == (
        "http://127.0.0.1:8765",
        LOCAL_TOKEN,
        DEMO_BASE_ID,
    )
    assert demo.bases_by_owner == {}
    assert not demo_secret_result(demo).ok
    (tmp_path / "demo-webhook-secret").write_text("s\n", encoding="utf-8")
    assert demo_secret_result(demo).ok


async def test_the_demo_people_have_their_roles() -> None:
    github = DemoGitHub()
    roles = {}
    for login in ("alice", "bob", "carol", "mallory"):
        answer = await github.permission(OWNER, REPO, login, None)
        roles[login] = effective_role(answer["role_name"], answer["permission"])

    assert roles == {"alice": "maintain", "bob": "write", "carol": "read", "mallory": "read"}
    assert github.can_read is False  # nothing else is read from GitHub
    with_app = Config(github_app_id="1", github_private_key="key")
    assert demo_github_factory(with_app) is None
    assert demo_github_factory(Config()) is not None
