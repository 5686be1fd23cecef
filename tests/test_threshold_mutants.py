"""Threshold decisions a RevOps admin would notice, end to end through simple-salesforce
(HTTP intercepted by `responses`): the owner's manager chain (`manager_levels`), and a
leader skipped early in a tier's list while a later one must still be added."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from integration.app import create_app
from integration.config import parse
from integration.gateway.salesforce import SalesforceGateway
from tests.conftest import ENVIRON, ORG_ID
from tests.test_threshold_e2e import INSTANCE, SF_LEADER, SF_OWNER, FakeOrg, opp, outbound, posts

M1, M2, M3, GONE = "005000000000011AAA", "005000000000012AAA", "005000000000013AAA", "005000000000019AAA"


class OrgWithUsers(FakeOrg):
    """FakeOrg that also answers User queries: owner -> M1 -> M2 -> M3 (a manager chain)."""

    def __init__(self, http, users):
        super().__init__(http)
        self.users = users
        self.user_queries: list[str] = []

    def query(self, request):
        soql = parse_qs(urlsplit(request.url).query)["q"][0]
        if "FROM User" not in soql:
            return super().query(request)
        self.user_queries.append(soql)
        records = [{"attributes": {"type": "User"}, "Id": uid, "Name": uid, "Email": None, "ManagerId": manager, "IsActive": active}
                   for uid, (manager, active) in self.users.items() if f"'{uid}'" in soql]  # fmt: skip
        return 200, {}, json.dumps({"totalSize": len(records), "done": True, "records": records})


def make(store, clock, tiers, users):
    cfg = parse({
        "tenants": [{"id": "acme-salesforce", "crm": "salesforce", "org_id": ORG_ID, "shared_secret_envs": ["SF_SECRET"],
                     "instance_url": INSTANCE, "auth": "session", "session_id_env": "SF_SESSION",
                     "team_role": "Sales Manager", "team_access_level": "Edit", "rules": {"threshold": tiers}}],
        "worker": {"base_delay_seconds": 1},
    })  # fmt: skip

    def gateway_for(tenant):
        from simple_salesforce import Salesforce

        return SalesforceGateway(lambda: Salesforce(instance_url=INSTANCE, session_id="00D!session"), sleep=lambda s: None)

    http = responses.RequestsMock(assert_all_requests_are_fired=False)
    http.start()
    org = OrgWithUsers(http, users)
    app = create_app({"config": cfg, "store": store, "clock": clock, "environ": ENVIRON, "worker_mode": "none", "gateway_for": gateway_for})
    return app.test_client(), app.extensions["gamefilm"], org, http


@pytest.fixture
def world(store, clock):
    made = []

    def _make(tiers, users=None):
        made.append(make(store, clock, tiers, users or {}))
        return made[-1]

    yield _make
    for *_, http in made:
        http.stop()
        http.reset()


def members(http):
    return [r["UserId"] for body in posts(http) for r in body["records"]]


CHAIN = {SF_OWNER: (M1, True), M1: (M2, True), M2: (M3, True), M3: (None, True)}


def test_manager_levels_adds_the_owners_managers_up_to_that_level_and_no_further(world):
    client, services, org, http = world([{"name": "big", "amount": 100000, "manager_levels": 2}], CHAIN)
    org.add(opp(1), 150000.0)
    outbound(client, [opp(1)])
    assert services.worker.run_due().done
    assert sorted(members(http)) == [M1, M2]
    # one batched read per level (owner, M1, M2: each manager's active flag is needed), never M3
    assert [q.rsplit("IN ", 1)[1] for q in org.user_queries] == [f"('{SF_OWNER}')", f"('{M1}')", f"('{M2}')"]
    assert [a.rule for a in services.store.list_actions()] == ["threshold:big", "threshold:big"]


def test_manager_levels_skips_an_inactive_manager_and_still_adds_the_next(world):
    users = {**CHAIN, M1: (M2, False)}
    client, services, org, http = world([{"name": "big", "amount": 100000, "manager_levels": 2}], users)
    org.add(opp(1), 150000.0)
    outbound(client, [opp(1)])
    assert services.worker.run_due().done
    assert members(http) == [M2]


def test_a_leader_already_on_the_team_is_skipped_and_the_next_leader_is_still_added(world):
    client, services, org, http = world([{"name": "big", "amount": 100000, "leaders": [SF_OWNER, M1, SF_LEADER]}])
    org.add(opp(1), 150000.0)
    org.team[opp(1)] = [M1]
    outbound(client, [opp(1)])
    assert services.worker.run_due().done
    assert members(http) == [SF_LEADER]  # the owner and a present member are skipped, not the rest


def test_an_early_event_whose_deal_is_gone_does_not_stop_a_later_one(world):
    client, services, org, http = world([{"name": "big", "amount": 100000, "leaders": [SF_LEADER]}])
    org.add(opp(2), 150000.0)  # opp(1) is not in the org any more
    outbound(client, [opp(1), opp(2)])
    report = services.worker.run_due()
    assert len(report.done) == 2
    assert [(b["records"][0]["OpportunityId"], b["records"][0]["UserId"]) for b in posts(http)] == [(opp(2), SF_LEADER)]


def test_the_audit_evidence_of_a_converted_deal_is_complete():
    """What the action log shows an admin: every value the decision was made on."""
    from decimal import Decimal

    from integration.commands import Deal
    from tests.test_threshold_rule import event, plan

    [cmd] = plan(Deal(id="42", amount=Decimal("100000"), currency="EUR", owner_id="OWNER", collaborators=frozenset({"X2", "X1"})))
    assert dict(cmd.evidence) == {
        "tier": "big", "threshold": "100000", "amount": "100000", "currency": "EUR", "amount_corporate": "110000.0",
        "corporate_currency": "USD", "owner_id": "OWNER", "already_present": ["X1", "X2"], "event": event().key,
    }  # fmt: skip
    assert cmd.reason == "Amount 100,000.00 EUR (110,000.00 USD) reached the threshold of 'big' (100,000.00 USD): adding L1"
    [plain] = plan(Deal(id="42", amount=Decimal("100000"), currency=None, owner_id="OWNER"))
    assert (plain.evidence["currency"], plain.evidence["amount"]) == ("USD", "100000")
