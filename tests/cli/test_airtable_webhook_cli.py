"""Airtable → GitHub's operator commands, run as ``python -m bot`` subprocesses.

``airtable-webhook status|ensure|delete``, ``sync --open-missing-issues [--dry-run]`` and
``check``'s Airtable → GitHub lines, against the embedded Airtable's demo base (which keeps
real webhooks) and the GitHub stand-in. Each test asserts what the operator reads (the
line, the exit code) and what it did: the hooks on the base, the issues on GitHub, the
records in Airtable.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pyairtable.models import Webhook

from bot.airtable_local.thread import LocalAirtable
from tests.constants import DELIVERABLES, DEMO_PROJECT, OWNER, PROJECTS, REPO
from tests.operator_helpers import operator_env, record_id, records, run_bot
from tests.standins.github import GitHubStandIn

ENABLED = "[airtable_to_github]\nenabled = true\n"
NEW_DELIVERABLE = "Write the workshop guide"
WEBHOOK_ID = re.compile(r"\bach[A-Za-z0-9]+\b")


def config_file(tmp_path: Path, text: str = ENABLED) -> Path:
    """A configuration file in ``tmp_path`` with ``text``; its path."""
    path = tmp_path / "bot.toml"
    path.write_text(text)
    return path


def env_on(
    tmp_path: Path, at: LocalAirtable, github: GitHubStandIn | None, **extra: str
) -> dict[str, str]:
    """The operator's environment with Airtable → GitHub turned on."""
    return operator_env(
        tmp_path, at, github, DELIVERABLES_BOT_CONFIG=str(config_file(tmp_path)), **extra
    )


def hooks_on_base(at: LocalAirtable) -> list[Webhook]:
    """The webhooks Airtable lists for the demo base."""
    assert at.base_id is not None
    return list(at.api().base(at.base_id).webhooks())


def out(result: subprocess.CompletedProcess[str]) -> str:
    """Everything a command printed, for assertion messages."""
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def ensure(tmp_path: Path, env: dict[str, str]) -> str:
    """Run ``airtable-webhook ensure`` (which must succeed); the hook id its line names."""
    result = run_bot("airtable-webhook", "ensure", env=env, cwd=tmp_path)
    assert result.returncode == 0, out(result)
    found = WEBHOOK_ID.search(result.stdout)
    assert found, out(result)
    return found.group(0)


def hook_ids(at: LocalAirtable) -> list[str]:
    """The ids of the hooks on the demo base."""
    return [hook.id for hook in hooks_on_base(at)]


# -- airtable-webhook status|ensure|delete -----------------------------------------------------


