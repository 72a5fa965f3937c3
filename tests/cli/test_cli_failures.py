"""Every failure an operator can meet, through the real CLI: one line, an exit code, no traceback.

Each case runs ``python -m bot`` as a subprocess against the embedded Airtable and the GitHub
stand-in, told to fail in one way: refuse (401, 403, 404), fail (5xx), rate limit, never
answer, answer with something that is not JSON (an HTML page, as a proxy's error page is),
or not be there at all. The assertions are what the operator sees: the exit code, the line
that names the failure and what it means, and that no "Traceback" is printed. Then the
sweep past one unreadable repository, repairing the rest; then serve's, report's and
deliveries' own failures (fail closed without a token, a bad port, data folder or path).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.airtable_local.thread import LocalAirtable
from tests.constants import OWNER, REPO
from tests.operator_helpers import SECRET, operator_env, records, run_bot, seed
from tests.processes import background, free_port
from tests.standins.fault_proxy import FaultProxy
from tests.standins.github import GitHubStandIn
from tests.webhooks import issues_event, post_delivery_sync

# Short timeouts, so "never answers" is seen in a second, and a short 429 pause.
FAST_TOML = """
[github]
timeout_seconds = 1
connect_timeout_seconds = 1
[airtable]
timeout_seconds = 1
connect_timeout_seconds = 1
penalty_seconds = 0.1
"""
ISSUES = rf"^/repos/{OWNER}/{REPO}/issues$"
INSTALLATIONS = r"^/app/installations$"
HTML = "<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"


class PageServer:
    """An HTTP server answering every request with one page: a proxy's error page, a portal."""

    def __init__(self, status: int, body: str, content_type: str = "text/html") -> None:
        page = body.encode()

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            do_GET = do_POST = do_PATCH = _answer

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> PageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def env_for(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> Callable[..., dict[str, str]]:
    """The operator's environment against the local servers, short timeouts, and ``extra``."""
    config = tmp_path / "bot.toml"
    config.write_text(FAST_TOML, encoding="utf-8")

    def make(**extra: str) -> dict[str, str]:
        return operator_env(
            tmp_path, local_airtable, github, DELIVERABLES_BOT_CONFIG=str(config), **extra
        )

    return make


@pytest.fixture
def page_server() -> Iterator[Callable[..., PageServer]]:
    """Start page servers; all stop at teardown."""
    started: list[PageServer] = []

    def start(status: int, body: str = HTML, content_type: str = "text/html") -> PageServer:
        server = PageServer(status, body, content_type).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__()


def no_traceback(result: object) -> None:
    out = getattr(result, "stdout", "") + getattr(result, "stderr", "")
    assert "Traceback" not in out, out


def line_with(text: str, needle: str) -> str:
    """The one line of ``text`` that holds ``needle`` (fails when none does)."""
    found = [line for line in text.splitlines() if needle in line]
    assert found, f"no line holds {needle!r} in:\n{text}"
    return found[0]


# -- GitHub failing as a whole: check, sync (every form) and audit ------------------------------

GITHUB_WHOLE = [
    pytest.param(
        lambda gh: gh.inject(INSTALLATIONS, 401, times=None),
        "GitHub refused the App's JWT or token (HTTP 401): check GITHUB_APP_ID",
        id="refused-401",
    ),
    pytest.param(
        lambda gh: gh.inject(INSTALLATIONS, 403, times=None),
        "GitHub HTTP 403: the App lacks a permission",
        id="forbidden-403",
    ),
    pytest.param(
        lambda gh: gh.inject(INSTALLATIONS, 500, times=None),
        "GitHub answered HTTP 500: trouble on GitHub's side; try again later",
        id="broken-500",
    ),
    pytest.param(
        lambda gh: gh.inject(INSTALLATIONS, 502, times=None),
        "GitHub answered HTTP 502: trouble on GitHub's side",
        id="broken-502",
    ),
    pytest.param(
        lambda gh: gh.inject(INSTALLATIONS, 503, times=None),
        "GitHub answered HTTP 503",
        id="broken-503",
    ),
    pytest.param(
        lambda gh: gh.inject(INSTALLATIONS, 429, times=None, headers={"Retry-After": "42"}),
        "GitHub is rate limiting the App (HTTP 429, secondary limit): try again in 42 s",
        id="rate-limited-429",
    ),
    pytest.param(
        lambda gh: gh.inject_rate_limit(times=None, path_regex=INSTALLATIONS, reset_in=3600),
        "GitHub's rate limit for the App is spent (HTTP 403): try again after",
        id="rate-limit-spent",
    ),
    pytest.param(
        lambda gh: gh.inject(
            INSTALLATIONS, 200, times=None, body=HTML, headers={"Content-Type": "text/html"}
        ),
        "answered with something that is not GitHub's JSON (HTTP 200, text/html)",
        id="html-page",
    ),
    pytest.param(
        lambda gh: gh.inject(
            INSTALLATIONS, 200, times=None, body="ok", headers={"Content-Type": "text/plain"}
        ),
        "answered with something that is not GitHub's JSON (HTTP 200, text/plain)",
        id="not-json",
    ),
    pytest.param(
        lambda gh: gh.delay(INSTALLATIONS, 30, times=None),
        "did not answer within 1 s ([github] timeout_seconds)",
        id="never-answers",
    ),
]


@pytest.mark.parametrize(("fault", "expected"), GITHUB_WHOLE)
@pytest.mark.parametrize(
    "command",
    [
        pytest.param(("check",), id="check"),
        pytest.param(("sync",), id="sync"),
        pytest.param(("sync", "--dry-run"), id="sync-dry-run"),
        pytest.param(("sync", "--repo", f"{OWNER}/{REPO}"), id="sync-repo"),
        pytest.param(("audit",), id="audit"),
    ],
)
def test_github_failing_is_one_line_and_exit_1(
    tmp_path: Path,
    github: GitHubStandIn,
    env_for: Callable[..., dict[str, str]],
    command: tuple[str, ...],
    fault: Callable[[GitHubStandIn], None],
    expected: str,
) -> None:
    fault(github)
    result = run_bot(*command, env=env_for(), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    no_traceback(result)
    if command[0] == "check":
        assert line_with(result.stdout, expected).startswith("FAIL GitHub App: ")
    elif command[0] == "sync":
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert errors == [line_with(result.stderr, expected)], result.stderr
        assert "listing the App's installations" in errors[0]
    else:  # audit still checks what needs no GitHub, and says what it skipped and why
        assert line_with(result.stdout, expected).startswith("skip deliverable-status-disagrees")
        assert "not everything could be checked" in result.stdout.splitlines()[-1]


@pytest.mark.parametrize("command", [("check",), ("sync",), ("audit",)], ids=str)
def test_github_unreachable_is_one_line_and_exit_1(
    tmp_path: Path, env_for: Callable[..., dict[str, str]], command: tuple[str, ...]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run_bot(*command, env=env_for(GITHUB_API_URL=url), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    no_traceback(result)
    assert f"cannot reach GitHub at {url}: " in result.stdout + result.stderr


# -- one repository failing: the sweep goes on -------------------------------------------------

REPO_FAULTS = [
    pytest.param(lambda gh: gh.inject(ISSUES, 403, times=None), "GitHub HTTP 403", id="403"),
    pytest.param(lambda gh: gh.inject(ISSUES, 404, times=None), "GitHub answers 404", id="404"),
    pytest.param(lambda gh: gh.inject(ISSUES, 502, times=None), "HTTP 502", id="502"),
    pytest.param(
        lambda gh: gh.inject_rate_limit(times=None, path_regex=ISSUES, reset_in=3600),
        "rate limit for the App is spent",
        id="rate-limited",
    ),
    pytest.param(
        lambda gh: gh.inject(
            ISSUES, 200, times=None, body=HTML, headers={"Content-Type": "text/html"}
        ),
        "not GitHub's JSON",
        id="html",
    ),
    pytest.param(
        lambda gh: gh.delay(ISSUES, 30, times=None), "did not answer within 1 s", id="hang"
    ),
]


@pytest.mark.parametrize(("fault", "expected"), REPO_FAULTS)
def test_sync_goes_past_an_unreadable_repository_and_repairs_the_rest(
    tmp_path: Path,
    local_airtable: LocalAirtable,
    github: GitHubStandIn,
    env_for: Callable[..., dict[str, str]],
    fault: Callable[[GitHubStandIn], None],
    expected: str,
) -> None:
    # A deliverable in a second repository has drifted: its issue is closed on GitHub.
    github.add_issue(OWNER, "hubs", 7, title="Scale the hub", state="closed")
    hub = next(r["id"] for r in records(local_airtable, "Projects"))
    seed(
        local_airtable,
        "Project Deliverables",
        [
            {
                "Name": "Scale the hub",
                "Project": [hub],
                "GitHub Issue": f"https://github.com/{OWNER}/hubs/issues/7",
                "Status": "In progress",
            }
        ],
    )
    before = {
        r["fields"]["Name"]: r["fields"].get("Status")
        for r in records(local_airtable, "Project Deliverables")
    }
    fault(github)

    result = run_bot("sync", env=env_for(), cwd=tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    no_traceback(result)
    after = {
        r["fields"]["Name"]: r["fields"].get("Status")
        for r in records(local_airtable, "Project Deliverables")
    }
    assert after["Scale the hub"] == "Done"  # the rest was repaired
    for name in ("Deploy the hub", "Configure login", "Load workshop materials"):
        assert after[name] == before[name]  # the unreadable repository's are left as they are
    summary = result.stdout.split("could not reach (", 1)[1]
    assert line_with(summary, f"{OWNER}/{REPO}: ").count(expected) == 1, result.stdout
    assert "hubs" not in summary
    assert "reading the issues of example-org/hubs" in result.stderr  # progress while it waits


def test_sync_with_everything_reached_exits_0(
    tmp_path: Path, env_for: Callable[..., dict[str, str]]
) -> None:
    result = run_bot("sync", env=env_for(), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "could not reach" not in result.stdout


def test_audit_names_an_unreadable_repository_and_exits_1(
    tmp_path: Path, github: GitHubStandIn, env_for: Callable[..., dict[str, str]]
) -> None:
    github.inject(ISSUES, 503, times=None)
    result = run_bot("audit", env=env_for(), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    no_traceback(result)
    note = line_with(result.stdout, "note: 3 deliverable(s) in example-org/infrastructure")
    assert "GitHub answered HTTP 503: trouble on GitHub's side" in note
    rule = line_with(result.stdout, "deliverable-status-disagrees")
    assert rule.startswith("part deliverable-status-disagrees"), rule
    assert "partly: some deliverables' issues could not be read" in rule
    assert "not everything could be checked" in result.stdout.splitlines()[-1]


# -- Airtable failing: every command that reads the base ---------------------------------------

AIRTABLE_COMMANDS = [
    pytest.param(("check",), id="check"),
    pytest.param(("sync",), id="sync"),
    pytest.param(("sync", "--dry-run"), id="sync-dry-run"),
    pytest.param(("audit",), id="audit"),
    pytest.param(("report",), id="report"),
]


def _airtable_output(command: tuple[str, ...], result: object) -> str:
    """The line naming the failure: check's FAIL line, or the command's ``error:`` line."""
    stdout, stderr = getattr(result, "stdout", ""), getattr(result, "stderr", "")
    if command[0] == "check":
        fails = [line for line in stdout.splitlines() if line.startswith("FAIL")]
        assert len(fails) == 1, stdout
        return fails[0]
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    return errors[0]


@pytest.mark.parametrize("command", AIRTABLE_COMMANDS)
@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param(403, "Airtable HTTP 403: the token lacks a scope", id="403"),
        pytest.param(404, "Airtable HTTP 404: the base or a table is not there", id="404"),
        pytest.param(429, "Airtable is rate limiting the base (HTTP 429): try again in", id="429"),
        pytest.param(500, "Airtable answered HTTP 500: trouble on Airtable's side", id="500"),
        pytest.param(503, "Airtable answered HTTP 503: trouble on Airtable's side", id="503"),
    ],
)
def test_airtable_answering_an_error_is_one_line(
    tmp_path: Path,
    local_airtable: LocalAirtable,
    env_for: Callable[..., dict[str, str]],
    fault_proxy: Callable[[str], FaultProxy],
    command: tuple[str, ...],
    status: int,
    expected: str,
) -> None:
    proxy = fault_proxy(local_airtable.url)
    proxy.fail(status, times=None)
    result = run_bot(*command, env=env_for(AIRTABLE_ENDPOINT_URL=proxy.url), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    no_traceback(result)
    assert expected in _airtable_output(command, result)


@pytest.mark.parametrize("command", AIRTABLE_COMMANDS)
def test_airtable_refusing_the_token_is_one_line(
    tmp_path: Path, env_for: Callable[..., dict[str, str]], command: tuple[str, ...]
) -> None:
    result = run_bot(*command, env=env_for(AIRTABLE_TOKEN="patWrong"), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    no_traceback(result)
    assert "the token was refused (HTTP 401): check AIRTABLE_TOKEN" in _airtable_output(
        command, result
    )
    assert "patWrong" not in result.stdout + result.stderr


@pytest.mark.parametrize("command", AIRTABLE_COMMANDS)
@pytest.mark.parametrize(
    ("status", "content_type", "expected"),
    [
        pytest.param(502, "text/html", "Airtable answered HTTP 502", id="html-502"),
        pytest.param(200, "text/html", "not Airtable's JSON (an HTML page?", id="html-200"),
        pytest.param(200, "text/plain", "not Airtable's JSON", id="text-200"),
    ],
)
def test_airtable_answering_a_page_is_one_line(
    tmp_path: Path,
    env_for: Callable[..., dict[str, str]],
    page_server: Callable[..., PageServer],
    command: tuple[str, ...],
    status: int,
    content_type: str,
    expected: str,
) -> None:
    server = page_server(status, HTML if content_type == "text/html" else "hello", content_type)
    result = run_bot(*command, env=env_for(AIRTABLE_ENDPOINT_URL=server.url), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    no_traceback(result)
    assert expected in _airtable_output(command, result)


@pytest.mark.parametrize("command", AIRTABLE_COMMANDS)
def test_airtable_never_answering_is_one_line(
    tmp_path: Path,
    local_airtable: LocalAirtable,
    env_for: Callable[..., dict[str, str]],
    fault_proxy: Callable[[str], FaultProxy],
    command: tuple[str, ...],
) -> None:
    proxy = fault_proxy(local_airtable.url)
    proxy.hang()
    result = run_bot(*command, env=env_for(AIRTABLE_ENDPOINT_URL=proxy.url), cwd=tmp_path)
    proxy.clear()
    assert result.returncode == 1, result.stdout + result.stderr
    no_traceback(result)
    assert "did not answer within 1 s ([airtable] timeout_seconds)" in _airtable_output(
        command, result
    )


@pytest.mark.parametrize("command", AIRTABLE_COMMANDS)
def test_airtable_unreachable_is_one_line(
    tmp_path: Path, env_for: Callable[..., dict[str, str]], command: tuple[str, ...]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run_bot(*command, env=env_for(AIRTABLE_ENDPOINT_URL=url), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    no_traceback(result)
    assert f"cannot reach Airtable at {url}: connection refused" in _airtable_output(
        command, result
    )


# -- serve, report, deliveries: their own failures ----------------------------------------------


def test_serve_without_a_token_refuses_in_one_line_naming_it(
    tmp_path: Path, github: GitHubStandIn
) -> None:
    env = operator_env(tmp_path, None, github)
    result = run_bot("serve", "--port", str(free_port()), env=env, cwd=tmp_path)
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "AIRTABLE_TOKEN is not set" in lines[0], result.stderr
    assert "--demo" in lines[0]
    assert not (tmp_path / "data" / "airtable-demo.sqlite3").exists()  # no demo base


@pytest.mark.parametrize(
    ("args", "data", "expected", "code"),
    [
        pytest.param(
            ("--port", "70000"),
            None,
            "--port 70000: a TCP port is a number",
            2,
            id="port-out-of-range",
        ),
        pytest.param(
            ("--port", "-1"), None, "--port -1: a TCP port is a number", 2, id="port-negative"
        ),
        pytest.param((), "file", "cannot write the data folder", 1, id="data-folder-under-a-file"),
        pytest.param((), "journal-dir", "cannot write the data folder", 1, id="journal-not-a-file"),
    ],
)
def test_serve_refuses_a_bad_port_or_data_folder_in_one_line(
    tmp_path: Path,
    local_airtable: LocalAirtable,
    github: GitHubStandIn,
    args: tuple[str, ...],
    data: str | None,
    expected: str,
    code: int,
) -> None:
    extra: dict[str, str] = {}
    if data == "file":
        (tmp_path / "plain-file").write_text("x")
        extra["DELIVERABLES_BOT_DATA"] = str(tmp_path / "plain-file" / "data")
    elif data == "journal-dir":
        folder = tmp_path / "data"
        (folder / "journal.sqlite3").mkdir(parents=True)  # a folder where the file goes
        extra["DELIVERABLES_BOT_DATA"] = str(folder)
    env = operator_env(tmp_path, local_airtable, github, **extra)
    if "--port" not in args:
        args = (*args, "--port", str(free_port()))
    result = run_bot("serve", *args, env=env, cwd=tmp_path)
    assert result.returncode == code, result
    no_traceback(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr


def test_serve_on_a_port_in_use_is_one_line(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = operator_env(tmp_path, local_airtable, github)
        result = run_bot("serve", "--port", str(port), env=env, cwd=tmp_path)
    assert result.returncode == 1, result
    no_traceback(result)
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr


def test_serve_listens_on_the_port_the_platform_gives(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    port = free_port()
    env = operator_env(tmp_path, local_airtable, github, PORT=str(port))
    with background("serve", env=env, folder=tmp_path) as bot:
        bot.wait_for_stdout(f"webhook POST http://127.0.0.1:{port}/webhook")
        bot.wait_http_ok(f"http://127.0.0.1:{port}/healthz")


def test_serve_port_option_wins_over_the_variable(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    port = free_port()
    env = operator_env(tmp_path, local_airtable, github, PORT="70000")
    with background("serve", "--port", str(port), env=env, folder=tmp_path) as bot:
        bot.wait_http_ok(f"http://127.0.0.1:{port}/healthz")


@pytest.mark.parametrize("value", ["eighty", "80.5", "-1", "70000"])
def test_serve_refuses_a_port_variable_that_is_no_port_in_one_line(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn, value: str
) -> None:
    env = operator_env(tmp_path, local_airtable, github, PORT=value)
    result = run_bot("serve", env=env, cwd=tmp_path)
    assert result.returncode == 2, result
    no_traceback(result)
    [line] = result.stderr.strip().splitlines()
    assert line == f"error: PORT={value}: a TCP port is a number from 0 to 65535", line


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        pytest.param("/nonexistent/x.html", "no such folder: /nonexistent", id="no-folder"),
        pytest.param(".", "it is a folder", id="a-folder"),
    ],
)
def test_report_to_a_path_it_cannot_write_is_one_line(
    tmp_path: Path, env_for: Callable[..., dict[str, str]], output: str, expected: str
) -> None:
    result = run_bot("report", "--format", "html", "--output", output, env=env_for(), cwd=tmp_path)
    assert result.returncode == 1, result
    no_traceback(result)
    line = result.stderr.strip()
    assert line == f"error: cannot write the report to {output}: {expected}", result.stderr


def test_deliveries_on_a_journal_it_cannot_open_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "data" / "journal.sqlite3").mkdir(parents=True)  # a folder where the file goes
    env = operator_env(tmp_path, None)
    for args in (("deliveries", "list"), ("deliveries", "retry", "x")):
        result = run_bot(*args, env=env, cwd=tmp_path)
        assert result.returncode == 1, result
        no_traceback(result)
        line = result.stderr.strip()
        assert "\n" not in line and "the delivery journal in" in line, result.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    (tmp_path / "data" / "journal.sqlite3").mkdir(parents=True)
    env = operator_env(tmp_path, None)
    quiet = run_bot("deliveries", "list", env=env, cwd=tmp_path)
    after = run_bot("deliveries", "list", "--debug", env=env, cwd=tmp_path)
    before = run_bot("--debug", "deliveries", "list", env=env, cwd=tmp_path)
    by_level = run_bot("deliveries", "list", env=dict(env, LOG_LEVEL="DEBUG"), cwd=tmp_path)
    assert "Traceback" not in quiet.stderr
    for loud in (after, before, by_level):
        assert "Traceback" in loud.stderr, loud.stderr
        assert loud.stderr.strip().splitlines()[-1] == quiet.stderr.strip()  # same line last
    assert {r.returncode for r in (quiet, after, before, by_level)} == {1}


# -- serve: a retried delivery is one line -------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        pytest.param(
            lambda gh: gh.inject(rf"^/repos/{OWNER}/{REPO}/issues/1$", 503, times=None),
            "GitHub answered HTTP 503: trouble on GitHub's side",
            id="github-503",
        ),
        pytest.param(
            lambda gh: gh.delay(rf"^/repos/{OWNER}/{REPO}/issues/1$", 30, times=None),
            "did not answer within 1 s ([github] timeout_seconds)",
            id="github-never-answers",
        ),
    ],
)
def test_a_retried_delivery_logs_one_line_with_attempt_and_next_time(
    tmp_path: Path,
    github: GitHubStandIn,
    env_for: Callable[..., dict[str, str]],
    fault: Callable[[GitHubStandIn], None],
    expected: str,
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with background("serve", "--port", str(port), env=env_for(), folder=tmp_path) as bot:
        bot.wait_for_stdout(f"webhook POST {base}/webhook")
        bot.wait_http_ok(f"{base}/readyz")
        fault(github)
        issue = github.close_issue(OWNER, REPO, 1)
        response = post_delivery_sync(
            f"{base}/webhook",
            "issues",
            issues_event("closed", issue),
            secret=SECRET,
            delivery_id="retry-one-line",
        )
        assert response.status_code == 202, response.text
        log = bot.wait_for_log("attempt 1 of 8, next attempt at")
    assert "Traceback" not in log, log
    (line,) = [x for x in log.splitlines() if "delivery retry-one-line" in x and "failed" in x]
    assert "delivery retry-one-line (issues.closed) failed (" in line
    assert expected in line
    assert " UTC (in " in line
