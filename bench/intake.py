"""Ack latency and throughput of POST /hooks/hubspot against a bare route and a reference floor.

Three cases, interleaved round by round (at one sender, in slices of 30 requests) so drift
hits them alike:
- bare:    a Flask route that answers 200 and does nothing;
- floor:   the least a correct endpoint must do: verify the HMAC, parse the JSON, and commit
           the 100 raw events durably, each as the product's ack stores it: the same row
           (delivery key, tenant, source, raw JSON, status pending, three times) into the same
           `events` table and indexes (unique key, due index), through the same group writer
           (WAL, synchronous=FULL, one fsync per group commit) and background checkpointer.
           Its keys are the product's delivery keys (HubSpot's eventId alone is not unique),
           built the product's fastest way (orjson formats the id table in C); it validates
           nothing and answers an empty 200;
- product: the real endpoint (verify, validate, key, store each event raw through the SQLite
           writer, which also takes the cross-process write lock the floor does without, and
           answer the JSON counts; the request log line and hooks run; the worker normalises
           what it claims).
Each runs in-process (a Flask test client per sender thread, no sockets) and over HTTP on the
real server (`gamefilm serve` as a subprocess, its worker ON in a child process of its own,
processing what arrives with a dry-run rule; the bare and floor routes on the same waitress Server in another
process), at 1, 8 and 32 concurrent senders, every database holding >= 100k events first.
Over HTTP at 1 sender, a second `gamefilm serve` with the worker OFF gives the worker's cost.
After each worker-on slice the bench waits for that worker to settle what it was sent, so it
never runs (on a core and the disk) while another case is measured.
Every request is a NEW signed batch of 100 events, signed before its clock starts.

Targets: in-process median ack <= 1.0x the floor; over HTTP at 32 senders >= 25k events/s
with p99 <= 200 ms; worker on vs off at 1 sender: p99 within 1.5x.

    python bench/intake.py [--rounds 3] [--prefill 100000] [--senders 1,8,32]
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
from flask import Flask, request  # noqa: E402

from integration import config as config_mod  # noqa: E402
from integration import samples  # noqa: E402
from integration.signature import SignatureError, verify_hubspot_v3  # noqa: E402
from integration.store.sqlite_pool import connect  # noqa: E402
from integration.store.sqlite_checkpoint import Checkpointer  # noqa: E402
from integration.store.sqlite_writer import GroupWriter  # noqa: E402

SECRET = "bench-hubspot-client-secret"
PORTAL = "62515"
EVENTS = 100
Post = Callable[[bytes, dict[str, str]], int]

CONFIG = """
[store]
path = "{db}"
[worker]
mode = "{mode}"
poll_seconds = 1
[[tenants]]
id = "bench-hubspot"
crm = "hubspot"
portal_id = "{portal}"
client_secret_env = "BENCH_HS_SECRET"
dry_run = true
[tenants.rules.note_on_change]
properties = ["amount"]
"""

_ids = itertools.count(50_000_000)
_keep: list[Checkpointer] = []
_batch = itertools.count()


def batch() -> list[dict]:
    """A new 100-event batch: eventIds never repeat, so every event is new."""
    events = samples.hubspot_events(PORTAL, [str(700_000 + i) for i in range(EVENTS)], "150000",
                                    occurred_at_ms=int(time.time() * 1000) + next(_batch))  # fmt: skip
    for event in events:
        event["eventId"] = next(_ids)
    return events


def signed(uri: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(batch()).encode()
    return body, samples.hubspot_headers(SECRET, uri, body)


# --- the reference app: bare route and floor -------------------------------------------------
def floor_writer(db: Path, checkpoints: bool = False) -> GroupWriter:
    """The floor's writer into the product's schema; with `checkpoints`, a background
    checkpointer like the product's."""
    from integration.store.sqlite import _INSERT_COLUMNS
    from integration.store.sqlite_schema import create_schema

    if checkpoints:
        _keep.append(Checkpointer(connect(str(db))))
    conn = connect(str(db))
    create_schema(conn)
    conn.close()
    return GroupWriter(connect(str(db), autocheckpoint=False), "events", _INSERT_COLUMNS)


