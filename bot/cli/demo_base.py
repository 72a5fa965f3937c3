"""The demo's embedded Airtable: started by ``serve --demo``, read by ``report``, ``audit`` and
``check`` with ``--demo``.

``serve --demo`` runs the embedded Airtable-compatible server in a thread of its process, on
the demo base (kept in the data folder), at a fixed, known address: ``127.0.0.1`` and the
port of ``DEMO_AIRTABLE_PORT`` (default 8081, next to the bot's 8080 and away from
``airtable-local``'s 8765; ``0`` picks any free port, which only ``serve`` then knows), with
the token ``local``. A port that cannot be listened on is refused in one line
(exit 1) before anything starts; a value that is no port is a configuration problem (exit 2).

``report --demo``, ``audit --demo`` and ``check --demo`` read that running demo instead of
``AIRTABLE_*``: the same endpoint, token and base id as ``serve --demo`` hands the bot
(:func:`demo_config`), so the operator commands show what the demo did. When nothing answers
there as the demo's Airtable they stop in one line, exit 1, saying how to start it. The
probe asks for the list of bases, which counts against no base's rate limit. The HTTP
clients are imported inside the functions, so that ``--help`` loads none.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any

from bot.cli.check_result import CheckResult
from bot.config import DEMO_BASE_ID, Config, ConfigError

PORT_VARIABLE = "DEMO_AIRTABLE_PORT"
DEFAULT_PORT = 8081
DEMO_HOST = "127.0.0.1"
# The embedded server's API token in the demo: always its well-known one
# (bot.airtable_local.server.LOCAL_TOKEN), never AIRTABLE_TOKEN (a real base's token).
DEMO_TOKEN = "local"
PROBE_TIMEOUT = 3.0
SECRET_FILE = "demo-webhook-secret"  # bot.cli.demo.demo_secret keeps it there

BAD_PORT = f"{PORT_VARIABLE}={{value}}: a TCP port is a number from 0 to 65535"
CANNOT_LISTEN = (
    "cannot listen on {host}:{port} for the demo's Airtable ({variable}): {reason}; stop "
    "what uses the port, or set {variable} to another port (0: any free port)"
)
NO_DEMO = "no demo is running on {host}:{port}; start it with `make run`"
ANY_PORT = (
    f"{PORT_VARIABLE}=0: the demo's Airtable is on a port only serve knows; set "
    f"{PORT_VARIABLE} to the port of the Airtable URL serve --demo printed"
)
NOT_THE_DEMO = (
    "{host}:{port} answers, but not as the demo's Airtable ({problem}); is something else "
    f"using the port? Set {PORT_VARIABLE} to the port of the Airtable URL serve --demo printed"
)
DEMO_OPTION_HELP = (
    "read the running demo's base (`make run`, serve --demo) instead of AIRTABLE_*: its "
    f"Airtable on {DEMO_HOST}:{PORT_VARIABLE} (default {DEFAULT_PORT})"
)
DEMO_TOKEN_LINE = f"the demo's token ({DEMO_TOKEN}), in place of AIRTABLE_TOKEN"
SECRET_FOUND = (
    "the demo's webhook secret is in {path} (serve --demo made it; demo-deliver signs with it)"
)
SECRET_NOT_FOUND = (
    "no demo webhook secret in {path}: run check --demo with the data folder "
    "(DELIVERABLES_BOT_DATA) that serve --demo uses"
)


def demo_port(environ: Mapping[str, str] | None = None) -> int:
    """The demo's Airtable port: ``DEMO_AIRTABLE_PORT``, else 8081 (0: any free port).
    Raises :class:`ConfigError` when the value is no TCP port."""
    env = os.environ if environ is None else environ
    value = env.get(PORT_VARIABLE, "").strip()
    if not value:
        return DEFAULT_PORT
    if not value.isdigit() or int(value) > 65535:
        raise ConfigError([BAD_PORT.format(value=value)])
    return int(value)


def demo_url(port: int) -> str:
    """Where the demo's Airtable answers when it listens on ``port``."""
    return f"http://{DEMO_HOST}:{port}"


