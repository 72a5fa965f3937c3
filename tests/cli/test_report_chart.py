"""The burn-up chart (pure): one inline SVG, accessible, scalable, nothing external, and its
lines where the counts put them."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date

from bot.core.report_chart import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, burnup_svg, y_ticks
from bot.core.report_model import BurnUp

SVG = "{http://www.w3.org/2000/svg}"
CHART = BurnUp(
    start=date(2026, 1, 1),
    end=date(2026, 1, 11),
    done=((date(2026, 1, 1), 0), (date(2026, 1, 6), 2)),
    total=((date(2026, 1, 1), 4),),
)


def parsed(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_svg_is_an_accessible_image_that_scales() -> None:
    svg = burnup_svg(CHART, chart_id="c1")
    root = parsed(svg)
    assert root.get("role") == "img"
    assert root.get("viewBox") == f"0 0 {WIDTH} {HEIGHT}"
    assert root.get("width") == "100%" and root.get("height") is None
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == "Burn-up: 2 of 4 deliverables done"
    desc = root.find(f"{SVG}desc")
    assert desc is not None and "from 2026-01-01 to 2026-01-11" in (desc.text or "")
    for external in ("<script", "href", "url(", "<image", "<foreignObject"):
        assert external not in svg


def test_axes_are_labelled() -> None:
    texts = [t.text for t in parsed(burnup_svg(CHART)).iter(f"{SVG}text")]
    assert {"2026-01-01", "2026-01-06", "2026-01-11"} <= set(texts)
    assert {"0", "1", "2", "3", "4"} <= set(texts)
    assert "deliverables" in texts
    assert "Done (2)" in texts and "Total to do (4)" in texts


def points(svg: str, css_class: str) -> list[tuple[float, float]]:
    line = next(p for p in parsed(svg).iter(f"{SVG}polyline") if p.get("class") == css_class)
    return [tuple(map(float, xy.split(","))) for xy in (line.get("points") or "").split()]  # type: ignore[misc]


def test_done_is_a_step_line_under_the_total() -> None:
    svg = burnup_svg(CHART)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    done = points(svg, "done")
    assert done[0] == (LEFT, TOP + plot_h)  # starts at 0 on the start day
    middle = LEFT + plot_w / 2
    assert (round(middle, 1), TOP + plot_h / 2) in done  # 2 of 4 on day 5 of 10
    assert done[-1] == (LEFT + plot_w, TOP + plot_h / 2)  # held to the end
    total = points(svg, "total")
    assert total[-1] == (LEFT + plot_w, TOP)
    assert "stroke-dasharray" in re.search(r'<polyline class="total"[^>]*>', svg).group(0)  # type: ignore[union-attr]


def test_one_day_chart_and_empty_chart_still_draw() -> None:
    day = date(2026, 1, 1)
    svg = burnup_svg(BurnUp(start=day, end=day, done=((day, 0),), total=((day, 0),)))
    assert len(points(svg, "done")) >= 2
    assert "2026-01-01" in svg


def test_y_ticks_are_whole_and_reach_the_top() -> None:
    assert y_ticks(1) == [0, 1]
    assert y_ticks(4) == [0, 1, 2, 3, 4]
    assert y_ticks(7) == [0, 2, 4, 6, 8]
    assert y_ticks(23)[-1] >= 23 and len(y_ticks(23)) <= 7
