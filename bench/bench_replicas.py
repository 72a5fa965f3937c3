"""Benchmark the burst on replicas: one ``serve`` on SQLite, one and three on PostgreSQL.

The burst of ``bench_service.py``: N issues linked to deliverables across P Projects in the
embedded Airtable (Airtable's 5 requests/s and 30 s penalty on), every issue closed in one
burst of signed deliveries, against the real bot (``python -m bot serve`` subprocesses with
GitHub App credentials against the GitHub stand-in). Three configurations:

- ``sqlite-1``: one replica, its state in SQLite files in its data folder (for comparison);
- ``postgres-1``: one replica with ``DATABASE_URL`` (a fresh schema per run);
- ``postgres-3``: three replicas on one schema, each its own port and data folder, the
  deliveries sent to them round-robin.

Per configuration, the medians over ``--runs`` runs of:

- ``converge s``: from the first delivery sent until every record is Done and every Project
  Complete (as ``bench_service.py`` measures it);
- ``ratio to floor``: that time over the floor, the Airtable requests the burst needs at
  least at 5 requests/s, defined as in ``bench_service.py``: (records to write / 10 + pages
  to read) / 5;
- ``ack p99 ms``: the 99th percentile of the time the burst's deliveries took to be answered
  202 (50 in flight at once, as ``bench_service.py`` sends the burst);
- ``Airtable req/delivery``: requests the embedded Airtable received from the burst's start
  until the end (every comment posted, the journal idle), over the deliveries;
- ``DB round trips/delivery``: the sum of ``deliverables_bot_database_round_trips`` over the
  replicas (statements each process sent, start-up, heartbeats and polling included),
  scraped from their ``/metrics`` at the end, over the deliveries;
- ``429s``: requests the embedded Airtable answered 429 (its own count), in all.

Usage (from the repository root)::

    python bench/bench_replicas.py [--runs 3] [--issues 300] [--projects 15]
                                   [--database-url postgresql://postgres@127.0.0.1:5432/test]
                                   [--configs sqlite-1,postgres-1,postgres-3]

The database URL defaults to ``$TEST_DATABASE_URL``, then the one above; each run creates a
schema of its own there and drops it at the end; when no server answers there, only
``sqlite-1`` runs (with a note on stderr). A run that does not converge within
``--timeout`` seconds is reported as such and counted out of the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from bench_service import (  # noqa: E402
    OWNER,
    RATE,
    REPO,
    completion_comments,
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

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
CONFIGS = {"sqlite-1": (False, 1), "postgres-1": (True, 1), "postgres-3": (True, 3)}
IN_FLIGHT = 50  # deliveries sent at once, as bench_service.py's burst
PENALTY_SECONDS = 30.0


def floor_seconds(issues: int, projects: int) -> float:
    """The least time the burst can take at Airtable's 5 requests/s, as ``bench_service.py``
    defines it: every record written in batches of 10, plus one read per 100 records."""
    pages = math.ceil(issues / 100) + math.ceil(projects / 100)
    return ((issues + projects) / 10 + pages) / RATE


def with_schema(url: str, schema: str) -> str:
    """*url* with its connections' ``search_path`` set to *schema* (as ``tests/postgres.py``)."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


@dataclass
class Replica:
    """One ``serve`` process: its port and process."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def base(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self.port}"


async def scrape(session: aiohttp.ClientSession, replica: Replica) -> dict[str, float]:
    """The replica's ``/metrics`` samples, by name and labels as printed."""
    async with session.get(f"{replica.base}/metrics") as response:
        text = await response.text()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


async def wait_idle(session: aiohttp.ClientSession, replicas: list[Replica], until: float) -> None:
    """Until no delivery is pending or processing on any replica (each one's queue depth:
    the shared journal's, with PostgreSQL), or ``until`` (monotonic)."""
    while time.monotonic() < until:
        busy = 0.0
        for replica in replicas:
            samples = await scrape(session, replica)
            busy += samples.get('deliverables_bot_queue_depth{state="pending"}', 0.0)
            busy += samples.get('deliverables_bot_queue_depth{state="processing"}', 0.0)
        if not busy:
            return
        await asyncio.sleep(0.2)


async def one_run(
    config: str, issues: int, projects: int, database_url: str, timeout: float
) -> dict[str, float] | None:
    """One burst on a fresh world; its figures, or None when it did not converge."""
    postgres, count = CONFIGS[config]
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    if postgres:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            GitHubStandIn(account=OWNER) as gh,
            LocalAirtable(
                seed="empty", requests_per_second=RATE, penalty_seconds=PENALTY_SECONDS
            ) as at,
        ):
            seed(at, gh, issues, projects)
            extra = {"DATABASE_URL": with_schema(database_url, schema)} if postgres else {}
            replicas = []
            for n in range(count):
                data = Path(tmp) / f"data-{n}"
                data.mkdir()
                port = free_port()
                replicas.append(Replica(port, start_bot(at, gh, data, port, extra_env=extra)))
            try:
                return await _burst(at, gh, replicas, issues, projects, timeout)
            finally:
                for replica in replicas:
                    replica.process.send_signal(signal.SIGINT)
                for replica in replicas:
                    try:
                        replica.process.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        replica.process.kill()
                        replica.process.wait()
    finally:
        if postgres:
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