def demo_config(config: Config, url: str) -> Config:
    """``config`` pointed at the demo's Airtable at ``url``: its token, the demo base, and
    no ``[bases]`` (every owner is served by the demo base)."""
    return dataclasses.replace(
        config,
        airtable_endpoint_url=url,
        airtable_token=DEMO_TOKEN,
        airtable_base_id=DEMO_BASE_ID,
        bases_by_owner={},
    )


def start_demo_base(config: Config, stack: ExitStack) -> Config:
    """Start the embedded Airtable on the demo base (kept in the data folder, stopped with
    ``stack``) at ``127.0.0.1:DEMO_AIRTABLE_PORT``; the configuration that points at it.

    Raises :class:`OperatorError` (one line, exit 1) when the port cannot be listened on.
    """
    from bot.airtable_local.thread import LocalAirtable
    from bot.clients.errors import OperatorError

    port = demo_port()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    local = LocalAirtable(
        seed="demo",
        db_path=str(config.data_dir / "airtable-demo.sqlite3"),
        token=DEMO_TOKEN,
        host=DEMO_HOST,
        port=port,
        requests_per_second=config.airtable.requests_per_second,
    )
    try:
        local.start()
    except OSError as exc:
        local.stop()  # closes the store it opened
        # create_server's message adds the address, which the line names already.
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise OperatorError(
            CANNOT_LISTEN.format(host=DEMO_HOST, port=port, variable=PORT_VARIABLE, reason=reason)
        ) from exc
    stack.callback(local.stop)
    return demo_config(config, local.url)


def running_demo_url(environ: Mapping[str, str] | None = None) -> str:
    """The URL of the running demo's Airtable, once it has answered as the demo does (its
    token accepted, the demo base there). Raises :class:`OperatorError` when it does not."""
    import requests

    from bot.clients.errors import OperatorError

    port = demo_port(environ)
    if port == 0:
        raise OperatorError(ANY_PORT)
    url = demo_url(port)
    try:
        response = requests.get(
            f"{url}/v0/meta/bases",
            headers={"Authorization": f"Bearer {DEMO_TOKEN}"},
            timeout=PROBE_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise OperatorError(NO_DEMO.format(host=DEMO_HOST, port=port)) from exc
    problem = _not_the_demo(response)
    if problem:
        raise OperatorError(NOT_THE_DEMO.format(host=DEMO_HOST, port=port, problem=problem))
    return url


def _not_the_demo(response: Any) -> str | None:
    """Why an answer to ``GET /v0/meta/bases`` is not the demo's, or None when it is."""
    if response.status_code != 200:
        return f"HTTP {response.status_code} to the demo's token"
    try:
        bases = response.json().get("bases", [])
        ids = {base.get("id") for base in bases}
    except (ValueError, AttributeError):
        return "its answer is not Airtable's"
    return None if DEMO_BASE_ID in ids else f"no base {DEMO_BASE_ID}"


def add_demo_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--demo`` to a command that reads the base."""
    parser.add_argument("--demo", action="store_true", help=DEMO_OPTION_HELP)


def on_the_demo(args: argparse.Namespace, config: Config) -> Config:
    """``config`` as it is without ``--demo``; with it, pointed at the running demo's
    Airtable (:class:`OperatorError` when no demo is running)."""
    if not getattr(args, "demo", False):
        return config
    return demo_config(config, running_demo_url())


def demo_secret_result(config: Config) -> CheckResult:
    """``check --demo``'s webhook secret line: the secret serve --demo keeps in the data
    folder (when ``GITHUB_WEBHOOK_SECRET`` is not set)."""
    path = config.data_dir / SECRET_FILE
    if path.is_file():
        return CheckResult("webhook secret", True, SECRET_FOUND.format(path=path))
    return CheckResult("webhook secret", False, SECRET_NOT_FOUND.format(path=path))
