"""Benchmark large deliveries: ack times and the bot's memory under 24 MiB payloads.

Runs the real bot (``python -m bot serve``) as a subprocess against the embedded Airtable
(in this process, seeded with the demo base) and without GitHub App credentials, so the
worker reconciles from the payload itself. Each run sends, all at once, ``--large``
signed 24 MiB ``issues.edited`` deliveries (an issue whose body is 24 MiB of Markdown-like
text, each on its own connection) while small signed deliveries keep arriving, ten every
50 ms, until every large one has been answered. It reports:

- the ack time of the small deliveries (p50, p99) and of the large ones (max), each timed
  from the first byte sent to the status line received;
- how the large ones were answered (202 accepted, 503 busy);
- the bot's peak RSS (VmHWM): idle, once every delivery has been answered, and once the
  worker has finished every accepted delivery.

Usage: ``python bench/bench_large_payloads.py [--runs 3] [--large 16]``. Each run starts a
fresh bot on a fresh data folder; the figures printed are the medians over runs.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_service import SECRET, free_port, peak_rss_mb, start_bot  # noqa: E402

from bot.airtable_local.thread import LocalAirtable  # noqa: E402
from tests.webhooks import encode_payload, issues_event, make_issue, sign  # noqa: E402

LARGE_BYTES = 24 * 1024 * 1024
SMALL_EVERY_SECONDS = 0.05
SMALL_PER_TICK = 10


def request_bytes(body: bytes, signature: str, event: str = "issues") -> bytes:
    """A raw HTTP/1.1 webhook request, as GitHub sends one (a new delivery id each)."""
    head = (
        "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-GitHub-Event: {event}\r\nX-GitHub-Delivery: {uuid.uuid4()}\r\n"
        f"X-Hub-Signature-256: {signature}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


async def timed_post(port: int, raw: bytes) -> tuple[float, int]:
    """Send one raw request on a new connection; (seconds to the status line, status)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        began = time.perf_counter()
        writer.write(raw)
        status_line = await reader.readline()
        elapsed = time.perf_counter() - began
        await reader.read()
    finally:
        writer.close()
    return elapsed, int(status_line.split()[1])


def large_body() -> tuple[bytes, str]:
    """One 24 MiB ``issues.edited`` payload (shared by every large delivery) and its
    signature: delivery ids are headers, so one body serves them all."""
    line = "- [ ] step with `code`, a [link](https://example.org/a/b) and ünïcödé\n"
    issue = make_issue(number=900, title="A very long issue", body="")
    room = LARGE_BYTES - len(encode_payload(issues_event("edited", issue))) - 64
    # In JSON the newline is two bytes ("\\n").
    issue["body"] = line * (room // (len(line.encode()) + 1))
    body = encode_payload(issues_event("edited", issue))
    assert LARGE_BYTES - 1024 < len(body) <= LARGE_BYTES, len(body)
    return body, sign(body, SECRET)


def small_request(n: int) -> bytes:
    """A small signed ``issues.edited`` delivery for an issue no deliverable links."""
    body = encode_payload(issues_event("edited", make_issue(number=10_000 + n, title=f"#{n}")))
    return request_bytes(body, sign(body, SECRET))


async def wait_http(session: aiohttp.ClientSession, url: str, timeout: float = 30) -> None:
    """Poll ``url`` until it answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            async with session.get(url) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200")


async def wait_idle(session: aiohttp.ClientSession, base: str, timeout: float = 300) -> None:
    """Wait until the bot's /metrics shows nothing pending or processing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with session.get(f"{base}/metrics") as response:
            text = await response.text()
        busy = sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("deliverables_bot_queue_depth{")
            and ('state="pending"' in line or 'state="processing"' in line)
        )
        if busy == 0:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("the worker did not finish")


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * q) - 1)]


async def one_run(large: int) -> dict[str, float]:
    """One run on a fresh bot; the figures of this run."""
    body, signature = large_body()
    larges = [request_bytes(body, signature) for _ in range(large)]
    del body
    with tempfile.TemporaryDirectory() as tmp, LocalAirtable(requests_per_second=None) as at:
        port = free_port()
        bot = start_bot(at, None, Path(tmp), port)
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as session:
                await wait_http(session, f"{base}/readyz")
                rss_idle = peak_rss_mb(bot.pid)
                large_tasks = [asyncio.create_task(timed_post(port, raw)) for raw in larges]
                small_tasks: list[asyncio.Task[tuple[float, int]]] = []
                n = 0
                while not all(t.done() for t in large_tasks):
                    for _ in range(SMALL_PER_TICK):
                        small_tasks.append(asyncio.create_task(timed_post(port, small_request(n))))
                        n += 1
                    await asyncio.sleep(SMALL_EVERY_SECONDS)
                large_results = [t.result() for t in large_tasks]
                small_results = await asyncio.gather(*small_tasks)
                rss_acked = peak_rss_mb(bot.pid)
                await wait_idle(session, base)
                rss = peak_rss_mb(bot.pid)
        finally:
            bot.send_signal(signal.SIGINT)
            try:
                bot.wait(timeout=20)
            except subprocess.TimeoutExpired:
                bot.kill()
    small_times = [t for t, status in small_results if status == 202]
    return {
        "small_count": len(small_results),
        "small_not_202": sum(1 for _, status in small_results if status != 202),
        "small_p50_ms": percentile(small_times, 0.5) * 1000,
        "small_p99_ms": percentile(small_times, 0.99) * 1000,
        "large_202": sum(1 for _, status in large_results if status == 202),
        "large_503": sum(1 for _, status in large_results if status == 503),
        "large_max_s": max(t for t, _ in large_results),
        "peak_rss_idle_mb": rss_idle,
        "peak_rss_acked_mb": rss_acked,
        "peak_rss_mb": rss,
    }


def main() -> None:
    """Run the benchmark and print each run and the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--large", type=int, default=16)
    args = parser.parse_args()
    runs = []
    for n in range(args.runs):
        result = asyncio.run(one_run(args.large))
        runs.append(result)
        print(f"run {n + 1}: " + ", ".join(f"{k}={v:.3g}" for k, v in result.items()), flush=True)
    print(f"\nmedian of {args.runs} runs ({args.large} large deliveries of 24 MiB):")
    for key in runs[0]:
        print(f"  {key:<20} {statistics.median(r[key] for r in runs):.3g}")


if __name__ == "__main__":
    main()
