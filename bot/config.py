"""Configuration: environment variables and the TOML file, read once into frozen dataclasses.

Secrets (the GitHub App key, the webhook secret, the Airtable token) come only from the
environment and are kept out of every ``repr`` so they cannot reach a log line. Everything
else — table, field, option, label names, rate limits, retry policy — has a default that a
TOML file at ``DELIVERABLES_BOT_CONFIG`` may override. Loading validates everything and
raises one :class:`ConfigError` that lists every problem, each naming what to fix.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_GITHUB_API_URL = "https://api.github.com"
DEFAULT_AIRTABLE_ENDPOINT_URL = "https://api.airtable.com"
DEMO_BASE_ID = "appDemoBase000001"
# GitHub repository roles, least to most; a custom role counts as the base role it extends.
ROLES = ("none", "read", "triage", "write", "maintain", "admin")


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


@dataclass(frozen=True)
class AirtableSettings:
    """How the bot talks to Airtable: the per-base lane's limits and caches."""

    requests_per_second: float = 5.0
    penalty_seconds: float = 30.0
    batch_size: int = 10
    batch_wait_seconds: float = 0.05
    timeout_seconds: float = 30.0  # a whole call, at most
    connect_timeout_seconds: float = 5.0  # to open the connection
    cache_ttl_seconds: float = 60.0


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

    @property
    def has_github_app(self) -> bool:
        """Whether the bot can authenticate as the GitHub App (read and write GitHub)."""
        return bool(self.github_app_id and self.github_private_key)

    @property
    def journal_path(self) -> Path:
        """The SQLite journal of deliveries."""
        return self.data_dir / "journal.sqlite3"

    def base_for_owner(self, owner: str) -> str | None:
        """The Airtable base serving a GitHub owner, or None when no base serves it."""
        if self.bases_by_owner:
            return self.bases_by_owner.get(owner.lower())
        return self.airtable_base_id


# TOML sections and the dataclass each one overrides.
_SECTIONS: dict[str, tuple[str, ...]] = {
    "tables": ("tables",),
    "fields.deliverables": ("fields", "deliverables"),
    "fields.projects": ("fields", "projects"),
    "fields.engagements": ("fields", "engagements"),
    "fields.opportunities": ("fields", "opportunities"),
    "fields.contracts": ("fields", "contracts"),
    "statuses.deliverable": ("statuses", "deliverable"),
    "statuses.project": ("statuses", "project"),
    "statuses.engagement": ("statuses", "engagement"),
    "labels": ("labels",),
    "airtable": ("airtable",),
    "github": ("github",),
    "worker": ("worker",),
    "commands": ("commands",),
    "renewal": ("renewal",),
    "schedule": ("schedule",),
    "recovery": ("recovery",),
}


