"""The worker's CPU per event: `Worker.run_due(100)` over stored HubSpot batches (dry run).

The workload of bench/intake.py's worker: 100-event HubSpot `deal.propertyChange` batches on
`amount`, stored raw as the ack stores them (`hubspot_received` -> `add_events`), one dry-run
tenant with the `note_on_change` rule, so every event is claimed, read, planned, written to
the outbox and settled `done` with its log line. The events are stored before the clock
starts; only the worker's passes are measured, in CPU time (the machine is shared, wall clock
is noise), over `--events` events per run, runs repeated (`--runs`). A one-tenant pass runs
in the calling thread: its thread_time is the worker's own CPU; process_time adds the store's
background checkpointer, which in `gamefilm serve` runs in the server's process, not the worker's.

    python bench/worker_cpu.py [--events 3000] [--runs 5] [--profile] [--log-info]
"""
from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import intake as bench_intake  # noqa: E402

from integration.app import create_app  # noqa: E402
from integration.normalize import hubspot_received  # noqa: E402


def one_run(events: int, profile: cProfile.Profile | None) -> tuple[float, float]:
    """(thread, process) CPU seconds per event the worker spent settling `events` stored events."""
    tmp = Path(tempfile.mkdtemp(prefix="worker-cpu-"))
    try:
        db, config = tmp / "w.db", tmp / "c.toml"
        config.write_text(bench_intake.CONFIG.format(db=db, mode="none", portal=bench_intake.PORTAL))
        app = create_app({"config_path": str(config), "environ": {"BENCH_HS_SECRET": bench_intake.SECRET}})
        services = app.extensions["gamefilm"]
        store, worker, cfg = services.store, services.worker, services.config
        for _ in range(0, events + 100, bench_intake.EVENTS):
            store.add_events(hubspot_received(bench_intake.batch(), cfg).events, time.time())
        worker.run_due(100)  # warm: imports, schema caches, the gateway
        settled = 0
        start, start_process = time.thread_time(), time.process_time()
        if profile is not None:
            profile.enable()
        while settled < events:
            report = worker.run_due(100)
            if not report.done:
                raise SystemExit(f"the worker settled nothing done: {report}")
            settled += len(report.done)
        if profile is not None:
            profile.disable()
        cpu, cpu_process = time.thread_time() - start, time.process_time() - start_process
        store.close()
        return cpu / settled, cpu_process / settled
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print the top cumulative entries of one more run")
    parser.add_argument("--log-info", action="store_true", help="settled-event lines at INFO, to a null stream")
    args = parser.parse_args()
    os.environ.setdefault("BENCH_HS_SECRET", bench_intake.SECRET)
    logging.getLogger().setLevel(logging.INFO if args.log_info else logging.WARNING)
    if args.log_info:
        logging.getLogger().addHandler(logging.StreamHandler(io.StringIO()))
    runs = [one_run(args.events, None) for _ in range(args.runs)]
    print(f"worker CPU per event over {args.events} events, {args.runs} runs (load {os.getloadavg()[0]:.2f}):")
    for name, per_event in (("thread", [t for t, _ in runs]), ("process", [p for _, p in runs])):
        print(f"  {name:8} median {statistics.median(per_event) * 1e6:6.1f} us/event, min {min(per_event) * 1e6:6.1f}"
              f"  (runs: {' '.join(f'{x * 1e6:.1f}' for x in per_event)})")
    if args.profile:
        profile = cProfile.Profile()
        one_run(args.events, profile)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
