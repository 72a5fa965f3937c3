"""Benchmark several processes of the bot on one base at once (issue 11, "Processes together").

The embedded Airtable (Airtable's 5 requests/s and 30 s penalty on) is seeded like
``bench_service.py`` (1,000 issues linked to deliverables across 50 Projects by default) and
the real bot (``python -m bot serve``) is started with a data folder and the GitHub
stand-in's App credentials. Then the burst of ``bench_service.py`` (every issue closed, one
signed delivery each) is sent and, from the moment the burst starts, ``deliverables-bot
report`` (every Engagement, Markdown to a file) and ``deliverables-bot audit`` each run three
times as subprocesses, all with the same data folder, the same Airtable settings and the
same App credentials as ``serve`` — so that, where the bot shares one request budget per
base between the processes of one data folder, they share it.

Order (``--order``):

- ``parallel`` (the default): two chains side by side, one running ``report`` three times
  one after another, the other ``audit`` three times; with ``serve`` that is three
  processes on the base at once.
- ``serial``: one command at a time, ``report``, ``audit``, ``report``, ... while the
  burst runs.

Printed per run: each command's duration and exit code (``audit`` exits 1 when a rule of
the process does not hold — mid-burst, closed issues whose record is not Done yet break
one — so its summary line is shown too), the burst's time until every record is Done and
every Project Complete, and the Airtable requests and 429s.

"0 429s" means: from the burst's first delivery until the burst has converged and the
last command has exited, the embedded Airtable answered none of the requests of any of
the processes (``serve`` and every ``report`` and ``audit``) with 429 Too Many Requests,
counted by the server itself (``LocalAirtable.stats().rate_limited``) — i.e. together the
processes never went over 5 requests in any second on the base. Each 429 also costs every
later request of that base Airtable's 30 s penalty, which is where the long pauses come from.

Usage (from the repository root)::

    python bench/bench_processes.py [--runs 1] [--issues 1000] [--projects 50]
                                    [--order parallel|serial] [--times 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from bench_service import (  # noqa: E402
    OWNER,
    RATE,
    REPO,
    free_port,
    post,
    progress,
    seed,
    start_bot,
    wait_ready,
)

from bot.airtable_local.thread import LocalAirtable  # noqa: E402
from tests.standins.github import GitHubStandIn  # noqa: E402
from tests.webhooks import issues_event  # noqa: E402

BURST_TIMEOUT = 900.0
COMMAND_TIMEOUT = 600.0
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:")  # a line of the bot's log


@dataclass
class CommandRun:
    """One command's run: what ran, when it started (s after the burst began), for how
    long, its exit code, the 429s it met and what it said last (its error line, or its last
    line that is not a log line)."""

    name: str
    started: float
    seconds: float
    exit_code: int
    pauses: int  # the 429s it met (each one a 30 s pause), from its log
    last_line: str


def command_env(at: LocalAirtable, gh: GitHubStandIn, data: Path) -> dict[str, str]:
    """The environment ``serve`` gets from ``bench_service.start_bot``, for the commands."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "AIRTABLE_"))}
    env.update(
        DELIVERABLES_BOT_DATA=str(data),
        AIRTABLE_TOKEN=at.token,
        AIRTABLE_BASE_ID=str(at.base_id),
        AIRTABLE_ENDPOINT_URL=at.url,
        GITHUB_API_URL=gh.url,
        GITHUB_APP_ID=str(gh.app_id),
        GITHUB_PRIVATE_KEY=gh.private_key_pem,
    )
    return env


async def run_command(
    name: str, index: int, env: dict[str, str], data: Path, began: float
) -> CommandRun:
    """Run ``python -m bot NAME`` (``report`` writes Markdown to a file) and time it."""
    out = data / f"{name}-{index}.out"
    args = [sys.executable, "-m", "bot", name]
    if name == "report":
        args += ["--format", "md", "--output", str(data / f"report-{index}.md")]
    started = time.monotonic()
    with out.open("wb") as stdout, (data / f"{name}-{index}.err").open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *args, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr
        )
        try:
            exit_code = await asyncio.wait_for(process.wait(), COMMAND_TIMEOUT)
        except TimeoutError:
            process.kill()
            exit_code = await process.wait()
    seconds = time.monotonic() - started
    stdout_lines = _lines(out)
    stderr_lines = _lines(data / f"{name}-{index}.err")
    pauses = sum(1 for line in stderr_lines if "answered 429" in line)
    said = [line for line in stderr_lines if line.startswith("error:")] or [
        line for line in stdout_lines + stderr_lines if not LOG_LINE.match(line)
    ]
    return CommandRun(name, started - began, seconds, exit_code, pauses, said[-1] if said else "")


