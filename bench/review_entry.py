"""Ack latency of the review entry paths, in-process (Flask test client, SQLite in a temp dir):
the HubSpot app card's POST (verify v3, ledger lookup by CRM task, owner by email, validate,
store) and the review page's POST (verify the link, ledger lookup, validate, store, render the
thank-you), each against a ledger holding `--calls` recorded calls under review.

    python bench/review_entry.py [--calls 2000] [--submissions 300]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from integration.app import create_app  # noqa: E402
from integration.commands import User  # noqa: E402
from integration.ledger import PEER, REC_ATTACHED, Assignment, RecordingEntry  # noqa: E402
from integration.review_link import review_link  # noqa: E402
from integration.rotation import iso_week  # noqa: E402
from integration.rubric import DEFAULT_RUBRIC  # noqa: E402
from integration.store.sqlite import SqliteStore  # noqa: E402
from tests.conftest import make_config  # noqa: E402
from tests.fakes import FakeCrm  # noqa: E402
from tests.review_entry import LINK_ENVIRON, LINK_SECRET, post_card  # noqa: E402

T = "acme-hubspot"


def seed(store: SqliteStore, calls: int, now: float) -> list[Assignment]:
    ledger = store.ledger()
    ledger.put_recordings([RecordingEntry(T, f"zoom:{i}", REC_ATTACHED, rep_user_id="502", deal_id=f"d{i}",
                                          recording_url=f"https://rec.example/{i}.mp3", title=f"Call {i}") for i in range(calls)], now)  # fmt: skip
    made = []
    for i in range(calls):
        x = f"zoom:{i}"
        [a] = ledger.assign(T, x, PEER, ["501"], lambda s: ["501"], lambda r, x=x: Assignment(T, x, r, PEER, f"k#{x}", now + 86400), now, iso_week(now))
        made.append(a)
    from dataclasses import replace

    made = [replace(a, task_id=str(10_000 + i)) for i, a in enumerate(made)]
    ledger.update_assignments(made, now)
    return made


def ms(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100)
    return f"median {statistics.median(samples):.2f} ms, p95 {q[94]:.2f} ms, p99 {q[98]:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--submissions", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "g.db")
        now = time.time()
        made = seed(store, args.calls, now)
        crm = FakeCrm(users={"501": User("501", "Riley", "riley@acme.example")})
        app = create_app({"config": make_config(Path(tmp)), "store": store, "clock": time.time, "environ": LINK_ENVIRON,
                          "worker_mode": "none", "gateway_for": lambda t: crm})  # fmt: skip
        client = app.test_client()
        scores = {k: 4 for k in DEFAULT_RUBRIC.keys}
        card, page = [], []
        for n in range(args.submissions):
            a = made[n % len(made)]
            payload = {"taskId": a.task_id, "strengths": f"Good call {n}", "scores": scores}
            started = time.perf_counter()
            r = post_card(client, time.time, payload)
            card.append((time.perf_counter() - started) * 1000)
            assert r.status_code == 200, r.get_json()
        for n in range(args.submissions):
            a = made[-1 - n % len(made)]
            path = review_link(T, a, "http://localhost", time.time(), secret=LINK_SECRET).removeprefix("http://localhost")
            body = urlencode({"strengths": f"Good page {n}", **{f"scores.{k}": "4" for k in DEFAULT_RUBRIC.keys}})
            started = time.perf_counter()
            r = client.post(path, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
            page.append((time.perf_counter() - started) * 1000)
            assert r.status_code == 200
        print(f"ledger: {args.calls} calls under review; {args.submissions} submissions per path (in-process, SQLite)")
        print(f"POST /hooks/hubspot/reviews: {ms(card)}")
        print(f"POST /review/<token>:        {ms(page)}")
        store.close()


if __name__ == "__main__":
    main()
