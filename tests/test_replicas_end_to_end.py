"""Several ``serve`` replicas on one PostgreSQL schema, run as a user runs them, then broken.

Three ``python -m bot serve`` subprocesses share one ``DATABASE_URL`` (a schema of this test's
own, from the ``postgres_url`` fixture; the tests skip without ``TEST_DATABASE_URL``), one
Airtable (the embedded Airtable-compatible server with its rate limit and 30 s penalty on,
behind a :class:`~tests.standins.fault_proxy.FaultProxy` that counts requests) and one GitHub
stand-in; each has its own port and data folder. Deliveries are signed with the real HMAC and
their payloads are checked against GitHub's webhook schemas. Replicas are SIGKILLed.

What is asserted is what a user sees: the status codes of the deliveries, every deliverable
Done, every Project Complete, exactly one completion comment per Project on GitHub, the
embedded Airtable's own count of 429s (zero: the replicas share one request budget per base),
the journal's rows, and each replica's ``/metrics`` (``deliverables_bot_leader``).

The World of :mod:`tests.test_faults_end_to_end` holds the seeding and the end-state checks;
this module adds the replicas.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from bot.airtable_local.thread import LocalAirtable
from bot.intake.journal import TAKEN_OVER_ERROR
from tests.constants import DELIVERABLES
from tests.fault_fixtures import StartProxy
from tests.operator_helpers import SECRET, operator_env
from tests.processes import BotProcess, free_port
from tests.schemas import validator
from tests.standins.github import GitHubStandIn
from tests.test_faults_end_to_end import (
    BASE_ID,
    OWNER,
    REPO,
    World,
    assert_converged,
    wait_for,
)
from tests.webhooks import issues_event, prepare_delivery

REPLICAS = 3
LEASE_SECONDS = 3
# Airtable's own limit, and the bot's pace below it, with Airtable's 30 s penalty after a 429:
# one 429 would show as a half-minute stall, and is counted by the server itself. Three
# replicas that did not share one budget would send up to three times 8 a second. The margin
# (eleven requests at 8/s span 1.25 s: 0.25 s) absorbs the jitter of five busy processes on
# a small CI machine; at 9/s (0.11 s, the defaults' margin) one 429 in 15 runs was seen.
AIRTABLE_RATE = 10.0
BOT_RATE = 8.0
PENALTY_SECONDS = 30.0
BOT_CONFIG = f"""\
[airtable]
requests_per_second = {BOT_RATE}
batch_wait_seconds = 0.02
timeout_seconds = 5

[worker]
max_attempts = 80
base_delay_seconds = 0.2
max_delay_seconds = 2.0
lease_seconds = {LEASE_SECONDS}
"""
LEADER_TAKEOVER_SECONDS = 15.0
SETTLE_TIMEOUT = 60.0


@dataclass
class Replica:
    """One ``serve`` process of the set: its port, data folder and environment."""

    name: str
    port: int
    env: dict[str, str]
    process: BotProcess | None = None

    @property
    def base(self) -> str:
        """The replica's base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        """Whether its process runs."""
        return self.process is not None and self.process.proc.poll() is None

    def metrics(self) -> dict[str, float]:
        """``GET /metrics``: each sample's value by its name and labels as printed
        (``name{label="value"}``)."""
        text = requests.get(f"{self.base}/metrics", timeout=5).text
        samples: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples


