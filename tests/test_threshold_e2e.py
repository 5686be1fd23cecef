"""Deal value threshold, end to end: a signed webhook in, the exact CRM requests out.

HubSpot runs through the real hubspot-api-client against the loopback fake HubSpot;
Salesforce through the real simple-salesforce client with HTTP intercepted by `responses`.
The worker is driven explicitly (`run_due`) so each test sees one processing pass.
"""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from integration import samples
from integration.app import create_app
from integration.config import parse
from integration.gateway.hubspot import HubSpotGateway
from integration.gateway.salesforce import SalesforceGateway
from integration.signature import gamefilm_header
from tests.conftest import ENVIRON, HUBSPOT_SECRET, ORG_ID, PORTAL_ID, SF_SECRET
from tests.hubspot_server import hubspot_server  # noqa: F401  (fixture)

OWNER, LEADER, VP = "7000", "7001", "7002"
TIERS = [
    {"name": "big", "amount": 100000, "leaders": [LEADER]},
    {"name": "huge", "amount": 1000000, "leaders": [VP], "role": "Executive Sponsor", "access_level": "Read", "note": True},
]
BATCH_READ = "/crm/v3/objects/deals/batch/read"
BATCH_UPDATE = "/crm/v3/objects/deals/batch/update"


# --- HubSpot ----------------------------------------------------------------------------------------
@pytest.fixture
def hubspot(hubspot_server, tmp_path, store, clock):  # noqa: F811
    environ = {**ENVIRON, "HS_TOKEN": "pat-na1-test"}
    cfg = parse({
        "tenants": [{"id": "acme-hubspot", "crm": "hubspot", "portal_id": PORTAL_ID, "client_secret_env": "HS_SECRET",
                     "access_token_env": "HS_TOKEN", "api_base_url": hubspot_server.url,
                     "currency_rates": {"EUR": 1.10}, "rules": {"threshold": TIERS}}],
        "worker": {"base_delay_seconds": 1},
    })  # fmt: skip
    gateways: list[HubSpotGateway] = []

    def gateway_for(tenant):
        gateways.append(HubSpotGateway.from_tenant(tenant, environ, sleep=lambda s: None))
        return gateways[-1]

    app = create_app({"config": cfg, "store": store, "clock": clock, "environ": environ, "worker_mode": "none", "gateway_for": gateway_for})
    yield app.test_client(), app.extensions["gamefilm"], hubspot_server
    for g in gateways:
        g.close()


def hubspot_webhook(client, clock, deal_ids, amount="1", *, at=1_795_000_000_000, event_id=0):
    events = samples.hubspot_events(PORTAL_ID, [str(d) for d in deal_ids], amount, occurred_at_ms=at)
    for e in events:
        e["eventId"] += event_id
    body = json.dumps(events).encode()
    r = client.post("/hooks/hubspot", data=body, headers=samples.hubspot_headers(HUBSPOT_SECRET, "http://localhost/hooks/hubspot", body, int(clock() * 1000)))
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def deal(server, deal_id="5000", amount="150000", **props):
    defaults = {"amount": amount, "hubspot_owner_id": OWNER, "pipeline": "default", "dealstage": "qualifiedtobuy",
                "hs_is_closed": "false", "hs_all_collaborator_owner_ids": "", "deal_currency_code": "USD"}  # fmt: skip
    server.add_deal(deal_id, **{**defaults, **props})


def updates(server):
    return [r.body for r in server.requests_to("POST", BATCH_UPDATE)]