async def _burst(
    at: LocalAirtable,
    gh: GitHubStandIn,
    replicas: list[Replica],
    issues: int,
    projects: int,
    timeout: float,
) -> dict[str, float] | None:
    """Send the burst round-robin, wait for convergence; the figures."""
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT * len(replicas))
    async with aiohttp.ClientSession(connector=connector) as session:
        for replica in replicas:
            await wait_ready(session, replica.base)
        await asyncio.sleep(1.0)  # start-up reads, if any, are over
        at.reset_stats()
        gh.reset_calls()
        payloads = [
            issues_event("closed", gh.close_issue(OWNER, REPO, n)) for n in range(1, issues + 1)
        ]
        began = time.monotonic()
        sem = asyncio.Semaphore(IN_FLIGHT)

        async def send(index: int, payload: dict[str, Any]) -> float:
            replica = replicas[index % len(replicas)]
            async with sem:
                return await post(session, f"{replica.base}/webhook", payload)

        acks = sorted(await asyncio.gather(*(send(i, p) for i, p in enumerate(payloads))))
        deadline = began + timeout
        while time.monotonic() < deadline:
            done, complete = progress(at)
            if done == issues and complete == projects:
                break
            await asyncio.sleep(0.1)
        else:
            print(f"  did not converge within {timeout:.0f} s: {progress(at)}", flush=True)
            return None
        elapsed = time.monotonic() - began
        while completion_comments(gh, issues) < projects and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        comments = completion_comments(gh, issues)
        await wait_idle(session, replicas, deadline)
        stats = at.stats()
        round_trips = 0.0
        for replica in replicas:
            round_trips += (await scrape(session, replica))["deliverables_bot_database_round_trips"]
    floor = floor_seconds(issues, projects)
    return {
        "converge_s": elapsed,
        "ratio_to_floor": elapsed / floor,
        "ack_p99_ms": acks[math.ceil(len(acks) * 0.99) - 1] * 1000,
        "airtable_per_delivery": stats.requests / issues,
        "db_round_trips_per_delivery": round_trips / issues,
        "airtable_429s": stats.rate_limited,
        "comments": comments,
    }


COLUMNS = (
    ("converge_s", "converge s", "{:.1f}"),
    ("ratio_to_floor", "ratio to floor", "{:.2f}"),
    ("ack_p99_ms", "ack p99 ms", "{:.0f}"),
    ("airtable_per_delivery", "Airtable req/delivery", "{:.3f}"),
    ("db_round_trips_per_delivery", "DB round trips/delivery", "{:.1f}"),
    ("airtable_429s", "429s", "{:.0f}"),
)


def table(results: dict[str, list[dict[str, float]]], runs: int) -> str:
    """The medians per configuration as a Markdown table."""
    head = ["configuration", "runs converged"] + [title for _, title, _ in COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for config, rows in results.items():
        cells = [config, f"{len(rows)}/{runs}"]
        for key, _, form in COLUMNS:
            cells.append(form.format(statistics.median(r[key] for r in rows)) if rows else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    """Parse the arguments, run every configuration ``--runs`` times, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--issues", type=int, default=300)
    parser.add_argument("--projects", type=int, default=15)
    parser.add_argument(
        "--database-url", default=os.environ.get("TEST_DATABASE_URL") or DEFAULT_DATABASE_URL
    )
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--timeout", type=float, default=600.0, help="per run, seconds")
    args = parser.parse_args()
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = set(configs) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown configurations {sorted(unknown)}; known: {list(CONFIGS)}")
    if any(CONFIGS[c][0] for c in configs):
        try:
            psycopg.connect(args.database_url, connect_timeout=3).close()
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            print(
                f"no PostgreSQL server answers at {args.database_url} ({reason}): only the"
                " SQLite configuration runs; set --database-url or TEST_DATABASE_URL",
                file=sys.stderr,
            )
            configs = [c for c in configs if not CONFIGS[c][0]]
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p
    )
    results: dict[str, list[dict[str, float]]] = {c: [] for c in configs}
    for number in range(1, args.runs + 1):
        for config in configs:  # interleaved, so a slow minute of the machine hits all alike
            result = asyncio.run(
                one_run(config, args.issues, args.projects, args.database_url, args.timeout)
            )
            if result is not None:
                results[config].append(result)
                print(
                    f"run {number} {config}: "
                    + ", ".join(f"{k}={v:.3g}" for k, v in result.items()),
                    flush=True,
                )
    floor = floor_seconds(args.issues, args.projects)
    print(
        f"\nmedians of {args.runs} runs; {args.issues} issues, {args.projects} Projects; "
        f"embedded Airtable at {RATE:g} requests/s, {PENALTY_SECONDS:g} s penalty; "
        f"floor {floor:.1f} s\n"
    )
    print(table(results, args.runs))


if __name__ == "__main__":
    main()
