"""Benchmark how one event's latency grows with the size of the base (issue 11, "Scale").

For each size, a fresh embedded Airtable (Airtable's 5 requests/s on) is seeded straight
through its store with N deliverables across N / 20 Projects, each linked to an open issue
on the GitHub stand-in, and the real bot (``python -m bot serve``, with the stand-in's App
credentials) is started with a TOML that gives its snapshot cache a short life
(``[airtable] cache_ttl_seconds``, 2 s by default). Then:

1. Cold start: the first event after the bot is ready (an issue closed, its signed
   ``issues closed`` delivery posted to ``/webhook``), timed from the POST until its record's
   Status is Done in the store (polled directly every 20 ms).
2. ``--events`` more events, one at a time in a quiet system: before each, the bench waits
   until the base has received no request for the cache's life plus a margin (so the
   previous event's work is over and every snapshot has expired), then closes the next
   issue, delivers the event and times it the same way.

Printed per size: the cold start, the p50 and max of the quiet events, the Airtable
requests per event (all the requests the base received from the POST until the system was
quiet again: the record's write, its Project's reconcile and every read), and the ratio of
each size's p50 to the first size's. Issue 11's targets: p50 under 1 s at 20,000, and
within 2x of the 200 figure.

Usage (from the repository root)::

    python bench/bench_scale.py [--sizes 200,5000,20000] [--events 5] [--cache-ttl 2]
                                [--timeout 180] [--without-github]

``--timeout`` bounds each event (the cold start included); an event that times out is
printed as such and the size's remaining events are skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from bench_service import (  # noqa: E402
    DELIVERABLES,
    OWNER,
    RATE,
    REPO,
    free_port,
    post,
    seed,
    start_bot,
    wait_ready,
)

from bot.airtable_local.thread import LocalAirtable  # noqa: E402
from tests.standins.github import GitHubStandIn  # noqa: E402
from tests.webhooks import issues_event  # noqa: E402

DELIVERABLES_PER_PROJECT = 20
POLL_SECONDS = 0.02
QUIET_MARGIN_SECONDS = 1.0


@dataclass
class SizeResult:
    """What one base size measured; latencies in seconds, None where an event timed out."""

    size: int
    cold_start: float | None = None
    cold_requests: int = 0
    startup_requests: int = 0
    latencies: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    rate_limited: int = 0
    timed_out: bool = False

    @property
    def p50(self) -> float | None:
        """The median latency of the quiet events."""
        return statistics.median(self.latencies) if self.latencies else None


def record_ids_by_issue(at: LocalAirtable) -> dict[int, str]:
    """Each seeded deliverable's record id, by the number of the issue it links."""
    ids = {}
    for record in at.store.all_records(str(at.base_id), DELIVERABLES):
        url = record["fields"].get("GitHub Issue", "")
        ids[int(url.rsplit("/", 1)[1])] = record["id"]
    return ids


async def until_done(at: LocalAirtable, record_id: str, began: float, timeout: float) -> float:
    """Seconds from ``began`` until the record's Status is Done; TimeoutError past ``timeout``."""
    base = str(at.base_id)
    while True:
        if at.store.get_record(base, DELIVERABLES, record_id)["fields"].get("Status") == "Done":
            return time.perf_counter() - began
        if time.perf_counter() - began > timeout:
            raise TimeoutError
        await asyncio.sleep(POLL_SECONDS)


async def until_quiet(at: LocalAirtable, quiet_seconds: float, timeout: float) -> None:
    """Return once the base has received no request for ``quiet_seconds``."""
    deadline = time.monotonic() + timeout
    seen, since = at.stats().requests, time.monotonic()
    while time.monotonic() - since < quiet_seconds:
        if time.monotonic() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.1)
        now = at.stats().requests
        if now != seen:
            seen, since = now, time.monotonic()


async def one_event(
    session: aiohttp.ClientSession,
    url: str,
    at: LocalAirtable,
    gh: GitHubStandIn,
    number: int,
    record_id: str,
    *,
    quiet_seconds: float,
    timeout: float,
) -> tuple[float, int]:
    """Close issue ``number`` and deliver the event: its latency and the requests it cost
    (counted until the system is quiet again)."""
    at.reset_stats()
    payload = issues_event("closed", gh.close_issue(OWNER, REPO, number))
    began = time.perf_counter()
    await post(session, url, payload)
    latency = await until_done(at, record_id, began, timeout)
    await until_quiet(at, quiet_seconds, timeout)
    return latency, at.stats().requests


