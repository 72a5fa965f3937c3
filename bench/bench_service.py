"""Benchmark the webhook service against the embedded Airtable with Airtable's 5 requests/s.

Runs the real bot (``python -m bot serve``) as a subprocess with GitHub App credentials
against the GitHub stand-in, so the reconcile reads GitHub as it would in production, and
the embedded Airtable-compatible server (in this process) with its rate limit on.

1. Burst: N issues linked to deliverables across P Projects, all closed in one burst of
   signed deliveries. Reports the time until every record is Done and every Project
   Complete, Airtable and GitHub requests per delivery, 429s, completion comments, and the
   ratio to the floor: (records to write / 10 + pages to read) at 5 requests/s.
2. Ack latency: rounds of 200 concurrent signed deliveries to ``POST /webhook``, p50 and p99.
3. Peak RSS of the bot process (VmHWM) over both.
4. How close the burst came to Airtable's limit: the shortest time the embedded Airtable
   saw between a request and the fifth after it (``tightest_six_s``; under 1 s means a
   sixth request in one second, a 429). The margin the bot's pace leaves is this minus 1.

Usage: ``python bench/bench_service.py [--runs 3] [--issues 1000] [--projects 50]``.
With ``BENCH_TRACE=1`` in the environment the embedded Airtable prints each request it
admits or answers 429 (wall clock) and each store call's duration, and the bot's log is
kept as ``/tmp/bench-bot-PID.log``: what was used to find where six requests bunched.
Each run starts fresh servers; the figures printed are the median over runs.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import socket
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

from bot.airtable_local.thread import LocalAirtable  # noqa: E402
from tests.standins.github import GitHubStandIn  # noqa: E402
from tests.webhooks import issues_event, prepare_delivery  # noqa: E402

OWNER, REPO = "bench-org", "delivery"
SECRET = "bench-secret"
DELIVERABLES, PROJECTS = "Project Deliverables", "Projects"
ACK_CONCURRENCY = 200
ACK_ROUNDS = 5
RATE = 5.0


def free_port() -> int:
    """A TCP port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(at: LocalAirtable, gh: GitHubStandIn, issues: int, projects: int) -> None:
    """Projects, deliverables and their open issues, written straight into the stores."""
    base = at.base_id
    assert base is not None
    project_ids: list[str] = []
    for start in range(0, projects, 10):
        rows = [
            {"Name": f"Project {n}", "Status": "In progress"}
            for n in range(start, min(start + 10, projects))
        ]
        project_ids += [r["id"] for r in at.store.create_records(base, PROJECTS, rows)]
    for start in range(0, issues, 10):
        rows = []
        for n in range(start + 1, min(start + 11, issues + 1)):
            gh.add_issue(OWNER, REPO, n, title=f"Deliverable {n}", assignees=["alice"])
            rows.append(
                {
                    "Name": f"Deliverable {n}",
                    "GitHub Issue": f"https://github.com/{OWNER}/{REPO}/issues/{n}",
                    "Status": "In progress",
                    "Project": [project_ids[(n - 1) % projects]],
                }
            )
        at.store.create_records(base, DELIVERABLES, rows)


def record_admissions(at: LocalAirtable) -> list[float]:
    """The moments (monotonic) at which the embedded Airtable admitted a request within its
    rate limit, appended to as it runs."""
    admitted: list[float] = []
    admit = at.limiter.admit

    def recording(base_id: str) -> bool:
        arrived = time.monotonic()
        allowed = admit(base_id)
        if allowed:
            admitted.append(arrived)
        if os.environ.get("BENCH_TRACE"):
            print(f"{'ok ' if allowed else '429'} {time.time():.3f}", flush=True)
        return allowed

    at.limiter.admit = recording  # type: ignore[method-assign]
    if os.environ.get("BENCH_TRACE"):
        for name in ("list_records", "update_records", "create_records"):
            method = getattr(at.store, name)

            def timed(*args: Any, _method: Any = method, _name: str = name, **kw: Any) -> Any:
                began = time.time()
                try:
                    return _method(*args, **kw)
                finally:
                    print(f"store {_name} {began:.3f} {time.time() - began:.3f}", flush=True)

            setattr(at.store, name, timed)
    return admitted


