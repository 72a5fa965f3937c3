"""``audit``: read a base (and its deliverables' issues) and check the rules of the process.

The rules, and running them, are pure: :mod:`bot.core.audit_rules` and
:mod:`bot.core.audit_result`. :func:`audit_base` reads a base (and GitHub, when it can) and
runs them, noting what could not be checked; the renderers turn the result into text or
JSON; :func:`audit_command` does it for every base.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from typing import Any

from bot.clients.airtable import AirtableLane
from bot.clients.errors import GITHUB_FAILURES, github_problem_for
from bot.clients.reads import fetch_issues, read_base
from bot.config import Config
from bot.core.audit_result import AuditResult, run_audit
from bot.core.audit_rules import STATUS_RULE, AuditContext, RecordRef
from bot.core.issue import parse_issue_url

RULE_PARTIAL = "partly: some deliverables' issues could not be read, see the notes"
UNINSTALLED_SKIPPED = "{count} deliverable(s) in {repo} not checked: the App is not installed there"
NOT_VISIBLE_SKIPPED = (
    "{count} deliverable(s) in {repo} not checked: GitHub answers 404 (the App is not "
    "installed there, cannot see it, or it does not exist)"
)
UNREADABLE_SKIPPED = "{count} deliverable(s) in {what} not checked: {reason}"
INSTALLATIONS_FAILED = "listing the App's installations"
TEXT_RULE = "{mark} {name}: {description}"
TEXT_VIOLATION = "    - {message}"
TEXT_SUMMARY_OK = "all {rules} rules hold"
TEXT_SUMMARY_OK_SKIPPED = "all {checked} rules checked hold; {skipped} of {rules} skipped: {names}"
TEXT_SUMMARY_BROKEN = "{broken} of {rules} rules broken, {violations} violation(s)"
TEXT_SUMMARY_SKIPPED = "; {skipped} skipped: {names}"
TEXT_SUMMARY_PARTIAL = "not everything could be checked: see the notes above"
TEXT_RENEWAL = "renewal: Engagement {engagement} is {status}; {opportunity}"


async def audit_base(
    lane: AirtableLane, github: Any, *, today: date, can_read_github: bool
) -> AuditResult:
    """Read a base (and its deliverables' issues, when GitHub can be read) and audit it."""
    config = lane.config
    data = await read_base(lane)
    issues = None
    notes: list[str] = []
    github_failed: str | None = None
    if can_read_github:
        refs = [
            ref
            for d in data.deliverables
            if (
                ref := parse_issue_url(str(d["fields"].get(config.fields.deliverables.issue) or ""))
            )
        ]
        try:
            index = await fetch_issues(
                github, refs, describe=lambda exc: github_problem_for(config, exc)
            )
        except GITHUB_FAILURES as exc:
            # Nothing of GitHub can be read: the rules over the base still run.
            github_failed = github_problem_for(config, exc, what=INSTALLATIONS_FAILED)
        else:
            issues = index.states
            notes.extend(
                UNINSTALLED_SKIPPED.format(count=count, repo=repo)
                for repo, count in index.uninstalled.items()
            )
            hidden: dict[str, int] = {}
            for ref in index.not_visible.values():
                name = f"{ref.owner}/{ref.repo}"
                hidden[name] = hidden.get(name, 0) + 1
            notes.extend(
                NOT_VISIBLE_SKIPPED.format(count=count, repo=repo)
                for repo, count in sorted(hidden.items())
            )
            notes.extend(
                UNREADABLE_SKIPPED.format(count=u.deliverables, what=u.what, reason=u.reason)
                for u in index.unreadable
            )
    context = AuditContext(data, config, today, issues, base_id=lane.base_id)
    result = run_audit(context, github_failed=github_failed)
    if notes:
        result.results = [
            dataclasses.replace(r, partial=RULE_PARTIAL)
            if r.rule.name == STATUS_RULE and not r.skipped
            else r
            for r in result.results
        ]
    result.notes.extend(notes)
    result.unreached.extend(notes)
    if github_failed:
        result.unreached.append(github_failed)
    return result


def render_text(result: AuditResult) -> str:
    """The audit as lines for a terminal: each rule, its violations, notes, a summary."""
    lines = []
    for r in result.results:
        mark = (
            "skip" if r.skipped else ("FAIL" if r.violations else ("part" if r.partial else "ok  "))
        )
        why = r.skipped or r.partial
        description = r.rule.description + (f" ({why})" if why else "")
        lines.append(TEXT_RULE.format(mark=mark, name=r.rule.name, description=description))
        lines.extend(TEXT_VIOLATION.format(message=v.message) for v in r.violations)
    lines.extend(f"note: {note}" for note in result.notes)
    for notice in result.renewals:
        opportunity = (
            f"Renewal Opportunity {notice.opportunity}"
            if notice.opportunity
            else "no Renewal Opportunity yet"
        )
        lines.append(
            TEXT_RENEWAL.format(
                engagement=notice.engagement, status=notice.status, opportunity=opportunity
            )
        )
    broken = [r for r in result.results if r.violations]
    skipped = [r for r in result.results if r.skipped]
    names = ", ".join(r.rule.name for r in skipped)
    if broken:
        summary = TEXT_SUMMARY_BROKEN.format(
            broken=len(broken),
            rules=len(result.results),
            violations=sum(len(r.violations) for r in broken),
        )
        if skipped:
            summary += TEXT_SUMMARY_SKIPPED.format(skipped=len(skipped), names=names)
    elif skipped:
        summary = TEXT_SUMMARY_OK_SKIPPED.format(
            checked=len(result.results) - len(skipped),
            skipped=len(skipped),
            rules=len(result.results),
            names=names,
        )
    else:
        summary = TEXT_SUMMARY_OK.format(rules=len(result.results))
    if not result.complete:
        summary += "; " + TEXT_SUMMARY_PARTIAL
    lines.append(summary)
    return "\n".join(lines)


def _ref_json(ref: RecordRef) -> dict[str, str]:
    return {"table": ref.table, "id": ref.id, "name": ref.name}


def render_json(result: AuditResult) -> str:
    """The audit as a JSON document."""
    return json.dumps(
        {
            "ok": result.ok,
            "complete": result.complete,
            "unreached": result.unreached,
            "rules": [
                {
                    "name": r.rule.name,
                    "description": r.rule.description,
                    "ok": not r.violations,
                    "skipped": r.skipped,
                    "partial": r.partial,
                    "violations": [
                        {"message": v.message, "records": [_ref_json(x) for x in v.records]}
                        for v in r.violations
                    ],
                }
                for r in result.results
            ],
            "notes": result.notes,
            "renewals": [
                {
                    "engagement": _ref_json(n.engagement),
                    "status": n.status,
                    "opportunity": _ref_json(n.opportunity) if n.opportunity else None,
                }
                for n in result.renewals
            ],
        },
        indent=2,
    )


async def audit_command(config: Config, *, output_format: str, today: date) -> tuple[str, bool]:
    """``deliverables-bot audit``: audit every base; the text to print, and whether all
    rules hold and everything could be checked (GitHub read, no repository skipped)."""
    from bot.app import open_runtime
    from bot.clients.reads import base_ids

    rendered = []
    ok = True
    async with open_runtime(config) as runtime:
        bases = base_ids(config)
        for base in bases:
            result = await audit_base(
                runtime.lanes.for_base(base),
                runtime.github,
                today=today,
                can_read_github=runtime.github.can_read,
            )
            ok = ok and result.ok and result.complete
            if output_format == "json":
                rendered.append(render_json(result))
            else:
                header = f"base {base}\n" if len(bases) > 1 else ""
                rendered.append(header + render_text(result))
    if output_format == "json" and len(rendered) != 1:
        return "[" + ",\n".join(rendered) + "]", ok
    return "\n\n".join(rendered), ok
