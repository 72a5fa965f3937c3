"""A Project's completion survives real faults: the bot run as a user runs it, then broken.

Every test runs ``python -m bot serve`` (and ``sync``, ``deliveries``) as real subprocesses
with GitHub App credentials against the GitHub stand-in, and Airtable = the embedded
Airtable-compatible server on a SQLite file, reached through a :class:`FaultProxy`.
Deliveries are signed with the real HMAC. The faults really happen: the bot is SIGKILLed and
started again on the same data folder, the Airtable server is stopped and started again on
the same SQLite file, the proxy refuses Project writes, GitHub answers 502.

What is asserted is what a user sees at the end: every deliverable Done, every Project
Complete, and exactly one completion comment per Project — a comment authored by the App's
bot user whose body starts with ``<!-- deliverables-bot:project-completed:<project id>``,
on any issue (the Tracking Issue, else one of the Project's deliverables' issues).

Set ``DELIVERABLES_FAULT_FIGURES=path`` to append one JSON line of figures per test (runs,
Projects checked, comments posted, what did not converge) for a closing note.
"""

from __future__ import annotations

import collections
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.airtable_local.thread import LocalAirtable
from bot.intake.journal import Journal
from tests.constants import DELIVERABLES, PROJECTS
from tests.fault_fixtures import StartProxy
from tests.operator_helpers import SECRET, operator_env, run_bot
from tests.processes import BotProcess, free_port, wait_until
from tests.standins.fault_proxy import FaultProxy, airtable_error
from tests.standins.github import GitHubStandIn
from tests.webhooks import issues_event, post_delivery_sync

OWNER, REPO = "example-org", "delivery"
BASE_ID = "appFaultsBase0001"
COMPLETED_MARKER = "<!-- deliverables-bot:project-completed:{project_id}"
# Project writes: the lane's batch PATCH on the table, or a single record's PATCH.
PROJECT_WRITES = r"^/v0/[^/]+/Projects(/|$)"
COMMENT_POSTS = rf"^/repos/{OWNER}/{REPO}/issues/\d+/comments$"

# The bot's settings for these tests. Airtable at 20 requests/s keeps the suite fast while a
# burst still lasts seconds (so faults land inside it); retries every 0.2 s growing to 2 s,
# 80 attempts (about 150 s): a delivery outlives a 60 s outage.
BOT_CONFIG = """\
[airtable]
requests_per_second = {requests_per_second}
penalty_seconds = 1
batch_wait_seconds = 0.02
timeout_seconds = 5

[worker]
max_attempts = 80
base_delay_seconds = 0.2
max_delay_seconds = 2.0
"""
FAST_AIRTABLE = 20.0
OUTAGE_SECONDS = 60.0  # issue 8: "Airtable unreachable for 60 s"
SETTLE_TIMEOUT = 90.0  # from the last fault to an idle journal
POLL = 0.01


# -- the world: GitHub stand-in, Airtable on a file behind a proxy, the bot's environment ---