def start_bot(
    at: LocalAirtable,
    gh: GitHubStandIn | None,
    data: Path,
    port: int,
    *,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """``serve`` as a subprocess on ``port`` (with App credentials when ``gh`` is given, and
    ``extra_env``), logging to ``data/bot.log``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "AIRTABLE_"))}
    env.update(
        DELIVERABLES_BOT_DATA=str(data),
        GITHUB_WEBHOOK_SECRET=SECRET,
        AIRTABLE_TOKEN=at.token,
        AIRTABLE_BASE_ID=str(at.base_id),
        AIRTABLE_ENDPOINT_URL=at.url,
    )
    if gh is not None:
        env.update(
            GITHUB_API_URL=gh.url,
            GITHUB_APP_ID=str(gh.app_id),
            GITHUB_PRIVATE_KEY=gh.private_key_pem,
        )
    env.update(extra_env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(data / "bot.log", "wb"),
    )


def peak_rss_mb(pid: int) -> float:
    """The process's high-water resident set size (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def wait_ready(session: aiohttp.ClientSession, base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            async with session.get(f"{base}/readyz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the bot did not become ready")


async def post(session: aiohttp.ClientSession, url: str, payload: dict[str, Any]) -> float:
    body, headers = prepare_delivery("issues", payload, secret=SECRET)
    began = time.perf_counter()
    async with session.post(url, data=body, headers=headers) as response:
        await response.read()
        if response.status != 202:
            raise RuntimeError(f"delivery answered {response.status}")
    return time.perf_counter() - began


async def _timed_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> float:
    began = time.perf_counter()
    writer.write(raw)
    status_line = await reader.readline()
    elapsed = time.perf_counter() - began
    length = 0
    while (header := await reader.readline()) not in (b"\r\n", b""):
        if header.lower().startswith(b"content-length:"):
            length = int(header.split(b":")[1])
    await reader.readexactly(length)
    if int(status_line.split()[1]) != 202:
        raise RuntimeError(f"delivery answered {status_line!r}")
    return elapsed


async def ack_latencies(port: int, payloads: list[dict[str, Any]]) -> list[float]:
    """Send every payload at once, one per open keep-alive connection; sorted latencies.

    A lean client (pre-built requests on raw streams) so that the figure is the server's,
    not the time an HTTP client library spends on 200 requests of its own.
    """
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in payloads]
    requests = []
    for payload in payloads:
        body, headers = prepare_delivery("issues", payload, secret=SECRET)
        head = "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += f"Content-Length: {len(body)}\r\n\r\n"
        requests.append(head.encode() + body)
    try:
        latencies = await asyncio.gather(
            *(_timed_request(r, w, raw) for (r, w), raw in zip(connections, requests, strict=True))
        )
    finally:
        for _, writer in connections:
            writer.close()
    return sorted(latencies)


def completion_comments(gh: GitHubStandIn, issues: int) -> int:
    """Completion comments posted on the benchmark's issues."""
    return sum(
        1
        for n in range(1, issues + 1)
        for c in gh.comments(OWNER, REPO, n)
        if "deliverables-bot:project-completed" in c["body"]
    )


def progress(at: LocalAirtable) -> tuple[int, int]:
    base = str(at.base_id)
    done = sum(
        1 for r in at.store.all_records(base, DELIVERABLES) if r["fields"].get("Status") == "Done"
    )
    complete = sum(
        1 for r in at.store.all_records(base, PROJECTS) if r["fields"].get("Status") == "Complete"
    )
    return done, complete


