"""Shared fixtures for the test suite, loaded as plugins."""

pytest_plugins = [
    "tests.github_fixtures",
    "tests.airtable_fixtures",
    "tests.bot_fixtures",
    "tests.fault_fixtures",
    "tests.browser",
]
