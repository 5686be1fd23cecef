"""Salesforce HTTP requests per recording (issue 9): match + attach + review tasks, through the
real app (SQLite store and its review ledger), the real worker and the real SalesforceGateway on
simple-salesforce, against a `responses` org (tests/salesforce_records.py) seeded from
bench/org.py's generated org (ids made Salesforce-shaped, 18 characters, so SOQL URLs are as
long as in a real org).

For 1 and 100 recordings posted together to `/hooks/recordings` (one signed post): the
requests of the worker's pass over them (matching reads, call Task upserts, self-assessment
Tasks), then those of the tick after the grace period that assigns and creates the peer review
Tasks, run by a new process (a cold Lambda: the adapter remembers nothing). Each call Task is
also checked against the opportunity bench/org.py says is the one right answer. Printed by kind (`query <sObject>`, `upsert Task.<field>`, ...). Target at 100:
<= 0.1 requests per recording.
Run: `.venv/bin/python bench/recordings_salesforce.py` (also run by bench/recordings.py).
"""
from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

import responses  # noqa: E402

from bench.org import Case, Org, generate_cases, generate_org  # noqa: E402
from integration.app import create_app  # noqa: E402
from integration.config import parse  # noqa: E402
from integration.signature import gamefilm_header  # noqa: E402
from integration.store.sqlite import SqliteStore  # noqa: E402
from tests.fakes import Clock  # noqa: E402
from tests.salesforce_records import INSTANCE, SeededOrg, sf_time  # noqa: E402

ORG_ID = "00D5e0000001BnchAA"
SECRET = "bench-recorder-secret"
TARGET = 0.1
PREFIX = {"005U": "005", "001A": "001", "001S": "001", "003C": "003", "003I": "003", "006D": "006", "006G": "006"}


def sf_id(generated: str) -> str:
    """A generated id (`006D00042`) as an 18-character Salesforce id with the object's prefix."""
    digits = "".join(ch for ch in generated if ch.isdigit()) or "0"
    tag = str(sum(map(ord, generated[:4])) % 1000)  # keeps 001A00001 and 001SELF apart
    return f"{PREFIX.get(generated[:4], generated[:3])}{tag:>03}{int(digits):09d}AAA"


def seed(org: SeededOrg, generated: Org) -> None:
    for user in generated.users.values():
        org.add("User", sf_id(user.id), Name=user.name, Email=user.email, IsActive=user.active, ManagerId=None)
    for account_id, domains in generated.accounts.items():
        org.add("Account", sf_id(account_id), Name=account_id, Website=f"https://www.{domains[0]}/")
    for contact in generated.contacts.values():
        org.add("Contact", sf_id(contact.id), Email=contact.email, Name=contact.name, AccountId=sf_id(contact.account_id or ""))
    for deal in generated.deals.values():
        opp = sf_id(deal.id)
        org.add("Opportunity", opp, Name=deal.name, Amount=1000.0, OwnerId=sf_id(deal.owner_id or ""), StageName=deal.stage,
                IsClosed=deal.closed, CloseDate=(deal.closed_at or datetime(2026, 12, 31, tzinfo=timezone.utc)).date().isoformat(),
                AccountId=sf_id(deal.account_id) if deal.account_id else None)  # fmt: skip
        org.records[opp]["LastModifiedDate"] = sf_time(deal.modified_at or datetime(2026, 11, 1, tzinfo=timezone.utc))
        for user_id in sorted(deal.collaborators):
            org.add("OpportunityTeamMember", OpportunityId=opp, UserId=sf_id(user_id), TeamMemberRole="Sales Rep")
        for contact_id in sorted(generated.roles.get(deal.id, ())):
            org.add("OpportunityContactRole", OpportunityId=opp, ContactId=sf_id(contact_id), Role="Evaluator")


def payload(case: Case, i: int) -> dict[str, Any]:
    r = case.recording
    return {"id": f"bench-{i}", "recording_url": r.recording_url.replace("http://", "https://"), "title": r.title,
            "started_at": r.started_at.isoformat(), "duration_seconds": (r.duration_ms or 0) // 1000, "rep_email": r.rep_email,
            "participants": list(r.participants), "deal_id": sf_id(r.deal_id) if r.deal_id else None, "consent": True}  # fmt: skip


