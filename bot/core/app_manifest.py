"""The GitHub App manifest flow's pure parts: the manifest, GitHub's URLs, the ``.env`` lines.

GitHub's manifest flow
(https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest):
a browser POSTs the manifest (a JSON string in a ``manifest`` field) to
``{web}/settings/apps/new?state=...`` (or ``{web}/organizations/ORG/settings/apps/new``);
GitHub sends it back to the manifest's ``redirect_url`` with ``?code=...&state=...``; the code
(one hour, once) is exchanged with ``POST {api}/app-manifests/{code}/conversions`` for the
App's id, private key (``pem``), webhook secret and OAuth client. ``app.yaml`` is the one
source of the manifest; this module adds what depends on where the bot listens.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import yaml

WEBHOOK_PATH = "/webhook"
SETUP_PATH = "/setup"
DONE_PATH = "/setup/done"
GITHUB_WEB = "https://github.com"
GITHUB_API = "https://api.github.com"
# GitHub's rule for a login (user or organization): letters, digits and single hyphens,
# not first or last, at most 39 characters.
LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
# The conversion's fields and the variables they go to, in the order they are written.
ENV_KEYS = (
    ("GITHUB_APP_ID", "id"),
    ("GITHUB_PRIVATE_KEY", "pem"),
    ("GITHUB_WEBHOOK_SECRET", "webhook_secret"),
    ("GITHUB_CLIENT_ID", "client_id"),
    ("GITHUB_CLIENT_SECRET", "client_secret"),
)
REQUIRED_FIELDS = ("id", "pem", "webhook_secret")
_ENV_LINE = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=")


def parse_app_yaml(text: str) -> dict[str, Any]:
    """``app.yaml``'s content as a mapping; ValueError when it is not YAML or not a mapping."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"app.yaml is not valid YAML: {exc}") from None
    if not isinstance(document, dict) or not document.get("name"):
        raise ValueError("app.yaml must be a mapping with at least the App's name")
    return document


def build_manifest(
    document: Mapping[str, Any], public_url: str, *, redirect_url: str | None = None
) -> dict[str, Any]:
    """The manifest to post: ``app.yaml``'s settings with the webhook at
    ``{public_url}/webhook``, GitHub sending the browser back to ``redirect_url`` (default
    ``{public_url}/setup/done``), and the homepage ``url`` from ``app.yaml`` or else
    ``public_url``."""
    public = public_url.rstrip("/")
    manifest = copy.deepcopy(dict(document))
    hook = dict(manifest.get("hook_attributes") or {})
    hook["url"] = public + WEBHOOK_PATH
    hook.setdefault("active", True)
    manifest["hook_attributes"] = hook
    manifest["redirect_url"] = redirect_url or public + DONE_PATH
    manifest["url"] = manifest.get("url") or public
    return manifest


def github_web_url(api_url: str) -> str:
    """GitHub's web address for its API's: https://api.github.com is https://github.com, a
    GitHub Enterprise Server ``https://HOST/api/v3`` is ``https://HOST``; any other (a local
    stand-in serving both) is itself."""
    url = api_url.rstrip("/")
    if url == GITHUB_API:
        return GITHUB_WEB
    if url.endswith("/api/v3"):
        return url[: -len("/api/v3")]
    return url


def is_login(name: str) -> bool:
    """Whether ``name`` can be a GitHub user or organization login."""
    return LOGIN.fullmatch(name) is not None


def registration_url(web_url: str, state: str, organization: str | None = None) -> str:
    """Where the browser POSTs the manifest: the personal account's new-App page, or the
    organization's; ``state`` comes back with the code."""
    base = web_url.rstrip("/")
    if organization:
        if not is_login(organization):
            raise ValueError(f"{organization!r} is not a GitHub organization name")
        page = f"{base}/organizations/{quote(organization, safe='')}/settings/apps/new"
    else:
        page = f"{base}/settings/apps/new"
    return f"{page}?{urlencode({'state': state})}"


def install_url(html_url: str) -> str:
    """The page that installs the App (its ``html_url`` plus ``/installations/new``)."""
    return html_url.rstrip("/") + "/installations/new"


def credentials(conversion: Mapping[str, Any]) -> dict[str, str]:
    """The variables of the App GitHub created (the conversion's answer), in writing order;
    ValueError naming what is missing when the answer lacks the id, key or secret (or what
    cannot be written)."""
    missing = [name for name in REQUIRED_FIELDS if not conversion.get(name)]
    if missing:
        raise ValueError(f"GitHub's answer has no {', '.join(missing)}")
    values = {
        variable: str(conversion[field])
        for variable, field in ENV_KEYS
        if conversion.get(field) not in (None, "")
    }
    env_lines(values)  # each can be written
    return values


def env_quote(value: str) -> str:
    """``value`` single-quoted for a ``.env`` file: python-dotenv reads it back as is, line
    breaks included (only ``\\`` and ``'`` are escaped in that form)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def env_lines(values: Mapping[str, str]) -> list[str]:
    """``KEY='value'`` lines (a value may span lines) for ``values``; ValueError for a value
    holding ``${``, which python-dotenv would expand whatever the quotes (GitHub's ids,
    hex secrets and PEM keys never do)."""
    for key, value in values.items():
        if "${" in value:
            raise ValueError(f"{key}: a value with '${{' cannot be written to a .env file")
    return [f"{key}={env_quote(value)}" for key, value in values.items()]


def _entries(text: str) -> Iterable[tuple[str | None, str]]:
    """The file's entries as (key or None, raw text), a quoted value's lines kept together."""
    lines = text.splitlines(keepends=True)
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        match = _ENV_LINE.match(line)
        if match is None:
            yield None, line
            continue
        raw = line
        rest = line[match.end() :].lstrip()
        quote_char = rest[:1]
        if quote_char in ("'", '"') and not _closed(rest[1:], quote_char):
            while index < len(lines):
                raw += lines[index]
                index += 1
                if _closed(lines[index - 1], quote_char):
                    break
        yield match[1], raw


def _closed(text: str, quote_char: str) -> bool:
    """Whether ``text`` (after an opening quote) holds the closing, unescaped quote."""
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == quote_char:
            return True
    return False


def merge_env(existing: str, values: Mapping[str, str]) -> str:
    """The ``.env`` text with ``values`` set: each key's old entry replaced where it stood
    (a repeated one dropped), new keys appended, every other line kept as it was."""
    new = dict(zip(values, env_lines(values), strict=True))
    written: set[str] = set()
    out: list[str] = []
    for key, raw in _entries(existing):
        if key is None or key not in new:
            out.append(raw)
        elif key not in written:
            out.append(new[key] + "\n")
            written.add(key)
    if out and not out[-1].endswith("\n"):
        out[-1] += "\n"
    out.extend(new[key] + "\n" for key in new if key not in written)
    return "".join(out)
