"""Exactly once under redelivery and CRM failures, end to end on both CRMs (issue 7).

1,000 mixed events (HubSpot deal creations and property changes; Salesforce outbound
messages and signed JSON events) about deals seeded across the threshold tiers (below,
'big' with a note, 'huge', closed, some leaders already on the deal) are posted, correctly
signed, with urllib to the real app served by a werkzeug thread. Every delivery is sent 3
times: some copies at once, some later, in shuffled order. 30% of CRM calls fail (reads,
updates, creates) with every fault kind (bench/faulty_crms.py). The app's background worker
processes them with short backoffs; the bench waits until every event is settled.

Then it prints the effects expected (computed here from the seeded deals and the tiers, not
from the product's rule), the effects each CRM holds, duplicates, missing, unexpected, dead
events, and whether the action log equals the CRM's state: every `done` action's effect is
present once, and no effect exists without a `done` action.
Run: `.venv/bin/python bench/faults.py [SEED] [--rate=0.3] [-v]` (-v lists what is off). Targets: 0 duplicates, 0 missing, 0 dead.
"""
from __future__ import annotations

import json
import logging
import random
import re
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Mapping

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import responses  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from bench.faulty_crms import FaultyHubSpot, FaultyOrg  # noqa: E402
from integration import events as ev  # noqa: E402
from integration import samples  # noqa: E402
from integration.app import create_app  # noqa: E402
from integration.commands import marker_for  # noqa: E402
from integration.config import parse  # noqa: E402
from integration.gateway.hubspot import HubSpotGateway  # noqa: E402
from integration.gateway.salesforce import SalesforceGateway  # noqa: E402
from integration.gateway.transport import RetryPolicy, Timeouts  # noqa: E402
from integration.signature import gamefilm_header  # noqa: E402
from tests.salesforce_org import INSTANCE  # noqa: E402

EVENTS = 1000
DEALS_PER_CRM = 200
FAULT_RATE = 0.3
SECRET = "bench-secret"
PORTAL = "62515"
ORG = "00D5e0000001AbcEAA"
HS_OWNER, HS_LEADERS, HS_OTHER = "7000", ("7001", "7002"), "7009"
SF_OWNER, SF_LEADERS, SF_OTHER = "005000000000001AAA", ("005000000000011AAA", "005000000000012AAA"), "005000000000019AAA"
BIG, HUGE = 100_000, 500_000
# Only 'big' writes a note: the expected count does not depend on how notes are grouped per tier.
HS_TIERS = [{"name": "big", "amount": BIG, "leaders": [HS_LEADERS[0]], "note": True},
            {"name": "huge", "amount": HUGE, "leaders": [HS_LEADERS[1]]}]  # fmt: skip
SF_TIERS = [{"name": "big", "amount": BIG, "leaders": [SF_LEADERS[0]], "note": True},
            {"name": "huge", "amount": HUGE, "leaders": [SF_LEADERS[1]]}]  # fmt: skip
HS_TRIGGERS = ("amount", "dealstage", "hubspot_owner_id")
Effect = tuple[str, str, str]  # (crm, deal id, leader id | "note")


def seed_deals(rng: random.Random, crm: str) -> dict[str, dict[str, Any]]:
    """Deals across the tiers; an initial team never holds the big leader on a huge deal (so
    one note per deal whatever the note grouping)."""
    big, huge = HS_LEADERS if crm == "hubspot" else SF_LEADERS
    other = HS_OTHER if crm == "hubspot" else SF_OTHER
    deals = {}
    for n in range(DEALS_PER_CRM):
        amount = rng.choice([20_000, 80_000, 150_000, 300_000, 600_000, 2_000_000])
        team = rng.choice([(), (), (), (other,), (big,) if amount < HUGE else (huge,)])
        deal_id = str(30_000 + n) if crm == "hubspot" else f"006{n:012d}AAA"
        deals[deal_id] = {"amount": amount, "closed": rng.random() < 0.15, "team": team}
    return deals


