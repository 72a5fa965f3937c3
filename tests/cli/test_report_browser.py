"""The HTML report in a real Chromium (:mod:`tests.browser`): it fits a phone without
sideways scrolling, draws its burn-up, and every status pill reads — its text visible, in
contrast of at least 4.5:1 with its background on screen, and in grey when printed."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli.report import build_report, render_html
from bot.config import Config
from tests.browser import DESKTOP, PHONE, browser, needs_chromium
from tests.cli.test_report_model import TODAY, data

__all__ = ["browser"]  # the fixture, used by name

NARROW_PHONE = PHONE
WIDE_PHONE = {"width": 390, "height": 844}

# Reads every pill: its text, whether it is visible, its colour and the colour behind it
# (the first ancestor with an opaque background, else the canvas' white), and the contrast
# ratio of the two (WCAG 2) in colour and after converting both to grey (Rec. 601 luma).
PILLS = """
() => {
  const rgb = (value) => {
    const m = value.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const [r, g, b, a] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return {r, g, b, a: a === undefined ? 1 : a};
  };
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const c = rgb(getComputedStyle(node).backgroundColor);
      if (c && c.a > 0) return c;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  const lum = ({r, g, b}) => {
    const ch = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b);
  };
  const ratio = (x, y) => {
    const [hi, lo] = [lum(x), lum(y)].sort((p, q) => q - p);
    return (hi + 0.05) / (lo + 0.05);
  };
  const grey = ({r, g, b}) => {
    const v = 0.299 * r + 0.587 * g + 0.114 * b;
    return {r: v, g: v, b: v};
  };
  return [...document.querySelectorAll('.pill')].map((el) => {
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    const fg = rgb(style.color);
    const bg = background(el);
    return {
      text: el.innerText.trim(),
      visible: box.width > 0 && box.height > 0 && style.visibility === 'visible'
        && Number(style.opacity) === 1 && box.left >= 0 && box.right <= window.innerWidth,
      border: style.borderTopStyle,
      contrast: ratio(fg, bg),
      greyContrast: ratio(grey(fg), grey(bg)),
    };
  });
}
"""

CHART = """
() => {
  const svg = document.querySelector('svg.burnup');
  const done = svg.querySelector('polyline.done');
  const box = svg.getBoundingClientRect();
  return {
    role: svg.getAttribute('role'),
    title: svg.querySelector('title').textContent,
    length: done.getTotalLength(),
    bbox: [done.getBBox().width, done.getBBox().height],
    width: box.width,
  };
}
"""

WIDTHS = "[document.documentElement.scrollWidth, window.innerWidth]"


@pytest.fixture
def report_page() -> str:
    """The customer report of the test base (every Status, long names, dates)."""
    return render_html(build_report(data(), Config(), today=TODAY, engagement="Uni 2026"), Config())


@pytest.fixture
def page_at(browser: Any, report_page: str) -> Iterator[Any]:
    """Open the report at a viewport size: ``page_at(PHONE)``."""
    opened: list[Any] = []

    def open_at(viewport: dict[str, int]) -> Any:
        page = browser.new_page(viewport=viewport)
        opened.append(page)
        page.set_content(report_page)
        return page

    yield open_at
    for page in opened:
        page.close()


def assert_pills_read(pills: list[dict[str, Any]]) -> None:
    assert pills, "no status pill on the page"
    for pill in pills:
        assert pill["visible"], pill
        assert pill["text"][0] in "✓●■○✕!", pill  # an icon, then the word
        assert len(pill["text"]) > 2, pill
        assert pill["contrast"] >= 4.5, pill
        assert pill["greyContrast"] >= 4.5, pill


@needs_chromium
@pytest.mark.parametrize("viewport", [NARROW_PHONE, WIDE_PHONE], ids=["375px", "390px"])
def test_phone_has_no_sideways_scroll(page_at: Any, viewport: dict[str, int]) -> None:
    page = page_at(viewport)
    scroll_width, inner_width = page.evaluate(WIDTHS)
    assert inner_width == viewport["width"]
    assert scroll_width <= inner_width
    chart = page.evaluate(CHART)
    assert 0 < chart["width"] <= inner_width
    assert_pills_read(page.evaluate(PILLS))


@needs_chromium
def test_chart_is_drawn(page_at: Any) -> None:
    chart = page_at(DESKTOP).evaluate(CHART)
    assert chart["role"] == "img"
    assert chart["title"] == "Burn-up: 3 of 6 deliverables done"
    assert chart["length"] > 0
    assert chart["bbox"][0] > 0 and chart["bbox"][1] > 0  # it rises: work was done


@needs_chromium
def test_every_pill_reads_on_screen_each_status_its_own_border(page_at: Any) -> None:
    pills = page_at(DESKTOP).evaluate(PILLS)
    assert_pills_read(pills)
    texts = {p["text"] for p in pills}
    assert {"● In progress", "■ Blocked", "○ Todo", "✓ Done", "✕ Cancelled"} <= texts
    borders = {p["text"].split(" ", 1)[1]: p["border"] for p in pills}
    assert len({borders[s] for s in ("In progress", "Blocked", "Todo", "Done")}) == 4


@needs_chromium
def test_statuses_read_in_grey_print(page_at: Any) -> None:
    page = page_at(DESKTOP)
    page.emulate_media(media="print")
    assert page.evaluate("matchMedia('print').matches")
    pills = page.evaluate(PILLS)
    assert_pills_read(pills)
    backgrounds = page.evaluate(
        "[...document.querySelectorAll('.pill')].map(e => getComputedStyle(e).backgroundColor)"
    )
    assert set(backgrounds) == {"rgba(0, 0, 0, 0)"}  # read without any background
    pdf = page.pdf()
    assert pdf.startswith(b"%PDF")


@needs_chromium
def test_screenshots_at_desktop_and_phone(page_at: Any, tmp_path: Path) -> None:
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        shot = tmp_path / f"report-{name}.png"
        page_at(viewport).screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000


@needs_chromium
def test_docs_screenshot_script_writes_a_small_png(tmp_path: Path) -> None:
    # Its own process: one thread cannot run two Playwright sync sessions.
    script = Path(__file__).resolve().parents[2] / "docs" / "make_screenshot.py"
    shot = tmp_path / "report.png"
    done = subprocess.run(
        [sys.executable, str(script), "--output", str(shot)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert shot.read_bytes().startswith(b"\x89PNG")
    assert 10_000 < shot.stat().st_size < 300_000


@needs_chromium
def test_internal_overview_fits_a_phone_too(browser: Any) -> None:
    overview = render_html(build_report(data(), Config(), today=TODAY, internal=True), Config())
    page = browser.new_page(viewport=WIDE_PHONE)
    try:
        page.set_content(overview)
        scroll_width, inner_width = page.evaluate(WIDTHS)
        assert scroll_width <= inner_width
        assert page.evaluate("document.querySelectorAll('svg.burnup').length") == 2
        assert_pills_read(page.evaluate(PILLS))
    finally:
        page.close()
