"""Configuration: what the bot is told, as frozen dataclasses (read by :mod:`bot.config_loader`).

Secrets (the GitHub App key, the webhook secret, the Airtable token) come only from the
environment and are kept out of every ``repr`` so they cannot reach a log line. Everything
else — table, field, option, label names, rate limits, retry policy — has a default that a
TOML file at ``DELIVERABLES_BOT_CONFIG`` may override. Loading validates everything and
raises one :class:`ConfigError` that lists every problem, each naming what to fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

DEFAULT_GITHUB_API_URL = "https://api.github.com"
DEFAULT_AIRTABLE_ENDPOINT_URL = "https://api.airtable.com"
DEMO_BASE_ID = "appDemoBase000001"
# GitHub repository roles, least to most; a custom role counts as the base role it extends.
ROLES = ("none", "read", "triage", "write", "maintain", "admin")
# A GitHub repository as ``owner/name``: the owner 1-39 letters, digits and single inner
# hyphens (Enterprise Managed Users add an ``_shortcode``); the name 1-100 letters, digits,
# ``.``, ``-`` and ``_``, never ``.`` or ``..``. Match it whole (``fullmatch``).
REPOSITORY_PATTERN = re.compile(
    r"(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}(?:_[A-Za-z0-9]{1,38})?)"
    r"/(?P<name>(?!\.\.?\Z)[A-Za-z0-9._-]{1,100})"
)


def is_repository_name(text: str) -> bool:
    """Whether ``text`` is a GitHub repository as ``owner/name``, exactly (no spaces, no URL)."""
    return REPOSITORY_PATTERN.fullmatch(text) is not None


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` lists every reason, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Tables:
    """Names of the Airtable tables."""

    opportunities: str = "Opportunities"
    contracts: str = "Contracts"
    engagements: str = "Engagements"
    projects: str = "Projects"
    deliverables: str = "Project Deliverables"


@dataclass(frozen=True)
class DeliverableFields:
    """Field names of the Project Deliverables table."""

    name: str = "Name"
    project: str = "Project"
    issue: str = "GitHub Issue"
    status: str = "Status"
    completed: str = "Completed"
    assignees: str = "Assignees"
    last_synced: str = "Last synced"


@dataclass(frozen=True)
class ProjectFields:
    """Field names of the Projects table."""

    name: str = "Name"
    engagement: str = "Engagement"
    statement_of_work: str = "Statement of Work"
    status: str = "Status"
    completed: str = "Completed"
    tracking_issue: str = "Tracking Issue"
    deliverables: str = "Deliverables"
    repository: str = "Repository"  # optional: "owner/name", where its issues are opened


@dataclass(frozen=True)
class EngagementFields:
    """Field names of the Engagements table."""

    name: str = "Name"
    opportunity: str = "Opportunity"
    start: str = "Start"
    end: str = "End"
    status: str = "Status"
    projects: str = "Projects"


@dataclass(frozen=True)
class OpportunityFields:
    """Field names of the Opportunities table."""

    name: str = "Name"
    type: str = "Type"
    stage: str = "Stage"
    contracts: str = "Contracts"
    engagement: str = "Engagement"


@dataclass(frozen=True)
class ContractFields:
    """Field names of the Contracts table."""

    name: str = "Name"
    kind: str = "Kind"
    opportunity: str = "Opportunity"


@dataclass(frozen=True)
class Fields:
    """Field names of every table."""

    deliverables: DeliverableFields = field(default_factory=DeliverableFields)
    projects: ProjectFields = field(default_factory=ProjectFields)
    engagements: EngagementFields = field(default_factory=EngagementFields)
    opportunities: OpportunityFields = field(default_factory=OpportunityFields)
    contracts: ContractFields = field(default_factory=ContractFields)


@dataclass(frozen=True)
class DeliverableStatuses:
    """Options of the deliverable Status single select."""

    todo: str = "Todo"
    in_progress: str = "In progress"
    blocked: str = "Blocked"
    done: str = "Done"
    cancelled: str = "Cancelled"


@dataclass(frozen=True)
class ProjectStatuses:
    """Options of the Project Status single select."""

    not_started: str = "Not started"
    in_progress: str = "In progress"
    complete: str = "Complete"


@dataclass(frozen=True)
class EngagementStatuses:
    """Options of the Engagement Status single select."""

    active: str = "Active"
    needs_renewal: str = "Needs renewal"
    delivered: str = "Delivered"
    ended: str = "Ended"


@dataclass(frozen=True)
class Statuses:
    """Status option names, and which closing reasons of an issue mean Cancelled."""

    deliverable: DeliverableStatuses = field(default_factory=DeliverableStatuses)
    project: ProjectStatuses = field(default_factory=ProjectStatuses)
    engagement: EngagementStatuses = field(default_factory=EngagementStatuses)
    cancelled_reasons: tuple[str, ...] = ("not_planned", "duplicate")


@dataclass(frozen=True)
class Labels:
    """GitHub label names the bot acts on."""

    blocked: str = "blocked"
    project_prefix: str = "project: "


@dataclass(frozen=True)
class CommandSettings:
    """Slash-command words and who may run them (GitHub repository roles)."""

    deliverable: str = "deliverable"  # /deliverable link|unlink|status
    project: str = "project"  # /project status|link
    help: str = "deliverables"  # /deliverables help
    link_role: str = "triage"  # the least role that may link and unlink
    status_role: str = "read"  # the least role that may ask for status (help: anyone)


@dataclass(frozen=True)
class RenewalSettings:
    """The renewal signal of process rule 7."""

    enabled: bool = True
    days_before_end: int = 90


@dataclass(frozen=True)
class ScheduleSettings:
    """What ``serve`` runs on a timer."""

    sync_interval_hours: float = 24.0  # the drift-repairing reconcile; 0 turns it off


@dataclass(frozen=True)
class RecoverySettings:
    """How ``serve`` recovers deliveries GitHub logged but the bot never got (bot/recovery.py)."""

    enabled: bool = True  # only with App credentials: the delivery log needs the App's JWT
    interval_minutes: float = 5.0  # between passes over the log; one pass runs at start-up
    max_per_pass: int = 100  # deliveries fetched from the log per pass, at most
    max_pages: int = 10  # pages of 100 log entries read per pass, at most


DEFAULT_ISSUE_BODY = """\
Project: {project}
Engagement: {engagement}
Statement of Work: {statement_of_work}

