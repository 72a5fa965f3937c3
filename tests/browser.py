"""Real Chromium for the tests that render or click pages: Debian's ``chromium`` driven by
Playwright (its own browsers are not downloaded; ``CHROMIUM`` names another binary).

Use ``@needs_chromium`` on a test and take the ``browser`` fixture: a headless Chromium,
one per test module. Where the binary is absent the test skips, naming what to install —
unless ``REQUIRE_CHROMIUM=1`` (``.ci/run`` sets it, after installing Chromium when missing):
then its absence fails the test, so CI never passes without a real browser.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ABSENT = f"{CHROMIUM} is absent (Debian: apt-get install chromium) — no real browser here"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}

REQUIRED = os.environ.get("REQUIRE_CHROMIUM") == "1"

needs_chromium = pytest.mark.skipif(
    not REQUIRED and not Path(CHROMIUM).exists(), reason=CHROMIUM_ABSENT
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium (a Playwright ``Browser``), closed after the module's tests."""
    if not Path(CHROMIUM).exists():
        if REQUIRED:
            pytest.fail(f"REQUIRE_CHROMIUM=1 but {CHROMIUM_ABSENT}")
        pytest.skip(CHROMIUM_ABSENT)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            launched.close()
