"""Long-running commands of the bot (``serve``, ``airtable-local``) as real subprocesses.

:func:`background` starts ``python -m bot ARGS`` with its output in files (so a full pipe
never blocks it) and stops it when the block ends, however it ends: SIGTERM, then SIGKILL.
Every wait is bounded (:func:`wait_until`) and a failed wait shows what the process printed.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
import requests

BOT = (sys.executable, "-m", "bot")

START_TIMEOUT = 15.0  # a server printing its banner and answering /healthz
WORK_TIMEOUT = 20.0  # deliveries worked on (the demo's Airtable allows 5 requests/s)
STOP_TIMEOUT = 10.0  # a server stopping after a signal

T = TypeVar("T")


def wait_until(
    check: Callable[[], T | None], *, timeout: float, what: str, detail: Callable[[], str] = str
) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{detail()}")
        time.sleep(0.05)


async def eventually(check: Callable[[], T | None], *, timeout: float, what: str) -> T:
    """:func:`wait_until` for a test on the event loop: poll without blocking it."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.05)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BotProcess:
    """A long-running command (``serve``, ``airtable-local``) in the background.

    Its stdout and stderr go to files in ``folder``, so a full pipe can never block it and
    the output can be read at any time.
    """

    def __init__(self, args: Sequence[str], *, env: dict[str, str], folder: Path, name: str):
        self.args = list(args)
        self.stdout_path = folder / f"{name}.stdout"
        self.stderr_path = folder / f"{name}.stderr"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [*BOT, *args], env=env, cwd=folder, stdout=out, stderr=err, stdin=subprocess.DEVNULL
            )

    @property
    def pid(self) -> int:
        """The process id."""
        return self.proc.pid

    def stdout(self) -> str:
        """Everything printed on stdout so far."""
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        """Everything printed on stderr (the log) so far."""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def output(self) -> str:
        """Both streams, for a failure message."""
        code = self.proc.poll()
        state = "running" if code is None else f"exited with {code}"
        return (
            f"--- {' '.join(self.args)} ({state})\n--- stdout:\n{self.stdout()}\n"
            f"--- stderr:\n{self.stderr()}"
        )

    def wait_for_stdout(self, text: str, timeout: float = START_TIMEOUT) -> str:
        """Wait until stdout contains ``text``; return stdout. Fails if the process exits."""

        def printed() -> str | None:
            out = self.stdout()
            if text in out:
                return out
            if self.proc.poll() is not None:
                pytest.fail(f"the process exited before printing {text!r}\n{self.output()}")
            return None

        return wait_until(printed, timeout=timeout, what=repr(text), detail=self.output)

    def wait_for_log(self, text: str, timeout: float = WORK_TIMEOUT) -> str:
        """Wait until stderr (the log) contains ``text``; return it."""

        def logged() -> str | None:
            log = self.stderr()
            return log if text in log else None

        return wait_until(
            logged,
            timeout=timeout,
            what=f"{text!r} in the log",
            detail=self.output,
        )

    def wait_http_ok(self, url: str, timeout: float = START_TIMEOUT) -> requests.Response:
        """Wait until ``GET url`` answers 200."""

        def answered() -> requests.Response | None:
            if self.proc.poll() is not None:
                pytest.fail(f"the process exited before {url} answered\n{self.output()}")
            try:
                response = requests.get(url, timeout=2)
            except (requests.ConnectionError, requests.Timeout):
                return None  # not listening yet, or too busy starting to answer in time
            return response if response.status_code == 200 else None

        return wait_until(answered, timeout=timeout, what=f"200 from {url}", detail=self.output)

    def signal(self, signum: int, timeout: float = STOP_TIMEOUT) -> int:
        """Send ``signum`` and wait (bounded) for the exit; return the exit code."""
        self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {timeout:.0f}s after signal {signum}\n{self.output()}")

    def stop(self) -> None:
        """Stop the process if it still runs: SIGTERM, then SIGKILL."""
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def __enter__(self) -> BotProcess:
        """Use as a context manager; the process is stopped on exit."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop the process."""
        self.stop()


@contextmanager
def background(
    *args: str, env: dict[str, str], folder: Path, name: str = "bot"
) -> Iterator[BotProcess]:
    """Start a long-running command; it is stopped when the block ends, however it ends."""
    process = BotProcess(args, env=env, folder=folder, name=name)
    with process:
        yield process
