"""Registering the GitHub App from app.yaml, as a user does it: ``serve`` without credentials
serves the setup page, a real Chromium clicks through it and the GitHub stand-in's new-App
page, and the bot writes ``.env``; ``register`` does the same from the command line.

Everything runs for real: the bot as a subprocess, the stand-in over HTTP (both GitHub's web
pages and its API), the browser driven by Playwright. Assertions are on what a user sees:
the pages, what is printed, the exit codes, the ``.env`` file and its mode, and the
restarted bot accepting a delivery signed with the secret GitHub gave.
"""

from __future__ import annotations

import html
import json
import os
import re
import signal
import stat
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from dotenv import dotenv_values

from bot.airtable_local.thread import LocalAirtable
from bot.core.app_manifest import credentials
from tests.browser import needs_chromium
from tests.processes import BotProcess, background, free_port
from tests.standins.github import GitHubStandIn, app_private_key_pem
from tests.standins.github.routes.manifests import created_apps
from tests.webhooks import ping_event, post_delivery_sync

TIMEOUT = 10
BUTTON = "Register the GitHub App"


def setup_env(tmp_path: Path, github: GitHubStandIn, **extra: str) -> dict[str, str]:
    """A user's environment with no App yet: only where GitHub is (the stand-in)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GITHUB_", "AIRTABLE_", "DELIVERABLES_BOT_", "PUBLIC_URL"))
    }
    env.update(
        DELIVERABLES_BOT_DATA=str(tmp_path / "data"),
        PYTHONUNBUFFERED="1",
        GITHUB_API_URL=github.url,
    )
    env.update(extra)
    return env


def airtable_env(at: LocalAirtable) -> dict[str, str]:
    """The Airtable half of a running bot's environment."""
    assert at.base_id is not None
    return {
        "AIRTABLE_TOKEN": at.token,
        "AIRTABLE_BASE_ID": str(at.base_id),
        "AIRTABLE_ENDPOINT_URL": at.url,
    }


def form_of(page: str) -> tuple[str, str]:
    """The setup page's form: where it posts, and the manifest it carries."""
    action = re.search(r'<form method="post" action="([^"]+)"', page)
    manifest = re.search(r'name="manifest" value="([^"]+)"', page)
    assert action and manifest, page
    return html.unescape(action[1]), html.unescape(manifest[1])