@dataclass
class World:
    """One scenario's servers and data, and what a test needs to look at the outcome."""

    tmp_path: Path
    github: GitHubStandIn
    airtable: LocalAirtable
    db_path: Path
    proxy: FaultProxy
    env: dict[str, str]
    port: int
    project_ids: list[str] = field(default_factory=list)
    issues_of: dict[str, list[int]] = field(default_factory=dict)
    tracking_of: dict[str, int] = field(default_factory=dict)
    processes: list[BotProcess] = field(default_factory=list)

    def configure(self, *, requests_per_second: float = FAST_AIRTABLE) -> None:
        """Write the bot's TOML configuration (``BOT_CONFIG``) for the processes started next."""
        text = BOT_CONFIG.format(requests_per_second=requests_per_second)
        Path(self.env["DELIVERABLES_BOT_CONFIG"]).write_text(text, encoding="utf-8")

    @property
    def journal_path(self) -> Path:
        """The bot's journal, in its data folder."""
        return Path(self.env["DELIVERABLES_BOT_DATA"]) / "journal.sqlite3"

    @property
    def base(self) -> str:
        """The bot's base URL."""
        return f"http://127.0.0.1:{self.port}"

    # -- seeding ---------------------------------------------------------------------

    def seed(
        self,
        projects: int,
        per_project: int,
        *,
        project_status: str = "In progress",
        closed: bool = False,
        tracking: bool = False,
    ) -> None:
        """``projects`` Projects with ``per_project`` deliverables each, issues 1 to
        ``per_project`` in the first, and so on: closed in order, the Projects complete one
        after another all through a burst. Open assigned issues (or closed ones, with Done
        deliverables)."""
        rows: list[dict[str, Any]] = []
        first_tracking = projects * per_project + 1
        for p in range(projects):
            row: dict[str, Any] = {"Name": f"Project {p:02d}", "Status": project_status}
            if project_status == "Complete":
                row["Completed"] = "2026-11-30"
            if tracking:
                number = first_tracking + p
                self.github.add_issue(OWNER, REPO, number, title=f"Tracking {p:02d}")
                row["Tracking Issue"] = f"https://github.com/{OWNER}/{REPO}/issues/{number}"
            rows.append(row)
        self.project_ids = self._create(PROJECTS, rows)
        if tracking:
            self.tracking_of = {pid: first_tracking + p for p, pid in enumerate(self.project_ids)}
        self.issues_of = {pid: [] for pid in self.project_ids}
        rows = []
        for n in range(1, projects * per_project + 1):
            pid = self.project_ids[(n - 1) // per_project]
            self.issues_of[pid].append(n)
            self.github.add_issue(
                OWNER,
                REPO,
                n,
                title=f"Deliverable {n}",
                assignees=["alice"],
                state="closed" if closed else "open",
                state_reason="completed" if closed else None,
            )
            rows.append(
                {
                    "Name": f"Deliverable {n}",
                    "GitHub Issue": f"https://github.com/{OWNER}/{REPO}/issues/{n}",
                    "Status": "Done" if closed else "In progress",
                    "Assignees": "alice",
                    "Project": [pid],
                    **(
                        {"Completed": self.github.issue(OWNER, REPO, n)["closed_at"]}
                        if closed
                        else {}
                    ),
                }
            )
        self._create(DELIVERABLES, rows)

    def _create(self, table: str, rows: list[dict[str, Any]]) -> list[str]:
        ids: list[str] = []
        for start in range(0, len(rows), 10):
            created = self.airtable.store.create_records(BASE_ID, table, rows[start : start + 10])
            ids.extend(r["id"] for r in created)
        return ids

    @property
    def numbers(self) -> list[int]:
        """Every deliverable's issue number."""
        return sorted(n for numbers in self.issues_of.values() for n in numbers)

    # -- the bot ---------------------------------------------------------------------

    def serve(self, name: str) -> BotProcess:
        """Start ``serve`` on the world's port and data folder; return once it is ready."""
        bot = BotProcess(
            ["serve", "--port", str(self.port)], env=self.env, folder=self.tmp_path, name=name
        )
        self.processes.append(bot)
        bot.wait_for_stdout(f"webhook POST {self.base}/webhook")
        bot.wait_http_ok(f"{self.base}/readyz")
        return bot

    def close_issues(self) -> list[dict[str, Any]]:
        """Close every deliverable's issue on GitHub; the deliveries GitHub would send."""
        return [
            issues_event("closed", self.github.close_issue(OWNER, REPO, n)) for n in self.numbers
        ]

    def deliver(self, payloads: list[dict[str, Any]]) -> None:
        """Post signed deliveries, eight at a time; each must be answered 202."""
        local = threading.local()

        def post(payload: dict[str, Any]) -> int:
            session = getattr(local, "session", None)
            if session is None:
                session = local.session = requests.Session()
            answer = post_delivery_sync(
                f"{self.base}/webhook", "issues", payload, secret=SECRET, session=session
            )
            return answer.status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(post, payloads))
        assert statuses == [202] * len(payloads), collections.Counter(statuses)

    def kill(self, bot: BotProcess) -> None:
        """SIGKILL the bot and reap it."""
        os.kill(bot.pid, signal.SIGKILL)
        assert bot.proc.wait(10) == -signal.SIGKILL

    # -- Airtable, stopped and started again on the same file --------------------------

    def stop_airtable(self) -> None:
        """Stop the Airtable server (and refuse connections at the address the bot uses)."""
        self.proxy.refuse()
        self.airtable.stop()

    def start_airtable(self) -> None:
        """Start a new Airtable server on the same SQLite file; the bot's address answers."""
        self.airtable = LocalAirtable(
            seed="empty", base_id=BASE_ID, db_path=self.db_path, requests_per_second=None
        ).start()
        self.proxy.upstream = self.airtable.url
        self.proxy.accept()

    # -- what a user sees ------------------------------------------------------------

    def records(self, table: str) -> list[dict[str, Any]]:
        """Every record of a table as stored (read around the proxy)."""
        return self.airtable.store.all_records(BASE_ID, table)

    def done_count(self) -> int:
        """Deliverables whose Status is Done."""
        return sum(1 for r in self.records(DELIVERABLES) if r["fields"].get("Status") == "Done")

    def complete_count(self) -> int:
        """Projects whose Status is Complete."""
        return sum(1 for s in self.project_status().values() if s == "Complete")

    def project_status(self) -> dict[str, str | None]:
        """Each Project's Status, by record id."""
        return {r["id"]: r["fields"].get("Status") for r in self.records(PROJECTS)}

    def completion_comments(self) -> dict[str, list[dict[str, Any]]]:
        """Completion comments by the App's bot user on any issue, by Project id."""
        found: dict[str, list[dict[str, Any]]] = {pid: [] for pid in self.project_ids}
        for issue in self.github.issues(OWNER, REPO, state="all"):
            for comment in self.github.comments(OWNER, REPO, issue["number"]):
                if comment["user"]["login"] != self.github.bot_login:
                    continue
                for pid in self.project_ids:
                    if comment["body"].startswith(COMPLETED_MARKER.format(project_id=pid)):
                        found[pid].append(dict(comment, issue_number=issue["number"]))
        return found

    def journal_counts(self) -> dict[str, int]:
        """Deliveries by state, as the journal holds them."""
        if not self.journal_path.exists():
            return {}
        with Journal(self.journal_path) as journal:
            return journal.counts()

    def deliveries(self) -> list[dict[str, Any]]:
        """Every delivery, as ``deliverables-bot deliveries list --json`` shows it."""
        listing = run_bot(
            "deliveries", "list", "--json", "--limit", "10000", env=self.env, cwd=self.tmp_path
        )
        assert listing.returncode == 0, listing
        rows: list[dict[str, Any]] = json.loads(listing.stdout)
        return rows

    def output(self) -> str:
        """The output of every bot process started, for a failure message."""
        return "\n".join(p.output()[-6000:] for p in self.processes)

    def wait_idle(self, expected: int, timeout: float = SETTLE_TIMEOUT) -> dict[str, int]:
        """Wait until all ``expected`` deliveries are journaled and none is pending or
        processing (retries included) for half a second; the journal's counts."""

        def idle() -> dict[str, int] | None:
            counts = self.journal_counts()
            if sum(counts.values()) < expected:
                return None
            if counts.get("pending", 0) or counts.get("processing", 0):
                return None
            return counts

        wait_until(idle, timeout=timeout, what="an idle journal", detail=self.output)
        time.sleep(0.5)
        return wait_until(idle, timeout=timeout, what="an idle journal", detail=self.output)


