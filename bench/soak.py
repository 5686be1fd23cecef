"""Soak: 20,000 signed webhook posts on a real `gamefilm serve`; open fds and RSS must stay flat.

The server runs as a user starts it (the CLI, SQLite on disk, the worker on in its child
process, processing every event with a dry-run rule); both processes are measured. Senders open a NEW connection per request, as
HubSpot does when it spreads deliveries: the pattern that used to leak a SQLite connection
(~2 fds, ~0.8 MiB) per request. Prints the server's fds, RSS and threads at intervals.

    python bench/soak.py [--requests 20000] [--senders 8] [--every 2000]
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from integration import samples  # noqa: E402

SECRET = "soak-hubspot-client-secret"
PORTAL = "62515"
CONFIG = """
[store]
path = "{db}"
[worker]
mode = "thread"
poll_seconds = 1
[[tenants]]
id = "soak-hubspot"
crm = "hubspot"
portal_id = "{portal}"
client_secret_env = "SOAK_HS_SECRET"
dry_run = true
[tenants.rules.note_on_change]
properties = ["amount"]
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_stats(pid: int) -> tuple[int, float, int]:
    """Open fds, RSS in MiB and threads of a running process (Linux /proc)."""
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return fds, int(status["VmRSS"].split()[0]) / 1024, int(status["Threads"])


def worker_pid(server_pid: int) -> int | None:
    """The worker process `gamefilm serve` started (its only child)."""
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    return int(children[0]) if children else None


def post(port: int, n: int) -> int:
    events = samples.hubspot_events(PORTAL, [str(100_000 + n % 5000)], str(1000 + n), occurred_at_ms=1_795_000_000_000 + n)
    events[0]["eventId"] = n
    body = json.dumps(events).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/hooks/hubspot", body=body,
                     headers=samples.hubspot_headers(SECRET, f"http://127.0.0.1:{port}/hooks/hubspot", body))  # fmt: skip
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--every", type=int, default=2_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gamefilm-soak-") as tmp:
        config = Path(tmp) / "soak.toml"
        config.write_text(CONFIG.format(db=Path(tmp) / "soak.db", portal=PORTAL))
        port = free_port()
        env = {**os.environ, "SOAK_HS_SECRET": SECRET, "GAMEFILM_LOG_LEVEL": "WARNING"}
        server = subprocess.Popen([sys.executable, "-m", "integration.cli", "--config", str(config), "serve", "--port", str(port)],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL)  # fmt: skip
        try:
            for _ in range(300):
                try:
                    post(port, 0)
                    break
                except OSError:
                    time.sleep(0.1)
            numbers = itertools.count(1)
            lock = threading.Lock()
            failures: list[int] = []
            done = [0]
            started = time.perf_counter()
            wal = Path(tmp) / "soak.db-wal"

            def wal_mib() -> float:
                return wal.stat().st_size / 2**20 if wal.exists() else 0.0

            print(f"{'requests':>9} {'fds':>5} {'RSS MiB':>8} {'threads':>8} {'WAL MiB':>8} {'req/s':>7} {'worker fds':>10} {'worker RSS':>10}")
            fds, rss, threads_n = process_stats(server.pid)
            child = worker_pid(server.pid)
            wfds, wrss, _ = process_stats(child) if child else (0, 0.0, 0)
            print(f"{0:9d} {fds:5d} {rss:8.1f} {threads_n:8d} {wal_mib():8.1f} {'':>7} {wfds:10d} {wrss:10.1f}")
            samples_seen: list[tuple[int, int, float]] = []
            worker_seen: list[tuple[int, float]] = []

            def sender() -> None:
                while True:
                    with lock:
                        n = next(numbers)
                    if n > args.requests:
                        return
                    status = post(port, n)
                    with lock:
                        done[0] += 1
                        if status != 200:
                            failures.append(status)
                        if done[0] % args.every == 0:
                            fds, rss, threads = process_stats(server.pid)
                            wfds, wrss, _ = process_stats(child) if child else (0, 0.0, 0)
                            samples_seen.append((done[0], fds, rss))
                            worker_seen.append((wfds, wrss))
                            rate = done[0] / (time.perf_counter() - started)
                            print(f"{done[0]:9d} {fds:5d} {rss:8.1f} {threads:8d} {wal_mib():8.1f} {rate:7.0f} {wfds:10d} {wrss:10.1f}", flush=True)

            threads = [threading.Thread(target=sender) for _ in range(args.senders)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            time.sleep(2)  # let the worker settle the last events
            with sqlite3.connect(Path(tmp) / "soak.db") as db:
                stored = db.execute("SELECT count(*) FROM events").fetchone()[0]
                by_status = dict(db.execute("SELECT status, count(*) FROM events GROUP BY status").fetchall())
            print(f"non-200 answers: {len(failures)}; events stored: {stored} {by_status}")
            if len(samples_seen) >= 2:
                (n0, fds0, rss0), (n1, fds1, rss1) = samples_seen[0], samples_seen[-1]
                print(f"from request {n0} to {n1}: fds {fds0} -> {fds1} ({fds1 - fds0:+d}), RSS {rss0:.1f} -> {rss1:.1f} MiB"
                      f" ({rss1 - rss0:+.1f}) -> {'FLAT' if fds1 - fds0 <= 3 and rss1 - rss0 < 20 else 'GROWING'}")  # fmt: skip
                (wfds0, wrss0), (wfds1, wrss1) = worker_seen[0], worker_seen[-1]
                print(f"worker process: fds {wfds0} -> {wfds1} ({wfds1 - wfds0:+d}), RSS {wrss0:.1f} -> {wrss1:.1f} MiB"
                      f" ({wrss1 - wrss0:+.1f}) -> {'FLAT' if wfds1 - wfds0 <= 3 and wrss1 - wrss0 < 20 else 'GROWING'}")  # fmt: skip
        finally:
            server.terminate()
            print(f"server exit code after SIGTERM: {server.wait(30)}")


if __name__ == "__main__":
    main()