def test_status_ensure_expire_and_delete_a_hook_as_an_operator_does(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    base = local_airtable.base_id
    env = env_on(tmp_path, local_airtable, github)

    before = run_bot("airtable-webhook", "status", env=env, cwd=tmp_path)
    assert before.returncode == 1, out(before)
    assert before.stdout.splitlines() == [
        f"{base}: no webhook (deliverables-bot airtable-webhook ensure creates one)"
    ], out(before)
    assert hook_ids(local_airtable) == []

    first = ensure(tmp_path, env)
    [hook] = hooks_on_base(local_airtable)
    assert hook.id == first and hook.is_hook_enabled
    expiry = hook.expiration_time
    assert expiry is not None
    stamp = expiry.strftime("%Y-%m-%dT%H:%M:%S")
    ensured = run_bot("airtable-webhook", "ensure", env=env, cwd=tmp_path)
    assert ensured.returncode == 0, out(ensured)
    [line] = ensured.stdout.splitlines()
    assert line.startswith(f"{base}: webhook {first}, expires {stamp}"), line
    assert hook_ids(local_airtable) == [first], "a second ensure keeps the one hook"

    healthy = run_bot("airtable-webhook", "status", env=env, cwd=tmp_path)
    assert healthy.returncode == 0, out(healthy)
    assert healthy.stdout.startswith(f"{base}: webhook {first}, expires {stamp}"), out(healthy)
    assert "DISABLED" not in healthy.stdout and "EXPIRED" not in healthy.stdout

    local_airtable.expire_webhook(first)
    expired = run_bot("airtable-webhook", "status", env=env, cwd=tmp_path)
    assert expired.returncode == 1, out(expired)
    [line] = expired.stdout.splitlines()
    assert line.startswith(f"{base}: webhook {first}, EXPIRED at "), line
    assert "(airtable-webhook ensure, or serve, replaces it)" in line
    assert expired.stderr == "", out(expired)

    second = ensure(tmp_path, env)
    assert second != first
    [replacement] = hooks_on_base(local_airtable)
    assert replacement.id == second and replacement.is_hook_enabled
    listed = run_bot("deliveries", "list", env=env, cwd=tmp_path)
    assert listed.returncode == 0, out(listed)
    sweeps = [line for line in listed.stdout.splitlines() if "airtable.sweep" in line]
    assert len(sweeps) == 1, out(listed)
    assert sweeps[0].startswith(f"airtable-sweep-{base}-") and "pending" in sweeps[0], sweeps

    deleted = run_bot("airtable-webhook", "delete", env=env, cwd=tmp_path)
    assert deleted.returncode == 0, out(deleted)
    assert deleted.stdout.splitlines() == [f"{base}: webhook {second} deleted"]
    assert hook_ids(local_airtable) == []
    again = run_bot("airtable-webhook", "delete", env=env, cwd=tmp_path)
    assert again.returncode == 0, out(again)
    assert again.stdout.splitlines() == [f"{base}: no webhook to delete"]
    after = run_bot("airtable-webhook", "status", env=env, cwd=tmp_path)
    assert after.returncode == 1, out(after)
    assert "no webhook" in after.stdout


def test_the_status_of_an_expired_hook_says_it_expired_and_what_to_do(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    env = env_on(tmp_path, local_airtable, github)
    hook = ensure(tmp_path, env)
    local_airtable.expire_webhook(hook)
    result = run_bot("airtable-webhook", "status", env=env, cwd=tmp_path)
    assert result.returncode == 1, out(result)
    assert "EXPIRED" in result.stdout and "ensure" in result.stdout, out(result)


def test_ensure_with_the_direction_off_is_refused_in_one_line(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    result = run_bot(
        "airtable-webhook",
        "ensure",
        env=operator_env(tmp_path, local_airtable, github),
        cwd=tmp_path,
    )
    assert result.returncode == 2, out(result)
    [line] = result.stderr.splitlines()
    assert line.startswith("error: Airtable → GitHub is off: set [airtable_to_github] enabled")
    assert result.stdout == ""
    assert hook_ids(local_airtable) == []


@pytest.mark.parametrize("action", ["status", "ensure", "delete"])
def test_without_a_base_each_action_says_so_in_one_line(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn, action: str
) -> None:
    env = env_on(tmp_path, local_airtable, github)
    del env["AIRTABLE_BASE_ID"]
    result = run_bot("airtable-webhook", action, env=env, cwd=tmp_path)
    assert result.returncode == 2, out(result)
    assert result.stderr.splitlines() == [
        "error: AIRTABLE_BASE_ID is not set (and no [bases] in the configuration)"
    ]
    assert result.stdout == ""
    assert hook_ids(local_airtable) == []


@pytest.mark.parametrize("action", ["status", "ensure", "delete"])
def test_a_refused_token_is_one_error_line_and_no_traceback(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn, action: str
) -> None:
    good = env_on(tmp_path, local_airtable, github)
    hook = ensure(tmp_path, good)
    wrong = good | {"AIRTABLE_TOKEN": "patWrongToken.not-this-one"}
    result = run_bot("airtable-webhook", action, env=wrong, cwd=tmp_path)
    assert result.returncode == 1, out(result)
    assert result.stderr.splitlines() == [
        "error: Airtable: the token was refused (HTTP 401): check AIRTABLE_TOKEN"
    ], out(result)
    assert "Traceback" not in result.stdout + result.stderr
    assert "patWrongToken" not in result.stdout + result.stderr
    assert hook_ids(local_airtable) == [hook], "a refused command changes no hook"


# -- sync --open-missing-issues ----------------------------------------------------------------


def snapshot(at: LocalAirtable) -> dict[str, list[dict[str, Any]]]:
    """The Projects and deliverables as the store has them, to prove a dry run wrote nothing."""
    return {table: records(at, table) for table in (PROJECTS, DELIVERABLES)}


def issue_titles(github: GitHubStandIn) -> list[str]:
    """The titles of the demo repository's issues, oldest first."""
    return [issue["title"] for issue in github.issues(OWNER, REPO)]


def test_open_missing_issues_lists_then_opens_each_issue_once(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    env = env_on(tmp_path, local_airtable, github)
    project = record_id(local_airtable, PROJECTS, DEMO_PROJECT)
    typed = local_airtable.client_table(DELIVERABLES).create(
        {"Name": NEW_DELIVERABLE, "Project": [project]}
    )["id"]
    titles = issue_titles(github)
    before = snapshot(local_airtable)

    dry = run_bot("sync", "--open-missing-issues", "--dry-run", env=env, cwd=tmp_path)
    assert dry.returncode == 0, out(dry)
    lines = dry.stdout.splitlines()
    tail = lines[lines.index("Airtable → GitHub: what would be opened") + 1 :]
    assert tail == [
        f"  Project {project} {DEMO_PROJECT!r}: would open its tracking issue in {OWNER}/{REPO}",
        f"  deliverable {typed} {NEW_DELIVERABLE!r}: would open an issue in {OWNER}/{REPO} "
        "(or link the one that carries its marker)",
    ], out(dry)
    assert issue_titles(github) == titles, "a dry run opens nothing"
    assert snapshot(local_airtable) == before, "a dry run writes nothing"

    real = run_bot("sync", "--open-missing-issues", env=env, cwd=tmp_path)
    assert real.returncode == 0, out(real)
    assert issue_titles(github) == [*titles, DEMO_PROJECT, NEW_DELIVERABLE]
    by_title = {issue["title"]: issue for issue in github.issues(OWNER, REPO)}
    tracking, opened = by_title[DEMO_PROJECT], by_title[NEW_DELIVERABLE]
    lines = real.stdout.splitlines()
    tail = lines[lines.index("Airtable → GitHub: opening") + 1 :]
    assert len(tail) == 2, out(real)
    assert tail[0].startswith(
        f"  Project {project} {DEMO_PROJECT!r}: opened tracking issue "
        f"{OWNER}/{REPO}#{tracking['number']}"
    ), out(real)
    assert tail[1] == (
        f"  deliverable {typed} {NEW_DELIVERABLE!r}: opened {OWNER}/{REPO}#{opened['number']}; "
        f"sub-issue of {OWNER}/{REPO}#{tracking['number']}"
    ), out(real)
    fields = local_airtable.table(DELIVERABLES).get(typed)["fields"]
    assert fields["GitHub Issue"] == opened["html_url"]
    project_fields = local_airtable.table(PROJECTS).get(project)["fields"]
    assert project_fields["Tracking Issue"] == tracking["html_url"]

    again = run_bot("sync", "--open-missing-issues", env=env, cwd=tmp_path)
    assert again.returncode == 0, out(again)
    assert again.stdout.splitlines()[-1] == (
        f"  {local_airtable.base_id}: every deliverable and Project has its issue"
    ), out(again)
    assert issue_titles(github) == [*titles, DEMO_PROJECT, NEW_DELIVERABLE], "nothing new"


def test_open_missing_issues_with_the_direction_off_is_refused(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    project = record_id(local_airtable, PROJECTS, DEMO_PROJECT)
    local_airtable.client_table(DELIVERABLES).create(
        {"Name": NEW_DELIVERABLE, "Project": [project]}
    )
    titles = issue_titles(github)
    before = snapshot(local_airtable)
    env = operator_env(tmp_path, local_airtable, github)
    result = run_bot("sync", "--open-missing-issues", env=env, cwd=tmp_path)
    assert result.returncode == 2, out(result)
    [line] = result.stderr.splitlines()
    assert line.startswith("error: Airtable → GitHub is off: set [airtable_to_github] enabled")
    assert result.stdout == ""
    assert issue_titles(github) == titles
    assert snapshot(local_airtable) == before


def test_open_missing_issues_with_a_refused_token_is_one_error_line(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    titles = issue_titles(github)
    env = env_on(tmp_path, local_airtable, github, AIRTABLE_TOKEN="patWrongToken.not-this-one")
    result = run_bot("sync", "--open-missing-issues", env=env, cwd=tmp_path)
    assert result.returncode == 1, out(result)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: Airtable: the token was refused (HTTP 401): check AIRTABLE_TOKEN"]
    assert "Traceback" not in result.stdout + result.stderr
    assert issue_titles(github) == titles


# -- check ---------------------------------------------------------------------------------


def check_lines(result: subprocess.CompletedProcess[str], name: str) -> list[str]:
    """The lines of ``check`` about ``name``."""
    return [line for line in result.stdout.splitlines() if line[5:].startswith(f"{name}: ")]


def test_check_shows_the_hook_from_no_journal_to_missing_to_ensured(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    base = local_airtable.base_id
    env = env_on(tmp_path, local_airtable, github)
    journal = tmp_path / "data" / "journal.sqlite3"

    fresh = run_bot("check", env=env, cwd=tmp_path)
    assert fresh.returncode == 0, out(fresh)
    assert check_lines(fresh, "Airtable webhook") == [
        f"skip Airtable webhook: no journal yet at {journal}: serve creates each base's webhook"
        " when it starts"
    ], out(fresh)
    assert check_lines(fresh, "Project repositories") == [
        f"ok   Project repositories: base {base}: 1 Project(s) name a repository, each as "
        "owner/name"
    ], out(fresh)
    assert check_lines(fresh, "Airtable → GitHub") == [
        f"ok   Airtable → GitHub: base {base}: Airtable → GitHub is on; no default repository "
        "for this base, so only Projects with a Repository get issues"
    ], out(fresh)

    hook = ensure(tmp_path, env)
    ensured = run_bot("check", env=env, cwd=tmp_path)
    assert ensured.returncode == 0, out(ensured)
    [line] = check_lines(ensured, "Airtable webhook")
    assert line.startswith(f"ok   Airtable webhook: {base}: webhook {hook}, expires "), line

    deleted = run_bot("airtable-webhook", "delete", env=env, cwd=tmp_path)
    assert deleted.returncode == 0, out(deleted)
    missing = run_bot("check", env=env, cwd=tmp_path)
    assert missing.returncode == 1, out(missing)
    assert check_lines(missing, "Airtable webhook") == [
        f"FAIL Airtable webhook: {base}: no webhook (deliverables-bot airtable-webhook ensure "
        "creates one)"
    ], out(missing)
    assert missing.stdout.splitlines()[-1].startswith("1 of "), out(missing)


def test_check_names_a_default_repository_and_an_expired_hook(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    base = local_airtable.base_id
    config = config_file(tmp_path, ENABLED + f'default_repository = "{OWNER}/{REPO}"\n')
    env = operator_env(tmp_path, local_airtable, github, DELIVERABLES_BOT_CONFIG=str(config))
    hook = ensure(tmp_path, env)
    local_airtable.expire_webhook(hook)
    result = run_bot("check", env=env, cwd=tmp_path)
    assert result.returncode == 1, out(result)
    assert check_lines(result, "Airtable → GitHub") == [
        f"ok   Airtable → GitHub: base {base}: Airtable → GitHub is on; issues of Projects "
        f"without a Repository are opened in {OWNER}/{REPO}"
    ], out(result)
    [line] = check_lines(result, "Airtable webhook")
    assert line.startswith(f"FAIL Airtable webhook: {base}: webhook {hook}, EXPIRED at "), line


def test_check_without_app_credentials_says_the_direction_needs_them(
    tmp_path: Path, local_airtable: LocalAirtable
) -> None:
    env = env_on(tmp_path, local_airtable, None)
    result = run_bot("check", "--without-github", env=env, cwd=tmp_path)
    assert result.returncode == 1, out(result)
    assert check_lines(result, "Airtable → GitHub")[-1] == (
        "FAIL Airtable → GitHub: Airtable → GitHub is on but opens issues as the GitHub App: "
        "set GITHUB_APP_ID and GITHUB_PRIVATE_KEY"
    ), out(result)
