"""Prometheus metrics of one bot process, in a registry of its own (so tests can run several).

Label values that come from outside (an event name from a signed delivery, an HTTP status
from GitHub, Airtable or a proxy in front of them) go through :func:`event_label` and
:func:`status_label`, so no sender can grow the number of series without bound.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.health import Health

# The events the bot handles or answers; any other name is counted as "other" ("unknown":
# a delivery refused before its signature was checked).
KNOWN_EVENTS = frozenset(
    {
        "issues",
        "issue_comment",
        "sub_issues",
        "installation",
        "installation_repositories",
        "ping",
        "airtable",
    }
)
# HTTP statuses counted under their own value; any other is counted by class (4xx, 5xx).
KNOWN_STATUSES = frozenset(
    {400, 401, 403, 404, 408, 409, 410, 413, 415, 422, 429, 500, 501, 502, 503, 504}
)


def event_label(event: str) -> str:
    """The event name as a metric label: a handled event's name, else ``other``."""
    return event if event in KNOWN_EVENTS else "other"


def status_label(status: int) -> str:
    """An HTTP status as a metric label: a known status's number, else its class (``4xx``)."""
    if status in KNOWN_STATUSES:
        return str(status)
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


class Metrics:
    """The bot's counters, gauges and histograms; ``render()`` gives the Prometheus text."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.deliveries = self._counter(
            "deliverables_bot_deliveries",
            "Webhook deliveries, by event and outcome.",
            "event",
            "outcome",
        )
        self.queue_depth = self._gauge(
            "deliverables_bot_queue_depth",
            "Journaled deliveries by state (pending, processing, failed, ...).",
            "state",
        )
        self.airtable_calls = self._counter(
            "deliverables_bot_airtable_requests",
            "Requests sent to Airtable, by operation.",
            "operation",
        )
        self.airtable_errors = self._counter(
            "deliverables_bot_airtable_errors",
            "Failed Airtable requests, by HTTP status (or 'network').",
            "status",
        )
        self.github_calls = self._counter(
            "deliverables_bot_github_requests", "Requests sent to GitHub, by method.", "method"
        )
        self.github_errors = self._counter(
            "deliverables_bot_github_errors",
            "Failed GitHub requests, by HTTP status (or 'network').",
            "status",
        )
        self.reconcile_seconds = Histogram(
            "deliverables_bot_reconcile_seconds",
            "Time to reconcile one issue with its deliverable.",
            registry=self.registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        )
        self.comments = self._counter(
            "deliverables_bot_comments",
            "Comments posted (or, without GitHub credentials, logged), by kind.",
            "kind",
        )

        self.github_not_visible = self._counter(
            "deliverables_bot_github_not_visible",
            "Issues GitHub answered 404 for (App not installed, private, or a wrong URL); "
            "their deliverables are left as they are.",
        )
        self.recovered = self._counter(
            "deliverables_bot_recovered_deliveries",
            "Deliveries GitHub logged as failed that the bot read back from the App's delivery"
            " log and journaled, by event.",
            "event",
        )
        self.recovery_passes = self._counter(
            "deliverables_bot_recovery_passes",
            "Passes over the App's delivery log, by outcome (complete: read back to the last"
            " point; bounded: stopped by max_per_pass or max_pages, the next pass goes on;"
            " error: failed, retried at the next pass).",
            "outcome",
        )

        self.airtable_hook_expiry = self._gauge(
            "deliverables_bot_airtable_webhook_expiry_seconds",
            "When the Airtable webhook the bot follows on a base expires (Unix time; 0: none).",
            "base",
        )
        self.airtable_hook_last_payload = self._gauge(
            "deliverables_bot_airtable_webhook_last_payload_seconds",
            "When a payload of a base's Airtable webhook was last journaled (Unix time).",
            "base",
        )
        self.airtable_hook_last_listing = self._gauge(
            "deliverables_bot_airtable_webhook_last_listing_seconds",
            "When the payloads of a base's Airtable webhook were last listed (Unix time).",
            "base",
        )
        self.airtable_hook_payloads = self._counter(
            "deliverables_bot_airtable_webhook_payloads",
            "Airtable webhook payloads journaled (new) or read again (seen), by base.",
            "base",
            "outcome",
        )
        self.airtable_hook_errors = self._counter(
            "deliverables_bot_airtable_webhook_errors",
            "Failures while following a base's Airtable webhook, by operation.",
            "base",
            "operation",
        )
        self.airtable_hook_pings = self._counter(
            "deliverables_bot_airtable_webhook_pings",
            "Notification pings on POST /airtable/webhook, by outcome (accepted, bad_mac,"
            " malformed, off).",
            "outcome",
        )

        self.health = Health()
        self.journal_write_errors = self._counter(
            "deliverables_bot_journal_write_errors",
            "Journal writes that failed while the worker ended a delivery, by operation"
            " (each is tried again until it succeeds).",
            "operation",
        )
        self.database_round_trips = self._gauge(
            "deliverables_bot_database_round_trips",
            "Statements this process has sent to its database (SQLite or PostgreSQL,"
            " transaction control included); it only grows.",
        )
        self.leader = self._gauge(
            "deliverables_bot_leader",
            "1 while this process runs the scheduled work (the sync, the recovery, following"
            " Airtable): always with SQLite, on one replica at a time with PostgreSQL.",
        )
        self.dependency_failing = self._gauge(
            "deliverables_bot_dependency_failing",
            "1 while the latest call to a dependency (airtable, github) failed, else 0.",
            "dependency",
        )
        self.dependency_failing_since = self._gauge(
            "deliverables_bot_dependency_failing_since_seconds",
            "When the current run of failures of a dependency began (Unix time; 0: not failing).",
            "dependency",
        )
        self.dependency_consecutive_failures = self._gauge(
            "deliverables_bot_dependency_consecutive_failures",
            "Failed calls to a dependency since its last success.",
            "dependency",
        )
        self.dependency_last_error = self._gauge(
            "deliverables_bot_dependency_last_error_seconds",
            "When a dependency last failed (Unix time), labelled with that error's kind (an"
            " HTTP status, or 'network').",
            "dependency",
            "kind",
        )

    def _counter(self, name: str, documentation: str, *labels: str) -> Counter:
        """A counter in this registry, with these label names."""
        return Counter(name, documentation, labels, registry=self.registry)

    def _gauge(self, name: str, documentation: str, *labels: str) -> Gauge:
        """A gauge in this registry, with these label names."""
        return Gauge(name, documentation, labels, registry=self.registry)

    def observe_health(self) -> None:
        """Copy :attr:`health` into the dependency gauges (at scrape time)."""
        self.dependency_last_error.clear()
        for name, state in self.health.dependencies.items():
            self.dependency_failing.labels(dependency=name).set(int(state.failing))
            self.dependency_failing_since.labels(dependency=name).set(state.failing_since or 0)
            self.dependency_consecutive_failures.labels(dependency=name).set(
                state.consecutive_failures
            )
            if state.last_error_at is not None:
                self.dependency_last_error.labels(
                    dependency=name, kind=state.last_error_kind or "unknown"
                ).set(state.last_error_at)

    def render(self) -> bytes:
        """The metrics in Prometheus text format."""
        return generate_latest(self.registry)