@pytest.fixture
def world(tmp_path: Path, fault_proxy: StartProxy) -> Iterator[World]:
    """The GitHub stand-in, Airtable on a SQLite file behind a fault proxy, the bot's
    environment (App credentials, the proxy as Airtable, ``BOT_CONFIG``); every process
    started is stopped at the end."""
    db_path = tmp_path / "airtable.sqlite3"
    config = tmp_path / "bot.toml"
    with GitHubStandIn(account=OWNER) as github:
        airtable = LocalAirtable(
            seed="empty", base_id=BASE_ID, db_path=db_path, requests_per_second=None
        ).start()
        proxy = fault_proxy(airtable.url)
        env = operator_env(
            tmp_path,
            None,
            github,
            AIRTABLE_TOKEN=airtable.token,
            AIRTABLE_BASE_ID=BASE_ID,
            AIRTABLE_ENDPOINT_URL=proxy.url,
            DELIVERABLES_BOT_CONFIG=str(config),
        )
        world = World(tmp_path, github, airtable, db_path, proxy, env, free_port())
        world.configure()
        try:
            yield world
        finally:
            for process in world.processes:
                process.stop()
            if world.proxy.listening:  # not stopped by the test (or started again)
                world.airtable.stop()


# -- the end state, and the figures for the closing note -------------------------------------