def floor_rows(events: list[dict], now: float) -> list[tuple]:
    """The product's rows for raw events, without any validation."""
    ids = orjson.dumps([(e["portalId"], e["occurredAt"], e["eventId"], e["subscriptionId"], e["objectId"]) for e in events])
    keys = ("hubspot#" + ids[2:-2].decode().replace(",", "#").replace("]#[", "\nhubspot#")).split("\n")
    return [(key, "bench-hubspot", "hubspot", orjson.dumps(e).decode(), "pending", now, now, now) for key, e in zip(keys, events)]


def reference_app(writer: GroupWriter) -> Flask:
    app = Flask("reference")

    @app.post("/bare")
    def bare() -> tuple[str, int]:
        return "", 200

    @app.post("/floor")
    def floor() -> tuple[str, int]:
        body = request.get_data()
        try:
            verify_hubspot_v3(secrets=[SECRET], method="POST", uri=request.url.replace("/floor", "/hooks/hubspot"), body=body,
                              signature=request.headers.get("X-HubSpot-Signature-v3"),
                              timestamp=request.headers.get("X-HubSpot-Request-Timestamp"), now=time.time())  # fmt: skip
        except SignatureError:
            return "bad signature", 401
        writer.insert(floor_rows(orjson.loads(body), time.time()))
        return "", 200

    return app


def prefill_floor(db: Path, count: int) -> None:
    """`count` done rows, as the product's prefill leaves its table."""
    writer = floor_writer(db)
    for _ in range(0, count, 1000):
        writer.insert(floor_rows([e for _ in range(10) for e in batch()], time.time()))
    writer.close()
    conn = connect(str(db))
    conn.execute("UPDATE events SET status = 'done'")
    conn.close()


def old_key(event: Any) -> Any:
    """The delivery key as it was before: hubspot#portal#subscription#object#eventId#occurredAt."""
    return event._replace(key="#".join(event.key.split("#")[i] for i in (0, 1, 4, 5, 3, 2)))


def prefill_product(db: Path, count: int, keyed: Callable[[Any], Any] = lambda e: e) -> None:
    """`count` done events through the store itself (the worker must not process them)."""
    from integration.normalize import hubspot_received
    from integration.store.sqlite import SqliteStore

    cfg = config_mod.parse({"tenants": [{"id": "bench-hubspot", "crm": "hubspot", "portal_id": PORTAL,
                                         "client_secret_env": "X", "dry_run": True}]}, "prefill")  # fmt: skip
    store = SqliteStore(db)
    for _ in range(0, count, EVENTS * 10):
        store.add_events([keyed(e) for _ in range(10) for e in hubspot_received(batch(), cfg).events], time.time())
    with store._tx() as tx:
        tx.execute("UPDATE events SET status = 'done'")
    store.close()


def wal_per_commit(db: Path, keyed: Callable[[Any], Any], commits: int = 40) -> float:
    """KiB of WAL one 100-event commit writes into a table of >= 100k events (checkpoints off).

    With `old_key` (table prefilled the same way) it shows what the time-first key saves: the
    unique index is touched at one end instead of at ~100 places."""
    from integration.normalize import hubspot_received
    from integration.store.sqlite import SqliteStore

    cfg = config_mod.parse({"tenants": [{"id": "bench-hubspot", "crm": "hubspot", "portal_id": PORTAL,
                                         "client_secret_env": "X", "dry_run": True}]}, "wal")  # fmt: skip
    store = SqliteStore(db, checkpoint_seconds=3600)
    batches = []
    for _ in range(commits):
        batches.append([keyed(e) for e in hubspot_received(batch(), cfg).events])
    store.add_events(batches[0], time.time())  # the writer's connection exists: now empty the WAL
    with store._pool.connection() as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for events in batches[1:]:
        store.add_events(events, time.time())
    size = os.path.getsize(f"{db}-wal")
    store.close()
    return size / (commits - 1) / 1024


def floor_wal_per_commit(db: Path, commits: int = 40) -> float:
    writer = floor_writer(db)
    conn = connect(str(db))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for _ in range(commits):
        writer.insert(floor_rows(batch(), time.time()))
    size = os.path.getsize(f"{db}-wal")
    writer.close()
    return size / commits / 1024


