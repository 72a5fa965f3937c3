"""Benchmark the embedded Airtable through the real pyairtable client over HTTP.

Measures, with the rate limit off, over a table of ``--records`` records (default 1,000):

- single-field formula lookups (``table.all(formula=match({"Key": key}))``), per second;
- batch updates of 10 records (``table.batch_update``, one request each), per second.

Each figure is the median of ``--repeat`` runs, for a base in memory and in a SQLite file
(WAL). Targets: 200 lookups/s and 100 batch updates/s on one core. Run it as a script::

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
from pathlib import Path
from typing import Any

from pyairtable import Table
from pyairtable.formulas import match

from bot.airtable_local.thread import LocalAirtable

BENCH_BASE = "appBenchBase00001"
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
TARGETS = {"lookups/s": 200.0, "batch updates/s": 100.0}


def key_of(n: int) -> str:
    """The unique key of record ``n`` (shaped like the bot's issue URLs)."""
    return f"https://github.com/example-org/repo-{n % 7}/issues/{n}"


def fill(at: LocalAirtable, records: int) -> list[str]:
    """Create the benchmark base with ``records`` records (in-process, not timed); their ids."""
    at.store.create_base(BENCH_BASE, SPEC)
    ids: list[str] = []
    for start in range(0, records, 10):
        batch = [
            {"Name": f"Item {n}", "Key": key_of(n), "Count": n, "Status": "Todo"}
            for n in range(start, min(records, start + 10))
        ]
        ids += [r["id"] for r in at.store.create_records(BENCH_BASE, TABLE, batch)]
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
            ):
                rate(operation, min(20, count))  # warm up connections and caches
                at.reset_stats()
                rates = [rate(operation, count) for _ in range(args.repeat)]
                per_op = at.stats(BENCH_BASE).requests / (count * args.repeat)
                rows.append((storage, metric, rates, per_op))
            return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print the table; 1 if a median misses its target."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--lookups", type=int, default=300, help="lookups per run")
    parser.add_argument("--batches", type=int, default=150, help="batch updates per run")
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