def record_figures(test: str, world: World, **extra: Any) -> dict[str, Any]:
    """What the scenario ended with; appended as a JSON line to $DELIVERABLES_FAULT_FIGURES."""
    statuses = world.project_status()
    comments = world.completion_comments()
    figures = {
        "test": test,
        "projects": len(world.project_ids),
        "complete": sum(1 for s in statuses.values() if s == "Complete"),
        "deliverables_done": world.done_count(),
        "deliverables": len(world.numbers),
        "comments": sum(len(c) for c in comments.values()),
        "projects_without_comment": sum(1 for c in comments.values() if not c),
        "projects_with_duplicates": sum(1 for c in comments.values() if len(c) > 1),
        "proxy": dict(world.proxy.stats().by_outcome),
        **extra,
    }
    path = os.environ.get("DELIVERABLES_FAULT_FIGURES")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(figures) + "\n")
    return figures


def assert_converged(world: World, test: str, **extra: Any) -> dict[str, Any]:
    """Every deliverable Done, every Project Complete, exactly one completion comment each;
    on any Project, where the comment went (its Tracking Issue when it has one)."""
    figures = record_figures(test, world, **extra)
    statuses = world.project_status()
    comments = world.completion_comments()
    names = {r["id"]: r["fields"]["Name"] for r in world.records(PROJECTS)}
    not_complete = sorted(names[p] for p, s in statuses.items() if s != "Complete")
    counts = {names[p]: len(c) for p, c in comments.items() if len(c) != 1}
    problems = []
    if figures["deliverables_done"] != figures["deliverables"]:
        problems.append(
            f"{figures['deliverables'] - figures['deliverables_done']} deliverables not Done"
        )
    if not_complete:
        problems.append(
            f"{len(not_complete)} of {len(names)} Projects not Complete: {not_complete}"
        )
    if counts:
        problems.append(f"completion comments per Project, where not exactly one: {counts}")
    for pid, tracking in world.tracking_of.items():
        for comment in comments[pid]:
            if comment["issue_number"] != tracking:
                problems.append(f"{names[pid]}'s comment is on #{comment['issue_number']}")
    for pid, found in comments.items():
        for comment in found:
            if not world.tracking_of and comment["issue_number"] not in world.issues_of[pid]:
                problems.append(f"{names[pid]}'s comment is on another Project's issue")
    assert not problems, "\n".join(problems) + f"\nfigures: {figures}\n{world.output()}"
    return figures


