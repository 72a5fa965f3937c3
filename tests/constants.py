"""Names the tests share: the demo repository, the demo base's tables, the webhook secret.

The demo base (README: Quick start) tracks issues of ``example-org/infrastructure``; the
GitHub stand-in's App is installed on ``example-org``.
"""

from __future__ import annotations

OWNER = "example-org"
REPO = "infrastructure"

ENGAGEMENTS = "Engagements"
PROJECTS = "Projects"
DELIVERABLES = "Project Deliverables"

DEMO_PROJECT = "Setup workshop hub"
"""The one Project of the demo base."""

WEBHOOK_SECRET = "test-webhook-secret"
"""The secret deliveries are signed with in tests (the ``webhook_secret`` fixture)."""