@dataclass
class Replicas(World):
    """The World of the fault tests with three replicas on one PostgreSQL schema."""

    database_url: str = ""
    replicas: list[Replica] = field(default_factory=list)
    admissions: list[tuple[float, bool]] = field(default_factory=list)

    def start(self, replica: Replica) -> Replica:
        """Start ``serve`` for *replica* (on its port and data folder); return once ready."""
        generation = sum(1 for p in self.processes if p.args[-1] == str(replica.port))
        bot = BotProcess(
            ["serve", "--port", str(replica.port)],
            env=replica.env,
            folder=self.tmp_path,
            name=f"{replica.name}-{generation}",
        )
        self.processes.append(bot)
        replica.process = bot
        bot.wait_for_stdout(f"webhook POST {replica.base}/webhook")
        bot.wait_http_ok(f"{replica.base}/readyz")
        return replica

    def start_all(self) -> None:
        """Start every replica, all at once (they migrate the schema together)."""
        with ThreadPoolExecutor(len(self.replicas)) as pool:
            list(pool.map(self.start, self.replicas))

    def kill_replica(self, replica: Replica) -> None:
        """SIGKILL the replica's process and reap it."""
        assert replica.process is not None
        self.kill(replica.process)

    def sql(self, query: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of one query on the replicas' schema."""
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            return conn.execute(query, parameters).fetchall()

    def journal_counts(self) -> dict[str, int]:
        """Deliveries by state in the shared journal."""
        return dict(self.sql("SELECT state, count(*) FROM deliveries GROUP BY state"))

    def claims(self) -> dict[int, int]:
        """Deliveries being processed, by the process id of the replica that claimed them
        (a replica's id is ``host:pid:random``)."""
        rows = self.sql(
            "SELECT claimed_by, count(*) FROM deliveries WHERE state = 'processing'"
            " GROUP BY claimed_by"
        )
        return {int(str(who).split(":")[1]): n for who, n in rows if who}

    def post_round_robin(self, bodies: list[tuple[bytes, dict[str, str]]]) -> list[int]:
        """POST prepared deliveries to the replicas in turn, eight at a time; the statuses."""
        local = threading.local()

        def post(item: tuple[int, tuple[bytes, dict[str, str]]]) -> int:
            index, (body, headers) = item
            session = getattr(local, "session", None)
            if session is None:
                session = local.session = requests.Session()
            replica = self.replicas[index % len(self.replicas)]
            return session.post(
                f"{replica.base}/webhook", data=body, headers=headers, timeout=10
            ).status_code

        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(post, enumerate(bodies)))

    def leaders(self) -> list[str]:
        """The live replicas whose ``deliverables_bot_leader`` is 1."""
        return [r.name for r in self.replicas if r.alive and r.metrics()["deliverables_bot_leader"]]

    def rate_limited(self) -> int:
        """Requests the embedded Airtable answered 429 (its own count)."""
        return self.airtable.stats(BASE_ID).rate_limited

    def around_429s(self) -> str:
        """For a failure message: the requests Airtable received in the 1.2 s before each
        429 it answered (when it arrived, whether admitted, method and path via the proxy)."""
        lines = []
        seen = self.proxy.seen()
        for at, allowed in self.admissions:
            if allowed:
                continue
            lines.append(f"429 at {at:.3f}; the requests in the 1.2 s before it:")
            for earlier, ok in self.admissions:
                if at - 1.2 <= earlier <= at:
                    via = min(seen, key=lambda s: abs(s.at - earlier), default=None)
                    what = f"{via.method} {via.path[:70]}" if via else "?"
                    lines.append(f"  {earlier:.3f} {'ok ' if ok else '429'} {what}")
        return "\n".join(lines)


@pytest.fixture
def replicas(tmp_path: Path, fault_proxy: StartProxy, postgres_url: str) -> Iterator[Replicas]:
    """The GitHub stand-in, the embedded Airtable (rate limit and penalty on) behind a proxy,
    and three replicas' environments on one PostgreSQL schema (none started); every process
    started is stopped at the end."""
    db_path = tmp_path / "airtable.sqlite3"
    config = tmp_path / "bot.toml"
    config.write_text(BOT_CONFIG, encoding="utf-8")
    with GitHubStandIn(account=OWNER) as github:
        airtable = LocalAirtable(
            seed="empty",
            base_id=BASE_ID,
            db_path=db_path,
            requests_per_second=AIRTABLE_RATE,
            penalty_seconds=PENALTY_SECONDS,
        ).start()
        proxy = fault_proxy(airtable.url)

        def env_of(index: int) -> dict[str, str]:
            return operator_env(
                tmp_path,
                None,
                github,
                AIRTABLE_TOKEN=airtable.token,
                AIRTABLE_BASE_ID=BASE_ID,
                AIRTABLE_ENDPOINT_URL=proxy.url,
                DELIVERABLES_BOT_CONFIG=str(config),
                DELIVERABLES_BOT_DATA=str(tmp_path / f"data-{index}"),
                DATABASE_URL=postgres_url,
            )

        members = [Replica(f"replica-{i}", free_port(), env_of(i)) for i in range(REPLICAS)]
        world = Replicas(
            tmp_path,
            github,
            airtable,
            db_path,
            proxy,
            members[0].env,
            members[0].port,
            database_url=postgres_url,
            replicas=members,
        )
        admit = airtable.limiter.admit

        def recording(base_id: str) -> bool:
            arrived = time.monotonic()
            allowed = admit(base_id)
            world.admissions.append((arrived, allowed))
            return allowed

        airtable.limiter.admit = recording  # type: ignore[method-assign]
        try:
            yield world
        finally:
            for process in world.processes:
                process.stop()
            airtable.stop()