# --- senders -----------------------------------------------------------------------------------
def run(senders: int, per_sender: int, make_post: Callable[[], tuple[Post, str]]) -> tuple[list[float], float]:
    """Each sender thread posts `per_sender` new batches back to back; latencies in ms, wall s."""
    latencies: list[float] = []
    lock = threading.Lock()
    posts = [make_post() for _ in range(senders)]
    work = [[signed(uri) for _ in range(per_sender)] for _, uri in posts]
    start_gate = threading.Barrier(senders + 1)

    def sender(post: Post, requests: list[tuple[bytes, dict[str, str]]]) -> None:
        mine = []
        start_gate.wait()
        for body, headers in requests:
            started = time.perf_counter()
            status = post(body, headers)
            mine.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise SystemExit(f"unexpected HTTP {status}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=sender, args=(post, reqs)) for (post, _), reqs in zip(posts, work)]
    for t in threads:
        t.start()
    start_gate.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - started


def in_process(app: Flask, path: str) -> Callable[[], tuple[Post, str]]:
    def make() -> tuple[Post, str]:
        client = app.test_client()
        return (lambda body, headers: client.post(path, data=body, headers=headers).status_code), "http://localhost/hooks/hubspot"

    return make


def over_http(port: int, path: str) -> Callable[[], tuple[Post, str]]:
    def make() -> tuple[Post, str]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        def post(body: bytes, headers: dict[str, str]) -> int:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            return response.status

        return post, f"http://127.0.0.1:{port}/hooks/hubspot"

    return make


def start(args: list[str], port: int, env: dict[str, str]) -> subprocess.Popen:
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(300):
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/healthz")
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server {args} did not start: {proc.stderr.read().decode() if proc.stderr else ''}")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def drain(db: Path, timeout: float = 120.0) -> None:
    """Wait until the worker has settled what it was sent: its process is otherwise still
    busy (a core and the disk) while the next cases are measured, which it would slow."""
    import sqlite3

    deadline = time.monotonic() + timeout
    conn = sqlite3.connect(db, timeout=30)
    try:
        while conn.execute("SELECT count(*) FROM events WHERE status IN ('pending', 'processing')").fetchone()[0]:
            if time.monotonic() > deadline:
                raise SystemExit(f"the worker did not drain {db} in {timeout:.0f} s")
            time.sleep(0.05)
    finally:
        conn.close()


def stats(ms: list[float], wall: float) -> tuple[float, float, float]:
    ordered = sorted(ms)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], len(ms) * EVENTS / wall