def test_hubspot_crossing_adds_the_leader_as_collaborator(hubspot):
    client, services, server = hubspot
    deal(server)
    hubspot_webhook(client, services.clock, ["5000"])
    assert services.worker.run_due().done
    reads = server.requests_to("POST", BATCH_READ)
    assert reads[0].body["inputs"] == [{"id": "5000"}]
    assert {"amount", "deal_currency_code", "hubspot_owner_id", "pipeline", "hs_all_collaborator_owner_ids"} <= set(reads[0].body["properties"])
    assert updates(server) == [{"inputs": [{"id": "5000", "properties": {"hs_all_collaborator_owner_ids": LEADER}}]}]
    [action] = services.store.list_actions()
    assert (action.op, action.rule, action.status, action.dry_run) == ("AddCollaborators", "threshold:big", "done", False)
    assert action.reason == "Amount 150,000.00 USD reached the threshold of 'big' (100,000.00 USD): adding 7001"
    assert action.payload["evidence"]["amount_corporate"] == "150000"


def test_hubspot_below_threshold_writes_nothing(hubspot):
    client, services, server = hubspot
    deal(server, amount="99999")
    hubspot_webhook(client, services.clock, ["5000"])
    assert services.worker.run_due().done
    assert updates(server) == [] and services.store.list_actions() == []


def test_hubspot_existing_collaborators_are_kept_and_present_leaders_skipped(hubspot):
    client, services, server = hubspot
    deal(server, "5000", hs_all_collaborator_owner_ids="8888")  # added by a person
    deal(server, "5001", hs_all_collaborator_owner_ids=f"{LEADER};8888")  # leader already there
    hubspot_webhook(client, services.clock, ["5000", "5001"])
    services.worker.run_due()
    assert updates(server) == [{"inputs": [{"id": "5000", "properties": {"hs_all_collaborator_owner_ids": f"8888;{LEADER}"}}]}]


def test_hubspot_owner_who_is_a_leader_is_not_their_own_collaborator(hubspot):
    client, services, server = hubspot
    deal(server, hubspot_owner_id=LEADER)
    hubspot_webhook(client, services.clock, ["5000"])
    services.worker.run_due()
    assert updates(server) == []


def test_hubspot_out_of_order_events_decide_on_the_current_deal(hubspot):
    client, services, server = hubspot
    deal(server, amount="50000")  # the latest state: dropped back below the threshold
    hubspot_webhook(client, services.clock, ["5000"], amount="50000", at=1_795_000_000_000, event_id=1)
    hubspot_webhook(client, services.clock, ["5000"], amount="2000000", at=1_794_000_000_000, event_id=2)  # stale
    services.worker.run_due()
    assert updates(server) == []


def test_hubspot_redelivered_three_times_adds_once(hubspot):
    client, services, server = hubspot
    deal(server)
    for _ in range(3):
        hubspot_webhook(client, services.clock, ["5000"])
        services.worker.run_due()
    assert len(updates(server)) == 1
    # Crossing again later (a new event) adds nobody twice: the leader is now on the deal.
    hubspot_webhook(client, services.clock, ["5000"], amount="160000", event_id=5)
    services.worker.run_due()
    assert len(updates(server)) == 1


def test_hubspot_100_deals_in_one_batch_cost_two_requests(hubspot):
    """The state read carries the collaborators: the handler writes without re-reading."""
    client, services, server = hubspot
    for i in range(100):
        deal(server, str(6000 + i))
    hubspot_webhook(client, services.clock, [6000 + i for i in range(100)])
    report = services.worker.run_due()
    assert len(report.done) == 100
    assert [(r.method, r.path) for r in server.requests] == [("POST", BATCH_READ), ("POST", BATCH_UPDATE)]
    assert len(updates(server)[0]["inputs"]) == 100


def test_hubspot_failure_mid_batch_is_retried_without_duplicates(hubspot):
    client, services, server = hubspot
    for i in range(3):
        deal(server, str(6000 + i))
    server.respond("POST", BATCH_UPDATE, status=503, body={"status": "error", "message": "Service Unavailable"}, times=5)
    hubspot_webhook(client, services.clock, [6000, 6001, 6002])
    first = services.worker.run_due()
    assert len(first.retrying) == 3
    # A 503 after the update was sent: HubSpot may have applied it. The log says so (unknown),
    # and an update, being idempotent, is simply sent again.
    assert {a.status for a in services.store.list_actions()} == {"unknown"}
    services.clock.advance(5)
    assert len(services.worker.run_due().done) == 3
    ok_updates = updates(server)[5:]
    assert len(ok_updates) == 1 and len(ok_updates[0]["inputs"]) == 3
    assert {server.objects["deals"][str(6000 + i)]["hs_all_collaborator_owner_ids"] for i in range(3)} == {LEADER}


