"""Write ``docs/report.png``: the customer report of the demo base, as Chromium shows it at
desktop width (1280px).

Run from anywhere with the project's venv: ``.venv/bin/python docs/make_screenshot.py``
(``--output PATH`` writes elsewhere). It seeds the embedded Airtable with the demo base, as
it stands midway (:data:`MIDWAY`: two deliverables done on different days, one in progress;
the report dated :data:`AS_OF`), builds the report exactly as ``deliverables-bot report
--format html`` does, and takes a full-page screenshot in Debian's Chromium (``CHROMIUM``
names another binary), the one the browser tests use.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "docs" / "report.png"
TABLES = ("opportunities", "contracts", "engagements", "projects", "deliverables")
MIDWAY = {
    "Deploy the hub": {"Status": "Done", "Completed": "2026-02-03T16:20:00.000Z"},
    "Configure login": {"Status": "Done", "Completed": "2026-03-17T11:05:00.000Z"},
    "Load workshop materials": {"Status": "In progress", "Assignees": "alice"},
}
AS_OF = "2026-04-01"


def demo_report_html() -> str:
    """The customer report of the demo base as one HTML page."""
    from bot.airtable_local.thread import LocalAirtable
    from bot.cli.report import build_report, render_html
    from bot.config import Config
    from bot.core.records import BaseData

    config = Config()
    with LocalAirtable(seed="demo", requests_per_second=None) as at:
        assert at.base_id is not None
        deliverables = at.table(config.tables.deliverables)
        for record in deliverables.all():
            deliverables.update(record["id"], MIDWAY[record["fields"]["Name"]])
        data = BaseData(
            **{key: at.store.all_records(at.base_id, getattr(config.tables, key)) for key in TABLES}
        )
    return render_html(build_report(data, config, today=date.fromisoformat(AS_OF)), config)


def screenshot(page_html: str, output: Path) -> None:
    """A full-page PNG of ``page_html`` at desktop width."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, DESKTOP

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport=DESKTOP)
            page.set_content(page_html)
            page.screenshot(path=str(output), full_page=True)
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    """Write the screenshot; prints where."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    screenshot(demo_report_html(), args.output)
    print(f"wrote {args.output} ({args.output.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
