"""Loading the configuration: the environment and the TOML file it names, into one :class:`Config`.

Every problem is collected and raised at once as one :class:`ConfigError`, each line naming
what to fix; the GitHub App's private key is accepted in the forms it is commonly carried in.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from string import Formatter
from typing import Any

from bot.config import (
    DEFAULT_AIRTABLE_ENDPOINT_URL,
    DEFAULT_GITHUB_API_URL,
    ISSUE_TEMPLATE_FIELDS,
    ROLES,
    Config,
    ConfigError,
    is_postgres_url,
    is_repository_name,
)

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
    "airtable_to_github": ("airtable_to_github",),
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
        nested = isinstance(values, dict) and "repositories" in values
        if section == "airtable_to_github" and nested:
            values = dict(values)
            config = _apply_repositories(config, values.pop("repositories"), problems)
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


def _apply_repositories(config: Config, value: Any, problems: list[str]) -> Config:
    """``[airtable_to_github.repositories]``: base id = "owner/name" for each base."""
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and k.startswith("app") and isinstance(v, str) for k, v in value.items()
    ):
        problems.append(
            "airtable_to_github.repositories: expected a table of 'app...' base id = 'owner/name'"
        )
        return config
    settings = dataclasses.replace(config.airtable_to_github, repositories=dict(value))
    return dataclasses.replace(config, airtable_to_github=settings)


def template_problems(template: str) -> list[str]:
    """What is wrong with an issue template: each field must be one of
    ``ISSUE_TEMPLATE_FIELDS``, bare (no ``!r`` conversion, ``:spec``, ``.attribute`` or
    ``[index]``); an empty list when it is fine."""
    try:
        fields = [
            (name, spec, conversion)
            for _, name, spec, conversion in Formatter().parse(template)
            if name is not None
        ]
    except ValueError as exc:  # a lone "{" or "}"
        return [f"cannot be read ({exc})"]
    problems = []
    for name, spec, conversion in fields:
        bang = f"!{conversion}" if conversion else ""
        written = f"{{{name}{bang}{':' if spec else ''}{spec}}}"
        if name not in ISSUE_TEMPLATE_FIELDS:
            problems.append(f"{written} is not a name it is given")
        elif conversion or spec:
            problems.append(f"{written} has a conversion or format spec")
    return problems


def _check_airtable_to_github(config: Config, problems: list[str]) -> None:
    """The repositories are ``owner/name``, the templates use only names they are given."""
    settings = config.airtable_to_github
    named = {"airtable_to_github.default_repository": settings.default_repository} | {
        f"airtable_to_github.repositories.{base}": repo
        for base, repo in settings.repositories.items()
    }
    for where, repo in named.items():
        if repo and not is_repository_name(repo):
            problems.append(f"{where}: expected a repository as owner/name, got {repo!r}")
    for key in ("issue_body", "tracking_title"):
        problems.extend(
            f"airtable_to_github.{key}: a template may use {{name}}, {{project}}, "
            f"{{engagement}} and {{statement_of_work}}, bare (and {{{{ }}}} for braces): {problem}"
            for problem in template_problems(getattr(settings, key))
        )
    if settings.poll_seconds <= 0:
        problems.append("airtable_to_github.poll_seconds: must be positive")
    if not 0 < settings.refresh_margin_days < 7:
        problems.append("airtable_to_github.refresh_margin_days: between 0 and 7 (a hook lives 7)")
    if settings.notification_url and not settings.notification_url.startswith(
        ("https://", "http://")
    ):
        problems.append("airtable_to_github.notification_url: expected an http(s) URL")


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
    for key in ("cache_ttl_seconds", "full_read_seconds"):
        if getattr(config.airtable, key) <= 0:
            problems.append(f"airtable.{key}: must be positive")
    if config.airtable.change_overlap_seconds < 0:
        problems.append("airtable.change_overlap_seconds: must not be negative")
    if not 1 <= config.airtable.batch_size <= 10:
        problems.append("airtable.batch_size: Airtable takes 1 to 10 records per write")
    if config.worker.concurrency < 1:
        problems.append("worker.concurrency: must be at least 1")
    if config.worker.max_attempts < 1:
        problems.append("worker.max_attempts: must be at least 1")
    if config.worker.lease_seconds <= 0:
        problems.append("worker.lease_seconds: must be positive")
    if config.recovery.interval_minutes <= 0:
        problems.append("recovery.interval_minutes: must be positive (enabled = false: off)")
    for key in ("max_per_pass", "max_pages"):
        if getattr(config.recovery, key) < 1:
            problems.append(f"recovery.{key}: must be at least 1")
    _check_airtable_to_github(config, problems)
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
    database_url = (env.get("DATABASE_URL") or "").strip() or None
    if database_url is not None and not is_postgres_url(database_url):
        problems.append(
            "DATABASE_URL: expected a PostgreSQL URL, postgresql://user@host:5432/database"
            " (without it the bot keeps its state in SQLite files in DELIVERABLES_BOT_DATA)"
        )
    metrics_port = (env.get("METRICS_PORT") or "").strip()
    if metrics_port and (not metrics_port.isdigit() or int(metrics_port) > 65535):
        problems.append(f"METRICS_PORT={metrics_port}: a TCP port is a number from 0 to 65535")

    config = dataclasses.replace(
        config,
        data_dir=Path(env.get("DELIVERABLES_BOT_DATA") or ".deliverables-bot"),
        github_api_url=(env.get("GITHUB_API_URL") or DEFAULT_GITHUB_API_URL).rstrip("/"),
        github_app_id=app_id,
        github_private_key=private_key,
        github_webhook_secret=env.get("GITHUB_WEBHOOK_SECRET") or None,
        airtable_token=env.get("AIRTABLE_TOKEN") or None,
        airtable_base_id=base_id,
        metrics_port=int(metrics_port) if metrics_port.isdigit() else None,
        database_url=database_url,
        airtable_endpoint_url=(
            env.get("AIRTABLE_ENDPOINT_URL") or DEFAULT_AIRTABLE_ENDPOINT_URL
        ).rstrip("/"),
    )
    _check_invariants(config, problems)
    if problems:
        raise ConfigError(problems)
    return config