async def measure_size(
    size: int, *, events: int, cache_ttl: float, timeout: float, with_github: bool
) -> SizeResult:
    """Seed a base of ``size`` deliverables, start the bot and time its events."""
    result = SizeResult(size)
    quiet_seconds = cache_ttl + QUIET_MARGIN_SECONDS
    with (
        tempfile.TemporaryDirectory() as tmp,
        GitHubStandIn(account=OWNER) as gh,
        LocalAirtable(seed="empty", requests_per_second=RATE, penalty_seconds=30.0) as at,
    ):
        seed(at, gh, size, max(1, size // DELIVERABLES_PER_PROJECT))
        ids = record_ids_by_issue(at)
        data = Path(tmp)
        config = data / "bench.toml"
        config.write_text(f"[airtable]\ncache_ttl_seconds = {cache_ttl}\n", encoding="utf-8")
        os.environ["DELIVERABLES_BOT_CONFIG"] = str(config)
        at.reset_stats()
        port = free_port()
        bot = start_bot(at, gh if with_github else None, data, port)
        url = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as session:
                await wait_ready(session, url)
                result.startup_requests = at.stats().requests
                # Issue n belongs to Project (n - 1) % projects: these are in distinct
                # Projects, so no event completes one.
                numbers = list(range(1, events + 2))
                try:
                    latency, requests = await one_event(
                        session,
                        f"{url}/webhook",
                        at,
                        gh,
                        numbers[0],
                        ids[numbers[0]],
                        quiet_seconds=quiet_seconds,
                        timeout=timeout,
                    )
                    result.cold_start, result.cold_requests = latency, requests
                    result.rate_limited += at.stats().rate_limited
                    for number in numbers[1:]:
                        latency, requests = await one_event(
                            session,
                            f"{url}/webhook",
                            at,
                            gh,
                            number,
                            ids[number],
                            quiet_seconds=quiet_seconds,
                            timeout=timeout,
                        )
                        result.latencies.append(latency)
                        result.requests.append(requests)
                        result.rate_limited += at.stats().rate_limited
                        print(
                            f"  {size}: event {number - 1}: {latency:.3f} s, "
                            f"{requests} Airtable requests",
                            flush=True,
                        )
                except TimeoutError:
                    result.timed_out = True
        finally:
            os.environ.pop("DELIVERABLES_BOT_CONFIG", None)
            bot.send_signal(signal.SIGINT)
            try:
                bot.wait(timeout=10)
            except subprocess.TimeoutExpired:
                bot.kill()
    return result


def _seconds(value: float | None) -> str:
    return "timeout" if value is None else f"{value:.3f} s"


def print_table(results: list[SizeResult], cache_ttl: float) -> None:
    """The figures of every size, and the ratio of each p50 to the first size's."""
    reference = results[0].p50 if results else None
    print(f"\none event at a time, past a {cache_ttl:g} s cache life, Airtable at {RATE:g} req/s:")
    head = (
        f"{'deliverables':>12}  {'cold start':>10}  {'cold req':>8}  {'p50':>9}  "
        f"{'max':>9}  {'req/event':>9}  {'429s':>4}  {'p50 / first':>11}"
    )
    print(head)
    for r in results:
        p50 = r.p50
        ratio = f"{p50 / reference:.2f}" if p50 is not None and reference else "-"
        top = max(r.latencies) if r.latencies else None
        per_event = f"{statistics.mean(r.requests):.1f}" if r.requests else "-"
        print(
            f"{r.size:>12,}  {_seconds(r.cold_start):>10}  {r.cold_requests:>8}  "
            f"{_seconds(p50):>9}  {_seconds(top):>9}  {per_event:>9}  "
            f"{r.rate_limited:>4}  {ratio:>11}" + ("  (an event timed out)" if r.timed_out else "")
        )


def main() -> None:
    """Parse the arguments, measure every size and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200,5000,20000", help="comma-separated sizes")
    parser.add_argument("--events", type=int, default=5, help="quiet events per size")
    parser.add_argument("--cache-ttl", type=float, default=2.0, help="the bot's cache life, s")
    parser.add_argument("--timeout", type=float, default=180.0, help="per event, s")
    parser.add_argument(
        "--without-github", action="store_true", help="run the bot without App credentials"
    )
    args = parser.parse_args()
    # The bot's subprocess imports the same code as this script.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p
    )
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        began = time.monotonic()
        result = asyncio.run(
            measure_size(
                size,
                events=args.events,
                cache_ttl=args.cache_ttl,
                timeout=args.timeout,
                with_github=not args.without_github,
            )
        )
        results.append(result)
        print(
            f"  {size}: cold start {_seconds(result.cold_start)}, p50 {_seconds(result.p50)}, "
            f"{result.startup_requests} Airtable requests before ready "
            f"({time.monotonic() - began:.0f} s in all)",
            flush=True,
        )
    print_table(results, args.cache_ttl)


if __name__ == "__main__":
    main()
