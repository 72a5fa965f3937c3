"""Benchmark the embedded Airtable through the real pyairtable client over HTTP.

Measures, with the rate limit off, over a table of ``--records`` records (default 1,000):

- single-field formula lookups (``table.all(formula=match({"Key": key}))``), per second;
- batch updates of 10 records (``table.batch_update``, one request each), per second;
- reads of what changed (the bot's ``OR(IS_AFTER(LAST_MODIFIED_TIME(), t),
  IS_AFTER(CREATED_TIME(), t))``, 5 records matching) over a table of ``--changed-records``
  records (default 20,000), per second.

Each figure is the median of ``--repeat`` runs, for a base in memory and in a SQLite file
(WAL). Targets: 200 lookups/s, 100 batch updates/s and 20 reads of changes/s (50 ms each)
on one core. Run it as a script::

    .venv/bin/python bench/bench_airtable_local.py [--records N] [--repeat N]

It prints a small table and exits non-zero if a median misses its target.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyairtable import Table
from pyairtable.formulas import (
    CREATED_TIME,
    IS_AFTER,
    LAST_MODIFIED_TIME,
    OR,
    match,
)

from bot.airtable_local.thread import LocalAirtable

BENCH_BASE = "appBenchBase00001"
CHANGES_BASE = "appBenchBase00002"
TABLE = "Items"
SPEC: dict[str, Any] = {
    "name": "Benchmark",
    "tables": [
        {
            "name": TABLE,
            "fields": [
                {"name": "Name", "type": "singleLineText"},
                {"name": "Key", "type": "url"},
                {"name": "Count", "type": "number"},
                {
                    "name": "Status",
                    "type": "singleSelect",
                    "options": {"choices": ["Todo", "In progress", "Done"]},
                },
            ],
        }
    ],
}
TARGETS = {"lookups/s": 200.0, "batch updates/s": 100.0, "changed reads/s": 20.0}


def key_of(n: int) -> str:
    """The unique key of record ``n`` (shaped like the bot's issue URLs)."""
    return f"https://github.com/example-org/repo-{n % 7}/issues/{n}"


def fill(at: LocalAirtable, records: int, base_id: str = BENCH_BASE) -> list[str]:
    """Create a benchmark base with ``records`` records (in-process, not timed); their ids."""
    at.store.create_base(base_id, SPEC)
    ids: list[str] = []
    for start in range(0, records, 10):
        batch = [
            {"Name": f"Item {n}", "Key": key_of(n), "Count": n, "Status": "Todo"}
            for n in range(start, min(records, start + 10))
        ]
        ids += [r["id"] for r in at.store.create_records(base_id, TABLE, batch)]
    return ids


def rate(operation: Callable[[int], None], count: int) -> float:
    """Operations per second over ``count`` calls of ``operation(i)``."""
    started = time.perf_counter()
    for i in range(count):
        operation(i)
    return count / (time.perf_counter() - started)


def lookups(table: Table, records: int, rng: random.Random) -> Callable[[int], None]:
    """One formula lookup of a random existing key, checked."""

    def lookup(_: int) -> None:
        n = rng.randrange(records)
        found = table.all(formula=match({"Key": key_of(n)}))
        assert len(found) == 1 and found[0]["fields"]["Count"] == n, found

    return lookup


def batch_updates(table: Table, ids: list[str], rng: random.Random) -> Callable[[int], None]:
    """One batch update of 10 random records."""

    def update(i: int) -> None:
        chosen = rng.sample(ids, 10)
        table.batch_update(
            [{"id": rid, "fields": {"Status": "Done", "Name": f"Updated {i}"}} for rid in chosen]
        )

    return update


def changed_reads(at: LocalAirtable, records: int) -> Callable[[int], None]:
    """One read of the records changed since a moment after ``records`` were made and before
    5 of them were updated, checked."""
    ids = fill(at, records, CHANGES_BASE)
    time.sleep(0.002)
    since = datetime.now(UTC)
    time.sleep(0.002)
    at.store.update_records(
        CHANGES_BASE, TABLE, [{"id": i, "fields": {"Count": -1}} for i in ids[:5]]
    )
    # pyairtable writes a datetime as DATETIME_PARSE('2026-12-02T04:00:00.000Z'), as the bot does.
    formula = OR(IS_AFTER(LAST_MODIFIED_TIME(), since), IS_AFTER(CREATED_TIME(), since))
    table = at.table(TABLE, base_id=CHANGES_BASE)

    def read(_: int) -> None:
        found = table.all(formula=formula)
        assert sorted(r["id"] for r in found) == sorted(ids[:5]), found

    return read


def measure(storage: str, args: argparse.Namespace) -> list[tuple[str, str, list[float], float]]:
    """Run both benchmarks against one server; (storage, metric, rates, requests per op)."""
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "bench.sqlite3" if storage == "file" else None
        with LocalAirtable(seed=None, db_path=db, requests_per_second=None) as at:
            ids = fill(at, args.records)
            table = at.table(TABLE, base_id=BENCH_BASE)
            rng = random.Random(1)
            rows = []
            for metric, operation, count in (
                ("lookups/s", lookups(table, args.records, rng), args.lookups),
                ("batch updates/s", batch_updates(table, ids, rng), args.batches),
                ("changed reads/s", changed_reads(at, args.changed_records), args.changed_reads),
            ):
                rate(operation, min(20, count))  # warm up connections and caches
                at.reset_stats()
                rates = [rate(operation, count) for _ in range(args.repeat)]
                base = CHANGES_BASE if metric == "changed reads/s" else BENCH_BASE
                per_op = at.stats(base).requests / (count * args.repeat)
                rows.append((storage, metric, rates, per_op))
            return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print the table; 1 if a median misses its target."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--lookups", type=int, default=300, help="lookups per run")
    parser.add_argument("--batches", type=int, default=150, help="batch updates per run")
    parser.add_argument("--changed-records", type=int, default=20000)
    parser.add_argument("--changed-reads", type=int, default=20, help="reads of changes per run")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    rows = measure("memory", args) + measure("file", args)
    print(f"embedded Airtable, {args.records} records, rate limit off, median of {args.repeat}")
    header = f"{'storage':8} {'metric':16} {'median':>8} {'min':>8} {'max':>8} {'target':>7} req/op"
    print(header)
    print("-" * len(header))
    missed = False
    for storage, metric, rates, per_op in rows:
        median = statistics.median(rates)
        target = TARGETS[metric]
        missed |= median < target
        print(
            f"{storage:8} {metric:16} {median:8.0f} {min(rates):8.0f} {max(rates):8.0f}"
            f" {target:7.0f} {per_op:6.2f}{'' if median >= target else '  MISSED'}"
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