def test_hubspot_deal_in_another_currency_is_converted(hubspot):
    client, services, server = hubspot
    deal(server, "5000", amount="95000", deal_currency_code="EUR")  # 104,500 USD at 1.10
    deal(server, "5001", amount="90000", deal_currency_code="EUR")  # 99,000 USD
    hubspot_webhook(client, services.clock, ["5000", "5001"])
    services.worker.run_due()
    assert [i["id"] for i in updates(server)[0]["inputs"]] == ["5000"]
    assert services.store.list_actions()[0].reason.startswith("Amount 95,000.00 EUR (104,500.00 USD)")


def test_hubspot_top_tier_adds_both_leaders_and_a_note(hubspot):
    client, services, server = hubspot
    deal(server, amount="1500000")
    hubspot_webhook(client, services.clock, ["5000"])
    services.worker.run_due()
    assert updates(server)[0]["inputs"][0]["properties"] == {"hs_all_collaborator_owner_ids": f"{LEADER};{VP}"}
    [note] = server.requests_to("POST", "/crm/v3/objects/notes/batch/create")
    assert "reached the threshold of &#x27;huge&#x27; (1,000,000.00 USD): adding 7002" in note.body["inputs"][0]["properties"]["hs_note_body"]  # HTML body
    assert note.body["inputs"][0]["associations"][0]["to"] == {"id": "5000"}


def test_hubspot_a_leader_a_person_removed_is_not_forced_back_nor_noted_twice(hubspot):
    client, services, server = hubspot
    deal(server, amount="1500000")
    hubspot_webhook(client, services.clock, ["5000"])
    services.worker.run_due()
    assert server.objects["deals"]["5000"]["hs_all_collaborator_owner_ids"] == f"{LEADER};{VP}"
    assert len(server.requests_to("POST", "/crm/v3/objects/notes/batch/create")) == 1
    server.objects["deals"]["5000"]["hs_all_collaborator_owner_ids"] = LEADER  # a person removes the VP
    hubspot_webhook(client, services.clock, ["5000"], amount="1600000", event_id=7)  # the deal moves on
    report = services.worker.run_due()
    assert len(report.done) == 1 and report.executed == 0
    assert len(updates(server)) == 1 and len(server.requests_to("POST", "/crm/v3/objects/notes/batch/create")) == 1
    assert server.objects["deals"]["5000"]["hs_all_collaborator_owner_ids"] == LEADER
    log = {a.key: (a.status, a.event_key) for a in services.store.list_actions()}
    assert sorted(log) == ["threshold#acme-hubspot#5000#big#7001", "threshold#acme-hubspot#5000#huge#7002", "threshold-note#acme-hubspot#5000#huge"]
    assert {status for status, _ in log.values()} == {"done"} and len({event for _, event in log.values()}) == 1


# --- Salesforce ---------------------------------------------------------------------------------------
INSTANCE = "https://acme.my.salesforce.com"
QUERY = f"{INSTANCE}/services/data/v59.0/query/"
COLLECTIONS = f"{INSTANCE}/services/data/v59.0/composite/sobjects"
SF_OWNER, SF_LEADER = "005000000000001AAA", "005000000000002AAA"


