"""CRM requests per submitted review, through the real worker and the real adapters:
HubSpot (hubspot-api-client against the loopback fake, tests/hubspot_server.py) and Salesforce
(simple-salesforce on `responses`, every sObject Collections PATCH/POST answered with successes).

Setup (not counted): N recordings attached on an in-memory CRM, one peer each by rotation.
Then N peer reviews are stored as the entry paths store them and processed with the real
gateway: one at a time (one worker batch per review) and all together (one batch). Counted:
HTTP requests to the CRM, divided by N. Targets: <= 3 one at a time, <= 0.1 per review at 100.

Run: `.venv/bin/python bench/reviews.py`.
"""
from __future__ import annotations

import itertools
import json
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

import responses  # noqa: E402

from integration.app import build_services  # noqa: E402
from integration.commands import Deal, User  # noqa: E402
from integration.config import parse  # noqa: E402
from integration.events import CREATED, Event  # noqa: E402
from integration.gateway.hubspot import HubSpotGateway  # noqa: E402
from integration.gateway.salesforce import SalesforceGateway  # noqa: E402
from integration.recordings import RECORDING_OBJECT, SOURCE_RECORDER, Recording, recording_to_changed  # noqa: E402
from integration.review.submitted import FROM_HUBSPOT_CARD, FROM_SALESFORCE_RECORD, Submitted  # noqa: E402
from integration.review_form import ValidReview  # noqa: E402
from integration.rubric import DEFAULT_RUBRIC  # noqa: E402
from integration.scoring import weighted_score  # noqa: E402
from integration.store.sqlite import SqliteStore  # noqa: E402
from tests.fake_ledger import FakeLedger  # noqa: E402
from tests.fakes import Clock, FakeCrm  # noqa: E402
from tests.hubspot_server import HubSpotServer  # noqa: E402
from tests.review_events import event  # noqa: E402
from tests.salesforce_http import COLLECTIONS, Connector, created, sf_id  # noqa: E402

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
REPS = [str(600 + i) for i in range(20)]
TENANT = "acme-hubspot"  # tests.review_events keys events with this tenant id
CONNECTIONS: dict[str, dict[str, Any]] = {
    "hubspot": {"crm": "hubspot", "portal_id": "1", "client_secret_env": "S", "access_token_env": "T"},
    "salesforce": {"crm": "salesforce", "org_id": "00D000000000001AAA", "shared_secret_envs": ["S"],
                   "instance_url": "https://acme.my.salesforce.com", "auth": "session", "session_id_env": "T"},
}  # fmt: skip


class Current:
    """The gateway the worker gets (the app keeps one per tenant): it passes every call on to
    the in-memory CRM during the setup and to the real adapter after."""

    def __init__(self, crm: Any) -> None:
        self.crm = crm

    def __call__(self, tenant: Any) -> Any:
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self.crm, name)


def setup(tmp: str, crm_name: str, count: int) -> tuple[Any, FakeLedger, Current, Clock]:
    users = {r: User(r, email=f"rep{r}@us.io") for r in REPS}
    deals = {f"d{i}": Deal(f"d{i}", owner_id=REPS[i % len(REPS)]) for i in range(count)}
    fake, clock, ledger = FakeCrm(users=users, deals=deals, id_prefix=""), Clock(NOW.timestamp()), FakeLedger()
    current = Current(fake)
    cfg = parse({"tenants": [{"id": TENANT, **CONNECTIONS[crm_name], "dry_run": False, "rules": {"game_film": {
        "pool": REPS, "seed_reviewers": REPS, "reviewers_per_call": 1, "grace_hours": 0, "weekly_cap": 100}}}]})  # fmt: skip
    s = build_services({"config": cfg, "store": SqliteStore(Path(tmp) / "bench.db"), "clock": clock, "environ": {"S": "x", "T": "y"},
                        "worker_mode": "none", "gateway_for": current, "ledger": ledger})  # fmt: skip
    events = []
    for i in range(count):
        rec = Recording(f"rec:{i}", SOURCE_RECORDER, f"https://r.example/{i}", "Call", NOW - timedelta(hours=1), rep_email=f"rep{REPS[i % len(REPS)]}@us.io",
                        consent=True, deal_id=f"d{i}")  # fmt: skip
        events.append(Event(f"rec#{i}", TENANT, crm_name, RECORDING_OBJECT, rec.external_id, CREATED, rec.started_at, str(i), recording_to_changed(rec)))
    s.store.add_events(events, clock())
    while s.worker.run_due().done:
        pass
    clock.advance(3600)
    s.worker.insert_ticks()
    while s.worker.run_due().done:
        pass
    return s, ledger, current, clock