def _override(instance: Any, values: Mapping[str, Any], where: str, problems: list[str]) -> Any:
    """A copy of a dataclass instance with ``values`` applied, type-checked against defaults."""
    known = {f.name: f for f in dataclasses.fields(instance)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            problems.append(f"{where}: unknown setting {key!r} (known: {', '.join(sorted(known))})")
            continue
        default = getattr(instance, key)
        if isinstance(default, bool):
            if isinstance(value, bool):
                changes[key] = value
            else:
                problems.append(f"{where}.{key}: expected true or false, got {value!r}")
        elif not isinstance(default, int | float | str | tuple):
            problems.append(f"{where}.{key}: cannot be set here")
        elif isinstance(default, tuple):
            if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                problems.append(f"{where}.{key}: expected a list of strings")
            else:
                changes[key] = tuple(value)
        elif isinstance(default, str):
            if not isinstance(value, str) or not value.strip():
                problems.append(f"{where}.{key}: expected a non-empty string, got {value!r}")
            else:
                changes[key] = value
        elif isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{where}.{key}: expected a number, got {value!r}")
        elif value < 0:
            problems.append(f"{where}.{key}: must not be negative, got {value!r}")
        else:
            changes[key] = type(default)(value) if isinstance(default, float) else value
    return dataclasses.replace(instance, **changes)


def _apply_toml(config: Config, document: Mapping[str, Any], problems: list[str]) -> Config:
    """Apply a parsed TOML document to ``config``; unknown sections are problems."""
    flat: dict[str, Any] = {}
    for key, value in document.items():
        if key in ("fields", "statuses") and isinstance(value, dict):
            for sub, subvalue in value.items():
                if sub == "cancelled_reasons" and key == "statuses":
                    flat["statuses.cancelled_reasons"] = subvalue
                else:
                    flat[f"{key}.{sub}"] = subvalue
        else:
            flat[key] = value
    for section, values in flat.items():
        if section == "bases":
            if not isinstance(values, dict) or not all(
                isinstance(v, str) and v.startswith("app") for v in values.values()
            ):
                problems.append("bases: expected a table of GitHub owner = 'app...' base ids")
            else:
                config = dataclasses.replace(
                    config, bases_by_owner={k.lower(): v for k, v in values.items()}
                )
            continue
        if section == "statuses.cancelled_reasons":
            statuses = _override(
                config.statuses, {"cancelled_reasons": values}, "statuses", problems
            )
            config = dataclasses.replace(config, statuses=statuses)
            continue
        path = _SECTIONS.get(section)
        if path is None:
            problems.append(
                f"unknown section [{section}] (known: {', '.join(sorted([*_SECTIONS, 'bases']))})"
            )
            continue
        if not isinstance(values, dict):
            problems.append(f"[{section}] must be a table")
            continue
        if len(path) == 1:
            updated = _override(getattr(config, path[0]), values, section, problems)
            config = dataclasses.replace(config, **{path[0]: updated})
        else:
            parent = getattr(config, path[0])
            updated = _override(getattr(parent, path[1]), values, section, problems)
            config = dataclasses.replace(
                config, **{path[0]: dataclasses.replace(parent, **{path[1]: updated})}
            )
    return config


def _check_invariants(config: Config, problems: list[str]) -> None:
    """Problems no single setting shows: duplicate option names, impossible limits."""
    deliverable = dataclasses.astuple(config.statuses.deliverable)
    if len(set(deliverable)) != len(deliverable):
        problems.append("statuses.deliverable: option names must be distinct")
    if config.airtable.requests_per_second <= 0:
        problems.append("airtable.requests_per_second: must be positive")
    for section in ("airtable", "github"):
        for key in ("timeout_seconds", "connect_timeout_seconds"):
            if getattr(getattr(config, section), key) <= 0:
                problems.append(f"{section}.{key}: must be positive")
    if not 1 <= config.airtable.batch_size <= 10:
        problems.append("airtable.batch_size: Airtable takes 1 to 10 records per write")
    if config.worker.concurrency < 1:
        problems.append("worker.concurrency: must be at least 1")
    if config.worker.max_attempts < 1:
        problems.append("worker.max_attempts: must be at least 1")
    if config.recovery.interval_minutes <= 0:
        problems.append("recovery.interval_minutes: must be positive (enabled = false: off)")
    for key in ("max_per_pass", "max_pages"):
        if getattr(config.recovery, key) < 1:
            problems.append(f"recovery.{key}: must be at least 1")
    for key in ("link_role", "status_role"):
        role = getattr(config.commands, key)
        if role not in ROLES:
            problems.append(f"commands.{key}: expected one of {', '.join(ROLES)}, got {role!r}")


PRIVATE_KEY_EXPECTED = (
    "expected the GitHub App's private key as GitHub generates it (a PEM file beginning "
    "-----BEGIN RSA PRIVATE KEY-----), its text with literal \\n for the line breaks, or "
    "that text base64-encoded"
)


def normalize_private_key(text: str) -> str:
    """The App's private key as PEM text, from any of the forms it is commonly carried in.

    A key is accepted as the ``.pem`` file GitHub generates, as that text with literal
    ``\\n`` sequences for its line breaks (how many CI systems keep a multi-line secret in
    one line), or base64-encoded (how Kubernetes secrets and some vaults carry files). The
    key is loaded to be sure it is an RSA private key (GitHub signs App JWTs with RS256);
    anything else raises :class:`ValueError` saying what form is expected, never the key.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    candidate = text.strip()
    if len(candidate) > 1 and candidate[0] == candidate[-1] and candidate[0] in "\"'":
        candidate = candidate[1:-1].strip()  # pasted with its quotes
    if "-----BEGIN" not in candidate:
        try:
            decoded = base64.b64decode("".join(candidate.split()), validate=True)
            candidate = decoded.decode("ascii").strip()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise ValueError(f"not a PEM private key: {PRIVATE_KEY_EXPECTED}") from None
    if "\\n" in candidate:
        candidate = candidate.replace("\\r\\n", "\n").replace("\\n", "\n")
    candidate = candidate.replace("\r\n", "\n").strip() + "\n"
    try:
        key = serialization.load_pem_private_key(candidate.encode("ascii"), password=None)
    except TypeError:
        raise ValueError(
            "the private key is encrypted with a passphrase; GitHub's keys are not: "
            "use the .pem file as downloaded"
        ) from None
    except (ValueError, UnicodeEncodeError):
        raise ValueError(f"not a usable PEM private key: {PRIVATE_KEY_EXPECTED}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"not an RSA key (GitHub Apps sign with RS256): {PRIVATE_KEY_EXPECTED}")
    return candidate


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    """Read the environment (and the TOML file it names) into a validated :class:`Config`."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    config = Config()

    path = env.get("DELIVERABLES_BOT_CONFIG")
    if path:
        try:
            document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            problems.append(f"DELIVERABLES_BOT_CONFIG: cannot read {path}: {exc.strerror}")
        except tomllib.TOMLDecodeError as exc:
            problems.append(f"DELIVERABLES_BOT_CONFIG: {path} is not valid TOML: {exc}")
        else:
            config = _apply_toml(config, document, problems)

    private_key = env.get("GITHUB_PRIVATE_KEY") or None
    key_path = env.get("GITHUB_PRIVATE_KEY_PATH")
    if private_key is None and key_path:
        try:
            private_key = Path(key_path).read_text(encoding="utf-8")
        except OSError as exc:
            problems.append(f"GITHUB_PRIVATE_KEY_PATH: cannot read {key_path}: {exc.strerror}")
    app_id = env.get("GITHUB_APP_ID") or None
    if app_id is not None and not app_id.isdigit():
        problems.append("GITHUB_APP_ID: expected the App's numeric id")
    if private_key is not None:
        source = (
            "GITHUB_PRIVATE_KEY" if env.get("GITHUB_PRIVATE_KEY") else "GITHUB_PRIVATE_KEY_PATH"
        )
        try:
            private_key = normalize_private_key(private_key)
        except ValueError as exc:
            problems.append(f"{source}: {exc}")
    if bool(app_id) != bool(private_key) and not any("GITHUB_PRIVATE_KEY" in p for p in problems):
        problems.append(
            "GITHUB_APP_ID and GITHUB_PRIVATE_KEY (or GITHUB_PRIVATE_KEY_PATH) go together: "
            "set both to act as the GitHub App, or neither to run without GitHub writes"
        )
    base_id = env.get("AIRTABLE_BASE_ID") or None
    if base_id is not None and not base_id.startswith("app"):
        problems.append("AIRTABLE_BASE_ID: an Airtable base id starts with 'app'")

    config = dataclasses.replace(
        config,
        data_dir=Path(env.get("DELIVERABLES_BOT_DATA") or ".deliverables-bot"),
        github_api_url=(env.get("GITHUB_API_URL") or DEFAULT_GITHUB_API_URL).rstrip("/"),
        github_app_id=app_id,
        github_private_key=private_key,
        github_webhook_secret=env.get("GITHUB_WEBHOOK_SECRET") or None,
        airtable_token=env.get("AIRTABLE_TOKEN") or None,
        airtable_base_id=base_id,
        airtable_endpoint_url=(
            env.get("AIRTABLE_ENDPOINT_URL") or DEFAULT_AIRTABLE_ENDPOINT_URL
        ).rstrip("/"),
    )
    _check_invariants(config, problems)
    if problems:
        raise ConfigError(problems)
    return config