class FakeOrg:
    """Opportunities and team members behind `responses`, answering SOQL like Salesforce."""

    def __init__(self, http):
        self.opps: dict[str, dict] = {}
        self.team: dict[str, list[str]] = {}
        self.fail_posts = 0
        http.add_callback(responses.GET, QUERY, callback=self.query)
        http.add_callback(responses.POST, COLLECTIONS, callback=self.save)

    def add(self, opp_id, amount, currency="USD", owner=SF_OWNER, **extra):
        self.opps[opp_id] = {"attributes": {"type": "Opportunity"}, "Id": opp_id, "Name": "Acme", "Amount": amount,
                             "CurrencyIsoCode": currency, "OwnerId": owner, "StageName": "Negotiation/Review",
                             "RecordTypeId": "012000000000001AAA", "IsClosed": False,
                             "LastModifiedDate": "2026-11-20T10:00:00.000+0000", **extra}  # fmt: skip

    def query(self, request):
        soql = parse_qs(urlsplit(request.url).query)["q"][0]
        if "FROM CurrencyType" in soql:
            records = [{"attributes": {"type": "CurrencyType"}, "IsoCode": "USD", "ConversionRate": 1.0},
                       {"attributes": {"type": "CurrencyType"}, "IsoCode": "EUR", "ConversionRate": 0.8}]  # fmt: skip
        else:
            records = [
                {**o, "OpportunityTeamMembers": {"totalSize": len(self.team.get(i, [])), "done": True,
                 "records": [{"attributes": {"type": "OpportunityTeamMember"}, "UserId": u} for u in self.team.get(i, [])]}}
                for i, o in self.opps.items() if f"'{i}'" in soql
            ]  # fmt: skip
        return 200, {"Sforce-Limit-Info": "api-usage=120/100000"}, json.dumps({"totalSize": len(records), "done": True, "records": records})

    def save(self, request):
        if self.fail_posts:
            self.fail_posts -= 1
            return 503, {}, json.dumps([{"errorCode": "SERVER_UNAVAILABLE", "message": "Service temporarily unavailable"}])
        results = []
        for n, record in enumerate(json.loads(request.body)["records"]):
            self.team.setdefault(record["OpportunityId"], []).append(record["UserId"])
            results.append({"id": f"00q5e00000{n:05d}AAA", "success": True, "errors": []})
        return 200, {"Sforce-Limit-Info": "api-usage=121/100000"}, json.dumps(results)


@pytest.fixture
def salesforce(tmp_path, store, clock):
    cfg = parse({
        "tenants": [{"id": "acme-salesforce", "crm": "salesforce", "org_id": ORG_ID, "shared_secret_envs": ["SF_SECRET"],
                     "instance_url": INSTANCE, "auth": "session", "session_id_env": "SF_SESSION",
                     "team_role": "Sales Manager", "team_access_level": "Edit",
                     "rules": {"threshold": [{"name": "big", "amount": 100000, "leaders": [SF_LEADER]}]}}],
        "worker": {"base_delay_seconds": 1},
    })  # fmt: skip

    def gateway_for(tenant):
        from simple_salesforce import Salesforce

        return SalesforceGateway(lambda: Salesforce(instance_url=INSTANCE, session_id="00D!session"), sleep=lambda s: None)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        org = FakeOrg(http)
        app = create_app({"config": cfg, "store": store, "clock": clock, "environ": ENVIRON, "worker_mode": "none", "gateway_for": gateway_for})
        yield app.test_client(), app.extensions["gamefilm"], org, http


def outbound(client, opp_ids, notification_prefix="04l5e000000"):
    notes = [(f"{notification_prefix}{n:04d}AAG", "Opportunity", {"Id": o, "Amount": "1"}) for n, o in enumerate(opp_ids)]
    r = client.post("/hooks/salesforce/outbound", data=samples.outbound_message(ORG_ID, notes), headers={"Content-Type": "text/xml"})
    assert b"<Ack>true</Ack>" in r.data


def posts(http):
    return [json.loads(c.request.body) for c in http.calls if c.request.method == "POST"]


def opp(n):
    return f"0065e{n:010d}AAA"