def github_creates(github: GitHubStandIn, action: str, manifest: str) -> str:
    """Post the manifest to the stand-in's page and press its button: where GitHub sends
    the browser back."""
    page = requests.post(action, data={"manifest": manifest}, timeout=TIMEOUT)
    assert page.status_code == 200, page.text
    draft = re.search(r'name="draft" value="([^"]+)"', page.text)
    assert draft, page.text
    redirect = requests.post(
        f"{github.url}/settings/apps/new/create",
        data={"draft": draft[1]},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert redirect.status_code == 302, redirect.text
    return redirect.headers["Location"]


def printed_setup_url(out: str) -> str:
    """The setup page's address (with its key) that serve printed."""
    match = re.search(r"no GitHub App yet; open (\S+) to register one", out)
    assert match, out
    return match[1]


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def the_app(github: GitHubStandIn) -> dict[str, Any]:
    [app] = created_apps(github)
    return app


def accepts_signed_ping(bot: BotProcess, base: str, secret: str) -> int:
    """The status the bot answers a ``ping`` signed with ``secret``."""
    response = post_delivery_sync(f"{base}/webhook", "ping", ping_event(), secret=secret)
    return response.status_code


# -- serve without an App: the setup site, in a real browser ----------------------------------


@needs_chromium
def test_serve_without_an_app_registers_one_in_a_browser_and_restarts_with_it(
    tmp_path: Path, github: GitHubStandIn, local_airtable: LocalAirtable, browser: Any
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = setup_env(tmp_path, github)
    env_file = tmp_path / ".env"  # the default: .env in the current directory

    with background("serve", "--port", str(port), env=env, folder=tmp_path, name="setup") as bot:
        setup = printed_setup_url(bot.wait_for_stdout("to register one"))
        assert setup.startswith(f"{base}/setup?key=")
        bot.wait_http_ok(f"{base}/healthz")

        page = browser.new_page()
        try:
            page.goto(f"{base}/")  # redirects to the setup page, which needs the key
            assert page.url == f"{base}/setup"
            assert "needs the key" in page.inner_text("body")
            page.goto(setup)
            assert f"{base}/webhook" in page.content()
            page.get_by_role("button", name=BUTTON).click()
            page.wait_for_url(f"{github.url}/settings/apps/new?state=*")
            assert f"{base}/webhook" in page.content()  # the manifest reached GitHub
            page.get_by_role("button", name="Create GitHub App").click()
            page.wait_for_url(f"{base}/setup/done?*")

            app = the_app(github)
            assert page.get_by_role("heading").inner_text() == "The GitHub App is registered"
            install = page.get_by_role("link", name="Install the App")
            assert install.get_attribute("href") == f"{app['html_url']}/installations/new"
            assert "Restart deliverables-bot serve" in page.inner_text("body")
            install.click()
            page.wait_for_url(f"{app['html_url']}/installations/new")
        finally:
            page.close()
        assert bot.proc.poll() is None  # still serving the setup site

    assert mode_of(env_file) == 0o600
    assert dotenv_values(env_file) == credentials(app)

    # Restarted with that .env (and the Airtable settings), serve uses the App's secret.
    env = setup_env(tmp_path, github, **airtable_env(local_airtable))
    with background("serve", "--port", str(port), env=env, folder=tmp_path, name="bot") as bot:
        bot.wait_for_stdout(f"webhook POST {base}/webhook")
        assert accepts_signed_ping(bot, base, app["webhook_secret"]) in (200, 202)
        assert accepts_signed_ping(bot, base, "not-the-secret") == 401


def test_the_setup_site_refuses_bad_returns_with_400_and_writes_nothing(
    tmp_path: Path, github: GitHubStandIn
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = setup_env(tmp_path, github, PUBLIC_URL="https://bot.example.net")

    with background("serve", "--port", str(port), env=env, folder=tmp_path) as bot:
        printed = printed_setup_url(bot.wait_for_stdout("to register one"))
        assert printed.startswith("https://bot.example.net/setup?key=")
        [key] = parse_qs(urlsplit(printed).query)["key"]
        bot.wait_http_ok(f"{base}/healthz")
        for params in ({}, {"key": "guessed"}, {"key": "é"}):
            locked = requests.get(f"{base}/setup", params=params, timeout=TIMEOUT)
            assert locked.status_code == 403
            assert "<form" not in locked.text
        setup = requests.get(f"{base}/setup", params={"key": key}, timeout=TIMEOUT)
        action, manifest = form_of(setup.text)
        assert action.startswith(f"{github.url}/settings/apps/new?state=")
        assert json.loads(manifest)["hook_attributes"]["url"] == "https://bot.example.net/webhook"
        assert json.loads(manifest)["redirect_url"] == "https://bot.example.net/setup/done"
        [state] = parse_qs(urlsplit(action).query)["state"]

        cases = {
            "": "has no code",
            "?code=abc": "has no state",
            "?code=abc&state=forged": "not one this server handed out",
            f"?code=a%20b&state={state}": "not one GitHub hands out",
        }
        for query, reason in cases.items():
            page = requests.get(f"{base}/setup/done{query}", timeout=TIMEOUT)
            assert page.status_code == 400, query
            assert reason in page.text, query

        # A state this server issued, a code GitHub does not know: GitHub refuses.
        refused = requests.get(
            f"{base}/setup/done", params={"code": "deadbeef", "state": state}, timeout=TIMEOUT
        )
        assert refused.status_code == 502
        assert "GitHub refused the code: 404" in refused.text
        assert "Nothing was written" in refused.text

        org = requests.get(f"{base}/setup", params={"org": "bad--org", "key": key}, timeout=TIMEOUT)
        assert org.status_code == 400
        assert "not a GitHub organization name" in org.text
        org_form = requests.get(
            f"{base}/setup", params={"org": "2i2c-org", "key": key}, timeout=TIMEOUT
        )
        assert form_of(org_form.text)[0].startswith(
            f"{github.url}/organizations/2i2c-org/settings/apps/new?state="
        )

    assert not (tmp_path / ".env").exists()
    assert created_apps(github) == []


def test_serve_with_an_app_id_but_no_secret_still_refuses(
    tmp_path: Path, github: GitHubStandIn
) -> None:
    env = setup_env(
        tmp_path, github, GITHUB_APP_ID="12345", GITHUB_PRIVATE_KEY=app_private_key_pem()
    )
    with background("serve", "--port", str(free_port()), env=env, folder=tmp_path) as bot:
        assert bot.proc.wait(TIMEOUT) == 2
    assert "GITHUB_WEBHOOK_SECRET is not set" in bot.stderr()
    assert "register" not in bot.stdout()


def test_the_env_file_is_read_at_start_under_the_environment(
    tmp_path: Path, github: GitHubStandIn, local_airtable: LocalAirtable
) -> None:
    env_file = tmp_path / "settings.env"
    lines = [f"{key}={value}" for key, value in airtable_env(local_airtable).items()]
    env_file.write_text(
        "\n".join([*lines, "GITHUB_WEBHOOK_SECRET=from-the-file"]) + "\n", encoding="utf-8"
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = setup_env(
        tmp_path,
        github,
        DELIVERABLES_BOT_ENV_FILE=str(env_file),
        GITHUB_WEBHOOK_SECRET="from-the-environment",
    )
    with background("serve", "--port", str(port), env=env, folder=tmp_path) as bot:
        bot.wait_for_stdout(f"webhook POST {base}/webhook")  # Airtable's settings: the file's
        assert accepts_signed_ping(bot, base, "from-the-environment") in (200, 202)
        assert accepts_signed_ping(bot, base, "from-the-file") == 401


def test_an_unreadable_env_file_is_one_line_and_exit_2(
    tmp_path: Path, github: GitHubStandIn
) -> None:
    (tmp_path / "a-folder").mkdir()
    env = setup_env(tmp_path, github, DELIVERABLES_BOT_ENV_FILE=str(tmp_path / "a-folder"))
    with background("check", env=env, folder=tmp_path) as bot:
        assert bot.proc.wait(TIMEOUT) == 2
    assert (
        bot.stderr().strip()
        == f"error: {tmp_path / 'a-folder'} (DELIVERABLES_BOT_ENV_FILE) is not a file"
    )


# -- register: the same from the command line ------------------------------------------------


def test_register_writes_the_env_file_keeping_its_other_lines(
    tmp_path: Path, github: GitHubStandIn
) -> None:
    env_file = tmp_path / "conf" / "bot.env"
    env_file.parent.mkdir()
    env_file.write_text("# mine\nAIRTABLE_TOKEN=patKeep\nGITHUB_APP_ID=1\n", encoding="utf-8")
    env_file.chmod(0o644)
    env = setup_env(tmp_path, github, DELIVERABLES_BOT_ENV_FILE=str(env_file))

    with background(
        "register",
        "--no-browser",
        "--org",
        "2i2c-org",
        "--public-url",
        "https://bot.example.net/",
        env=env,
        folder=tmp_path,
    ) as bot:
        out = bot.wait_for_stdout("(Ctrl-C stops)")
        match = re.search(r"Open (http://127\.0\.0\.1:\d+/setup\?key=\S+) in a browser", out)
        assert match, out
        assert "for the organization 2i2c-org" in out
        org_page = requests.get(match[1], timeout=TIMEOUT).text
        action, manifest = form_of(org_page)
        assert action.startswith(f"{github.url}/organizations/2i2c-org/settings/apps/new")
        mine = re.search(r'<a href="([^"]+)">Register it for your own account instead', org_page)
        assert mine, org_page
        local = match[1].split("/setup")[0]
        personal = requests.get(local + html.unescape(mine[1]), timeout=TIMEOUT).text
        assert form_of(personal)[0].startswith(f"{github.url}/settings/apps/new?state=")
        sent = json.loads(manifest)
        assert sent["hook_attributes"]["url"] == "https://bot.example.net/webhook"
        assert sent["redirect_url"] == f"{local}/setup/done"  # back to register, locally

        back = github_creates(github, action, manifest)
        done = requests.get(back, timeout=TIMEOUT)
        assert done.status_code == 200
        assert "Install the App" in done.text
        assert bot.proc.wait(TIMEOUT) == 0

    app = the_app(github)
    assert app["owner"]["login"] == "2i2c-org"
    out = bot.stdout()
    assert f"registered the GitHub App deliverables-bot (id {app['id']})" in out
    assert f"Install the App: {app['html_url']}/installations/new" in out
    assert "deliverables-bot serve" in out
    assert mode_of(env_file) == 0o600
    assert dotenv_values(env_file) == {"AIRTABLE_TOKEN": "patKeep", **credentials(app)}
    assert env_file.read_text(encoding="utf-8").startswith("# mine\n")


def test_register_without_a_public_url_says_the_webhook_is_local(
    tmp_path: Path, github: GitHubStandIn
) -> None:
    env = setup_env(tmp_path, github)
    with background("register", "--no-browser", env=env, folder=tmp_path) as bot:
        out = bot.wait_for_stdout("GitHub wants a public address")
        assert "give --public-url" in out
        bot.proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert bot.proc.wait(TIMEOUT) == 130
    assert not (tmp_path / ".env").exists()


def test_register_ends_in_one_line_and_exit_1_when_github_refuses(
    tmp_path: Path, github: GitHubStandIn
) -> None:
    env = setup_env(tmp_path, github, PUBLIC_URL="https://bot.example.net")
    with background("register", "--no-browser", env=env, folder=tmp_path) as bot:
        out = bot.wait_for_stdout("(Ctrl-C stops)")
        match = re.search(r"Open (\S+) in a browser", out)
        assert match, out
        action, _ = form_of(requests.get(match[1], timeout=TIMEOUT).text)
        [state] = parse_qs(urlsplit(action).query)["state"]
        back = match[1].split("?")[0] + "/done"
        forged = requests.get(back, params={"code": "x", "state": "forged"}, timeout=TIMEOUT)
        assert forged.status_code == 400  # not the one it waits for: it keeps waiting
        refused = requests.get(back, params={"code": "0bad", "state": state}, timeout=TIMEOUT)
        assert refused.status_code == 502
        assert bot.proc.wait(TIMEOUT) == 1
    [line] = bot.stderr().strip().splitlines()
    assert line.startswith("error: GitHub refused the code: 404")
    assert not (tmp_path / ".env").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ("--org", "bad--org"), "--org bad--org: not a GitHub organization name", id="org"
        ),
        pytest.param(("--port", "70000"), "--port 70000: a TCP port is a number", id="port"),
        pytest.param(("--public-url", "bot.example.net"), "--public-url", id="public-url"),
    ],
)
def test_register_refuses_bad_arguments_in_one_line(
    tmp_path: Path, github: GitHubStandIn, args: tuple[str, ...], expected: str
) -> None:
    env = setup_env(tmp_path, github)
    with background("register", "--no-browser", *args, env=env, folder=tmp_path) as bot:
        assert bot.proc.wait(TIMEOUT) == 2
    [line] = bot.stderr().strip().splitlines()
    assert expected in line
