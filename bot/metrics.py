"""Prometheus metrics of one bot process, in a registry of its own (so tests can run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    """The bot's counters, gauges and histograms; ``render()`` gives the Prometheus text."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.deliveries = Counter(
            "deliverables_bot_deliveries",
            "Webhook deliveries, by event and outcome.",
            ["event", "outcome"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "deliverables_bot_queue_depth",
            "Journaled deliveries by state (pending, processing, failed, ...).",
            ["state"],
            registry=self.registry,
        )
        self.airtable_calls = Counter(
            "deliverables_bot_airtable_requests",
            "Requests sent to Airtable, by operation.",
            ["operation"],
            registry=self.registry,
        )
        self.airtable_errors = Counter(
            "deliverables_bot_airtable_errors",
            "Failed Airtable requests, by HTTP status (or 'network').",
            ["status"],
            registry=self.registry,
        )
        self.github_calls = Counter(
            "deliverables_bot_github_requests",
            "Requests sent to GitHub, by method.",
            ["method"],
            registry=self.registry,
        )
        self.github_errors = Counter(
            "deliverables_bot_github_errors",
            "Failed GitHub requests, by HTTP status (or 'network').",
            ["status"],
            registry=self.registry,
        )
        self.reconcile_seconds = Histogram(
            "deliverables_bot_reconcile_seconds",
            "Time to reconcile one issue with its deliverable.",
            registry=self.registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        )
        self.comments = Counter(
            "deliverables_bot_comments",
            "Comments posted (or, without GitHub credentials, logged), by kind.",
            ["kind"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The metrics in Prometheus text format."""
        return generate_latest(self.registry)
