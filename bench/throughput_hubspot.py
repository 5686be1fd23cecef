"""HubSpot throughput against the API limit (issue 7, item 6); part of bench/throughput.py.

10,000 HubSpot deal events (amount changes on distinct deals, each crossing a tier: one
collaborator to add per deal, no note) are posted, signed, to the app in webhook deliveries
of 100; the app's real background worker (config `worker.concurrency`, default 4) processes
them through the real hubspot-api-client against the loopback fake HubSpot, which enforces
100 requests per rolling 10 s (429 beyond, live X-HubSpot-RateLimit-* headers) and answers
each request after 100 ms.

The events are stored through the webhook first; then the worker starts. Printed: events/s
(worker start to last event settled), requests made (and 429s), the ceiling the limit imposes
on the requests this run needed (R requests at 100 per 10 s take R / 10 s), the same for the
ideal of 2 requests per 100 events (one batch read, one batch update), the share of each
reached (target >= 80% of the first), a stricter ceiling that lets the rolling window's first
100 requests go at once, and failed/dead events (target 0).
Run alone: `.venv/bin/python bench/throughput_hubspot.py [EVENTS]`.
"""
from __future__ import annotations

import json
import logging
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from integration import events as ev  # noqa: E402
from integration import samples  # noqa: E402
from integration.app import create_app  # noqa: E402
from integration.config import parse  # noqa: E402
from tests.hubspot_server import HubSpotServer  # noqa: E402

SECRET = "bench-secret"
PORTAL = "62515"
LIMIT, WINDOW, LATENCY = 100, 10.0, 0.1
TIER = [{"name": "big", "amount": 100000, "leaders": ["7001"]}]


def ceiling(events: int, requests: int) -> float:
    """Events/s if `requests` went out at the limit's rate (LIMIT per WINDOW)."""
    return events / (requests * WINDOW / LIMIT)


def burst_ceiling(events: int, requests: int) -> float:
    """Stricter: a rolling window lets a full window's requests go at once, then LIMIT more
    per further window; the last answered after LATENCY."""
    return events / ((math.ceil(requests / LIMIT) - 1) * WINDOW + LATENCY)


def run(n: int = 10_000, timeout: float = 600.0) -> dict[str, Any]:
    logging.disable(logging.WARNING)  # a 429 now and then is logged by the worker; counted below
    with tempfile.TemporaryDirectory() as tmp, HubSpotServer() as server:
        for i in range(n):
            server.add_deal(str(100_000 + i), amount="150000", hubspot_owner_id="7000", hs_is_closed="false",
                            hs_all_collaborator_owner_ids="", pipeline="default")  # fmt: skip
        server.enforce_limit(LIMIT, WINDOW)
        server.latency = LATENCY
        tenant = {"id": "hs", "crm": "hubspot", "portal_id": PORTAL, "client_secret_env": "S", "access_token_env": "T",
                  "api_base_url": server.url, "rate_limit_per_10s": LIMIT, "rules": {"threshold": TIER}}  # fmt: skip
        cfg = parse({"tenants": [tenant], "store": {"path": f"{tmp}/throughput.db"}, "worker": {"poll_seconds": 0.05}})
        app = create_app({"config": cfg, "environ": {"S": SECRET, "T": "pat"}, "worker_mode": "thread", "start_worker": False})
        services = app.extensions["gamefilm"]
        client = app.test_client()
        posting = time.monotonic()
        for start in range(0, n, 100):
            items = samples.hubspot_events(PORTAL, [str(100_000 + i) for i in range(start, min(n, start + 100))], "150000")
            for offset, item in enumerate(items):
                item["eventId"] = 7_000_000 + start + offset
            body = json.dumps(items).encode()
            reply = client.post("/hooks/hubspot", data=body, headers=samples.hubspot_headers(SECRET, "http://localhost/hooks/hubspot", body))
            assert reply.status_code == 200 and reply.get_json()["accepted"] == len(items), reply.get_json()
        posted = time.monotonic() - posting
        began, cpu = time.monotonic(), time.process_time()
        services.background.start()
        settled = _wait(services, began + timeout)
        elapsed, cpu = time.monotonic() - began, time.process_time() - cpu
        services.background.stop(timeout=30)
        events = services.store.list_events(limit=2 * n)
        collaborated = sum(1 for d in server.objects["deals"].values() if d.get("hs_all_collaborator_owner_ids") == "7001")
        return {
            "events": n,
            "seconds": elapsed,
            "posted": posted,
            "cpu": cpu,
            "settled": settled,
            "requests": len(server.requests),
            "rejected": server.rejected,
            "done": sum(1 for e in events if e.status == ev.DONE),
            "failed": sum(1 for e in events if e.status != ev.DONE),
            "retried": sum(1 for e in events if e.last_error),
            "dead": sum(1 for e in events if e.status == ev.DEAD),
            "collaborated": collaborated,
            "concurrency": cfg.worker.concurrency,
        }


def _wait(services: Any, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if not any(services.store.list_events(status=s, limit=1) for s in (ev.PENDING, ev.PROCESSING)):
            return True
        time.sleep(0.2)
    return False


def report(r: dict[str, Any]) -> None:
    rate = r["events"] / r["seconds"]
    needed = r["requests"] - r["rejected"]
    ideal_requests = math.ceil(r["events"] / 100) * 2
    limit, ideal, burst = ceiling(r["events"], needed), ceiling(r["events"], ideal_requests), burst_ceiling(r["events"], needed)
    print(f"hubspot: {r['events']} deal events, limit {LIMIT} requests / {WINDOW:.0f} s, {LATENCY * 1000:.0f} ms latency, "
          f"worker.concurrency {r['concurrency']}")  # fmt: skip
    print(f"  intake: {r['events']} events posted in deliveries of 100 in {r['posted']:.1f} s, then the worker started")
    print(f"  worker: {rate:,.1f} events/s ({r['seconds']:.1f} s; all settled: {r['settled']}); {r['done']} done, "
          f"{r['collaborated']} deals with the leader added")  # fmt: skip
    print(f"  requests {r['requests']} ({r['rejected']} answered 429), {needed / r['events'] * 100:.2f} per 100 events")
    print(f"  limit-imposed ceiling for these {needed} requests at {LIMIT} per {WINDOW:.0f} s: {limit:,.1f} events/s; "
          f"reached {rate / limit:.0%} (target >= 80%)")  # fmt: skip
    print(f"  ideal ceiling ({ideal_requests} requests, 2 per 100 events): {ideal:,.1f} events/s; reached {rate / ideal:.0%}")
    print(f"  stricter, with the rolling window's first burst: {burst:,.1f} events/s; reached {rate / burst:.0%}")
    print(f"  CPU of this process meanwhile (worker and stand-in, one GIL): {r['cpu']:.1f} s, {r['cpu'] / r['events'] * 1e6:,.0f} us per event, "
          f"{r['cpu'] / r['seconds']:.0%} of the wall time (a loaded machine starves it: compare with `uptime`)")  # fmt: skip
    print(f"  failed events {r['failed']}, dead {r['dead']} (target 0); {r['retried']} events failed an attempt and were retried")


def main() -> None:
    report(run(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000))


if __name__ == "__main__":
    main()
