"""Hostile load: 32 senders for ~20 s on a real `gamefilm serve`, valid and hostile requests
mixed; then SIGTERM, and every event of every 200 must be in the SQLite file.

Mix per sender: signed HubSpot batches of 1/10/100 events (some redelivered), signed
Salesforce JSON, bad signatures, over-deep JSON, bodies over the limit, bad XML, raw framing
errors (bad request line, negative Content-Length, bad chunk size) and senders that stop
mid-body. With --failing-store the app runs in this process on the same waitress Server with
a store failing 5% of writes (half before the commit, half after it with the outcome
unknown): the only 5xx allowed is 503 with Retry-After. Prints statuses, p50/p99/max and
missing events (must be 0).

    python bench/hostile_load.py [--seconds 20] [--senders 32] [--failing-store]
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from integration.signature import gamefilm_header, hubspot_v3_signature  # noqa: E402

HS, SF = "demo-hubspot-client-secret", "demo-salesforce-shared-secret"
ORG, PORTAL = "00D5e0000001DmoEAA", 62515
RAW_HOSTILE = [
    b"GARBAGE\r\n\r\n",
    b"POST /hooks/hubspot HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"POST /hooks/hubspot HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
]


def config_text(db: Path) -> str:
    text = (ROOT / "config" / "gamefilm.example.toml").read_text()
    return text.replace('path = "../var/gamefilm.db"', f'path = "{db}"')


def raw_status(port: int, data: bytes) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        received = b""
        while chunk := s.recv(65536):
            received += chunk
    return int(received.split(b" ", 2)[1])


def start_process(tmp: Path) -> tuple[int, subprocess.Popen]:
    (tmp / "c.toml").write_text(config_text(tmp / "g.db"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = os.environ | {"GAMEFILM_DEMO_HUBSPOT_CLIENT_SECRET": HS, "GAMEFILM_DEMO_SF_SECRET": SF,
                        "GAMEFILM_DEMO_RECORDER_SECRET": "bench-recorder", "GAMEFILM_DEMO_ZOOM_SECRET_TOKEN": "bench-zoom"}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "integration.cli", "--config", str(tmp / "c.toml"), "serve", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=open(tmp / "server.log", "wb"), stderr=subprocess.STDOUT)  # fmt: skip
    for _ in range(300):
        try:
            if raw_status(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") == 200:
                return port, proc
        except OSError:
            time.sleep(0.1)
    raise SystemExit((tmp / "server.log").read_text())


def start_in_process(tmp: Path):
    from integration import config as config_mod
    from integration.app import create_app
    from integration.server import Server
    from integration.store.sqlite import SqliteStore

    (tmp / "c.toml").write_text(config_text(tmp / "g.db"))
    inner = SqliteStore(tmp / "g.db")
    rng, lock = random.Random(1), threading.Lock()

    class FailingStore:
        failures = 0

        def add_events(self, events, now):
            with lock:
                roll = rng.random()
            if roll < 0.05:
                FailingStore.failures += 1
                if roll < 0.025:
                    raise sqlite3.OperationalError("disk I/O error")
                inner.add_events(events, now)
                raise TimeoutError("commit outcome unknown")
            return inner.add_events(events, now)

        def __getattr__(self, name):
            return getattr(inner, name)

    app = create_app({"config": config_mod.load(str(tmp / "c.toml")), "store": FailingStore(),
                      "environ": {"GAMEFILM_DEMO_HUBSPOT_CLIENT_SECRET": HS, "GAMEFILM_DEMO_SF_SECRET": SF}})  # fmt: skip
    server = Server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread, FailingStore


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--senders", type=int, default=32)
    parser.add_argument("--failing-store", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gamefilm-hostile-"))
    if args.failing_store:
        import logging

        logging.disable(logging.CRITICAL)  # the app logs every 4xx; the numbers are what matter here
        server, thread, failing = start_in_process(tmp)
        port = server.port
    else:
        port, proc = start_process(tmp)
    ids = itertools.count(1)
    lock = threading.Lock()
    acked: set[str] = set()
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    problems: list = []

    def hubspot(rng: random.Random) -> tuple[bytes, list[str]]:
        now = int(time.time() * 1000)
        with lock:
            events = [{"eventId": next(ids), "subscriptionId": 7, "portalId": PORTAL, "occurredAt": now, "subscriptionType": "deal.propertyChange",
                       "objectId": 1000 + i, "propertyName": "amount", "propertyValue": "150000"} for i in range(rng.choice([1, 10, 100]))]  # fmt: skip
        return json.dumps(events).encode(), [f"hubspot#{PORTAL}#{now}#{e['eventId']}#7#{e['objectId']}" for e in events]

    def sender(n: int) -> None:
        rng = random.Random(n)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        end = time.monotonic() + args.seconds
        redelivery = None
        while time.monotonic() < end:
            kind, keys, path = rng.random(), [], "/hooks/hubspot"
            if kind < 0.65:
                body, keys = redelivery if kind < 0.1 and redelivery else hubspot(rng)
                redelivery = (body, keys)
                ts = str(int(time.time() * 1000))
                headers = {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": ts,
                           "X-HubSpot-Signature-v3": hubspot_v3_signature(HS, "POST", f"http://127.0.0.1:{port}{path}", body, ts)}  # fmt: skip
            elif kind < 0.72:
                with lock:
                    eid = next(ids)
                body = json.dumps({"organizationId": ORG, "events": [{"id": f"e{eid}", "object": "Opportunity", "recordId": "0065e00000AbCdEAAV",
                                   "occurredAt": "2026-11-20T10:00:00Z", "fields": {"Amount": 1}}]}).encode()  # fmt: skip
                keys, path = [f"salesforce#{ORG[:15]}#evt#e{eid}"], "/hooks/salesforce/events"
                headers = {"Content-Type": "application/json", "X-GameFilm-Signature": gamefilm_header(SF, body, int(time.time()))}
            elif kind < 0.78:
                body, headers = hubspot(rng)[0], {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": "1", "X-HubSpot-Signature-v3": "x"}
            elif kind < 0.84:
                body, ts = b"[" * 50, str(int(time.time() * 1000))
                headers = {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": ts,
                           "X-HubSpot-Signature-v3": hubspot_v3_signature(HS, "POST", f"http://127.0.0.1:{port}{path}", body, ts)}  # fmt: skip
            elif kind < 0.88:
                body, headers = b"x" * (1024 * 1024 + 10), {"Content-Type": "application/json"}
            elif kind < 0.92:
                body, headers, path = b"<x/>", {"Content-Type": "text/xml"}, "/hooks/salesforce/outbound"
            elif kind < 0.96:
                started = time.perf_counter()
                status = raw_status(port, rng.choice(RAW_HOSTILE))
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    latencies.append(time.perf_counter() - started)
                continue
            else:  # stops mid-body and goes away
                with socket.create_connection(("127.0.0.1", port)) as s:
                    s.sendall(b"POST /hooks/hubspot HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[{")
                continue
            started = time.perf_counter()
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            elapsed = time.perf_counter() - started
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            with lock:
                statuses[response.status] = statuses.get(response.status, 0) + 1
                latencies.append(elapsed)
                if response.status == 200:
                    acked.update(keys)
                elif response.status == 503 and response.getheader("Retry-After") is None:
                    problems.append(("503 without Retry-After", answer[:100]))
                elif response.status >= 500 and response.status != 503:
                    problems.append((response.status, answer[:100]))
        conn.close()

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(args.senders)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    if args.failing_store:
        server.stop()
        thread.join(30)
    else:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    with sqlite3.connect(tmp / "g.db") as db:
        stored = {key for (key,) in db.execute("SELECT key FROM events")}
    latencies.sort()
    q = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000  # noqa: E731
    print(f"{args.senders} senders, {wall:.1f} s, {len(latencies)} requests ({len(latencies) / wall:.0f}/s), statuses {dict(sorted(statuses.items()))}")
    print(f"latency p50 {q(0.5):.1f} ms, p99 {q(0.99):.1f} ms, max {latencies[-1] * 1000:.1f} ms")
    print(f"acknowledged events {len(acked)}, stored {len(stored)}, acknowledged but missing {len(acked - stored)}")
    if args.failing_store:
        print(f"store writes failed on purpose: {failing.failures}")
    else:
        log = (tmp / "server.log").read_text()
        errors = sum(1 for line in log.splitlines() if "Traceback" in line or '"level":"ERROR"' in line)
        print(f"server log ERROR/Traceback lines: {errors}")
    print(f"5xx other than 503 + Retry-After: {len(problems)} {problems[:3]}")
    if acked - stored or problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
