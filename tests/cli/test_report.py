"""``report``: the model (pure), Markdown, self-contained HTML rendered in headless Chromium,
and the command as a user runs it."""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import pytest

from bot.airtable_local.thread import LocalAirtable
from bot.cli.report import ReportError, build_report, render_html, render_markdown
from bot.config import Config
from bot.core.records import BaseData
from tests.operator_helpers import operator_env, run_bot

CHROMIUM = "/usr/bin/chromium"
TODAY = date(2026, 11, 26)
ISSUE = "https://github.com/example-org/infrastructure/issues/"


def data() -> BaseData:
    """Two Engagements, three Projects, deliverables in several states."""

    def rec(record_id: str, **fields: object) -> dict[str, object]:
        return {"id": record_id, "fields": fields}

    sow = {"Statement of Work": "https://example.org/sow"}
    return BaseData(
        opportunities=[rec("recO1", Name="Uni 2026 renewal")],
        engagements=[
            rec(
                "recE1",
                Name="Uni 2026",
                Start="2026-01-01",
                End="2026-12-31",
                Status="Needs renewal",
            ),
            rec("recE2", Name="<Lab> & co", Start="2025-01-01", End="2027-01-01", Status="Active"),
        ],
        projects=[
            rec("recP1", Name="Hub", Engagement=["recE1"], Status="In progress", **sow),
            rec(
                "recP2",
                Name="Docs",
                Engagement=["recE1"],
                Status="Complete",
                Completed="2026-03-01",
            ),
            rec(
                "recP3",
                Name="<script>alert(1)</script>",
                Engagement=["recE2"],
                **{"Statement of Work": "javascript:alert(1)"},
            ),
        ],
        deliverables=[
            rec(
                "recD1",
                Name="Deploy",
                Project=["recP1"],
                Status="Done",
                Assignees="alice",
                **{"GitHub Issue": ISSUE + "1"},
            ),
            rec(
                "recD2",
                Name="Login | SSO",
                Project=["recP1"],
                Status="In progress",
                **{"GitHub Issue": ISSUE + "2"},
            ),
            rec("recD3", Name="Old idea", Project=["recP1"], Status="Cancelled"),
            rec("recD4", Name="Write", Project=["recP2"], Status="Done"),
        ],
    )


def test_model_counts_done_of_not_cancelled_and_keeps_renewals() -> None:
    report = build_report(data(), Config(), today=TODAY)
    uni = next(e for e in report.engagements if e.name == "Uni 2026")
    assert uni.renewal == "Uni 2026 renewal"
    hub = next(p for p in uni.projects if p.name == "Hub")
    assert (hub.done, hub.total, hub.percent) == (1, 2, 50)
    assert [d.name for d in hub.deliverables] == ["Deploy", "Login | SSO", "Old idea"]


def test_filters_and_unknown_names() -> None:
    only = build_report(data(), Config(), today=TODAY, project="docs")
    assert [(e.name, [p.name for p in e.projects]) for e in only.engagements] == [
        ("Uni 2026", ["Docs"])
    ]
    lab = build_report(data(), Config(), today=TODAY, engagement="<lab> & CO")
    assert [e.name for e in lab.engagements] == ["<Lab> & co"]
    with pytest.raises(ReportError, match='no Engagement named "Nope" \\(known: <Lab> & co, Uni'):
        build_report(data(), Config(), today=TODAY, engagement="Nope")
    with pytest.raises(ReportError, match='no Project named "Nope"'):
        build_report(data(), Config(), today=TODAY, project="Nope")


def test_markdown() -> None:
    md = render_markdown(build_report(data(), Config(), today=TODAY))
    assert (
        "## Uni 2026\n\n2026-01-01 → 2026-12-31 · **Needs renewal** · renewal: Uni 2026 renewal"
        in md
    )
    assert (
        "`██████████░░░░░░░░░░` 1/2 done · In progress · [Statement of Work](https://example.org/sow)"
        in md
    )
    assert f"| Login \\| SSO | [example-org/infrastructure#2]({ISSUE}2) | In progress | — |" in md
    assert "1/1 done · completed 2026-03-01" in md


def test_html_is_self_contained_and_escaped() -> None:
    page = render_html(build_report(data(), Config(), today=TODAY))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "javascript:" not in page
    for external in ("<link", "src=", "@import", "url("):
        assert external not in page
    assert "@media print" in page


@pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"{CHROMIUM} is absent (Debian: apt-get install chromium) — HTML render not checked",
)
def test_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(build_report(data(), Config(), today=TODAY)), encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'p'}"]
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = dom.stdout
    assert "<h1>Delivery progress</h1>" in rendered
    assert '<div class="fill" style="width: 50%"></div>' in rendered
    assert "1/2 done (50%)" in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered  # shown as text, never run
    shot = tmp_path / "report.png"  # outside the repository
    subprocess.run(
        [CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=1000,1400", page.as_uri()],
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000


def test_report_command_markdown_html_and_errors(
    tmp_path: Path, local_airtable: LocalAirtable
) -> None:
    env = operator_env(tmp_path, local_airtable)
    md = run_bot("report", env=env, cwd=tmp_path)
    assert md.returncode == 0, md.stderr
    assert "## Example University 2026" in md.stdout
    assert "0/3 done" in md.stdout
    assert (
        "[example-org/infrastructure#1](https://github.com/example-org/infrastructure/issues/1)"
        in md.stdout
    )
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
    assert "Setup workshop hub" in out.read_text()
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
    md = run_bot("report", env=env, cwd=tmp_path)
    assert md.returncode == 0, md.stderr
    assert "## Example University 2026" in md.stdout
    assert "## Other Lab 2027" in md.stdout
