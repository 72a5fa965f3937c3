"""Benchmark how fast ``POST /webhook`` answers 202: rounds of concurrent signed deliveries.

Runs the real bot (``python -m bot serve``) as a subprocess against the GitHub stand-in and
the embedded Airtable-compatible server with Airtable's 5 requests/s on, started as
``bench/bench_service.py`` starts them (its helpers are reused). Each round sends
``--concurrency`` deliveries at once, one per open keep-alive connection, and times each from
its send to its status line. The sending runs in a process of its own, so that the stand-ins
answering the bot in this process do not slow the client down and count as the server's time.

Two phases per run:

- idle worker: rounds of ``edited`` deliveries of issues no deliverable links, with a pause
  between rounds (the worker handles each round's deliveries in the pause, as in
  ``bench_service``);
- busy worker: first a burst of ``--burst`` ``closed`` deliveries of linked issues, then, while
  the worker reconciles them against the rate-limited Airtable, the same rounds again.

Per run and phase, two p99 figures are printed: ``p99_rounds``, the median over the rounds of
each round's p99 (bench_service's figure), and ``p99_all``, the p99 over every delivery of the
run's phase (stricter: one slow round counts in full). The target of issue 11 is p99 under
50 ms in every run.

A third phase, ``floor``, sends the same rounds to a bare aiohttp server (in a subprocess,
``--serve-floor``) whose handler reads the body and answers 202: what this machine and the
client cost with no bot at all, to tell a slow bot from a slow machine.

Usage: ``python bench/bench_ack.py [--runs 5] [--rounds 5] [--concurrency 200] [--burst 500]``.
``--burst 0`` skips the busy phase, ``--no-floor`` the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import math
import multiprocessing
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_service import (  # noqa: E402
    OWNER,
    RATE,
    REPO,
    ack_latencies,
    free_port,
    post,
    seed,
    start_bot,
    wait_ready,
)
from bot.airtable_local.thread import LocalAirtable  # noqa: E402
from tests.standins.github import GitHubStandIn  # noqa: E402
from tests.webhooks import issues_event, make_issue  # noqa: E402

TARGET_P99_MS = 50.0
ROUND_PAUSE_SECONDS = 0.5
# Numbers of the unlinked issues the rounds edit start here, past any linked one.
FIRST_UNLINKED = 100_001


def _send_round(port: int, payloads: list[dict[str, Any]]) -> list[float]:
    """One round's latencies, sent from the client process."""
    return asyncio.run(ack_latencies(port, payloads))


def p99(latencies: list[float]) -> float:
    """The 99th percentile (nearest rank) of sorted latencies, in ms."""
    return latencies[math.ceil(len(latencies) * 0.99) - 1] * 1000


