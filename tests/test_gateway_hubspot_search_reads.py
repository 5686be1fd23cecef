"""Contacts by email and candidate deals by id, through the real hubspot-api-client to the
loopback fake: a batch read up to 100 inputs, the CRM search above (five IN groups of 100,
200 results a page), so 101-200 inputs cost one request instead of two. Exact bodies."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from integration.gateway.hubspot import HubSpotGateway
from integration.gateway.hubspot.matching_reads import CONTACT_PROPERTIES, searching_pays
from integration.gateway.hubspot.mapping import MATCH_DEAL_PROPERTIES
from tests.hubspot_server import HubSpotServer, hubspot_server  # noqa: F401
from tests.test_gateway_hubspot import FakeTime, fake_time, gateway, make_gateway  # noqa: F401

SINCE = datetime(2026, 11, 6, tzinfo=timezone.utc)


def _groups(values: list[str], name: str) -> list[dict[str, object]]:
    return [{"filters": [{"propertyName": name, "operator": "IN", "values": values[i : i + 100]}]} for i in range(0, len(values), 100)]


@pytest.mark.parametrize(("count", "expected"), [(1, False), (100, False), (101, True), (200, True), (201, True), (500, True)])
def test_the_search_is_used_only_when_it_takes_fewer_requests(count: int, expected: bool) -> None:
    assert searching_pays(count) is expected


def test_one_contact_is_batch_read_on_the_email_id_property(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_contact("51", "ana@buyer.example", associatedcompanyid="301")

    contacts = gateway.find_contacts(["Ana@Buyer.example"])

    assert (contacts["ana@buyer.example"].id, contacts["ana@buyer.example"].account_id) == ("51", "301")
    [request] = hubspot_server.requests
    assert (request.path, request.body) == (
        "/crm/v3/objects/contacts/batch/read",
        {"inputs": [{"id": "ana@buyer.example"}], "idProperty": "email", "properties": list(CONTACT_PROPERTIES), "propertiesWithHistory": []},
    )


@pytest.mark.parametrize(("count", "paths"), [
    (100, ["/crm/v3/objects/contacts/batch/read"]),
    (101, ["/crm/v3/objects/contacts/search"]),
    (200, ["/crm/v3/objects/contacts/search"]),
    (201, ["/crm/v3/objects/contacts/search", "/crm/v3/objects/contacts/search"]),
])  # fmt: skip
def test_contacts_above_100_emails_come_from_one_search(gateway: HubSpotGateway, hubspot_server: HubSpotServer, count: int, paths: list[str]) -> None:
    emails = [f"p{n}@buyer.example" for n in range(count)]
    for n, email in enumerate(emails):
        hubspot_server.add_contact(str(5000 + n), email, firstname="P", lastname=str(n))

    contacts = gateway.find_contacts(emails)

    assert len(contacts) == count and contacts["p0@buyer.example"].name == "P 0"
    assert [r.path for r in hubspot_server.requests] == paths
    if count > 100:
        first = hubspot_server.requests[0].body
        assert first == {"filterGroups": _groups(emails, "email"), "properties": list(CONTACT_PROPERTIES), "limit": 200}
        assert [r.body.get("after") for r in hubspot_server.requests] == [None, "200"][: len(paths)]  # 200 hits a page
        assert all(r.body["filterGroups"] == first["filterGroups"] for r in hubspot_server.requests)


def test_more_than_500_emails_take_one_search_per_500(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    emails = [f"p{n}@buyer.example" for n in range(501)]
    hubspot_server.add_contact("5000", emails[0])
    hubspot_server.add_contact("5500", emails[500])

    assert sorted(c.id for c in gateway.find_contacts(emails).values()) == ["5000", "5500"]
    assert [len(r.body["filterGroups"]) for r in hubspot_server.requests] == [5, 1]
    assert hubspot_server.requests[1].body["filterGroups"] == _groups(emails[500:], "email")


def _deals(server: HubSpotServer, count: int) -> list[str]:
    ids = [str(1000 + n) for n in range(count)]
    for n, deal in enumerate(ids):
        server.add_deal(deal, dealname=f"D{n}", hs_is_closed="false")
        server.associate("contacts", "51", "deals", deal)
    return ids


@pytest.mark.parametrize(("count", "reads"), [
    (1, [("/crm/v3/objects/deals/batch/read", None)]),
    (100, [("/crm/v3/objects/deals/batch/read", None)]),
    (101, [("/crm/v3/objects/deals/search", None)]),
    (200, [("/crm/v3/objects/deals/search", None)]),
    (201, [("/crm/v3/objects/deals/search", None), ("/crm/v3/objects/deals/search", "200")]),
])  # fmt: skip
def test_candidate_deals_above_100_come_from_the_search_on_hs_object_id(
    gateway: HubSpotGateway, hubspot_server: HubSpotServer, count: int, reads: list[tuple[str, str | None]]
) -> None:
    ids = _deals(hubspot_server, count)

    by_contact, _, _ = gateway.deals_for_matching(["51"], [], [], SINCE)

    assert sorted(d.id for d in by_contact["51"]) == ids and by_contact["51"][0].name == "D0"
    assoc, *deal_reads = hubspot_server.requests
    assert assoc.path == "/crm/v4/associations/contacts/deals/batch/read"
    assert [(r.path, r.body.get("after")) for r in deal_reads] == reads
    if count > 100:
        assert deal_reads[0].body == {"filterGroups": _groups(ids, "hs_object_id"), "properties": list(MATCH_DEAL_PROPERTIES), "limit": 200}
    else:
        assert deal_reads[0].body == {"inputs": [{"id": i} for i in ids], "properties": list(MATCH_DEAL_PROPERTIES), "propertiesWithHistory": []}


def test_deals_the_search_has_not_indexed_yet_are_batch_read(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    ids = _deals(hubspot_server, 150)
    hubspot_server.unindexed |= {"1003", "1149"}  # created seconds ago

    by_contact, _, _ = gateway.deals_for_matching(["51"], [], [], SINCE)

    assert sorted(d.id for d in by_contact["51"]) == ids
    assert [r.path for r in hubspot_server.requests] == [
        "/crm/v4/associations/contacts/deals/batch/read", "/crm/v3/objects/deals/search", "/crm/v3/objects/deals/batch/read"]
    assert hubspot_server.requests[-1].body["inputs"] == [{"id": "1003"}, {"id": "1149"}]


def test_a_contact_the_search_has_not_indexed_yet_is_not_found_this_time(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    emails = [f"p{n}@buyer.example" for n in range(101)]
    for n, email in enumerate(emails):
        hubspot_server.add_contact(str(5000 + n), email)
    hubspot_server.unindexed.add("5100")  # the documented trade-off: matched on the daily retry

    contacts = gateway.find_contacts(emails)

    assert len(contacts) == 100 and "p100@buyer.example" not in contacts
    assert len(hubspot_server.requests) == 1


def test_searches_are_paced_by_the_search_limiter(gateway: HubSpotGateway, hubspot_server: HubSpotServer, fake_time: FakeTime) -> None:
    emails = [f"p{n}@buyer.example" for n in range(101)]
    for _ in range(5):  # four searches a second, the fifth waits
        gateway.find_contacts(emails)

    assert len(hubspot_server.requests) == 5 and fake_time.sleeps == [pytest.approx(1.0)]