def expected_effects(crm: str, deals: dict[str, dict[str, Any]], triggered: set[str]) -> set[Effect]:
    """What the threshold tiers call for, from the seeded deals alone."""
    big, huge = HS_LEADERS if crm == "hubspot" else SF_LEADERS
    effects: set[Effect] = set()
    for deal_id in triggered:
        deal = deals[deal_id]
        if deal["closed"]:
            continue
        wanted = ([big] if deal["amount"] >= BIG else []) + ([huge] if deal["amount"] >= HUGE else [])
        new = [leader for leader in wanted if leader not in deal["team"]]
        effects |= {(crm, deal_id, leader) for leader in new}
        if big in new:
            effects.add((crm, deal_id, "note"))
    return effects


# ---- deliveries ------------------------------------------------------------------------

def deliveries(rng: random.Random, hs_deals: list[str], sf_deals: list[str]) -> tuple[list[Callable[[str], tuple[str, dict[str, str], bytes]]], set[str], set[str]]:
    """Webhook deliveries of 1-10 events each (1,000 events in all); each is a function of the
    base URL answering (path, headers, body), signed when called. Also the deals each CRM's
    events ask the rule about."""
    out: list[Callable[[str], tuple[str, dict[str, str], bytes]]] = []
    hs_triggered, sf_triggered = set(), set()
    made = 0
    while made < EVENTS:
        size = min(rng.randint(1, 10), EVENTS - made)
        kind = rng.choice(["hubspot", "hubspot", "outbound", "json"])
        if kind == "hubspot":
            items = []
            for i in range(size):
                deal = rng.choice(hs_deals)
                prop = rng.choice([*HS_TRIGGERS, "dealname", None])
                items.append({"eventId": 5_000_000 + made + i, "subscriptionId": 2_101_337, "portalId": int(PORTAL), "appId": 424242,
                              "occurredAt": 1_795_000_000_000 + rng.randint(0, 10**6), "attemptNumber": 0, "objectId": int(deal),
                              "changeSource": "CRM_UI", **({"subscriptionType": "deal.propertyChange", "propertyName": prop, "propertyValue": "1"}
                                                          if prop else {"subscriptionType": "deal.creation"})})  # fmt: skip
                if prop in (*HS_TRIGGERS, None):
                    hs_triggered.add(deal)
            out.append(_hubspot(json.dumps(items).encode()))
        elif kind == "outbound":
            notes: list[tuple[str, str, Mapping[str, str]]] = []
            for i in range(size):
                deal = rng.choice(sf_deals)
                notes.append((f"04l{made + i:015d}", "Opportunity", {"Id": deal, "Amount": "1"}))
                sf_triggered.add(deal)
            out.append(_outbound(samples.outbound_message(ORG, notes)))
        else:
            items = []
            for i in range(size):
                deal = rng.choice(sf_deals)
                items.append({"id": f"bench-{made + i}", "object": "Opportunity", "recordId": deal, "kind": rng.choice(["created", "updated"]),
                              "occurredAt": "2026-11-24T05:00:00Z", "fields": {"Amount": "1"}})  # fmt: skip
                sf_triggered.add(deal)
            out.append(_json_events(samples.salesforce_json(ORG, items)))
        made += size
    return out, hs_triggered, sf_triggered


def _hubspot(body: bytes) -> Callable[[str], tuple[str, dict[str, str], bytes]]:
    return lambda base: ("/hooks/hubspot", samples.hubspot_headers(SECRET, base + "/hooks/hubspot", body), body)


def _outbound(body: bytes) -> Callable[[str], tuple[str, dict[str, str], bytes]]:
    return lambda base: ("/hooks/salesforce/outbound", {"Content-Type": "text/xml; charset=utf-8"}, body)