Opened by deliverables-bot for the deliverable typed into Airtable; its status, assignees and
completion are kept in Airtable from this issue.
"""
DEFAULT_TRACKING_TITLE = "{project}"
# The names an issue body template may use.
ISSUE_TEMPLATE_FIELDS = ("name", "project", "engagement", "statement_of_work")


@dataclass(frozen=True)
class AirtableToGitHubSettings:
    """Airtable → GitHub (opt-in): issues opened for deliverables typed into Airtable.

    Where a Project's issues go: its ``Repository`` field, else the base's entry in
    ``repositories`` (base id → ``owner/name``), else ``default_repository`` (the base of
    ``AIRTABLE_BASE_ID``). The bot follows the base through an Airtable webhook; pings reach
    ``notification_url`` (``POST /airtable/webhook`` of this server, public) when it is set,
    and the payloads are also listed every ``poll_seconds`` whether or not pings come.
    """

    enabled: bool = False
    default_repository: str = ""
    repositories: Mapping[str, str] = field(default_factory=dict)
    notification_url: str = ""
    poll_seconds: float = 30.0
    # A hook lives 7 days after its last refresh or listing; refreshed once fewer remain.
    refresh_margin_days: float = 3.0
    issue_body: str = DEFAULT_ISSUE_BODY
    tracking_title: str = DEFAULT_TRACKING_TITLE

    def repository_for(self, base_id: str, default_base_id: str | None) -> str | None:
        """The configured repository (``owner/name``) for a base's Projects without one."""
        if base_id in self.repositories:
            return self.repositories[base_id]
        if self.default_repository and (default_base_id is None or base_id == default_base_id):
            return self.default_repository
        return None


@dataclass(frozen=True)
class AirtableSettings:
    """How the bot talks to Airtable: the per-base lane's limits and caches."""

    # Airtable allows 5 per second per base; evenly spaced at 4.5, six requests reach it
    # within one second only if they are squeezed by more than 0.11 s on the way (README,
    # Benchmarks: the margin measured).
    requests_per_second: float = 4.5
    penalty_seconds: float = 30.0
    batch_size: int = 10
    batch_wait_seconds: float = 0.05
    timeout_seconds: float = 30.0  # a whole call, at most
    connect_timeout_seconds: float = 5.0  # to open the connection
    cache_ttl_seconds: float = 60.0  # a snapshot older than this reads what changed
    change_overlap_seconds: float = 5.0  # how far before the last read a change read reaches
    full_read_seconds: float = 1800.0  # how often a table is read whole (to see deletions)