def p50(latencies: list[float]) -> float:
    """The median of sorted latencies, in ms."""
    return latencies[len(latencies) // 2] * 1000


def summary(rounds: list[list[float]]) -> dict[str, float]:
    """p50 and p99 of a phase: medians over its rounds, and over all its deliveries."""
    pooled = sorted(x for r in rounds for x in r)
    return {
        "p50": statistics.median(p50(r) for r in rounds),
        "p99_rounds": statistics.median(p99(r) for r in rounds),
        "p99_all": p99(pooled),
        "max": pooled[-1] * 1000,
    }


async def _rounds(
    client: concurrent.futures.ProcessPoolExecutor,
    gh: GitHubStandIn,
    port: int,
    *,
    rounds: int,
    concurrency: int,
    first: int,
    pause: float,
) -> list[list[float]]:
    """``rounds`` rounds of ``concurrency`` edits of fresh unlinked issues from ``first``."""
    loop = asyncio.get_running_loop()
    results = []
    for r in range(rounds):
        numbers = range(first + r * concurrency, first + (r + 1) * concurrency)
        for n in numbers:
            gh.add_issue(OWNER, REPO, n, title=f"Unlinked {n}")
        payloads = [issues_event("edited", gh.issue(OWNER, REPO, n)) for n in numbers]
        results.append(await loop.run_in_executor(client, _send_round, port, payloads))
        await asyncio.sleep(pause)
    return results


async def one_run(
    client: concurrent.futures.ProcessPoolExecutor, *, rounds: int, concurrency: int, burst: int
) -> dict[str, dict[str, float]]:
    """Start fresh servers and the bot; the idle and busy phases' figures."""
    issues = max(burst, 10)
    with (
        tempfile.TemporaryDirectory() as tmp,
        GitHubStandIn(account=OWNER) as gh,
        LocalAirtable(seed="empty", requests_per_second=RATE, penalty_seconds=30.0) as at,
    ):
        seed(at, gh, issues, max(1, issues // 20))
        port = free_port()
        bot = start_bot(at, gh, Path(tmp), port)
        base = f"http://127.0.0.1:{port}"
        figures: dict[str, dict[str, float]] = {}
        try:
            connector = aiohttp.TCPConnector(limit=50)
            async with aiohttp.ClientSession(connector=connector) as session:
                await wait_ready(session, base)
                # Warm-up: the first deliveries pay for imports and caches.
                await _rounds(
                    client, gh, port, rounds=1, concurrency=concurrency, first=FIRST_UNLINKED,
                    pause=1.0,
                )  # fmt: skip
                first = FIRST_UNLINKED + concurrency
                idle = await _rounds(
                    client, gh, port, rounds=rounds, concurrency=concurrency, first=first,
                    pause=ROUND_PAUSE_SECONDS,
                )  # fmt: skip
                figures["idle"] = summary(idle)
                if burst:
                    first += rounds * concurrency
                    payloads = [
                        issues_event("closed", gh.close_issue(OWNER, REPO, n))
                        for n in range(1, burst + 1)
                    ]
                    sem = asyncio.Semaphore(50)

                    async def send(payload: dict[str, Any]) -> float:
                        async with sem:
                            return await post(session, f"{base}/webhook", payload)

                    await asyncio.gather(*(send(p) for p in payloads))
                    began = time.monotonic()
                    busy = await _rounds(
                        client, gh, port, rounds=rounds, concurrency=concurrency, first=first,
                        pause=ROUND_PAUSE_SECONDS,
                    )  # fmt: skip
                    figures["busy"] = summary(busy)
                    # The burst must still be in work when the rounds end, or they measured
                    # an idle worker.
                    done = sum(
                        1
                        for r in at.store.all_records(str(at.base_id), "Project Deliverables")
                        if r["fields"].get("Status") == "Done"
                    )
                    figures["busy"]["burst_done_pct"] = 100 * done / burst
                    figures["busy"]["seconds"] = time.monotonic() - began
        finally:
            bot.send_signal(signal.SIGINT)
            try:
                bot.wait(timeout=10)
            except subprocess.TimeoutExpired:
                bot.kill()
    return figures


def serve_floor(port: int) -> None:
    """The floor's server: aiohttp, one route that reads the body and answers 202."""
    from aiohttp import web

    async def accept(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"status": "accepted"}, status=202)

    app = web.Application()
    app.router.add_post("/webhook", accept)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def floor_run(
    client: concurrent.futures.ProcessPoolExecutor, *, rounds: int, concurrency: int
) -> dict[str, float]:
    """The rounds against the bare server."""
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve-floor", str(port)])
    try:
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + 30
            while True:
                try:
                    async with session.post(f"http://127.0.0.1:{port}/webhook", data=b"{}"):
                        break
                except aiohttp.ClientError:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.1)
        loop = asyncio.get_running_loop()
        results = []
        for r in range(rounds + 1):
            numbers = range(
                FIRST_UNLINKED + r * concurrency, FIRST_UNLINKED + (r + 1) * concurrency
            )
            payloads = [issues_event("edited", make_issue(OWNER, REPO, n)) for n in numbers]
            results.append(await loop.run_in_executor(client, _send_round, port, payloads))
            await asyncio.sleep(ROUND_PAUSE_SECONDS)
        return summary(results[1:])
    finally:
        server.terminate()
        server.wait(timeout=10)


def _line(figures: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.1f}" for k, v in figures.items())


def main() -> None:
    """Run the benchmark and print per-run and median figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--burst", type=int, default=500, help="closed deliveries (0: no busy)")
    parser.add_argument("--no-floor", action="store_true", help="skip the bare-server floor")
    parser.add_argument("--serve-floor", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_floor:
        serve_floor(args.serve_floor)
        return
    runs: list[dict[str, dict[str, float]]] = []
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as client:
        for n in range(args.runs):
            result = asyncio.run(
                one_run(client, rounds=args.rounds, concurrency=args.concurrency, burst=args.burst)
            )
            if not args.no_floor:
                result["floor"] = asyncio.run(
                    floor_run(client, rounds=args.rounds, concurrency=args.concurrency)
                )
            runs.append(result)
            for phase, figures in result.items():
                print(f"run {n + 1} {phase:<4} ms: {_line(figures)}", flush=True)
    print(
        f"\n{args.runs} runs, {args.rounds} rounds of {args.concurrency} concurrent deliveries"
        f" (burst {args.burst}); median over runs, ms:"
    )
    for phase in runs[0]:
        medians = {k: statistics.median(r[phase][k] for r in runs) for k in runs[0][phase]}
        print(f"  {phase:<4} {_line(medians)}")
        for key in ("p99_rounds", "p99_all"):
            under = sum(1 for r in runs if r[phase][key] < TARGET_P99_MS)
            print(f"       {key} under {TARGET_P99_MS:.0f} ms in {under} of {args.runs} runs")


if __name__ == "__main__":
    main()
