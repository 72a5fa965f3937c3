"""Labels and users as the bot reads them: the one project-label rule, the one "is a bot" rule."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def project_name(label: str, prefix: str) -> str | None:
    """The Project a label names (``project: Setup workshop hub``), or None.

    The prefix is compared case-insensitively; a label that is only the prefix names none.
    """
    if prefix and label.lower().startswith(prefix.lower()):
        name = label[len(prefix) :].strip()
        return name or None
    return None


def project_names(labels: Iterable[str], prefix: str) -> list[str]:
    """Every Project the labels name, in label order, each once (case-insensitively)."""
    names: dict[str, str] = {}
    for label in labels:
        name = project_name(label, prefix)
        if name is not None:
            names.setdefault(name.casefold(), name)
    return list(names.values())


def is_bot(user: Mapping[str, Any] | None) -> bool:
    """Whether a GitHub user is a bot (an App's user, or a ``[bot]`` login)."""
    user = user or {}
    return user.get("type") == "Bot" or str(user.get("login", "")).endswith("[bot]")
