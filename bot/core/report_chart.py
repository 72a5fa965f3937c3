"""The report's burn-up chart as an inline SVG string: no script, no external asset. Pure.

:func:`burnup_svg` draws a :class:`bot.core.report_model.BurnUp`: the deliverables done so
far (a solid step line, from the Completed dates) under the total to do (a dashed line),
with labelled axes and a legend, so it reads in grey print too. The SVG has
``role="img"``, a ``<title>`` and a ``<desc>``, and scales to its container's width through
its ``viewBox`` (``width="100%"``, no fixed pixel size).
"""

from __future__ import annotations

import html
from datetime import date

from bot.core.report_model import BurnUp

WIDTH = 640
HEIGHT = 270
LEFT, RIGHT, TOP, BOTTOM = 58, 20, 18, 76
DONE_COLOUR = "#1a7f37"
TOTAL_COLOUR = "#59636e"
INK = "#1f2328"
GRID = "#d1d9e0"
TITLE = "Burn-up: {done} of {total} deliverables done"
DESC = (
    "Deliverables done over time (solid line) against the deliverables to do (dashed line), "
    "from {start} to {end}."
)


def _h(text: object) -> str:
    return html.escape(str(text), quote=True)


def y_ticks(top: int) -> list[int]:
    """Whole-number ticks from 0 reaching at least ``top``, at most 6 of them."""
    step = max(1, -(-top // 5))
    ticks = list(range(0, top + step, step))
    return ticks if ticks[-1] >= top else [*ticks, ticks[-1] + step]


def _points(
    steps: tuple[tuple[date, int], ...], chart: BurnUp, top: int
) -> list[tuple[float, float]]:
    """The step line of cumulative ``steps``, from the chart's start to its end."""
    span = max(1, (chart.end - chart.start).days)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def x(day: date) -> float:
        return LEFT + plot_w * (day - chart.start).days / span

    def y(n: int) -> float:
        return TOP + plot_h * (1 - n / top)

    level = steps[0][1] if steps and steps[0][0] == chart.start else 0
    points = [(x(chart.start), y(level))]
    for day, count in steps:
        points.append((x(day), y(level)))
        points.append((x(day), y(count)))
        level = count
    points.append((x(chart.end), y(level)))
    return points


def _polyline(points: list[tuple[float, float]], css_class: str, extra: str) -> str:
    coords = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
    return f'<polyline class="{css_class}" fill="none" points="{coords}" {extra}/>'


def burnup_svg(chart: BurnUp, *, chart_id: str = "burnup") -> str:
    """The burn-up as one ``<svg>`` element (``chart_id`` keeps its title's id unique)."""
    ticks = y_ticks(chart.top)
    top = ticks[-1]
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    done = chart.done[-1][1] if chart.done else 0
    total = chart.total[-1][1] if chart.total else 0
    title = TITLE.format(done=done, total=total)
    desc = DESC.format(start=chart.start.isoformat(), end=chart.end.isoformat())
    cid = _h(chart_id)
    parts = [
        f'<svg class="burnup" role="img" aria-labelledby="{cid}-title {cid}-desc" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="13" fill="{INK}">',
        f'<title id="{cid}-title">{_h(title)}</title>',
        f'<desc id="{cid}-desc">{_h(desc)}</desc>',
    ]
    for tick in ticks:
        ty = TOP + plot_h * (1 - tick / top)
        parts.append(
            f'<line x1="{LEFT}" y1="{ty:.1f}" x2="{LEFT + plot_w}" y2="{ty:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{LEFT - 8}" y="{ty + 4:.1f}" text-anchor="end">{tick}</text>'
        )
    base_y = TOP + plot_h
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base_y}" stroke="{INK}"/>'
        f'<line x1="{LEFT}" y1="{base_y}" x2="{LEFT + plot_w}" y2="{base_y}" stroke="{INK}"/>'
    )
    labels: list[tuple[float, str, date]] = [(LEFT, "start", chart.start)]
    span = (chart.end - chart.start).days
    if span >= 2:
        middle = date.fromordinal(chart.start.toordinal() + span // 2)
        labels.append((LEFT + plot_w * (span // 2) / span, "middle", middle))
    if span >= 1:
        labels.append((LEFT + plot_w, "end", chart.end))
    for lx, anchor, day in labels:
        parts.append(
            f'<text x="{lx:.1f}" y="{base_y + 18}" text-anchor="{anchor}">{day.isoformat()}</text>'
        )
    parts.append(
        f'<text x="{LEFT - 42}" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 {LEFT - 42} {TOP + plot_h / 2:.1f})">deliverables</text>'
    )
    parts.append(
        _polyline(
            _points(chart.total, chart, top),
            "total",
            f'stroke="{TOTAL_COLOUR}" stroke-width="2" stroke-dasharray="7 5"',
        )
    )
    parts.append(
        _polyline(
            _points(chart.done, chart, top),
            "done",
            f'stroke="{DONE_COLOUR}" stroke-width="3.5" stroke-linejoin="round"',
        )
    )
    legend_y = base_y + 50
    parts.append(
        f'<line x1="{LEFT}" y1="{legend_y - 4}" x2="{LEFT + 32}" y2="{legend_y - 4}" '
        f'stroke="{DONE_COLOUR}" stroke-width="3.5"/>'
        f'<text x="{LEFT + 40}" y="{legend_y}">Done ({done})</text>'
        f'<line x1="{LEFT + 180}" y1="{legend_y - 4}" x2="{LEFT + 212}" y2="{legend_y - 4}" '
        f'stroke="{TOTAL_COLOUR}" stroke-width="2" stroke-dasharray="7 5"/>'
        f'<text x="{LEFT + 220}" y="{legend_y}">Total to do ({total})</text>'
    )
    parts.append("</svg>")
    return "".join(parts)