def _json_events(body: bytes) -> Callable[[str], tuple[str, dict[str, str], bytes]]:
    return lambda base: ("/hooks/salesforce/events", {"Content-Type": "application/json", "X-GameFilm-Signature": gamefilm_header(SECRET, body, int(time.time()))}, body)


def post_all(rng: random.Random, base: str, planned: list[Callable[[str], tuple[str, dict[str, str], bytes]]]) -> Counter[int]:
    """Every delivery 3 times: the first copy within 8 s, the second at once (concurrently)
    or up to 5 s later, the third up to 15 s later; sent from 16 threads in time order."""
    schedule = []
    for delivery in planned:
        first = rng.uniform(0, 8)
        schedule += [(first, delivery), (first + rng.choice([0.0, rng.uniform(0, 5)]), delivery), (first + rng.uniform(0, 15), delivery)]
    schedule.sort(key=lambda item: item[0])
    statuses: Counter[int] = Counter()
    start = time.monotonic()

    def send(at: float, delivery: Callable[[str], tuple[str, dict[str, str], bytes]]) -> None:
        time.sleep(max(0.0, start + at - time.monotonic()))
        path, headers, body = delivery(base)
        request = urllib.request.Request(base + path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                statuses[response.status] += 1
        except urllib.error.HTTPError as exc:
            statuses[exc.code] += 1

    with ThreadPoolExecutor(16) as pool:
        for at, delivery in schedule:
            pool.submit(send, at, delivery)
    return statuses


# ---- what the CRMs hold --------------------------------------------------------------------

def hubspot_effects(server: FaultyHubSpot, deals: dict[str, dict[str, Any]]) -> tuple[Counter[Effect], Counter[str]]:
    """(effects with multiplicity, notes by marker)."""
    present: Counter[Effect] = Counter()
    for deal_id, deal in deals.items():
        ids = [i for i in (server.objects["deals"][deal_id].get("hs_all_collaborator_owner_ids") or "").split(";") if i]
        for i in set(ids):
            present[("hubspot", deal_id, i)] += ids.count(i) - (i in deal["team"])
    present = +present  # drop the seeded ones (zero counts)
    markers: Counter[str] = Counter()
    links = server.associations.get(("notes", "deals"), {})
    for note_id, note in server.objects.get("notes", {}).items():
        for deal_id in links.get(note_id, []):
            present[("hubspot", deal_id, "note")] += 1
        markers.update(re.findall(r"gf-[0-9a-f]{20}", note.get("hs_note_body", "")))
    return present, markers


def salesforce_effects(org: FaultyOrg, deals: dict[str, dict[str, Any]]) -> tuple[Counter[Effect], Counter[str]]:
    present: Counter[Effect] = Counter()
    for member in org.of_type("OpportunityTeamMember"):
        if not member["Id"].endswith("SEE"):  # seeded: a person's earlier addition
            present[("salesforce", member["OpportunityId"], member["UserId"])] += 1
    markers: Counter[str] = Counter()
    for item in org.of_type("FeedItem"):
        present[("salesforce", item["ParentId"], "note")] += 1
        markers.update(re.findall(r"gf-[0-9a-f]{20}", item["Body"]))
    return present, markers


def compare_log(actions: list[Any], crm_of: dict[str, str], present: Counter[Effect], markers: Counter[str]) -> dict[str, Any]:
    """The action log against the CRMs' state."""
    done: set[Effect] = set()
    done_markers: set[str] = set()
    not_done = 0
    off = 0  # done actions whose effect is absent or present more than once
    for action in actions:
        crm = crm_of[action.tenant]
        if action.status != "done":
            not_done += 1
            continue
        if action.op == "AddNote":
            done.add((crm, action.record_id, "note"))
            done_markers.add(marker_for(action.key))
            off += markers[marker_for(action.key)] != 1
        elif action.op == "AddCollaborators":
            for user in action.payload["user_ids"]:
                done.add((crm, action.record_id, user))
                off += present[(crm, action.record_id, user)] != 1
    orphans = sum(n for effect, n in present.items() if effect[2] != "note" and effect not in done) + sum(n for m, n in markers.items() if m not in done_markers)
    statuses = dict(Counter(a.status for a in actions))
    return {"actions": statuses, "not done": not_done, "done but effect absent/doubled": off, "effects without a done action": orphans}


# ---- the run ---------------------------------------------------------------------------

def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    seed = int(args[0]) if args else 20261124
    rate = float(next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--rate=")), FAULT_RATE))
    rng = random.Random(seed)
    print(f"seed {seed}: {EVENTS} events, every delivery 3 times, {rate:.0%} of CRM calls failing")
    logging.disable(logging.WARNING)  # the worker logs each failed attempt; the numbers say it all
    hs_deals, sf_deals = seed_deals(rng, "hubspot"), seed_deals(rng, "salesforce")
    planned, hs_triggered, sf_triggered = deliveries(rng, list(hs_deals), list(sf_deals))
    expected = expected_effects("hubspot", hs_deals, hs_triggered) | expected_effects("salesforce", sf_deals, sf_triggered)

    server = FaultyHubSpot(random.Random(seed + 1), rate)
    with tempfile.TemporaryDirectory() as tmp, server, responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        server.hang_seconds = 0.6  # beyond the 0.3 s read timeout below
        for deal_id, d in hs_deals.items():
            server.add_deal(deal_id, amount=d["amount"], hubspot_owner_id=HS_OWNER, hs_is_closed=str(d["closed"]).lower(),
                            hs_all_collaborator_owner_ids=";".join(d["team"]), pipeline="default", dealstage="appointmentscheduled")  # fmt: skip
        org = FaultyOrg(http, random.Random(seed + 2), rate,
                        {i: {"Name": f"Opp {i}", "Amount": float(d["amount"]), "OwnerId": SF_OWNER, "StageName": "Proposal",
                             "IsClosed": d["closed"], "CurrencyIsoCode": "USD", "RecordTypeId": None} for i, d in sf_deals.items()})  # fmt: skip
        for deal_id, d in sf_deals.items():
            for user in d["team"]:
                org.add_member(deal_id, user)
        services, base, stop = serve(tmp, server, org)
        began = time.monotonic()
        statuses = post_all(rng, base, planned)
        posted = time.monotonic() - began
        settled = wait_settled(services, limit=240)
        elapsed = time.monotonic() - began
        stop()
        hs_present, hs_markers = hubspot_effects(server, hs_deals)
        sf_present, sf_markers = salesforce_effects(org, sf_deals)
        present = hs_present + sf_present
        stored = services.store.list_events(limit=10 * EVENTS)
        actions = services.store.list_actions(limit=10 * EVENTS)
        log = compare_log(actions, {"hs": "hubspot", "sf": "salesforce"}, present, hs_markers + sf_markers)
        faults = {"hubspot": dict(server.injected), "salesforce": dict(org.injected)}
        calls = {"hubspot": (len(server.requests_to(None)), sum(server.injected.values())), "salesforce": (org.calls, sum(org.injected.values()))}

    by_status = Counter(s.status for s in stored)
    print(f"posted {sum(statuses.values())} requests in {posted:.1f} s (answers {dict(statuses)}); "
          f"all events settled: {settled} after {elapsed:.1f} s")  # fmt: skip
    print(f"events stored {len(stored)} (of {EVENTS} sent): {dict(by_status)}")
    print("CRM calls (faulted): " + ", ".join(f"{crm} {n} ({bad}, {bad / max(n, 1):.0%})" for crm, (n, bad) in calls.items()))
    print(f"faults injected by call and kind: {json.dumps(faults, sort_keys=True)}")
    print(f"{'crm':<11}{'expected':>9}{'present':>9}{'dupl.':>7}{'missing':>9}{'unexpected':>12}")
    for crm in ("hubspot", "salesforce"):
        want = {e for e in expected if e[0] == crm}
        have = Counter({e: n for e, n in present.items() if e[0] == crm})
        dup = sum(n - 1 for n in have.values() if n > 1)
        print(f"{crm:<11}{len(want):>9}{sum(have.values()):>9}{dup:>7}{len(want - set(have)):>9}{len(set(have) - want):>12}")
    dup = sum(n - 1 for n in present.values() if n > 1)
    missing, unexpected = len(expected - set(present)), len(set(present) - expected)
    print(f"{'total':<11}{len(expected):>9}{sum(present.values()):>9}{dup:>7}{missing:>9}{unexpected:>12}")
    print(f"events dead: {by_status.get(ev.DEAD, 0)}; not settled: {by_status.get(ev.PENDING, 0) + by_status.get(ev.PROCESSING, 0)}")
    agrees = log["not done"] == 0 and log["done but effect absent/doubled"] == 0 and log["effects without a done action"] == 0
    print(f"action log: {log}; equals the CRMs' state: {'yes' if agrees else 'NO'}")
    if "-v" in sys.argv:
        for effect in sorted(expected - set(present)):
            print("missing", effect, [(a.key, a.status, a.error) for a in actions if a.record_id == effect[1]])
        for effect in sorted(set(present) - expected):
            print("unexpected", effect)
        for a in actions:
            if a.status != "done":
                print("not done", a.key, a.status, a.error)
    print("targets: 0 duplicates, 0 missing, 0 dead, action log equal to the CRMs' state")


def serve(tmp: str, server: FaultyHubSpot, org: FaultyOrg) -> tuple[Any, str, Callable[[], None]]:
    """The real app over HTTP (werkzeug thread), its background worker with short backoffs;
    gateways with short in-call retries and a 0.3 s read timeout (HubSpot hangs cost it)."""
    from simple_salesforce import Salesforce

    retry = RetryPolicy(attempts=4, base_delay=0.02, max_delay=0.2)
    hs = {"id": "hs", "crm": "hubspot", "portal_id": PORTAL, "client_secret_env": "S", "access_token_env": "T",
          "api_base_url": server.url, "rate_limit_per_10s": 250, "rules": {"threshold": HS_TIERS}}  # fmt: skip
    sf = {"id": "sf", "crm": "salesforce", "org_id": ORG, "instance_url": INSTANCE, "auth": "session", "session_id_env": "SF",
          "shared_secret_envs": ["S"], "rules": {"threshold": SF_TIERS}}  # fmt: skip
    cfg = parse({"tenants": [hs, sf], "store": {"path": f"{tmp}/faults.db"},
                 "worker": {"batch_size": 10, "poll_seconds": 0.05, "base_delay_seconds": 0.2, "max_delay_seconds": 2.0, "lease_seconds": 30}})  # fmt: skip

    def gateway_for(tenant: Any) -> Any:
        if tenant.crm == "hubspot":
            return HubSpotGateway.from_tenant(tenant, {"T": "pat"}, retry=retry, timeouts=Timeouts(1.0, 0.3))
        return SalesforceGateway(lambda: Salesforce(instance_url=INSTANCE, session_id="s"), retry=retry, now=lambda: org.now)

    app = create_app({"config": cfg, "environ": {"S": SECRET, "T": "pat", "SF": "s"}, "worker_mode": "thread", "gateway_for": gateway_for})
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, name="bench-app", daemon=True)
    thread.start()
    services = app.extensions["gamefilm"]

    def stop() -> None:
        httpd.shutdown()
        services.background.stop(timeout=30)

    return services, f"http://127.0.0.1:{httpd.server_port}", stop


def wait_settled(services: Any, limit: float) -> bool:
    """Until no event is pending or processing (or `limit` seconds pass)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        open_ = [e for status in (ev.PENDING, ev.PROCESSING) for e in services.store.list_events(status=status, limit=1)]
        if not open_:
            return True
        time.sleep(0.5)
    return False


if __name__ == "__main__":
    main()
