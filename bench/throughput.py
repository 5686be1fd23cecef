"""Worker throughput (issue 7, item 6).

Dry-run part: N HubSpot deal events that cross a threshold (each plans a collaborator and a
note) through the real worker (`Worker.run_due`, batches of 100) on a SQLite store that already
holds >= 10,000 processed events; the dry-run adapter decides on the events' values and sends
nothing, so this measures the engine itself: claim, outbox plan, mark sent, outcomes, settle.
Target: >= 5,000 events/s (median of the runs).
Run: `.venv/bin/python bench/throughput.py [N] [RUNS]`.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from integration.app import build_services  # noqa: E402
from integration.config import parse  # noqa: E402
from integration.events import Event  # noqa: E402
from integration.store.sqlite import SqliteStore  # noqa: E402

PORTAL = "62515"
TIERS = [{"name": "big", "amount": 100000, "leaders": ["7001"], "note": True}]


def events(start: int, n: int) -> list[Event]:
    at = datetime(2026, 11, 1, tzinfo=timezone.utc)
    return [
        Event(key=f"hubspot#{PORTAL}#bench#{i}", tenant="bench", crm="hubspot", object_type="deal", object_id=str(10_000 + i),
              kind="updated", occurred_at=at, source_id=str(i),
              changed={"amount": "150000", "hubspot_owner_id": "7000", "hs_all_collaborator_owner_ids": ""},
              raw={"eventId": i, "propertyName": "amount"})  # fmt: skip
        for i in range(start, start + n)
    ]


class _CountCommits:
    """Counts SQLite transactions (a bench-only hook on the store's transaction helper)."""

    def __init__(self) -> None:
        from integration.store import sqlite

        self.count = 0
        original = sqlite._Transaction.__exit__

        def counting(tx: object, *exc: object) -> None:
            self.count += 1
            original(tx, *exc)  # type: ignore[arg-type]

        sqlite._Transaction.__exit__ = counting  # type: ignore[method-assign]


COMMITS = _CountCommits()


def run(n: int, backlog: int = 10_000) -> tuple[float, float, float]:
    """(events/s, CPU microseconds per event, store transactions per 100 events)."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = parse({"tenants": [{"id": "bench", "crm": "hubspot", "portal_id": PORTAL, "client_secret_env": "S", "dry_run": True,
                                  "rules": {"threshold": TIERS}}], "store": {"path": f"{tmp}/g.db"}, "worker": {"batch_size": 100}})  # fmt: skip
        store = SqliteStore(f"{tmp}/g.db")
        services = build_services({"config": cfg, "store": store, "environ": {"S": "x"}, "worker_mode": "none"})
        for start in range(0, backlog, 1000):  # the store already holds a processed history
            store.add_events(events(start, 1000), time.time())
        while services.worker.run_due().done:
            pass
        for start in range(backlog, backlog + n, 1000):
            store.add_events(events(start, min(1000, backlog + n - start)), time.time())
        done = 0
        commits = COMMITS.count
        cpu = time.process_time()
        began = time.perf_counter()
        while True:
            report = services.worker.run_due()
            if not (report.done or report.failed):
                break
            done += len(report.done)
        elapsed = time.perf_counter() - began
        cpu = time.process_time() - cpu
        commits = COMMITS.count - commits
        assert done == n and len(store.list_actions(limit=10 * (backlog + n))) == 2 * (backlog + n)
        store.close()
        return done / elapsed, cpu / n * 1e6, commits / n * 100


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    rates, cpus = [], []
    for i in range(runs):
        rate, cpu, commits = run(n)
        rates.append(rate)
        cpus.append(cpu)
        print(f"run {i + 1}: {n} events in {n / rate:.2f} s = {rate:,.0f} events/s;"
              f" {cpu:.0f} us CPU per event; {commits:.1f} store transactions per 100 events")  # fmt: skip
    print(f"dry-run worker: median {statistics.median(rates):,.0f} events/s over {runs} runs (target >= 5,000);"
          f" CPU-bound ceiling {1e6 / statistics.median(cpus):,.0f} events/s")  # fmt: skip


if __name__ == "__main__":
    main()