def serve_reference(port: int, db: Path) -> None:
    """Child mode: the bare and floor routes on the same waitress Server as `gamefilm serve`."""
    from integration.server import Server

    server = Server(reference_app(floor_writer(db, checkpoints=True)), "127.0.0.1", port, threads=32)
    server.install_signal_handlers()
    server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prefill", type=int, default=100_000)
    parser.add_argument("--senders", default="1,8,32")
    parser.add_argument("--serve-reference", nargs=2, metavar=("PORT", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_reference:
        return serve_reference(int(args.serve_reference[0]), Path(args.serve_reference[1]))
    levels = [int(n) for n in args.senders.split(",")]

    tmp = Path(tempfile.mkdtemp(prefix="gamefilm-bench-"))
    procs: list[subprocess.Popen] = []
    try:
        t0 = time.perf_counter()
        prefill_product(tmp / "product.db", args.prefill)
        for name in ("inproc.db", "http-on.db", "http-off.db"):
            shutil.copy(tmp / "product.db", tmp / name)
        prefill_floor(tmp / "floor.db", args.prefill)
        for name in ("floor-inproc.db", "floor-http.db"):
            shutil.copy(tmp / "floor.db", tmp / name)
        print(f"prefilled {args.prefill} events per database in {time.perf_counter() - t0:.1f} s")
        shutil.copy(tmp / "product.db", tmp / "wal-new.db")
        shutil.copy(tmp / "floor.db", tmp / "wal-floor.db")
        prefill_product(tmp / "wal-old.db", args.prefill, old_key)
        print("WAL written per 100-event commit on the prefilled table: "
              f"object-id-first key (before) {wal_per_commit(tmp / 'wal-old.db', old_key):.0f} KiB, "
              f"time-first key (now) {wal_per_commit(tmp / 'wal-new.db', lambda e: e):.0f} KiB, "
              f"floor (the same rows) {floor_wal_per_commit(tmp / 'wal-floor.db'):.0f} KiB")  # fmt: skip

        env = {**os.environ, "BENCH_HS_SECRET": SECRET, "GAMEFILM_LOG_LEVEL": "WARNING"}
        ports = {}
        for mode, db in (("thread", "http-on.db"), ("none", "http-off.db")):
            (tmp / f"{mode}.toml").write_text(CONFIG.format(db=tmp / db, mode=mode, portal=PORTAL))
            ports[mode] = free_port()
            procs.append(start([sys.executable, "-m", "integration.cli", "--config", str(tmp / f"{mode}.toml"),
                                "serve", "--port", str(ports[mode])], ports[mode], env))  # fmt: skip
        ports["ref"] = free_port()
        procs.append(start([sys.executable, __file__, "--serve-reference", str(ports["ref"]), str(tmp / "floor-http.db")], ports["ref"], env))

        from integration.app import create_app

        (tmp / "inproc.toml").write_text(CONFIG.format(db=tmp / "inproc.db", mode="none", portal=PORTAL))
        os.environ["BENCH_HS_SECRET"] = SECRET
        product = create_app({"config_path": str(tmp / "inproc.toml"), "environ": {"BENCH_HS_SECRET": SECRET}})
        reference = reference_app(floor_writer(tmp / "floor-inproc.db", checkpoints=True))

        cases: dict[str, Callable[[], tuple[Post, str]]] = {
            "in-process bare": in_process(reference, "/bare"),
            "in-process floor": in_process(reference, "/floor"),
            "in-process product": in_process(product, "/hooks/hubspot"),
            "HTTP bare": over_http(ports["ref"], "/bare"),
            "HTTP floor": over_http(ports["ref"], "/floor"),
            "HTTP product (worker on)": over_http(ports["thread"], "/hooks/hubspot"),
            "HTTP product (worker off)": over_http(ports["none"], "/hooks/hubspot"),
        }
        results: dict[tuple[str, int], tuple[list[float], float]] = {}
        for senders in levels:
            # One sender: 5 slices of 30 requests per round, so load drift on a shared machine
            # hits every case alike (slices of 150 measured the drift, not the cases).
            per_sender, slices = (max(40 // senders, 8), 1) if senders > 1 else (30, 5)
            for _ in range(args.rounds * slices):
                for name, make in cases.items():
                    if name.endswith("(worker off)") and senders != 1:
                        continue
                    ms, wall = run(senders, per_sender, make)
                    if name.endswith("(worker on)"):
                        drain(tmp / "http-on.db")
                    old_ms, old_wall = results.get((name, senders), ([], 0.0))
                    results[(name, senders)] = (old_ms + ms, old_wall + wall)
        report(results, levels)
        print(f"product writer: {product.extensions['gamefilm'].store._writer.requests} requests in "
              f"{product.extensions['gamefilm'].store._writer.commits} commits (in-process)")  # fmt: skip
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


def report(results: dict[tuple[str, int], tuple[list[float], float]], levels: list[int]) -> None:
    print(f"\n{'case':28} {'senders':>7} {'median ms':>10} {'p99 ms':>8} {'events/s':>9} {'x floor':>8}")
    for senders in levels:
        for where in ("in-process", "HTTP"):
            floor_median = stats(*results[(f"{where} floor", senders)])[0]
            for (name, n), (ms, wall) in results.items():
                if n == senders and name.startswith(where):
                    median, p99, eps = stats(ms, wall)
                    print(f"{name:28} {senders:7d} {median:10.2f} {p99:8.1f} {eps:9.0f} {median / floor_median:8.2f}")
    inproc = {n: stats(*results[("in-process product", n)])[0] / stats(*results[("in-process floor", n)])[0] for n in levels}
    print("\ntargets:")
    print("  in-process median ack <= 1.0x floor: " + ", ".join(f"{n} senders {r:.2f}x" for n, r in inproc.items()))
    if 32 in levels:
        _, p99, eps = stats(*results[("HTTP product (worker on)", 32)])
        print(f"  HTTP at 32 senders >= 25k events/s, p99 <= 200 ms: {eps:.0f} events/s, p99 {p99:.0f} ms"
              f" -> {'MET' if eps >= 25_000 and p99 <= 200 else 'MISSED'}")  # fmt: skip
    if 1 in levels:
        on = stats(*results[("HTTP product (worker on)", 1)])[1]
        off = stats(*results[("HTTP product (worker off)", 1)])[1]
        print(f"  worker on vs off at 1 sender, p99 within 1.5x: {on:.1f} / {off:.1f} ms = {on / off:.2f}x"
              f" -> {'MET' if on <= 1.5 * off else 'MISSED'}")  # fmt: skip


if __name__ == "__main__":
    main()
