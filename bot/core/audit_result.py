"""An audit's outcome (pure): :func:`run_audit` runs the rules of :mod:`bot.core.audit_rules`
and gives each rule's result, with the Engagements in a renewal state.

A rule that needs GitHub is skipped, saying why, when issues could not be read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.audit_rules import RULES, STATUS_RULE, AuditContext, RecordRef, Rule, Violation
from bot.core.projects import find_by_name
from bot.core.renewal_rules import renewal_name

GITHUB_SKIPPED = "skipped: no GitHub App credentials, so issues cannot be read"
GITHUB_FAILED = "skipped: GitHub could not be read ({reason})"


@dataclass(frozen=True)
class RuleResult:
    """One rule's outcome: its violations, or why it was skipped."""

    rule: Rule
    violations: list[Violation]
    skipped: str | None = None
    partial: str | None = None  # checked, but not over everything (why)


@dataclass(frozen=True)
class RenewalNotice:
    """An Engagement in a renewal state, and its Renewal Opportunity if there is one."""

    engagement: RecordRef
    status: str
    opportunity: RecordRef | None


@dataclass
class AuditResult:
    """Every rule's outcome, notes about what could not be checked, and renewal notices."""

    results: list[RuleResult]
    notes: list[str] = field(default_factory=list)
    renewals: list[RenewalNotice] = field(default_factory=list)
    unreached: list[str] = field(default_factory=list)  # what GitHub would not give, and why

    @property
    def ok(self) -> bool:
        """Whether no rule is broken."""
        return not any(r.violations for r in self.results)

    @property
    def complete(self) -> bool:
        """Whether everything that should have been checked was (no GitHub failure, no
        repository skipped). A rule skipped for want of App credentials is by choice."""
        return not self.unreached


def renewal_notices(ctx: AuditContext) -> list[RenewalNotice]:
    """Engagements that are Needs renewal or Delivered, with their Renewal Opportunity."""
    statuses = ctx.config.statuses.engagement
    names = ctx.config.fields
    notices = []
    for engagement in ctx.data.engagements:
        status = engagement["fields"].get(names.engagements.status)
        if status not in (statuses.needs_renewal, statuses.delivered):
            continue
        e = ctx.ref("engagements", engagement)
        opp = find_by_name(ctx.data.opportunities, names.opportunities.name, renewal_name(e.name))
        notices.append(
            RenewalNotice(e, str(status), ctx.ref("opportunities", opp) if opp else None)
        )
    return notices


def run_audit(
    ctx: AuditContext, rules: tuple[Rule, ...] = RULES, *, github_failed: str | None = None
) -> AuditResult:
    """Run every rule over the context; a rule that needs GitHub is skipped, with the
    reason, when issues could not be read (``github_failed`` says why, else no credentials)."""
    results = []
    for rule in rules:
        skipped = None
        if rule.name == STATUS_RULE and ctx.issues is None:
            skipped = (
                GITHUB_FAILED.format(reason=github_failed) if github_failed else GITHUB_SKIPPED
            )
        results.append(RuleResult(rule, rule.check(ctx), skipped))
    return AuditResult(results, renewals=renewal_notices(ctx))
