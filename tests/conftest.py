"""Shared fixtures for the test suite, loaded as plugins."""

import os

# `serve --demo` puts its Airtable on DEMO_AIRTABLE_PORT (default 8081). Many tests run it at
# once (and other suites beside them): each takes a free port unless a test names one.
os.environ.setdefault("DEMO_AIRTABLE_PORT", "0")

pytest_plugins = [
    "tests.github_fixtures",
    "tests.airtable_fixtures",
    "tests.bot_fixtures",
    "tests.fault_fixtures",
    "tests.browser",
    "tests.postgres",
]