def reviews(s: Any, ledger: FakeLedger, clock: Clock, count: int, salesforce: bool) -> list[Event]:
    out = []
    marks = dict(zip(DEFAULT_RUBRIC.keys, (4, 5, 3, 4)))
    for i in range(count):
        [a] = ledger.of(TENANT, f"rec:{i}", "peer")
        entry = ledger.get_recordings(TENANT, [f"rec:{i}"])[f"rec:{i}"]
        review = ValidReview(task_id=a.task_id or "", call_external_id=f"rec:{i}", deal_id=entry.deal_id, rep_id=entry.rep_user_id or "",
                             reviewer_id=a.reviewer_id, self_assessment=False, scores=marks, weighted_score=weighted_score(DEFAULT_RUBRIC, marks),
                             strengths="Clear agenda", suggestions=("Ask about budget earlier",))  # fmt: skip
        source, crm_id = (FROM_SALESFORCE_RECORD, sf_id("a0X", i)) if salesforce else (FROM_HUBSPOT_CARD, None)
        out.append(event(Submitted(review, datetime.fromtimestamp(clock(), tz=timezone.utc), source, crm_id), crm="salesforce" if salesforce else "hubspot"))
    return out


def process(s: Any, events: list[Event], together: bool, clock: Clock) -> None:
    groups = [events] if together else [[e] for e in events]
    for group in groups:
        s.store.add_events(group, clock())
        report = s.worker.process([e.key for e in group])
        assert not report.failed, [s.store.get_event(k).last_error for k in report.failed]


def hubspot(count: int, together: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp, HubSpotServer() as server:
        s, ledger, current, clock = setup(tmp, "hubspot", count)
        for i in range(count):
            server.add_deal(f"d{i}")
            [a] = ledger.of(TENANT, f"rec:{i}", "peer")
            server.add_object("tasks", str(s.store.get_action(a.task_key).crm_id))
            server.add_object("calls", str(s.store.get_action(f"call#{TENANT}#rec:{i}").crm_id))
        current.crm = HubSpotGateway("pat", host=server.url)
        process(s, reviews(s, ledger, clock, count, False), together, clock)
        sent = len(server.requests)
        current.crm.close()
        s.store.close()
        return sent / count


def salesforce(count: int, together: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp, responses.RequestsMock() as http:
        numbers = itertools.count(1)

        def saved(request: Any) -> tuple[int, dict, str]:
            records = json.loads(request.body)["records"]
            return 200, {}, json.dumps(created(*(r.get("id") or sf_id("a00", next(numbers)) for r in records)))

        for method in (responses.PATCH, responses.POST):  # updates; the rep's Call_Review__Share inserts
            http.add_callback(method, COLLECTIONS, callback=saved)
        s, ledger, current, clock = setup(tmp, "salesforce", count)
        current.crm = SalesforceGateway(Connector())
        process(s, reviews(s, ledger, clock, count, True), together, clock)
        sent = len(http.calls)
        s.store.close()
        return sent / count


def main() -> None:
    print(f"{'CRM':<11} {'reviews':>7} {'delivered':<14} {'requests/review':>16}  target")
    for name, run in (("HubSpot", hubspot), ("Salesforce", salesforce)):
        for count, together, target in ((10, False, 3.0), (100, True, 0.1)):
            per = run(count, together)
            print(f"{name:<11} {count:>7} {'together' if together else 'one at a time':<14} {per:>16.3f}  <= {target} {'met' if per <= target else 'MISSED'}")


if __name__ == "__main__":
    main()
