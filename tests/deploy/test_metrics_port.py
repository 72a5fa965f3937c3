"""``METRICS_PORT``: ``/metrics`` on a port of its own (a scraper reaches it, the webhook's
public port answers 404), or, unset, on serve's port as before; a value that is no port, or
a port that is taken, refused in one line before anything starts. ``serve`` runs for real.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import requests

from bot.airtable_local.thread import LocalAirtable
from tests.operator_helpers import operator_env, run_bot
from tests.processes import background, free_port
from tests.standins.github import GitHubStandIn


def test_metrics_on_their_own_port_and_404_on_the_webhook_port(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    port, metrics = free_port(), free_port()
    env = operator_env(tmp_path, local_airtable, github, METRICS_PORT=str(metrics))
    with background("serve", "--port", str(port), env=env, folder=tmp_path) as bot:
        bot.wait_for_stdout(
            f"deliverables-bot: webhook POST http://127.0.0.1:{port}/webhook, "
            f"metrics GET http://127.0.0.1:{metrics}/metrics"
        )
        bot.wait_http_ok(f"http://127.0.0.1:{port}/healthz")
        scraped = bot.wait_http_ok(f"http://127.0.0.1:{metrics}/metrics")
        assert "deliverables_bot_queue_depth" in scraped.text
        assert scraped.headers["Content-Type"].startswith("text/plain")
        moved = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert moved.status_code == 404
        assert moved.json() == {
            "error": f"metrics are served on port {metrics} (METRICS_PORT), not on this one"
        }
        for path in ("/healthz", "/webhook", "/readyz"):  # the metrics port serves only those
            assert requests.get(f"http://127.0.0.1:{metrics}{path}", timeout=5).status_code == 404
    assert "Traceback" not in bot.stderr()


@pytest.mark.parametrize("value", [None, ""])
def test_without_metrics_port_metrics_stay_on_the_webhook_port(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn, value: str | None
) -> None:
    port = free_port()
    extra = {} if value is None else {"METRICS_PORT": value}
    env = operator_env(tmp_path, local_airtable, github, **extra)
    with background("serve", "--port", str(port), env=env, folder=tmp_path) as bot:
        bot.wait_for_stdout(f"metrics GET http://127.0.0.1:{port}/metrics")
        scraped = bot.wait_http_ok(f"http://127.0.0.1:{port}/metrics")
        assert "deliverables_bot_queue_depth" in scraped.text


def test_the_demo_banner_shows_the_metrics_port(tmp_path: Path) -> None:
    port, metrics = free_port(), free_port()
    env = operator_env(tmp_path, None, METRICS_PORT=str(metrics), DEMO_AIRTABLE_PORT="0")
    with background("serve", "--demo", "--port", str(port), env=env, folder=tmp_path) as bot:
        banner = bot.wait_for_stdout("Ctrl-C stops")
        bot.wait_http_ok(f"http://127.0.0.1:{metrics}/metrics")
    assert f"metrics: http://127.0.0.1:{metrics}/metrics" in banner, banner


@pytest.mark.parametrize("value", ["nine", "90.5", "-1", "70000"])
def test_a_metrics_port_that_is_no_port_is_refused_with_exit_2(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn, value: str
) -> None:
    env = operator_env(tmp_path, local_airtable, github, METRICS_PORT=value)
    result = run_bot("serve", "--port", str(free_port()), env=env, cwd=tmp_path)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    problems = [line for line in result.stderr.splitlines() if line.startswith("  - ")]
    assert problems == [f"  - METRICS_PORT={value}: a TCP port is a number from 0 to 65535"], (
        result.stderr
    )
    assert result.stdout == ""


@pytest.mark.parametrize("same", [False, True], ids=["taken", "same-as-port"])
def test_a_metrics_port_that_cannot_be_listened_on_is_one_line(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn, same: bool
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        port = free_port()
        if same:
            taken.close()
            busy = port
        env = operator_env(tmp_path, local_airtable, github, METRICS_PORT=str(busy))
        result = run_bot("serve", "--port", str(port), env=env, cwd=tmp_path)
    assert result.returncode == 1, result
    [line] = result.stderr.strip().splitlines()
    assert line == (
        f"error: cannot listen on 127.0.0.1:{busy}: Address already in use (METRICS_PORT)"
    ), line
    assert result.stdout == ""
