"""``report``: a delivery report for a customer (one Engagement), as Markdown or one HTML file;
with ``--all``, the internal overview of every Engagement and its sales records.

The model is :mod:`bot.core.report_model`'s (pure), the burn-up :mod:`bot.core.report_chart`'s;
:mod:`bot.cli.report_html` and :mod:`bot.cli.report_markdown` print it. This module reads
the base (every base of the configuration) and picks the renderer; the arguments, the
output file and the exit codes are :mod:`bot.cli.report_args`'.
"""

from __future__ import annotations

from datetime import date

from bot.cli.report_html import render_html
from bot.cli.report_markdown import render_markdown
from bot.config import Config
from bot.core.records import BaseData
from bot.core.report_model import EngagementNeeded, Report, ReportError, build_report

NO_BASE = "no base: set AIRTABLE_BASE_ID, or map owners to bases in [bases]"

__all__ = [
    "EngagementNeeded",
    "ReportError",
    "build_report",
    "render",
    "render_html",
    "render_markdown",
    "report_command",
]


def render(report: Report, config: Config, output_format: str) -> str:
    """The report as ``html`` or ``md`` (Markdown)."""
    if output_format == "html":
        return render_html(report, config)
    return render_markdown(report, config)


async def report_command(
    config: Config,
    *,
    output_format: str,
    today: date,
    engagement: str | None,
    project: str | None,
    internal: bool = False,
) -> str:
    """``deliverables-bot report``: read the base and render the report (raises
    :class:`ReportError`; :class:`EngagementNeeded` when one Engagement must be named)."""
    from bot.app import open_runtime
    from bot.clients.reads import base_ids, read_base

    bases = base_ids(config)
    if not bases:
        raise ReportError(NO_BASE)
    async with open_runtime(config) as runtime:
        data = BaseData.combined([await read_base(runtime.lanes.for_base(b)) for b in bases])
    model = build_report(
        data, config, today=today, engagement=engagement, project=project, internal=internal
    )
    return render(model, config, output_format)