def signed_closes(world: World) -> list[tuple[bytes, dict[str, str]]]:
    """Close every deliverable's issue on GitHub; the signed deliveries GitHub would send,
    each payload valid against GitHub's schema for ``issues.closed``."""
    schema = validator("issues", "closed")
    deliveries = []
    for n in world.numbers:
        payload = issues_event("closed", world.github.close_issue(OWNER, REPO, n))
        errors = [e.message for e in schema.iter_errors(payload)]
        assert not errors, errors
        deliveries.append(prepare_delivery("issues", payload, secret=SECRET))
    return deliveries


# -- 1. a burst over three replicas, one SIGKILLed mid-burst and started again ----------------


@pytest.mark.timeout(120)
def test_burst_over_three_replicas_one_killed_completes_every_project_once(
    replicas: Replicas,
) -> None:
    replicas.seed(projects=4, per_project=10)
    replicas.start_all()
    deliveries = signed_closes(replicas)

    statuses = replicas.post_round_robin(deliveries)

    assert statuses == [202] * len(deliveries), collections.Counter(statuses)
    # Mid-burst: the replica holding the most claims right now is SIGKILLed, its claims
    # left "processing" under its name for the others to take over when its lease expires.
    claims = wait_for(replicas.claims, "a replica working on deliveries", replicas)
    by_pid = {r.process.pid: r for r in replicas.replicas if r.process is not None}
    victim = by_pid[max(claims, key=lambda pid: claims[pid])]
    done_at_kill = replicas.done_count()
    replicas.kill_replica(victim)
    stranded = claims[victim.process.pid]  # type: ignore[union-attr]
    assert done_at_kill < 40 or replicas.complete_count() < 4, "the burst ended before the kill"
    replicas.start(victim)  # the same port and data folder, a new replica id

    counts = replicas.wait_idle(expected=len(deliveries))

    assert counts.get("failed", 0) == 0, counts
    assert_converged(replicas, "replicas-sigkill", done_at_kill=done_at_kill, stranded=stranded)
    assert replicas.rate_limited() == 0, replicas.around_429s()
    # The killed replica's claims were taken over (not waited for, not lost): the journal
    # says so of at least one delivery, and every delivery was journaled once.
    taken_over = replicas.sql(
        "SELECT count(*) FROM deliveries WHERE last_error = %s", (TAKEN_OVER_ERROR,)
    )[0][0]
    assert taken_over >= 1, (stranded, replicas.output())
    assert sum(counts.values()) == len(deliveries), counts


# -- 2. one delivery sent to two replicas at the same moment ----------------------------------