def test_salesforce_crossing_adds_an_opportunity_team_member(salesforce):
    client, services, org, http = salesforce
    org.add(opp(1), 150000.0)
    outbound(client, [opp(1)])
    assert services.worker.run_due().done
    assert posts(http) == [{"allOrNone": False, "records": [{"attributes": {"type": "OpportunityTeamMember"}, "OpportunityId": opp(1),
                            "UserId": SF_LEADER, "TeamMemberRole": "Sales Manager", "OpportunityAccessLevel": "Edit"}]}]  # fmt: skip
    soql = parse_qs(urlsplit(http.calls[0].request.url).query)["q"][0]
    assert soql.startswith("SELECT Id, Name, Amount, CurrencyIsoCode, OwnerId") and "(SELECT UserId FROM OpportunityTeamMembers)" in soql
    assert services.store.list_actions()[0].rule == "threshold:big"


def test_salesforce_json_event_triggers_the_same_decision(salesforce, clock):
    client, services, org, http = salesforce
    org.add(opp(1), 150000.0)
    body = samples.salesforce_json(ORG_ID, [{"id": "evt-1", "object": "Opportunity", "recordId": opp(1), "kind": "updated",
                                             "occurredAt": "2026-11-20T10:00:00Z", "fields": {"Amount": 150000}}])  # fmt: skip
    r = client.post("/hooks/salesforce/events", data=body,
                    headers={"Content-Type": "application/json", "X-GameFilm-Signature": gamefilm_header(SF_SECRET, body, int(clock()))})  # fmt: skip
    assert r.status_code == 200
    services.worker.run_due()
    assert [rec["UserId"] for p in posts(http) for rec in p["records"]] == [SF_LEADER]


def test_salesforce_below_threshold_present_leader_and_owner_are_skipped(salesforce):
    client, services, org, http = salesforce
    org.add(opp(1), 99000.0)
    org.add(opp(2), 150000.0)
    org.team[opp(2)] = [SF_LEADER]
    org.add(opp(3), 150000.0, owner=SF_LEADER)
    outbound(client, [opp(1), opp(2), opp(3)])
    assert len(services.worker.run_due().done) == 3
    assert posts(http) == []


def test_salesforce_multi_currency_uses_the_orgs_rates(salesforce):
    client, services, org, http = salesforce
    org.add(opp(1), 85000.0, currency="EUR")  # 1 USD = 0.8 EUR: 106,250 USD
    org.add(opp(2), 75000.0, currency="EUR")  # 93,750 USD
    outbound(client, [opp(1), opp(2)])
    services.worker.run_due()
    assert [rec["OpportunityId"] for p in posts(http) for rec in p["records"]] == [opp(1)]


def test_salesforce_redelivery_and_100_opportunities_are_bounded(salesforce):
    client, services, org, http = salesforce
    for n in range(100):
        org.add(opp(n), 150000.0)
    for _ in range(3):
        outbound(client, [opp(n) for n in range(100)])
        services.worker.run_due()
    methods = [c.request.method for c in http.calls]
    assert methods == ["GET", "GET", "POST"]  # opportunities, currency rates, one team collection
    assert len(posts(http)[0]["records"]) == 100


def test_salesforce_failure_is_retried_without_duplicates(salesforce):
    client, services, org, http = salesforce
    org.add(opp(1), 150000.0)
    org.fail_posts = 5  # more than the adapter's own retries
    outbound(client, [opp(1)])
    assert services.worker.run_due().retrying
    services.clock.advance(5)
    assert services.worker.run_due().done
    assert org.team[opp(1)] == [SF_LEADER]


def test_hubspot_several_events_for_one_deal_in_a_batch_settle_together(hubspot):
    client, services, server = hubspot
    deal(server)
    hubspot_webhook(client, services.clock, ["5000"], event_id=0)
    hubspot_webhook(client, services.clock, ["5000"], amount="2", at=1_795_000_000_500, event_id=1)
    report = services.worker.run_due()
    assert len(report.done) == 2 and report.retrying == []
    assert len(updates(server)) == 1