@dataclass(frozen=True)
class GitHubSettings:
    """How the bot talks to GitHub: how long one call may take."""

    timeout_seconds: float = 30.0  # a whole request and its answer, at most
    connect_timeout_seconds: float = 10.0  # to open the connection


@dataclass(frozen=True)
class WorkerSettings:
    """How the worker processes journaled deliveries."""

    concurrency: int = 64
    max_attempts: int = 8
    base_delay_seconds: float = 2.0
    max_delay_seconds: float = 600.0
    # With PostgreSQL: how long a replica's heartbeat may be silent before another takes
    # over its deliveries (it renews it every third of this).
    lease_seconds: float = 30.0


POSTGRES_SCHEMES: Final = ("postgres", "postgresql")


def is_postgres_url(location: object) -> bool:
    """Whether *location* is a PostgreSQL URL (``postgresql://…``) rather than a file path."""
    return isinstance(location, str) and urlsplit(location).scheme in POSTGRES_SCHEMES


def redacted(url: str) -> str:
    """*url* without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user, host = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{user.split(':', 1)[0]}:***@{host}"))


@dataclass(frozen=True)
class Config:
    """Everything the bot needs, read once at start-up."""

    data_dir: Path = Path(".deliverables-bot")
    github_api_url: str = DEFAULT_GITHUB_API_URL
    github_app_id: str | None = None
    github_private_key: str | None = field(default=None, repr=False)
    github_webhook_secret: str | None = field(default=None, repr=False)
    airtable_token: str | None = field(default=None, repr=False)
    airtable_base_id: str | None = None
    airtable_endpoint_url: str = DEFAULT_AIRTABLE_ENDPOINT_URL
    metrics_port: int | None = None  # METRICS_PORT: /metrics on its own port; None: on serve's
    # DATABASE_URL: PostgreSQL keeps the bot's state, shared by replicas; None: SQLite files.
    database_url: str | None = field(default=None, repr=False)
    bases_by_owner: Mapping[str, str] = field(default_factory=dict)
    tables: Tables = field(default_factory=Tables)
    fields: Fields = field(default_factory=Fields)
    statuses: Statuses = field(default_factory=Statuses)
    labels: Labels = field(default_factory=Labels)
    airtable: AirtableSettings = field(default_factory=AirtableSettings)
    github: GitHubSettings = field(default_factory=GitHubSettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    commands: CommandSettings = field(default_factory=CommandSettings)
    renewal: RenewalSettings = field(default_factory=RenewalSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    recovery: RecoverySettings = field(default_factory=RecoverySettings)
    airtable_to_github: AirtableToGitHubSettings = field(default_factory=AirtableToGitHubSettings)

    @property
    def has_github_app(self) -> bool:
        """Whether the bot can authenticate as the GitHub App (read and write GitHub)."""
        return bool(self.github_app_id and self.github_private_key)

    @property
    def journal_location(self) -> str:
        """Where the journal is: ``DATABASE_URL`` when set, else the SQLite file."""
        return self.database_url or str(self.journal_path)

    @property
    def journal_exists(self) -> bool:
        """Whether there may be a journal to read: a database, or the SQLite file exists."""
        return self.database_url is not None or self.journal_path.exists()

    @property
    def journal_description(self) -> str:
        """Where the journal is, for messages: the file, or the URL without its password."""
        return redacted(self.database_url) if self.database_url else str(self.journal_path)

    @property
    def journal_path(self) -> Path:
        """The SQLite journal of deliveries."""
        return self.data_dir / "journal.sqlite3"

    @property
    def budget_path(self) -> Path:
        """The SQLite file of the per-base Airtable request budgets every process shares."""
        return self.data_dir / "airtable-budget.sqlite3"

    def default_repository(self, base_id: str) -> str | None:
        """Where issues of a base's Projects without a ``Repository`` go, or None."""
        return self.airtable_to_github.repository_for(base_id, self.airtable_base_id)

    def base_for_owner(self, owner: str) -> str | None:
        """The Airtable base serving a GitHub owner, or None when no base serves it."""
        if self.bases_by_owner:
            return self.bases_by_owner.get(owner.lower())
        return self.airtable_base_id