def _lines(path: Path) -> list[str]:
    """The non-blank lines of a file."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return [line for line in text.splitlines() if line.strip()]


async def chain(
    names: list[str], env: dict[str, str], data: Path, began: float
) -> list[CommandRun]:
    """Run the commands one after another."""
    runs = []
    for index, name in enumerate(names):
        runs.append(await run_command(name, index, env, data, began))
    return runs


async def one_run(issues: int, projects: int, order: str, times: int) -> dict[str, Any]:
    """Seed, start ``serve``, send the burst with the commands running; the figures."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        GitHubStandIn(account=OWNER) as gh,
        LocalAirtable(seed="empty", requests_per_second=RATE, penalty_seconds=30.0) as at,
    ):
        data = Path(tmp)
        seed(at, gh, issues, projects)
        port = free_port()
        bot = start_bot(at, gh, data, port)
        base = f"http://127.0.0.1:{port}"
        env = command_env(at, gh, data)
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50)) as session:
                await wait_ready(session, base)
                await asyncio.sleep(1.0)  # serve's start-up reads, if any, are over
                at.reset_stats()
                payloads = [
                    issues_event("closed", gh.close_issue(OWNER, REPO, n))
                    for n in range(1, issues + 1)
                ]
                began = time.monotonic()
                if order == "parallel":
                    chains = [
                        chain(["report"] * times, env, data, began),
                        chain(["audit"] * times, env, data, began),
                    ]
                else:
                    chains = [chain(["report", "audit"] * times, env, data, began)]
                commands = asyncio.gather(*chains)
                sem = asyncio.Semaphore(50)

                async def send(payload: dict[str, Any]) -> float:
                    async with sem:
                        return await post(session, f"{base}/webhook", payload)

                await asyncio.gather(*(send(p) for p in payloads))
                burst_seconds: float | None = None
                while time.monotonic() < began + BURST_TIMEOUT:
                    done, complete = progress(at)
                    if done == issues and complete == projects:
                        burst_seconds = time.monotonic() - began
                        break
                    await asyncio.sleep(0.1)
                command_runs = sorted(
                    (run for runs in await commands for run in runs), key=lambda r: r.started
                )
                stats = at.stats()
                serve_pauses = sum(1 for line in _lines(data / "bot.log") if "answered 429" in line)
        finally:
            bot.send_signal(signal.SIGINT)
            try:
                bot.wait(timeout=10)
            except subprocess.TimeoutExpired:
                bot.kill()
    return {
        "burst_seconds": burst_seconds,
        "commands": command_runs,
        "airtable_requests": stats.requests,
        "airtable_429s": stats.rate_limited,
        "serve_pauses": serve_pauses,
        "window_seconds": max(
            [burst_seconds or BURST_TIMEOUT] + [r.started + r.seconds for r in command_runs]
        ),
    }


def print_run(number: int, result: dict[str, Any]) -> None:
    """One run's figures."""
    burst = result["burst_seconds"]
    print(f"\nrun {number}:")
    print(
        "  burst converged (every record Done, every Project Complete): "
        + (f"{burst:.1f} s" if burst is not None else f"not within {BURST_TIMEOUT:.0f} s")
    )
    print(f"  {'command':<8} {'start':>7} {'took':>8} {'exit':>4} {'429s':>4}  said last")
    for run in result["commands"]:
        print(
            f"  {run.name:<8} {run.started:>6.1f}s {run.seconds:>7.2f}s {run.exit_code:>4} "
            f"{run.pauses:>4}  {run.last_line[:90]}"
        )
    print(
        f"  Airtable: {result['airtable_requests']} requests, {result['airtable_429s']} "
        f"answered 429, over {result['window_seconds']:.1f} s (all processes together); "
        f"serve met {result['serve_pauses']} of them"
    )


def main() -> None:
    """Parse the arguments, run and print the figures of every run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--issues", type=int, default=1000)
    parser.add_argument("--projects", type=int, default=50)
    parser.add_argument("--order", choices=("parallel", "serial"), default="parallel")
    parser.add_argument("--times", type=int, default=3, help="runs of each command")
    args = parser.parse_args()
    # The bot's subprocesses import the same code as this script.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p
    )
    total_429s = 0
    for number in range(1, args.runs + 1):
        result = asyncio.run(one_run(args.issues, args.projects, args.order, args.times))
        print_run(number, result)
        total_429s += result["airtable_429s"]
    print(
        f"\n{args.runs} run(s), {args.issues} issues, {args.projects} projects, "
        f"commands {args.order}: {total_429s} 429s in all"
    )


if __name__ == "__main__":
    main()
