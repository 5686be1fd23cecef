"""The review loop's cost and fairness, through the real worker (SQLite store, in-memory CRM
and ledger: tests/fakes.FakeCrm, tests/fake_ledger.FakeLedger):

- CRM gateway calls per recording (match reads + attach + self-assessment task) when 1 and 100
  recordings arrive in one batch, on a generated org (500 accounts, 2,000 contacts, 1,000 open
  deals). A gateway call is one batched operation; the adapters split it into HTTP requests of
  100 (HubSpot) / 200 (Salesforce) records, so at 100 recordings one call is one request.
- Worker time per recording for that batch (median of 3 runs).
- The rotation's spread over 1,000 recordings: max - min peer assignments per eligible reviewer
  (target <= 1), with 30 reps who are also the reviewer pool (weekly cap 100).

Run: `.venv/bin/python bench/review_loop.py`.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

from integration.app import build_services  # noqa: E402
from integration.commands import Contact, CreateTask, Deal, User  # noqa: E402
from integration.config import parse  # noqa: E402
from integration.events import CREATED, Event  # noqa: E402
from integration.recordings import RECORDING_OBJECT, SOURCE_RECORDER, Recording, recording_to_changed  # noqa: E402
from integration.store.sqlite import SqliteStore  # noqa: E402
from tests.fake_ledger import FakeLedger  # noqa: E402
from tests.fakes import Clock, FakeCrm  # noqa: E402

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
REPS = [str(600 + i) for i in range(30)]


def org() -> FakeCrm:
    deals = {f"d{i}": Deal(f"d{i}", owner_id=REPS[i % len(REPS)], account_id=f"a{i % 500}", modified_at=NOW - timedelta(days=i % 30)) for i in range(1000)}
    contacts = {f"c{i}": Contact(f"c{i}", f"p{i}@acct{i % 500}.com", account_id=f"a{i % 500}") for i in range(2000)}
    roles = {f"c{i}": [f"d{i % 1000}"] for i in range(2000)}
    users = {r: User(r, email=f"rep{r}@us.io") for r in REPS}
    return FakeCrm(users=users, deals=deals, contacts=contacts, deal_contacts=roles, domains={f"acct{i}.com": [f"a{i}"] for i in range(500)})


def services(tmp: str, crm: FakeCrm, ledger: FakeLedger, clock: Clock, **settings):
    cfg = parse({"tenants": [{"id": "bench", "crm": "hubspot", "portal_id": "1", "client_secret_env": "S", "access_token_env": "T", "dry_run": False,
                              "rules": {"game_film": {"pool": REPS, "seed_reviewers": REPS, **settings}}}]})  # fmt: skip
    store = SqliteStore(Path(tmp) / "bench.db")
    return build_services({"config": cfg, "store": store, "clock": clock, "environ": {}, "worker_mode": "none",
                           "gateway_for": lambda t: crm, "ledger": ledger})  # fmt: skip


def arrive(s, clock: Clock, count: int, start: int = 0) -> list[str]:
    events = []
    for i in range(start, start + count):
        rec = Recording(f"rec:{i}", SOURCE_RECORDER, f"https://r.example/{i}", "Call", NOW - timedelta(hours=1),
                        rep_email=f"rep{REPS[i % len(REPS)]}@us.io", participants=(f"p{(i * 7) % 2000}@acct{(i * 7) % 500}.com",), consent=True)  # fmt: skip
        events.append(Event(f"rec#{i}", "bench", "hubspot", RECORDING_OBJECT, rec.external_id, CREATED, rec.started_at, str(i), recording_to_changed(rec)))
    s.store.add_events(events, clock())
    return [e.key for e in events]


def calls_per_recording(count: int) -> tuple[float, float, float]:
    runs = []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as tmp:
            crm, clock = org(), Clock(NOW.timestamp())
            s = services(tmp, crm, FakeLedger(), clock)
            keys = arrive(s, clock, count)
            started = time.perf_counter()
            report = s.worker.process(keys)
            elapsed = time.perf_counter() - started
            assert len(report.done) == count, report
            reads = sum(1 for op, _ in crm.calls if op.startswith(("find", "deals_for", "read")))
            runs.append((reads / count, len(crm.calls) / count, elapsed / count * 1000))
            s.store.close()
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), statistics.median(r[2] for r in runs)


def spread(recordings: int = 1000) -> tuple[int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        crm, clock, ledger = org(), Clock(NOW.timestamp()), FakeLedger()
        s = services(tmp, crm, ledger, clock, grace_hours=0, weekly_cap=100, reviewers_per_call=2)
        for start in range(0, recordings, 100):
            s.worker.process(arrive(s, clock, 100, start))
            clock.advance(3600)
            s.worker.insert_ticks()
            while s.worker.run_due().done:
                pass
        counts = Counter(c.owner_id for c in crm.written if isinstance(c, CreateTask) and "#peer#" in c.key)
        s.store.close()
        return max(counts.values()) - min(counts.get(r, 0) for r in REPS), sum(counts.values())


def main() -> None:
    print(f"{'recordings':>10} {'CRM reads/rec':>14} {'CRM calls/rec':>14} {'worker ms/rec':>14}")
    for n in (1, 100):
        reads, calls, ms = calls_per_recording(n)
        print(f"{n:>10} {reads:>14.3f} {calls:>14.3f} {ms:>14.2f}")
    gap, total = spread()
    print(f"\nrotation over 1,000 recordings: {total} peer tasks, max - min per reviewer = {gap} (target <= 1): {'met' if gap <= 1 else 'MISSED'}")


if __name__ == "__main__":
    main()