async def one_run(issues: int, projects: int) -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        GitHubStandIn(account=OWNER) as gh,
        LocalAirtable(seed="empty", requests_per_second=RATE, penalty_seconds=30.0) as at,
    ):
        seed(at, gh, issues, projects)
        admitted = record_admissions(at)
        at.reset_stats()
        port = free_port()
        bot = start_bot(at, gh, Path(tmp), port)
        base = f"http://127.0.0.1:{port}"
        try:
            connector = aiohttp.TCPConnector(limit=ACK_CONCURRENCY)
            async with aiohttp.ClientSession(connector=connector) as session:
                await wait_ready(session, base)
                gh.reset_calls()
                payloads = [
                    issues_event("closed", gh.close_issue(OWNER, REPO, n))
                    for n in range(1, issues + 1)
                ]
                began = time.monotonic()
                sem = asyncio.Semaphore(50)

                async def send(payload: dict[str, Any]) -> float:
                    async with sem:
                        return await post(session, f"{base}/webhook", payload)

                await asyncio.gather(*(send(p) for p in payloads))
                deadline = began + 600
                while time.monotonic() < deadline:
                    done, complete = progress(at)
                    if done == issues and complete == projects:
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise RuntimeError(f"burst unfinished: {progress(at)}")
                elapsed = time.monotonic() - began
                # The comment follows its Project's write; give the last ones time to land.
                while completion_comments(gh, issues) < projects and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                comments = completion_comments(gh, issues)
                await asyncio.sleep(1.0)  # the worker goes idle before the latency rounds
                stats = at.stats()
                github_requests = len(gh.calls)

                # Ack latency: rounds of 200 concurrent deliveries (edits of issues no
                # deliverable links), each on its own open connection, timed from its send
                # to its status line; the p50 and p99 of a run are medians over its rounds.
                rounds = []
                for r in range(ACK_ROUNDS):
                    first = 10_001 + r * ACK_CONCURRENCY
                    numbers = range(first, first + ACK_CONCURRENCY)
                    for n in numbers:
                        gh.add_issue(OWNER, REPO, n, title=f"Unlinked {n}")
                    rounds.append(
                        await ack_latencies(
                            port,
                            [issues_event("edited", gh.issue(OWNER, REPO, n)) for n in numbers],
                        )
                    )
                    await asyncio.sleep(0.5)
                rss = peak_rss_mb(bot.pid)
        finally:
            bot.send_signal(signal.SIGINT)
            try:
                bot.wait(timeout=10)
            except subprocess.TimeoutExpired:
                bot.kill()
            if os.environ.get("BENCH_TRACE"):
                (Path("/tmp") / f"bench-bot-{os.getpid()}.log").write_bytes(
                    (Path(tmp) / "bot.log").read_bytes()
                )
    tightest = min(
        (b - a for a, b in zip(admitted, admitted[5:], strict=False)), default=float("nan")
    )
    pages = math.ceil(issues / 100) + math.ceil(projects / 100)
    floor_requests = (issues + projects) / 10 + pages
    floor_seconds = floor_requests / RATE
    return {
        "burst_seconds": elapsed,
        "floor_seconds": floor_seconds,
        "ratio_to_floor": elapsed / floor_seconds,
        "airtable_requests": stats.requests,
        "airtable_per_delivery": stats.requests / issues,
        "airtable_429s": stats.rate_limited,
        "tightest_six_s": tightest,
        "github_requests": github_requests,
        "github_per_delivery": github_requests / issues,
        "completion_comments": comments,
        "ack_p50_ms": statistics.median(lat[len(lat) // 2] for lat in rounds) * 1000,
        "ack_p99_ms": statistics.median(lat[math.ceil(len(lat) * 0.99) - 1] for lat in rounds)
        * 1000,
        "peak_rss_mb": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--issues", type=int, default=1000)
    parser.add_argument("--projects", type=int, default=50)
    args = parser.parse_args()
    runs = []
    for n in range(args.runs):
        result = asyncio.run(one_run(args.issues, args.projects))
        runs.append(result)
        print(f"run {n + 1}: " + ", ".join(f"{k}={v:.3g}" for k, v in result.items()), flush=True)
    print(f"\nmedian of {args.runs} runs ({args.issues} issues, {args.projects} projects):")
    for key in runs[0]:
        print(f"  {key:<24} {statistics.median(r[key] for r in runs):.3g}")


if __name__ == "__main__":
    main()