def measure(generated: Org, cases: list[Case], count: int, pool: list[str]) -> tuple[Counter[str], Counter[str], int]:
    """(requests of the arrival pass, requests of the peers' tick, call Tasks on the expected
    opportunity) for `count` recordings posted together."""
    from simple_salesforce import Salesforce

    from integration.gateway.salesforce import SalesforceGateway

    clock = Clock(datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc).timestamp())
    with tempfile.TemporaryDirectory() as tmp, responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        org = SeededOrg(http, now=lambda: datetime.fromtimestamp(clock(), tz=timezone.utc))
        seed(org, generated)
        cfg = parse({"tenants": [{
            "id": "bench", "crm": "salesforce", "org_id": ORG_ID, "instance_url": INSTANCE, "auth": "session", "session_id_env": "SF_SESSION",
            "shared_secret_envs": ["SF_REC"], "recorder_secret_envs": ["SF_REC"], "dry_run": False,
            "rules": {"game_film": {"pool": pool, "seed_reviewers": pool, "weekly_cap": 100, "grace_hours": 48}},
        }]})  # fmt: skip
        store = SqliteStore(Path(tmp) / "bench.db")

        def make_app() -> Any:
            return create_app({"config": cfg, "store": store, "clock": clock, "environ": {"SF_REC": SECRET, "SF_SESSION": "s"}, "worker_mode": "none",
                               "gateway_for": lambda t: SalesforceGateway(lambda: Salesforce(instance_url=INSTANCE, session_id="s"), sleep=lambda s: None,
                                                                          now=lambda: datetime.fromtimestamp(clock(), tz=timezone.utc))})  # fmt: skip

        app = make_app()
        services = app.extensions["gamefilm"]
        body = json.dumps({"recordings": [payload(c, i) for i, c in enumerate(cases[:count])]}).encode()
        headers = {"Content-Type": "application/json", "X-GameFilm-Signature": gamefilm_header(SECRET, body, int(clock()))}
        answer = app.test_client().post("/hooks/recordings", data=body, headers=headers)
        assert answer.status_code == 200 and answer.get_json()["accepted"] == count, answer.get_json()
        report = services.worker.run_due()
        assert not report.failed and len(report.done) == count, report
        arrival = Counter(org.kinds())
        expected = {f"rec:bench-{i}": sf_id(c.expected or "") for i, c in enumerate(cases[:count])}
        right = sum(1 for t in org.of_type("Task", TaskSubtype="Call") if expected.get(t["GameFilm_Recording_Id__c"]) == t["WhatId"])
        org.requests.clear()
        clock.advance(49 * 3600)
        services = make_app().extensions["gamefilm"]  # the tick runs in a new process (a cold Lambda): nothing remembered
        services.worker.insert_ticks()
        report = services.worker.run_due()
        assert not report.failed, report
        peers = Counter(org.kinds())
        store.close()
    return arrival, peers, right


def run(generated: Org, cases: list[Case]) -> None:
    matchable = [c for c in cases if c.expected is not None][:100]
    reps = sorted({sf_id(u.id) for u in generated.users.values() if u.active})
    print(f"\nSalesforce HTTP requests per recording (real app + worker + simple-salesforce; {len(generated.accounts)} accounts, "
          f"{len(generated.contacts)} contacts, {len(generated.deals)} opportunities in the org)")  # fmt: skip
    print(f"{'recordings together':<20} {'on the right opp':>16} {'arrival':>8} {'per rec':>8} {'peers tick':>11} {'per rec':>8} {'all/rec':>8}")
    for count in (1, 100):
        arrival, peers, right = measure(generated, matchable, count, reps)
        a, p = sum(arrival.values()), sum(peers.values())
        verdict = f"   target <= {TARGET}: {'met' if (a + p) / count <= TARGET else 'MISSED'}" if count == 100 else ""
        print(f"{count:<20} {f'{right}/{count}':>16} {a:>8} {a / count:>8.3f} {p:>11} {p / count:>8.3f} {(a + p) / count:>8.3f}{verdict}")
        print("  arrival (match + attach + self-assessment): " + ", ".join(f"{k} {n}" for k, n in sorted(arrival.items())))
        print("  peers tick (rotation + peer tasks):         " + ", ".join(f"{k} {n}" for k, n in sorted(peers.items())))


def main() -> None:
    generated = generate_org()
    run(generated, generate_cases(generated, 300))


if __name__ == "__main__":
    main()
