"""16 senders over real sockets for ~2 s, valid and hostile requests mixed, against the
waitress Server whose store fails 5% of writes (half before the commit, half after it, with
the outcome unknown): no 5xx but 503 + Retry-After, and every event of every 200 is stored."""
from __future__ import annotations

import http.client
import json
import random
import sqlite3
import threading
import time

from integration.server import Server
from integration.signature import hubspot_v3_signature
from tests.conftest import HUBSPOT_SECRET, PORTAL_ID


class FlakyStore:
    def __init__(self, inner, rng: random.Random):
        self.inner, self.rng, self.lock, self.failures = inner, rng, threading.Lock(), 0

    def add_events(self, events, now):
        with self.lock:
            roll = self.rng.random()
        if roll < 0.025:
            self.failures += 1
            raise sqlite3.OperationalError("disk I/O error")
        if roll < 0.05:
            self.failures += 1
            self.inner.add_events(events, now)
            raise TimeoutError("commit outcome unknown")
        return self.inner.add_events(events, now)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_under_concurrent_load_and_store_faults_every_ack_is_stored(make_app, store):
    flaky = FlakyStore(store, random.Random(7))
    server = Server(make_app(store=flaky, clock=time.time), "127.0.0.1", 0, threads=16)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    acked: set[str] = set()
    statuses: dict[int, int] = {}
    problems: list = []
    lock = threading.Lock()
    ids = iter(range(1, 10**9))

    def sender(n: int) -> None:
        rng = random.Random(n)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            now = int(time.time() * 1000)
            with lock:
                events = [{"eventId": next(ids), "subscriptionId": 7, "portalId": int(PORTAL_ID), "occurredAt": now,
                           "subscriptionType": "deal.creation", "objectId": 1000 + i} for i in range(rng.choice([1, 10, 100]))]  # fmt: skip
            body = json.dumps(events).encode()
            kind = rng.random()
            secret = HUBSPOT_SECRET if kind < 0.7 else "wrong-secret"
            if 0.7 <= kind < 0.8:
                body = b"[" * 64
                secret = HUBSPOT_SECRET
            ts = str(now)
            headers = {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": ts,
                       "X-HubSpot-Signature-v3": hubspot_v3_signature(secret, "POST", f"http://127.0.0.1:{server.port}/hooks/hubspot", body, ts)}  # fmt: skip
            conn.request("POST", "/hooks/hubspot", body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            with lock:
                statuses[response.status] = statuses.get(response.status, 0) + 1
                if response.status == 200:
                    acked.update(f"hubspot#{PORTAL_ID}#{e['occurredAt']}#{e['eventId']}#7#{e['objectId']}" for e in events)
                elif response.status == 503 and response.getheader("Retry-After") != "30":
                    problems.append(("503 without Retry-After", answer))
                elif response.status >= 500 and response.status != 503:
                    problems.append((response.status, answer))
        conn.close()

    senders = [threading.Thread(target=sender, args=(n,)) for n in range(16)]
    for t in senders:
        t.start()
    for t in senders:
        t.join(30)
    server.stop()
    thread.join(30)
    assert problems == []
    assert statuses.get(200, 0) > 50 and statuses.get(503, 0) > 0 and statuses.get(401, 0) > 0 and statuses.get(400, 0) > 0
    with sqlite3.connect(store.path) as db:
        stored = {key for (key,) in db.execute("SELECT key FROM events")}
    assert acked - stored == set()
