"""Ack latency of POST /hooks/hubspot: a signed 100-event batch, stored before the ack.

Requests go through Flask's test client (the full WSGI stack of the app, no sockets: less
noise than a loopback server, and the same on every machine). The app runs on a SQLite store
in a temp dir with worker_mode "none", so the time measured is verify + parse + validate +
durable insert + respond. Every request is a NEW batch (distinct eventIds: 100 new rows per
request); a second run re-posts batches already stored (all duplicates, as on a HubSpot
retry). A bare Flask route that does nothing, posted the same body and headers, is the floor.
Signing and JSON encoding happen before the clock starts.

Targets: median under 5 ms, and within 5x of the bare route.

    python bench/intake.py [--requests 200] [--warmup 20] [--events 100] [--profile]
"""
from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import json
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask  # noqa: E402

from integration import config as config_mod  # noqa: E402
from integration import samples  # noqa: E402
from integration.app import create_app  # noqa: E402
from integration.store.sqlite import SqliteStore  # noqa: E402

SECRET = "bench-hubspot-client-secret"
PORTAL = "62515"
URI = "http://localhost/hooks/hubspot"
TARGET_MEDIAN_MS = 5.0
TARGET_RATIO = 5.0

Request = tuple[bytes, dict[str, str]]


def _config(db: Path) -> config_mod.Config:
    return config_mod.parse(
        {
            "tenants": [
                {"id": "bench-hubspot", "crm": "hubspot", "portal_id": PORTAL, "client_secret_env": "BENCH_HS_SECRET",
                 "dry_run": True, "rules": {"note_on_change": {"properties": ["amount"]}}},
            ],
            "store": {"path": str(db)},
            "worker": {"mode": "none"},
        },
        "bench.toml",
    )  # fmt: skip


def batches(n_events: int) -> Iterator[list[dict]]:
    """Endless distinct HubSpot batches: eventIds never repeat, so every event is new."""
    ids = itertools.count(10_000_000)
    base = int(time.time() * 1000)
    for batch_no in itertools.count():
        events = samples.hubspot_events(PORTAL, [str(700_000 + i) for i in range(n_events)], "150000", occurred_at_ms=base + batch_no)
        for event in events:
            event["eventId"] = next(ids)
        yield events


def signed(events: list[dict]) -> Request:
    body = json.dumps(events).encode()
    return body, samples.hubspot_headers(SECRET, URI, body)


def timed(post: Callable[[bytes, dict[str, str]], int], requests: list[Request]) -> list[float]:
    out = []
    for body, headers in requests:
        started = time.perf_counter()
        status = post(body, headers)
        out.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise SystemExit(f"unexpected HTTP {status}")
    return out


def summary(ms: list[float]) -> tuple[float, float]:
    ordered = sorted(ms)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--events", type=int, default=100, help="events per batch (HubSpot sends up to 100)")
    parser.add_argument("--profile", action="store_true", help="cProfile the new-batch run and print where time goes")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gamefilm-bench-") as tmp:
        store = SqliteStore(Path(tmp) / "bench.db")
        app = create_app({"config": _config(Path(tmp) / "bench.db"), "store": store, "clock": time.time,
                          "environ": {"BENCH_HS_SECRET": SECRET}, "worker_mode": "none"})  # fmt: skip
        client = app.test_client()

        bare = Flask("bare")
        bare.add_url_rule("/hooks/hubspot", "bare", lambda: ("", 200), methods=["POST"])
        bare_client = bare.test_client()

        def post_app(body: bytes, headers: dict[str, str]) -> int:
            return client.post("/hooks/hubspot", data=body, headers=headers).status_code

        def post_bare(body: bytes, headers: dict[str, str]) -> int:
            return bare_client.post("/hooks/hubspot", data=body, headers=headers).status_code

        source = batches(args.events)
        warm = [signed(next(source)) for _ in range(args.warmup)]
        timed(post_app, warm)
        timed(post_bare, warm)

        fresh_events = [next(source) for _ in range(args.requests)]
        fresh = [signed(events) for events in fresh_events]
        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        new_ms = timed(post_app, fresh)
        if profiler:
            profiler.disable()
        bare_ms = timed(post_bare, fresh)
        stored = len(store.list_events(limit=10 * (args.requests + args.warmup) * args.events))
        expected = (args.requests + args.warmup) * args.events
        if stored != expected:
            raise SystemExit(f"expected {expected} stored events, found {stored}")

        redelivered = [signed(events) for events in fresh_events]  # same events, re-signed now
        dup_ms = timed(post_app, redelivered)
        if len(store.list_events(limit=10 * expected)) != expected:
            raise SystemExit("a redelivered batch stored new rows")
        store.close()

    bare_median, bare_p99 = summary(bare_ms)
    print(f"POST /hooks/hubspot, {args.events}-event signed batch, Flask test client, SQLite (WAL, synchronous=FULL), "
          f"{args.requests} requests after {args.warmup} warm-up")  # fmt: skip
    print(f"{'case':34} {'median ms':>10} {'p99 ms':>8} {'x bare':>7}")
    for name, ms in (("new batch (100 rows stored)", new_ms), ("redelivered batch (all duplicates)", dup_ms), ("bare route, same body", bare_ms)):
        median, p99 = summary(ms)
        print(f"{name:34} {median:10.2f} {p99:8.2f} {median / bare_median:7.1f}")
    median = summary(new_ms)[0]
    ok = median < TARGET_MEDIAN_MS and median / bare_median <= TARGET_RATIO
    print(f"target: median < {TARGET_MEDIAN_MS:g} ms and <= {TARGET_RATIO:g}x bare -> {'MET' if ok else 'MISSED'}")

    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(20)
        stats.sort_stats("cumulative").print_stats(35)
        print(out.getvalue())


if __name__ == "__main__":
    main()
