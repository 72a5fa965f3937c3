"""Benchmark Airtable → GitHub: from a deliverable typed into Airtable to its issue on GitHub.

Runs the real bot (``python -m bot serve``) as a subprocess with ``[airtable_to_github]
enabled``, against the embedded Airtable (the demo base, Airtable's 5 requests/s on, real
webhooks and MAC-signed pings) and the GitHub stand-in. A person's client (the web app's
token) creates deliverables in the demo Project one at a time; each is timed from the
moment Airtable answered its creation to the moment its issue exists on the stand-in, and
then until its URL is in the record.

Two modes, each a fresh bot, base and stand-in:

- ``pings``: Airtable pings ``POST /airtable/webhook`` (the timer is set to 10 minutes,
  out of reach): target p50 under 5 s;
- ``timer``: no notification URL, payloads listed every ``--poll`` seconds: target under
  the interval plus 2 s.

Each mode also counts the Airtable requests the bot made per record (its own
``deliverables_bot_airtable_requests_total``; the timer's listings included), after the
first record (which also opens the Project's tracking issue).

Usage: ``python bench/bench_airtable_to_github.py [--runs 3] [--records 8] [--poll 5]``.
"""

from __future__ import annotations

import argparse
import collections
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_service import free_port, start_bot  # noqa: E402
from bot.airtable_local.thread import LocalAirtable  # noqa: E402
from tests.constants import OWNER, REPO  # noqa: E402
from tests.github_fixtures import seed_demo_issues  # noqa: E402
from tests.standins.github import GitHubStandIn  # noqa: E402

PROJECTS, DELIVERABLES = "Projects", "Project Deliverables"
TARGET_PING_P50 = 5.0
SLACK_SECONDS = 2.0
TIMEOUT = 60.0
TYPED = "Deliverable typed"
NEVER = 600.0  # the timer's interval in the pings mode: out of reach


def wait_for(check: Any, timeout: float = TIMEOUT, step: float = 0.01) -> Any:
    """Poll ``check`` until it is truthy; its value, or None after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    return None


def write_config(data: Path, *, notification_url: str, poll: float) -> Path:
    """The bot's TOML: the direction on, Airtable's real pace."""
    path = data / "bot.toml"
    url = f'notification_url = "{notification_url}"\n' if notification_url else ""
    path.write_text(
        f"[airtable_to_github]\nenabled = true\npoll_seconds = {poll}\n{url}", encoding="utf-8"
    )
    return path


def bot_airtable_requests(port: int) -> collections.Counter[str]:
    """The Airtable requests the bot has sent, by operation, from its own ``/metrics``."""
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    counts: collections.Counter[str] = collections.Counter()
    for line in text.splitlines():
        if line.startswith("deliverables_bot_airtable_requests_total{"):
            labels, value = line.rsplit(" ", 1)
            counts[labels.split('operation="', 1)[1].split('"', 1)[0]] += int(float(value))
    return counts


def one_run(mode: str, records: int, poll: float) -> dict[str, Any]:
    """One fresh bot in ``mode``; the latencies of ``records`` records and the request cost."""
    with (
        tempfile.TemporaryDirectory() as folder,
        LocalAirtable(seed="demo", requests_per_second=5, penalty_seconds=30) as at,
        GitHubStandIn() as gh,
    ):
        seed_demo_issues(gh)
        data = Path(folder)
        port = free_port()
        url = f"http://127.0.0.1:{port}/airtable/webhook" if mode == "pings" else ""
        config = write_config(data, notification_url=url, poll=NEVER if mode == "pings" else poll)
        bot = start_bot(at, gh, data, port, extra_env={"DELIVERABLES_BOT_CONFIG": str(config)})
        base_id = str(at.base_id)
        try:
            if not wait_for(lambda: at.webhooks and at.webhooks.list_hooks(base_id), step=0.1):
                raise RuntimeError(f"the bot created no webhook; see {data / 'bot.log'}")
            time.sleep(1.0)  # the first listing and the start-up reads are done
            project = next(
                p["id"]
                for p in at.store.all_records(base_id, PROJECTS)
                if p["fields"]["Name"] == "Setup workshop hub"
            )
            person = at.client_table(DELIVERABLES)
            issue_seconds: list[float] = []
            url_seconds: list[float] = []
            before: collections.Counter[str] = collections.Counter()
            for n in range(records):
                if n == 1:
                    before = bot_airtable_requests(port)
                title = f"{TYPED} {n}"
                record = person.create({"Name": title, "Project": [project]})
                start = time.monotonic()
                if not wait_for(
                    lambda t=title: any(i["title"] == t for i in gh.issues(OWNER, REPO))
                ):
                    raise RuntimeError(f"no issue for {title}; see {data / 'bot.log'}")
                issue_seconds.append(time.monotonic() - start)
                if not wait_for(lambda r=record["id"]: _issue_url(at, base_id, r)):
                    raise RuntimeError(f"no URL written for {title}")
                url_seconds.append(time.monotonic() - start)
                time.sleep(1.0)  # the follow-up writes (Status, tracking issue body) settle
            spent = bot_airtable_requests(port) - before
            per_record = max(1, records - 1)
            opened = [
                i for i in gh.issues(OWNER, REPO) if i["title"].startswith("Deliverable typed")
            ]
            return {
                "issue_p50": statistics.median(issue_seconds),
                "issue_max": max(issue_seconds),
                "url_p50": statistics.median(url_seconds),
                "requests_per_record": spent.total() / per_record,
                "by_operation": {op: round(n / per_record, 1) for op, n in spent.most_common()},
                "issues": len(opened),
                "rate_limited": at.stats().rate_limited,
            }
        finally:
            bot.send_signal(signal.SIGINT)
            try:
                bot.wait(timeout=15)
            except subprocess.TimeoutExpired:
                bot.kill()


def _has_issue(gh: GitHubStandIn, title: str) -> bool:
    return any(issue["title"] == title for issue in gh.issues(OWNER, REPO))


def _issue_url(at: LocalAirtable, base_id: str, record_id: str) -> Any:
    """The record's GitHub Issue, read from the store (no request counted)."""
    return at.store.get_record(base_id, DELIVERABLES, record_id)["fields"].get("GitHub Issue")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--records", type=int, default=8)
    parser.add_argument("--poll", type=float, default=5.0)
    args = parser.parse_args()
    for mode in ("pings", "timer"):
        results = [one_run(mode, args.records, args.poll) for _ in range(args.runs)]
        for index, result in enumerate(results, 1):
            print(
                f"{mode} run {index}: issue p50 {result['issue_p50']:.2f}s max"
                f" {result['issue_max']:.2f}s, URL written p50 {result['url_p50']:.2f}s,"
                f" {result['requests_per_record']:.1f} Airtable requests per record,"
                f" {result['issues']} issues for {args.records} records,"
                f" {result['rate_limited']} answered 429; per record: {result['by_operation']}"
            )
        p50 = statistics.median(r["issue_p50"] for r in results)
        worst = max(r["issue_max"] for r in results)
        target = TARGET_PING_P50 if mode == "pings" else args.poll + SLACK_SECONDS
        figure = p50 if mode == "pings" else worst
        verdict = "met" if figure < target else "NOT met"
        print(
            f"{mode}: median issue p50 {p50:.2f}s, worst {worst:.2f}s, requests per record"
            f" {statistics.median(r['requests_per_record'] for r in results):.1f}"
            f" — target {'p50' if mode == 'pings' else 'max'} < {target:.1f}s {verdict}"
        )


if __name__ == "__main__":
    main()
