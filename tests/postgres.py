"""A real PostgreSQL server for the tests: ``TEST_DATABASE_URL``, one fresh schema per test.

Tests that need PostgreSQL take the ``postgres_url`` fixture: a ``postgresql://`` URL whose
``search_path`` is a schema created for the test and dropped after it, so tests (and suites
running beside them) never see each other's tables. Without ``TEST_DATABASE_URL``, or with a
server that does not answer, those tests skip with the reason, unless ``REQUIRE_POSTGRES=1``
(``.ci/run`` sets it), which makes the absence a failure. The ``store_location`` fixture is
parametrised over both backends: a SQLite file, then a PostgreSQL schema.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

ENV = "TEST_DATABASE_URL"
REQUIRED = os.environ.get("REQUIRE_POSTGRES") == "1"


def _server_url() -> str:
    """The server's URL, or a skip (a failure with REQUIRE_POSTGRES=1) with the reason."""
    url = os.environ.get(ENV, "").strip()
    reason = None
    if not url:
        reason = f"{ENV} is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)"
    else:
        import psycopg

        try:
            psycopg.connect(url, connect_timeout=3).close()
        except psycopg.Error as exc:
            reason = f"no PostgreSQL server answers at {ENV}: {str(exc).strip()}"
    if reason is not None:
        if REQUIRED:
            pytest.fail(f"REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    return url


def with_schema(url: str, schema: str) -> str:
    """*url* with its connections' ``search_path`` set to *schema*."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL of the test server whose search_path is a schema of this test's own."""
    import psycopg

    url = _server_url()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield with_schema(url, schema)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the bot keeps its state: a SQLite file, or (second) a PostgreSQL schema."""
    if request.param == "sqlite":
        return str(tmp_path / "data" / "journal.sqlite3")
    return str(request.getfixturevalue("postgres_url"))
