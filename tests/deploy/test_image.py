"""The image's command, run for real: the Dockerfile's ENTRYPOINT and CMD as they are written
(``deliverables-bot serve --host 0.0.0.0``), in the environment the Deployment gives it, against
the embedded Airtable and the GitHub stand-in; and the HEALTHCHECK's command, verbatim,
against it (healthy) and against a port nothing listens on (unhealthy).

No container engine runs here, so the image itself is not built: the virtualenv's ``bin``
stands for the image's ``/usr/local/bin`` (:mod:`tests.deploy.support`).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import requests

from bot.airtable_local.thread import LocalAirtable
from tests.deploy.support import (
    as_the_image,
    healthcheck_command,
    image_env,
    manifest_env,
    on_path,
)
from tests.operator_helpers import operator_env
from tests.processes import free_port
from tests.standins.github import GitHubStandIn


def deployment_env(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn, *, port: int, metrics: int
) -> dict[str, str]:
    """The image's ENV, then the Deployment's values (its ports replaced with free ones, the
    data folder with a temporary one), then its secrets (the local servers' credentials)."""
    secrets = operator_env(tmp_path, local_airtable, github)
    env = {**secrets, **image_env()}
    for name, entry in manifest_env().items():
        if "value" in entry:
            env[name] = str(entry["value"])
        else:
            assert name in secrets, f"the test has no value for the secret {name}"
            env[name] = secrets[name]
    env.update(
        PORT=str(port), METRICS_PORT=str(metrics), DELIVERABLES_BOT_DATA=str(tmp_path / "data")
    )
    return env


def healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the HEALTHCHECK's command as Docker would, in the container's environment."""
    return subprocess.run(
        healthcheck_command(),
        env=on_path(env),
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )


def test_the_image_command_serves_and_its_healthcheck_says_so(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    port, metrics = free_port(), free_port()
    env = deployment_env(tmp_path, local_airtable, github, port=port, metrics=metrics)
    with as_the_image(env=env, folder=tmp_path) as bot:
        bot.wait_for_stdout(
            f"webhook POST http://0.0.0.0:{port}/webhook, "
            f"metrics GET http://0.0.0.0:{metrics}/metrics"
        )
        assert bot.wait_http_ok(f"http://127.0.0.1:{port}/healthz").status_code == 200
        assert bot.wait_http_ok(f"http://127.0.0.1:{port}/readyz").status_code == 200
        scraped = requests.get(f"http://127.0.0.1:{metrics}/metrics", timeout=5)
        assert scraped.status_code == 200 and "deliverables_bot" in scraped.text
        healthy = healthcheck(env)
        assert healthy.returncode == 0, healthy
        assert healthy.stderr == ""
        assert bot.proc.poll() is None
        bot.stop()
        after = healthcheck(env)
        log = bot.stderr()
    assert after.returncode == 1, after
    assert after.stderr.startswith("unhealthy: ") and after.stderr.count("\n") == 1, after.stderr
    assert "Traceback" not in after.stderr
    for line in log.splitlines():  # LOG_FORMAT=json, as the Deployment sets it
        assert isinstance(json.loads(line), dict), line


def test_the_healthcheck_fails_when_nothing_listens(tmp_path: Path) -> None:
    result = healthcheck({**image_env(), "PORT": str(free_port())})
    assert result.returncode == 1, result
    assert result.stderr.startswith("unhealthy: ") and "Connection refused" in result.stderr
    assert "Traceback" not in result.stderr
