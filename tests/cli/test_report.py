"""``report``: the Markdown and the self-contained HTML of the model, and the command as a
user runs it against the embedded demo base (the page in a real browser is
``test_report_browser``'s)."""

from __future__ import annotations

import re
from pathlib import Path

from bot.airtable_local.thread import LocalAirtable
from bot.cli.report import build_report, render_html, render_markdown
from bot.config import Config
from tests.cli.test_report_model import ISSUE, TODAY, data
from tests.operator_helpers import operator_env, run_bot


def customer_md() -> str:
    return render_markdown(
        build_report(data(), Config(), today=TODAY, engagement="Uni 2026"), Config()
    )


def test_markdown_has_the_summary_and_live_work_first() -> None:
    md = customer_md()
    assert md.startswith("# Delivery report: Uni 2026\n\n2026-01-01 → 2026-12-31 · ● Active")
    assert "**Deliverables done:** 3 of 6 (50%) `██████████░░░░░░░░░░`" in md
    assert "**Projects complete:** 1 of 2" in md
    assert "**Started:** 2025-12-15" in md
    assert "**Last completion:** 2026-04-15" in md
    assert (
        "`█████░░░░░░░░░░░░░░░` ● In progress · 1 of 4 done (25%) · 1 cancelled, not counted"
        " · [Statement of Work](https://example.org/sow)"
    ) in md
    rows = [line for line in md.splitlines() if line.startswith("| ") and "---" not in line]
    statuses = [row.split(" | ")[1] for row in rows if not row.startswith("| Deliverable")]
    assert statuses[:5] == ["● In progress", "■ Blocked", "○ Todo", "✓ Done", "✕ Cancelled"]
    assert (
        f"| Deploy the hub | ✓ Done | alice, bob | 2026-02-10 "
        f"| [example-org/infrastructure#1]({ISSUE}1) |"
    ) in md


def test_markdown_neutralises_mentions_and_markup() -> None:
    md = customer_md()
    assert "@everyone" not in md and "@carol" not in md  # no mention is ever formed
    assert "Login \\| SSO for @\u200deveryone" in md
    assert "@\u200dcarol" in md
    overview = render_markdown(build_report(data(), Config(), today=TODAY, internal=True), Config())
    assert "<script>" not in overview and "&lt;script&gt;" in overview
    assert "javascript:" not in overview.replace("Statement of Work", "")
    assert "[Statement of Work](javascript" not in overview


def test_customer_markdown_has_no_sales_records_the_overview_has() -> None:
    md = customer_md()
    for internal in ("Needs renewal", "renewal", "Opportunity", "Prospect", "Closed-Won"):
        assert internal not in md
    overview = render_markdown(build_report(data(), Config(), today=TODAY, internal=True), Config())
    assert overview.startswith("# Delivery overview \\(internal\\)")
    assert "## Uni 2026" in overview and "## &lt;Lab&gt; &amp; co" in overview
    assert "! Needs renewal" in overview
    assert "> Opportunity: Uni deal (New, Closed\\-Won) · Renewal: Uni 2026 renewal" in overview
    assert "in Airtable: Delivered" in overview  # the Lab's Engagement, open again


def test_html_is_self_contained_escaped_and_has_the_chart() -> None:
    page = render_html(build_report(data(), Config(), today=TODAY, internal=True), Config())
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "javascript:" not in page
    for external in ("<link", "src=", "@import", "url(", "<img"):
        assert external not in page
    assert page.count("<style>") == 1
    assert "@media print" in page and "@media (max-width: 640px)" in page
    assert len(re.findall(r'<svg class="burnup" role="img"', page)) == 2
    assert 'id="burnup-1-title"' in page and 'id="burnup-2-title"' in page


def test_html_pills_carry_icon_and_word() -> None:
    page = render_html(build_report(data(), Config(), today=TODAY, engagement="uni 2026"), Config())
    for kind, icon, word in (
        ("done", "✓", "Done"),
        ("progress", "●", "In progress"),
        ("blocked", "■", "Blocked"),
        ("todo", "○", "Todo"),
        ("cancelled", "✕", "Cancelled"),
    ):
        assert (
            f'<span class="pill {kind}"><span class="icon" aria-hidden="true">{icon}</span>'
            f" {word}</span>"
        ) in page
    assert 'class="date" data-label="Completed">2026-02-10<' in page
    for internal in ("Needs renewal", "renewal", "Opportunity", "Prospect"):
        assert internal not in page


def test_report_command_picks_the_only_engagement(
    tmp_path: Path, local_airtable: LocalAirtable
) -> None:
    env = operator_env(tmp_path, local_airtable)
    md = run_bot("report", env=env, cwd=tmp_path)
    assert md.returncode == 0, md.stderr
    assert md.stdout.startswith("# Delivery report: Example University 2026\n")
    assert "**Deliverables done:** 0 of 3 (0%)" in md.stdout
    assert (
        "[example-org/infrastructure#1](https://github.com/example-org/infrastructure/issues/1)"
        in md.stdout
    )
    assert "Opportunity" not in md.stdout
    out = tmp_path / "out" / "report.html"
    out.parent.mkdir()
    html = run_bot(
        "report",
        "--format",
        "html",
        "--project",
        "setup workshop hub",
        "--output",
        str(out),
        env=env,
        cwd=tmp_path,
    )
    assert html.returncode == 0, html.stderr
    assert f"report written to {out}" in html.stderr
    page = out.read_text()
    assert "Setup workshop hub" in page and '<svg class="burnup"' in page
    overview = run_bot("report", "--all", env=env, cwd=tmp_path)
    assert overview.returncode == 0, overview.stderr
    assert "> Opportunity: Example University workshop (New, Closed\\-Won)" in overview.stdout
    unknown = run_bot("report", "--engagement", "Nope", env=env, cwd=tmp_path)
    assert unknown.returncode == 1
    assert 'no Engagement named "Nope" (known: Example University 2026)' in unknown.stderr


def test_report_covers_every_base_of_the_configuration(
    tmp_path: Path, local_airtable: LocalAirtable
) -> None:
    # A second base, for another GitHub owner, in the same embedded server.
    second = local_airtable.seed("demo", base_id="appSecondBase0001")
    engagement = local_airtable.table("Engagements", base_id=second).first()
    assert engagement is not None
    local_airtable.table("Engagements", base_id=second).update(
        engagement["id"], {"Name": "Other Lab 2027"}
    )
    config = tmp_path / "bot.toml"
    config.write_text(
        f'[bases]\nexample-org = "{local_airtable.base_id}"\nother-lab = "{second}"\n',
        encoding="utf-8",
    )
    env = operator_env(tmp_path, local_airtable, DELIVERABLES_BOT_CONFIG=str(config))
    del env["AIRTABLE_BASE_ID"]
    several = run_bot("report", env=env, cwd=tmp_path)
    assert several.returncode == 2
    assert several.stdout == ""
    assert several.stderr.strip().splitlines() == [
        "error: the base has 2 Engagements; choose one with --engagement NAME "
        '(or --all for the internal overview): "Example University 2026", "Other Lab 2027"'
    ]
    other = run_bot("report", "--engagement", "other lab 2027", env=env, cwd=tmp_path)
    assert other.returncode == 0, other.stderr
    assert other.stdout.startswith("# Delivery report: Other Lab 2027\n")
    assert "Example University 2026" not in other.stdout
    overview = run_bot("report", "--all", env=env, cwd=tmp_path)
    assert overview.returncode == 0, overview.stderr
    assert "## Example University 2026" in overview.stdout
    assert "## Other Lab 2027" in overview.stdout
