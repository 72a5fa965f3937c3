"""``DATABASE_URL`` as an operator meets it: ``check`` validating the database, ``serve``
refusing one it cannot use in one line, a URL that is not PostgreSQL refused, and the
operator commands (``deliveries``) reading the journal the replicas share. Real processes,
the real PostgreSQL server of ``TEST_DATABASE_URL``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg

from bot.airtable_local.thread import LocalAirtable
from bot.intake.journal import Journal
from tests.operator_helpers import operator_env, run_bot
from tests.standins.github import GitHubStandIn

REFUSING = "postgresql://postgres@127.0.0.1:1/test"


def out(result: subprocess.CompletedProcess[str]) -> str:
    """Everything a command printed, for assertion messages."""
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def line_of(result: subprocess.CompletedProcess[str], name: str) -> str:
    """The one line ``check`` printed for the check *name*."""
    (line,) = [ln for ln in result.stdout.splitlines() if ln[5:].startswith(f"{name}: ")]
    return line


def test_check_names_a_database_that_refuses(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    env = operator_env(tmp_path, local_airtable, github, DATABASE_URL=REFUSING)
    result = run_bot("check", env=env, cwd=tmp_path)
    assert result.returncode == 1, out(result)
    line = line_of(result, "database")
    assert line.startswith(
        "FAIL database: cannot connect to postgresql://postgres@127.0.0.1:1/test"
    )
    assert "refused" in line, out(result)
    # The journal's checks would only say it again.
    assert "delivery journal" not in result.stdout


def test_check_says_an_empty_database_is_not_migrated_and_creates_nothing(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn, postgres_url: str
) -> None:
    env = operator_env(tmp_path, local_airtable, github, DATABASE_URL=postgres_url)
    result = run_bot("check", env=env, cwd=tmp_path)
    assert result.returncode == 1, out(result)
    assert "has no tables yet: `serve` creates them" in line_of(result, "database")
    with psycopg.connect(postgres_url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchone()
    assert tables == (0,)


def test_check_passes_on_a_migrated_database_and_reads_its_journal(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn, postgres_url: str
) -> None:
    with Journal(postgres_url) as journal:
        journal.record("d-1", "issues", "closed", {"issue": {}}, issue_key="o/r#1")
        journal.mark_failed("d-1", "boom")
    env = operator_env(tmp_path, local_airtable, github, DATABASE_URL=postgres_url)
    result = run_bot("check", env=env, cwd=tmp_path)
    database = line_of(result, "database")
    assert database.startswith("ok   database: postgresql://postgres@"), out(result)
    assert "schema version 2, every table there" in database
    assert "1 failed deliveries" in line_of(result, "delivery journal"), out(result)

    listed = run_bot("deliveries", "list", "--failed", env=env, cwd=tmp_path)
    assert listed.returncode == 0, out(listed)
    assert "d-1" in listed.stdout and "boom" in listed.stdout
    retried = run_bot("deliveries", "retry", "d-1", env=env, cwd=tmp_path)
    assert retried.returncode == 0, out(retried)
    with Journal(postgres_url) as journal:
        assert journal.counts()["pending"] == 1


def test_check_names_a_missing_table(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn, postgres_url: str
) -> None:
    Journal(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE replicas")
    env = operator_env(tmp_path, local_airtable, github, DATABASE_URL=postgres_url)
    result = run_bot("check", env=env, cwd=tmp_path)
    assert result.returncode == 1, out(result)
    assert line_of(result, "database").endswith("lacks the tables replicas")


def test_serve_refuses_a_database_it_cannot_use_in_one_line(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    env = operator_env(
        tmp_path, local_airtable, github, DATABASE_URL=REFUSING, GITHUB_WEBHOOK_SECRET="s3cret"
    )
    result = run_bot("serve", "--port", "0", env=env, cwd=tmp_path)
    assert result.returncode == 1, out(result)
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(
        "error: cannot keep the bot's state in postgresql://postgres@127.0.0.1:1/test:"
        " cannot connect to postgresql://postgres@127.0.0.1:1/test"
    ), out(result)
    assert "Traceback" not in result.stderr


def test_a_database_url_that_is_not_postgresql_is_refused(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    env = operator_env(tmp_path, local_airtable, github, DATABASE_URL="mysql://root@127.0.0.1/bot")
    result = run_bot("check", env=env, cwd=tmp_path)
    assert result.returncode == 1, out(result)
    assert line_of(result, "configuration").startswith(
        "FAIL configuration: DATABASE_URL: expected a PostgreSQL URL"
    )
    served = run_bot("serve", "--port", "0", env=env, cwd=tmp_path)
    assert served.returncode == 2, out(served)
    assert "DATABASE_URL: expected a PostgreSQL URL" in served.stderr


def test_a_password_in_the_url_is_never_printed(
    tmp_path: Path, local_airtable: LocalAirtable, github: GitHubStandIn
) -> None:
    url = "postgresql://postgres:hunter2@127.0.0.1:1/test"
    env = operator_env(tmp_path, local_airtable, github, DATABASE_URL=url)
    result = run_bot("check", env=env, cwd=tmp_path)
    assert "hunter2" not in result.stdout + result.stderr, out(result)
    assert "postgres:***@127.0.0.1:1/test" in result.stdout, out(result)