def wait_for(check: Callable[[], Any], what: str, world: World, timeout: float = 60.0) -> Any:
    """Poll ``check`` every 10 ms until it is truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{world.output()}")
        time.sleep(POLL)


# -- 1. SIGKILL in the middle of a burst, restart on the same data --------------------------


# When to kill. A count of Done deliverables is reached just as a batch of deliverable
# writes lands, which is when Projects are between their last deliverable's write and their
# own write and comment.
KILL_POINTS = {
    "right-after-the-acks": lambda world: True,  # all 300 answered 202, whatever is done
    "half-done": lambda world: world.done_count() >= 150,
    "nine-tenths-done": lambda world: world.done_count() >= 270,
}


@pytest.mark.parametrize("kill_point", list(KILL_POINTS))
def test_sigkill_mid_burst_then_restart_completes_every_project_once(
    world: World, kill_point: str
) -> None:
    # Airtable at 10 requests/s: the burst lasts about 4 s, so the kill points are apart.
    world.configure(requests_per_second=10)
    world.seed(projects=30, per_project=10)
    first = world.serve("first")
    world.deliver(world.close_issues())  # 300 closes, every one answered 202

    wait_for(lambda: KILL_POINTS[kill_point](world), kill_point, world)
    world.kill(first)
    done_at_kill, complete_at_kill = world.done_count(), world.complete_count()
    assert done_at_kill < 300 or complete_at_kill < 30, "the burst ended before the kill"

    world.serve("second")
    counts = world.wait_idle(expected=300)

    assert counts.get("failed", 0) == 0, counts
    assert_converged(
        world,
        f"sigkill[{kill_point}]",
        done_at_kill=done_at_kill,
        complete_at_kill=complete_at_kill,
    )


# -- 2. Airtable stopped mid-burst, started again on the same SQLite file --------------------


@pytest.mark.timeout(OUTAGE_SECONDS + 150)
def test_airtable_down_mid_burst_then_back_completes_every_project_once(world: World) -> None:
    world.seed(projects=30, per_project=10)
    bot = world.serve("bot")
    world.deliver(world.close_issues())

    # Half-way, as a batch of deliverable writes lands: deliverables and Projects to write.
    wait_for(lambda: world.done_count() >= 150, "150 Done before the outage", world)
    world.stop_airtable()
    outage_began = time.monotonic()
    # The bot keeps answering and retrying while Airtable is away; nothing gives up.
    while time.monotonic() - outage_began < OUTAGE_SECONDS:
        assert requests.get(f"{world.base}/healthz", timeout=5).status_code == 200
        assert bot.proc.poll() is None, world.output()
        time.sleep(1.0)
    counts_in_outage = world.journal_counts()
    assert counts_in_outage.get("failed", 0) == 0, counts_in_outage
    world.start_airtable()

    counts = world.wait_idle(expected=300)

    assert counts.get("failed", 0) == 0, counts
    assert_converged(
        world,
        "airtable-down",
        outage_seconds=OUTAGE_SECONDS,
        waiting_in_outage=counts_in_outage.get("pending", 0)
        + counts_in_outage.get("processing", 0),
    )


# -- 3. Project writes refused by Airtable for a while ---------------------------------------

REFUSALS = {
    503: airtable_error("SERVICE_UNAVAILABLE", "Service Unavailable"),
    422: airtable_error(
        "INVALID_VALUE_FOR_COLUMN", 'Field "Completed" cannot accept the provided value'
    ),
}


@pytest.mark.parametrize(
    "statuses",
    [
        pytest.param((503,), id="503"),
        pytest.param((422,), id="422"),
        pytest.param((503, 422), id="503-then-422"),
    ],
)
def test_refused_project_writes_keep_the_delivery_alive_then_complete_once(
    world: World, statuses: tuple[int, ...]
) -> None:
    world.seed(projects=10, per_project=10)
    rule = world.proxy.fail(
        statuses[0], method="PATCH", path=PROJECT_WRITES, times=None, body=REFUSALS[statuses[0]]
    )
    world.serve("bot")
    world.deliver(world.close_issues())

    wait_for(lambda: world.done_count() == 100, "every deliverable Done", world)
    wait_for(lambda: world.proxy.seen("PATCH", PROJECT_WRITES), "a Project write", world)
    for status in statuses[1:]:
        time.sleep(2.0)
        world.proxy.clear(rule)
        rule = world.proxy.fail(
            status, method="PATCH", path=PROJECT_WRITES, times=None, body=REFUSALS[status]
        )
    time.sleep(3.0)  # several retries' worth of refusals

    # While refused: the Projects are not Complete (the fault really happened), and no
    # Project is left with every delivery of its deliverables marked done.
    assert set(world.project_status().values()) == {"In progress"}, world.project_status()
    refused = world.proxy.seen("PATCH", PROJECT_WRITES)
    rows = world.deliveries()
    states_of_issue: dict[int, list[str]] = collections.defaultdict(list)
    for row in rows:
        states_of_issue[int(row["issue"].rsplit("#", 1)[1])].append(row["state"])
    abandoned = [
        pid
        for pid, numbers in world.issues_of.items()
        if all(state in ("done", "ignored") for n in numbers for state in states_of_issue[n])
    ]
    record_figures(
        f"while-refused[{'-'.join(map(str, statuses))}]",
        world,
        abandoned=len(abandoned),
        refused_writes=len(refused),
    )
    assert not abandoned, (
        f"{len(abandoned)} of 10 Projects are In progress with every delivery marked done "
        f"(not failed, not pending retry) after {len(refused)} refused Project writes; "
        f"journal: {collections.Counter(r['state'] for r in rows)}"
    )
    # Each refusal was met: the bot kept trying through every phase.
    assert {s.outcome for s in refused} == {str(s) for s in statuses}
    failed = [r["id"] for r in rows if r["state"] == "failed"]
    listing = run_bot("deliveries", "list", "--failed", env=world.env, cwd=world.tmp_path)
    assert listing.returncode == 0, listing
    for delivery_id in failed:
        assert delivery_id in listing.stdout, listing.stdout

    world.proxy.clear(rule)
    # An operator retries what failed for good (the base was fixed, for a 422).
    failed = [r["id"] for r in world.deliveries() if r["state"] == "failed"]
    for delivery_id in failed:
        retried = run_bot("deliveries", "retry", delivery_id, env=world.env, cwd=world.tmp_path)
        assert retried.returncode == 0, retried
    counts = world.wait_idle(expected=100)

    assert counts.get("failed", 0) == 0, counts
    assert_converged(
        world,
        f"refused-project-writes[{'-'.join(map(str, statuses))}]",
        refused_writes=len(refused),
        failed_then_retried=len(failed),
        pending_while_refused=sum(1 for r in rows if r["state"] in ("pending", "processing")),
    )


# -- 4. sync run while serve handles the same closes ------------------------------------------


def test_sync_while_serve_handles_the_same_closes_comments_once(world: World) -> None:
    world.seed(projects=10, per_project=10)
    world.serve("bot")
    payloads = world.close_issues()
    world.github.reset_calls()

    sync = subprocess.Popen(
        [sys.executable, "-m", "bot", "sync"],
        env=world.env,
        cwd=world.tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # sync has read the base (before any delivery) and lists the issues: it has the
        # same 100 closes to apply when serve starts on them.
        wait_for(
            lambda: world.github.calls_matching("GET", rf"^/repos/{OWNER}/{REPO}/issues$"),
            "sync to list the issues",
            world,
            timeout=30,
        )
        world.deliver(payloads)
        out, err = sync.communicate(timeout=90)
    finally:
        if sync.poll() is None:
            sync.kill()
            sync.wait()
    assert sync.returncode == 0, (out, err)
    found = re.search(r"deliverables updated: (\d+)", out)
    assert found and int(found.group(1)) > 0, f"sync did not race serve:\n{out}"
    world.wait_idle(expected=100)

    assert_converged(world, "sync-during-serve", sync_updated=int(found.group(1)))


# -- 5. GitHub 502 on the completion comment's POST -------------------------------------------


def test_github_502_on_the_completion_comment_posts_it_on_the_retry(world: World) -> None:
    world.seed(projects=1, per_project=5)
    world.github.inject(COMMENT_POSTS, 502, times=1, method="POST")
    world.serve("bot")
    world.deliver(world.close_issues())

    world.wait_idle(expected=5)

    marker = COMPLETED_MARKER.format(project_id=world.project_ids[0])
    attempts = [
        c
        for c in world.github.calls_matching("POST", COMMENT_POSTS)
        if str((c.json or {}).get("body", "")).startswith(marker)
    ]
    assert_converged(world, "github-502-on-comment", attempts=len(attempts))
    assert len(attempts) >= 2, f"the completion comment was tried {len(attempts)} time(s)"


# -- 6. a Project already Complete whose completion comment was never posted -----------------


@pytest.mark.parametrize("tracking", [False, True], ids=["no-tracking-issue", "tracking-issue"])
def test_sync_posts_the_missing_completion_comment_once(world: World, tracking: bool) -> None:
    world.seed(projects=3, per_project=3, project_status="Complete", closed=True, tracking=tracking)
    assert sum(len(c) for c in world.completion_comments().values()) == 0

    first = run_bot("sync", env=world.env, cwd=world.tmp_path)
    assert first.returncode == 0, first
    posted = len(world.github.calls_matching("POST", COMMENT_POSTS))
    assert_converged(world, f"sync-posts-missing[{'tracking' if tracking else 'plain'}]")

    second = run_bot("sync", env=world.env, cwd=world.tmp_path)

    assert second.returncode == 0, second
    assert len(world.github.calls_matching("POST", COMMENT_POSTS)) == posted, (
        "the second sync posted again"
    )
    assert_converged(world, "sync-posts-missing-second-run")
