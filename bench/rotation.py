"""The rotation's fairness and the ledger's assign latency (issue 9).

1,000 recordings by random reps (seeded RNG) of a 12-person pool, one every 8 hours (so the
weekly cap of 5 binds only when the order is unfair), 2 peer reviewers each, all through the
real `ReviewLedger.assign` running `rotation.choose` inside it: on SQLite (a temp file) and on
DynamoDB (dynalite on loopback, from node_modules/.bin/dynalite). Prints assignments per
eligible reviewer, max - min (target <= 1) and assign latency (median, p99); then 4 workers
assigning at once: 200 recordings in one week against the cap (was it held?), and 200 with no
binding cap (assigns/s, latency under contention, DynamoDB commits lost and retried).

    python bench/rotation.py [--recordings 1000] [--seed 7]
"""
from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from integration.ledger import PEER, Assignment, ReviewLedger  # noqa: E402
from integration.rotation import RotationPolicy, choose, iso_week  # noqa: E402

POOL = [f"rep{i:02d}" for i in range(12)]
POLICY = RotationPolicy(reviewers_per_call=2, weekly_cap=5, seed=frozenset(POOL))
UNCAPPED = RotationPolicy(reviewers_per_call=2, weekly_cap=1_000, seed=frozenset(POOL))  # every assign writes: throughput
START = 1_767_225_600.0  # 2026-01-01
SPACING = 8 * 3600.0
TENANT = "bench"


def assign_one(ledger: ReviewLedger, n: int, rep: str, now: float, policy: RotationPolicy = POLICY) -> tuple[list[Assignment], float]:
    x = f"rec:{n}"

    def chooser(stats: Any) -> tuple[str, ...]:
        return choose(POOL, stats, rep=rep, inactive=(), policy=policy, now=now).reviewers

    def make(reviewer: str) -> Assignment:
        return Assignment(TENANT, x, reviewer, PEER, f"review#{TENANT}#{x}#{reviewer}", now + 3 * 86400, assigned_at=now)

    started = time.perf_counter()
    made = ledger.assign(TENANT, x, PEER, POOL, chooser, make, now, iso_week(now))
    return made, time.perf_counter() - started


def fairness(name: str, ledger: ReviewLedger, recordings: int, seed: int) -> None:
    rng = random.Random(seed)
    per_reviewer: Counter[str] = Counter({r: 0 for r in POOL})
    latencies = []
    for n in range(recordings):
        made, seconds = assign_one(ledger, n, rng.choice(POOL), START + n * SPACING)
        per_reviewer.update(a.reviewer_id for a in made)
        latencies.append(seconds)
    counts = [per_reviewer[r] for r in POOL]
    print(f"\n{name}: {recordings} recordings, {sum(counts)} peer assignments over {len(POOL)} eligible reviewers")
    print("  per reviewer: " + " ".join(f"{r}={per_reviewer[r]}" for r in POOL))
    print(f"  max - min: {max(counts) - min(counts)} (target <= 1)")
    print(f"  assign latency: median {ms(statistics.median(latencies))}, p99 {ms(p99(latencies))}")


def contention(name: str, ledger: ReviewLedger, week: int, policy: RotationPolicy = POLICY, workers: int = 4, each: int = 50) -> None:
    """`workers` threads assign different recordings of one week at once."""
    latencies: list[float] = []
    lock = threading.Lock()
    lost = _count_lost_commits(ledger)
    now = START + (400 + 7 * week) * 86400.0  # a fresh week
    first = 100_000 * (week + 1)

    errors: Counter[str] = Counter()

    def run(w: int) -> None:
        rng = random.Random(w)
        for i in range(each):
            try:
                _, seconds = assign_one(ledger, first + w * each + i, rng.choice(POOL), now, policy)
            except Exception as exc:  # e.g. LedgerBusy: counted and shown, as a worker would retry the event
                with lock:
                    errors[type(exc).__name__] += 1
                continue
            with lock:
                latencies.append(seconds)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(workers)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    found = ledger.assignments_for(TENANT, [f"rec:{first + k}" for k in range(workers * each)])
    per_reviewer = Counter(a.reviewer_id for v in found.values() for a in v)
    cap_ok = max(per_reviewer.values()) <= policy.weekly_cap
    print(f"\n{name}, {workers} workers at once, {workers * each} recordings in one week, weekly cap {policy.weekly_cap}:")
    print(f"  assigned {sum(per_reviewer.values())} (cap x {len(POOL)} reviewers = {policy.weekly_cap * len(POOL)});"
          f" most per reviewer {max(per_reviewer.values())}; cap held: {cap_ok}")  # fmt: skip
    print(f"  {workers * each / elapsed:.0f} assigns/s; latency: median {ms(statistics.median(latencies))}, p99 {ms(p99(latencies))}"
          + (f"; commits lost and retried: {lost[0]}" if lost else ""))  # fmt: skip
    print(f"  assigns that failed (the event would be retried): {sum(errors.values())} {dict(errors)}")


def _count_lost_commits(ledger: ReviewLedger) -> list[int]:
    commit = getattr(ledger, "_commit", None)
    if commit is None:
        return []
    lost = [0]

    def counting(*args: Any) -> bool:
        ok = commit(*args)
        lost[0] += not ok
        return ok

    ledger._commit = counting  # type: ignore[attr-defined]
    return lost


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def p99(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.99) - 1)]


def dynalite() -> Iterator[str]:
    binary = ROOT / "node_modules" / ".bin" / "dynalite"
    if not binary.exists():
        raise SystemExit(f"{binary} is missing: run `npm ci` first")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([str(binary), "--host", "127.0.0.1", "--port", str(port), "--createTableMs", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("dynalite did not start")
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from integration.store.dynamodb import DynamoStore
    from integration.store.sqlite import SqliteStore

    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "bench.db")
        fairness("SQLite", store.ledger(), args.recordings, args.seed)
        contention("SQLite", store.ledger(), week=0)
        contention("SQLite", store.ledger(), week=1, policy=UNCAPPED)
        store.close()

    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_CONFIG_FILE="/nonexistent",
                      AWS_SHARED_CREDENTIALS_FILE="/nonexistent")  # fmt: skip
    for endpoint in dynalite():
        dynamo = DynamoStore(f"bench-{uuid.uuid4().hex}", region="us-east-1", endpoint_url=endpoint)
        dynamo.create_table()
        fairness("DynamoDB (dynalite)", dynamo.ledger(), args.recordings, args.seed)
        contention("DynamoDB (dynalite)", dynamo.ledger(), week=0)
        contention("DynamoDB (dynalite)", dynamo.ledger(), week=1, policy=UNCAPPED)
        dynamo.close()


if __name__ == "__main__":
    main()
