"""What matching recordings and running reviews read from HubSpot, through the real
hubspot-api-client to the loopback fake: exact request bodies, one request per 100 records."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Callable

import pytest

from integration.gateway.hubspot import HubSpotGateway
from integration.gateway.hubspot.mapping import CALL_PROPERTIES, MATCH_DEAL_PROPERTIES, TASK_PROPERTIES
from tests.hubspot_server import HubSpotServer, hubspot_server  # noqa: F401
from tests.test_gateway_hubspot import FakeTime, fake_time, gateway, make_gateway  # noqa: F401

SINCE = datetime(2026, 11, 6, tzinfo=timezone.utc)  # 14 days before the calls


# ---- owners by email ----------------------------------------------------------------------


def test_users_by_email_list_owners_once_with_archived_ones_inactive(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_owner("7", "Rep@Acme.example", "Ria", "Rep")
    hubspot_server.add_owner("8", "gone@acme.example", "Gil", "Gone", archived=True)

    first = gateway.find_users_by_email(["rep@acme.example", "GONE@acme.example", "nobody@acme.example"])
    again = gateway.find_users_by_email(["rep@acme.example"])

    assert (first["rep@acme.example"].id, first["rep@acme.example"].active, first["rep@acme.example"].name) == ("7", True, "Ria Rep")
    assert (first["gone@acme.example"].id, first["gone@acme.example"].active) == ("8", False)
    assert "nobody@acme.example" not in first and again["rep@acme.example"].id == "7"
    assert [(r.path, r.query["archived"]) for r in hubspot_server.requests] == [("/crm/v3/owners/", ["true"]), ("/crm/v3/owners/", ["false"])]


def test_the_owners_list_is_read_again_after_a_day(gateway: HubSpotGateway, hubspot_server: HubSpotServer, fake_time: FakeTime) -> None:
    gateway.find_users_by_email(["new@acme.example"])  # no owner at acme.example yet: no re-read for it
    hubspot_server.add_owner("9", "new@acme.example")
    fake_time.now += 86399
    assert gateway.find_users_by_email(["new@acme.example"]) == {}

    fake_time.now += 2

    assert gateway.find_users_by_email(["new@acme.example"])["new@acme.example"].id == "9"
    assert len(hubspot_server.requests) == 4


def test_users_by_email_follow_every_owner_page(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    for n in range(501):
        hubspot_server.add_owner(str(100 + n), f"rep{n}@acme.example")

    users = gateway.find_users_by_email(["rep0@acme.example", "rep500@acme.example"])

    assert users["rep500@acme.example"].id == "600"
    assert [r.query.get("after") for r in hubspot_server.requests_to("GET", "/crm/v3/owners/")] == [None, None, ["500"]]


def test_an_active_owner_wins_over_an_archived_one_with_the_same_email(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_owner("8", "rep@acme.example", archived=True)
    hubspot_server.add_owner("9", "rep@acme.example")

    assert gateway.find_users_by_email(["rep@acme.example"])["rep@acme.example"].id == "9"


# ---- contacts and companies -----------------------------------------------------------------


def test_find_contacts_fills_the_primary_company(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_contact("51", "ana@buyer.example", associatedcompanyid="301")
    hubspot_server.add_contact("52", "bo@buyer.example")

    contacts = gateway.find_contacts(["ana@buyer.example", "bo@buyer.example"])

    assert (contacts["ana@buyer.example"].account_id, contacts["bo@buyer.example"].account_id) == ("301", None)
    [request] = hubspot_server.requests
    assert request.body["properties"] == ["email", "firstname", "lastname", "associatedcompanyid"]


def test_accounts_by_domain_search_companies_with_one_in_filter(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_object("companies", "301", domain="buyer.example")
    hubspot_server.add_object("companies", "302", domain="Buyer.example")
    hubspot_server.add_object("companies", "303", domain="other.example")

    found = gateway.find_accounts_by_domain(["BUYER.example", "www.buyer.example", "none.example"])

    assert found == {"buyer.example": ["301", "302"]}
    [request] = hubspot_server.requests
    assert (request.method, request.path) == ("POST", "/crm/v3/objects/companies/search")
    assert request.body == {
        "filterGroups": [{"filters": [{"propertyName": "domain", "operator": "IN", "values": ["buyer.example", "none.example"]}]}],
        "properties": ["domain"],
        "limit": 200,
    }


@pytest.mark.parametrize(("domains", "groups"), [(1, [[1]]), (100, [[100]]), (101, [[100, 1]]), (501, [[100] * 5, [1]])])
def test_accounts_by_domain_send_100_domains_per_group_and_5_groups_per_search(
    gateway: HubSpotGateway, hubspot_server: HubSpotServer, domains: int, groups: list[list[int]]
) -> None:
    names = [f"d{n}.example" for n in range(domains)]
    for n, name in enumerate(names):
        hubspot_server.add_object("companies", str(300 + n), domain=name)

    assert len(gateway.find_accounts_by_domain(names)) == domains
    pages = [[len(g["filters"][0]["values"]) for g in r.body["filterGroups"]] for r in hubspot_server.requests if not r.body.get("after")]
    assert pages == groups


def test_search_pages_are_followed_and_paced_below_the_search_limit(gateway: HubSpotGateway, hubspot_server: HubSpotServer, fake_time: FakeTime) -> None:
    for n in range(401):
        hubspot_server.add_object("companies", str(1000 + n), domain="big.example")

    found = gateway.find_accounts_by_domain(["big.example"])

    assert len(found["big.example"]) == 401
    assert [r.body.get("after") for r in hubspot_server.requests] == [None, "200", "400"]
    assert sum(fake_time.sleeps) == 0  # three searches fit in a second; the fourth would wait
    gateway.find_accounts_by_domain(["x.example"])
    gateway.find_accounts_by_domain(["y.example"])
    assert fake_time.sleeps == [pytest.approx(1.0)]


# ---- deals of contacts and companies --------------------------------------------------------


def _match_portal(server: HubSpotServer) -> None:
    server.add_deal("101", dealname="Open", hs_is_closed="false", hubspot_owner_id="7", hs_all_collaborator_owner_ids="8", hs_lastmodifieddate="2026-11-19T09:00:00.000Z")
    server.add_deal("102", dealname="Closed lately", hs_is_closed="true", closedate="2026-11-10T00:00:00Z", hs_lastmodifieddate="2026-11-10T00:00:00Z")
    server.add_deal("103", dealname="Closed long ago", hs_is_closed="true", closedate="2026-09-01T00:00:00Z")
    for deal in ("101", "102", "103"):
        server.associate("contacts", "51", "deals", deal)
        server.associate("companies", "301", "deals", deal)


def test_deals_for_contacts_keep_open_and_recently_closed_deals(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    _match_portal(hubspot_server)

    deals = gateway.deals_for_contacts(["51", "52"], SINCE)

    assert [d.id for d in deals["51"]] == ["101", "102"] and deals["52"] == []
    open_deal, closed = deals["51"]
    assert (open_deal.owner_id, open_deal.collaborators, open_deal.closed_at) == ("7", frozenset({"8"}), None)
    assert open_deal.modified_at == datetime(2026, 11, 19, 9, tzinfo=timezone.utc)
    assert closed.closed_at == datetime(2026, 11, 10, tzinfo=timezone.utc) and closed.account_id is None
    assoc, read = hubspot_server.requests
    assert (assoc.path, assoc.body) == ("/crm/v4/associations/contacts/deals/batch/read", {"inputs": [{"id": "51"}, {"id": "52"}]})
    assert (read.path, read.body) == ("/crm/v3/objects/deals/batch/read", {"inputs": [{"id": "101"}, {"id": "102"}, {"id": "103"}], "properties": list(MATCH_DEAL_PROPERTIES), "propertiesWithHistory": []})  # the SDK requires the field


def test_deals_for_accounts_carry_the_company_as_account(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    _match_portal(hubspot_server)

    deals = gateway.deals_for_accounts(["301"], SINCE)

    assert [(d.id, d.account_id) for d in deals["301"]] == [("101", "301"), ("102", "301")]
    assert hubspot_server.requests[0].path == "/crm/v4/associations/companies/deals/batch/read"


def test_one_unreadable_deal_does_not_fail_matching_for_the_batch(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_deal("101", hs_is_closed="false", amount="lots")
    hubspot_server.add_deal("102", hs_is_closed="maybe")
    hubspot_server.add_deal("103", hs_is_closed="false")
    for deal in ("101", "102", "103"):
        hubspot_server.associate("contacts", "51", "deals", deal)

    deals = gateway.deals_for_contacts(["51"], SINCE)

    assert [(d.id, d.amount) for d in deals["51"]] == [("101", None), ("103", None)]


def test_deals_for_matching_read_contacts_companies_and_explicit_deals_in_one_deals_read(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    _match_portal(hubspot_server)
    hubspot_server.add_deal("104", dealname="Named by the sender", hs_is_closed="true", closedate="2026-01-01T00:00:00Z")
    hubspot_server.add_deal("105", dealname="The company's only", hs_is_closed="false")
    hubspot_server.associate("companies", "302", "deals", "105")

    by_contact, by_account, explicit = gateway.deals_for_matching(["51"], ["301", "302"], ["104", "101", "999"], SINCE)

    assert [d.id for d in by_contact["51"]] == ["101", "102"] and by_contact["51"][0].account_id is None
    assert [(d.id, d.account_id) for d in by_account["301"]] == [("101", "301"), ("102", "301")]
    assert [(d.id, d.account_id) for d in by_account["302"]] == [("105", "302")]
    assert sorted(explicit) == ["101", "104"] and explicit["104"].closed  # named: kept whatever its state; 999 does not exist
    assert [r.path for r in hubspot_server.requests] == [
        "/crm/v4/associations/contacts/deals/batch/read", "/crm/v4/associations/companies/deals/batch/read", "/crm/v3/objects/deals/batch/read"]
    read = hubspot_server.requests[-1].body
    assert read["inputs"] == [{"id": i} for i in ("101", "102", "103", "105", "104", "999")] and read["properties"] == list(MATCH_DEAL_PROPERTIES)


def test_deals_for_matching_with_nothing_to_ask_sends_nothing(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    assert gateway.deals_for_matching([], [], [], SINCE) == ({}, {}, {})
    assert hubspot_server.requests == []


@pytest.mark.parametrize(("contacts", "requests"), [(1, 2), (100, 2), (101, 3)])  # 101 deals: one search
def test_deals_for_contacts_batch_100_per_request(gateway: HubSpotGateway, hubspot_server: HubSpotServer, contacts: int, requests: int) -> None:
    for n in range(contacts):
        hubspot_server.add_deal(str(1000 + n), hs_is_closed="false")
        hubspot_server.associate("contacts", str(5000 + n), "deals", str(1000 + n))

    deals = gateway.deals_for_contacts([str(5000 + n) for n in range(contacts)], SINCE)

    assert sum(len(d) for d in deals.values()) == contacts
    assert len(hubspot_server.requests) == requests and max(len(r.body.get("inputs") or ()) for r in hubspot_server.requests) <= 100


# ---- calls and tasks --------------------------------------------------------------------------


def test_read_calls_maps_properties_and_associations(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_object("calls", "9001", hs_call_recording_url="https://rec.example/1.mp3", hs_call_title="Discovery", hubspot_owner_id="7",
                              hs_timestamp="2026-11-20T10:00:00.000Z", hs_call_duration="65000", gamefilm_recording_id="zoom:abc")  # fmt: skip
    hubspot_server.add_object("calls", "9002", hs_timestamp="1795000000000")
    hubspot_server.associate("calls", "9001", "deals", "101")
    hubspot_server.associate("calls", "9001", "contacts", "51")

    calls = gateway.read_calls(["9001", "9002", "404"])

    call = calls["9001"]
    assert (call.recording_url, call.title, call.owner_id, call.duration_ms, call.external_id) == ("https://rec.example/1.mp3", "Discovery", "7", 65000, "zoom:abc")
    assert call.started_at == datetime(2026, 11, 20, 10, tzinfo=timezone.utc)
    assert (call.deal_ids, call.contact_ids) == (("101",), ("51",))
    assert calls["9002"].recording_url is None and calls["9002"].started_at == datetime.fromtimestamp(1_795_000_000, timezone.utc)
    assert "404" not in calls
    read, deals, contacts = hubspot_server.requests
    assert read.body == {"inputs": [{"id": "9001"}, {"id": "9002"}, {"id": "404"}], "properties": list(CALL_PROPERTIES), "propertiesWithHistory": []}
    assert (deals.path, contacts.path) == ("/crm/v4/associations/calls/deals/batch/read", "/crm/v4/associations/calls/contacts/batch/read")
    assert deals.body == {"inputs": [{"id": "9001"}, {"id": "9002"}]}


def test_read_tasks_says_which_are_completed(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_object("tasks", "7001", hs_task_status="COMPLETED", hubspot_owner_id="8", hs_timestamp="2026-12-01T12:00:00Z", hs_task_completion_date="2026-11-28T15:30:00.000Z")
    hubspot_server.add_object("tasks", "7002", hs_task_status="NOT_STARTED", hs_timestamp="2026-12-02T12:00:00Z")

    tasks = gateway.read_tasks(["7001", "7002"])

    done, open_task = tasks["7001"], tasks["7002"]
    assert (done.completed, done.owner_id, done.due, done.completed_at) == (True, "8", date(2026, 12, 1), datetime(2026, 11, 28, 15, 30, tzinfo=timezone.utc))
    assert (open_task.completed, open_task.due, open_task.completed_at) == (False, date(2026, 12, 2), None)
    [request] = hubspot_server.requests
    assert request.body == {"inputs": [{"id": "7001"}, {"id": "7002"}], "properties": list(TASK_PROPERTIES), "propertiesWithHistory": []}


@pytest.mark.parametrize(("records", "requests"), [(1, 1), (100, 1), (101, 2)])
def test_read_tasks_batch_100_per_request(gateway: HubSpotGateway, hubspot_server: HubSpotServer, records: int, requests: int) -> None:
    for n in range(records):
        hubspot_server.add_object("tasks", str(7000 + n), hs_task_status="NOT_STARTED")

    assert len(gateway.read_tasks([str(7000 + n) for n in range(records)])) == records
    assert len(hubspot_server.requests) == requests


@pytest.mark.parametrize(("records", "requests"), [(1, 3), (100, 3), (101, 6)])
def test_read_calls_batch_100_per_request(gateway: HubSpotGateway, hubspot_server: HubSpotServer, records: int, requests: int) -> None:
    for n in range(records):
        hubspot_server.add_object("calls", str(9000 + n), hs_call_title="c")

    assert len(gateway.read_calls([str(9000 + n) for n in range(records)])) == records
    assert len(hubspot_server.requests) == requests
