"""The ``.env`` file: read at start (never over the real environment), and where the GitHub
App's credentials are written when it is registered.

Its path is ``DELIVERABLES_BOT_ENV_FILE``, else ``.env`` in the current directory. It is
written with mode 0600 (a new file is created so, through a temporary file in the same
folder that replaces it whole), and only the keys being set change: every other line stays.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from bot.core.app_manifest import merge_env

ENV_FILE_VARIABLE = "DELIVERABLES_BOT_ENV_FILE"
DEFAULT_ENV_FILE = ".env"
FILE_MODE = 0o600


def env_file_path(environ: Mapping[str, str] | None = None) -> Path:
    """``DELIVERABLES_BOT_ENV_FILE``, else ``./.env``."""
    env = os.environ if environ is None else environ
    return Path(env.get(ENV_FILE_VARIABLE) or DEFAULT_ENV_FILE)


def load_env_file() -> str | None:
    """Load the ``.env`` file into the environment, never replacing a variable already set;
    a one-line reason when it exists but cannot be read (None otherwise)."""
    from dotenv import load_dotenv

    path = env_file_path()
    if not path.exists():
        return None
    if not path.is_file():
        return f"{path} ({ENV_FILE_VARIABLE}) is not a file"
    try:
        load_dotenv(path, override=False)
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        return f"cannot read {path} ({ENV_FILE_VARIABLE}): {reason}"
    return None


def write_env_file(path: Path, values: Mapping[str, str]) -> None:
    """Set ``values`` in the file at ``path`` (created if missing), mode 0600, other lines
    kept; the file is replaced at once, so a reader never sees half of it."""
    try:
        existing = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        existing = ""
    text = merge_env(existing, values)
    folder = path.parent if str(path.parent) else Path(".")
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