@pytest.mark.timeout(90)
def test_the_same_delivery_to_two_replicas_at_once_is_journaled_and_worked_once(
    replicas: Replicas,
) -> None:
    # Five Projects of two deliverables: the first issue of each is closed (and Done)
    # already, the second is closed now and its one delivery sent to two replicas at once.
    replicas.seed(projects=5, per_project=2)
    for pid, (first, _) in replicas.issues_of.items():
        replicas.github.close_issue(OWNER, REPO, first)
        record = next(
            r
            for r in replicas.records(DELIVERABLES)
            if r["fields"]["GitHub Issue"].endswith(f"/issues/{first}")
        )
        replicas.airtable.store.update_records(
            BASE_ID, DELIVERABLES, [{"id": record["id"], "fields": {"Status": "Done"}}]
        )
        assert pid in record["fields"]["Project"]
    replicas.start_all()
    replicas.github.reset_calls()
    schema = validator("issues", "closed")
    seconds = [n for _, n in replicas.issues_of.values()]
    for n, (left, right) in zip(seconds, [(0, 1), (1, 2), (2, 0), (0, 1), (1, 2)], strict=True):
        payload = issues_event("closed", replicas.github.close_issue(OWNER, REPO, n))
        assert not [e.message for e in schema.iter_errors(payload)]
        body, headers = prepare_delivery("issues", payload, secret=SECRET)
        delivery_id = headers["X-GitHub-Delivery"]
        barrier = threading.Barrier(2)

        def send(
            index: int,
            body: bytes = body,
            headers: dict[str, str] = headers,
            barrier: threading.Barrier = barrier,
        ) -> int:
            replica = replicas.replicas[index]
            with requests.Session() as session:
                session.get(f"{replica.base}/healthz", timeout=5)  # connected before the barrier
                barrier.wait(5)
                return session.post(
                    f"{replica.base}/webhook", data=body, headers=headers, timeout=10
                ).status_code

        with ThreadPoolExecutor(2) as pool:
            statuses = list(pool.map(send, (left, right)))

        assert all(200 <= s < 300 for s in statuses), statuses
        assert sorted(statuses) == [200, 202], f"one accepted, one duplicate: {statuses}"
        rows = replicas.sql("SELECT count(*) FROM deliveries WHERE id = %s", (delivery_id,))
        assert rows[0][0] == 1

    replicas.wait_idle(expected=len(seconds))

    # Worked once each: one reconcile per delivery across the three replicas (a delivery
    # worked by two would count two), each journaled row done, each Project announced once.
    states = replicas.sql("SELECT state, count(*) FROM deliveries GROUP BY state")
    assert states == [("done", len(seconds))], states
    reconciles = sum(
        r.metrics()["deliverables_bot_reconcile_seconds_count"] for r in replicas.replicas
    )
    assert reconciles == len(seconds), reconciles
    duplicates = sum(
        r.metrics().get('deliverables_bot_deliveries_total{event="issues",outcome="duplicate"}', 0)
        for r in replicas.replicas
    )
    assert duplicates == len(seconds)
    assert_converged(replicas, "replicas-same-delivery")
    assert replicas.rate_limited() == 0, replicas.around_429s()


# -- 3. one leader; another within seconds when it is SIGKILLed -------------------------------


@pytest.mark.timeout(90)
def test_one_replica_leads_and_another_takes_over_when_it_is_killed(replicas: Replicas) -> None:
    replicas.seed(projects=1, per_project=1)
    replicas.start_all()
    wait_for(lambda: len(replicas.leaders()) == 1, "a leader", replicas, timeout=15)
    # And only one, for a while (every replica tries every few seconds).
    for _ in range(6):
        leaders = replicas.leaders()
        assert len(leaders) == 1, leaders
        time.sleep(1.0)
    leader = next(r for r in replicas.replicas if r.name == leaders[0])

    replicas.kill_replica(leader)
    killed_at = time.monotonic()
    new = wait_for(
        lambda: replicas.leaders() or None,
        "a new leader",
        replicas,
        timeout=LEADER_TAKEOVER_SECONDS,
    )
    took = time.monotonic() - killed_at

    assert len(new) == 1 and new[0] != leader.name, new
    assert took <= LEADER_TAKEOVER_SECONDS
    # The killed replica, started again, does not lead beside the new leader.
    replicas.start(leader)
    for _ in range(6):
        assert replicas.leaders() == new
        time.sleep(1.0)
    record_takeover(took)


def record_takeover(seconds: float) -> None:
    """Append the leader takeover time to $DELIVERABLES_FAULT_FIGURES, as the fault tests do."""
    path = os.environ.get("DELIVERABLES_FAULT_FIGURES")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(f'{{"test": "replicas-leader-takeover", "seconds": {seconds:.2f}}}\n')
