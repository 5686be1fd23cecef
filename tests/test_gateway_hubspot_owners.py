"""HubSpot owners by id (`read_users`) and by email from one owners list per gateway and day,
through the real hubspot-api-client to the loopback fake: an hourly review tick reads no owners;
an unseen id, or an unseen email at an owner's domain, reads the list again once."""
from __future__ import annotations

from integration.gateway.hubspot import HubSpotGateway
from tests.hubspot_server import HubSpotServer, hubspot_server  # noqa: F401
from tests.test_gateway_hubspot import FakeTime, fake_time, gateway, make_gateway  # noqa: F401

OWNERS = "/crm/v3/owners/"


def _listings(server: HubSpotServer) -> list[str]:
    return [r.query["archived"][0] for r in server.requests_to("GET", OWNERS)]


def test_read_users_lists_owners_once_a_day_for_ids_and_emails(gateway: HubSpotGateway, hubspot_server: HubSpotServer, fake_time: FakeTime) -> None:
    hubspot_server.add_owner("7", "rep@example.com", "Rae", "Rep")
    hubspot_server.add_owner("8", "gone@example.com", "Old", "Timer", archived=True)

    users = gateway.read_users(["7", "8", "7"])
    for _ in range(23):  # the later hourly ticks of the day
        fake_time.now += 3600
        assert gateway.read_users(["7", "8"]) == users
    by_email = gateway.find_users_by_email(["Rep@Example.com"])

    assert (users["7"].name, users["7"].email, users["7"].active) == ("Rae Rep", "rep@example.com", True)
    assert (users["8"].name, users["8"].active) == ("Old Timer", False)
    assert by_email == {"rep@example.com": users["7"]}
    assert _listings(hubspot_server) == ["true", "false"]
    assert all(r.query["limit"] == ["500"] for r in hubspot_server.requests)

    fake_time.now += 3601  # a day and a second after the first read
    gateway.read_users(["7"])

    assert _listings(hubspot_server) == ["true", "false", "true", "false"]


def test_an_id_not_seen_yet_reads_the_list_again_once_until_the_next_day(gateway: HubSpotGateway, hubspot_server: HubSpotServer, fake_time: FakeTime) -> None:
    hubspot_server.add_owner("7", "rep@example.com")
    gateway.read_users(["7"])
    hubspot_server.add_owner("9", "new@example.com", "Nia", "New")  # a rep added in HubSpot since
    fake_time.now += 60

    users = gateway.read_users(["7", "9", "404"])  # 404: no such owner
    for _ in range(3):
        fake_time.now += 600
        assert gateway.read_users(["404", "9"]) == {"9": users["9"]}

    assert set(users) == {"7", "9"} and users["9"].name == "Nia New"
    assert _listings(hubspot_server) == ["true", "false", "true", "false"]
    assert gateway.find_users_by_email(["new@example.com"])["new@example.com"].id == "9"  # the re-read serves emails too

    fake_time.now += 86400  # the daily read forgets the misses
    gateway.read_users(["404"])
    gateway.read_users(["404"])

    assert _listings(hubspot_server) == ["true", "false", "true", "false", "true", "false"]


def test_a_later_unseen_id_reads_again_but_the_earlier_miss_stays_remembered(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    gateway.read_users(["404"])
    gateway.read_users(["405"])
    gateway.read_users(["404", "405"])

    assert _listings(hubspot_server) == ["true", "false", "true", "false"]


def test_read_users_follows_every_owner_page(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    for n in range(502):  # 1 archived, 501 active: two pages
        hubspot_server.add_owner(str(100 + n), f"rep{n}@acme.example", archived=n == 0)

    users = gateway.read_users(["100", "601"])

    assert (users["100"].active, users["601"].active) == (False, True)
    assert [r.query.get("after") for r in hubspot_server.requests_to("GET", OWNERS)] == [None, None, ["500"]]


def test_an_unseen_email_at_an_owners_domain_is_looked_for_within_the_hour_an_outside_one_never(gateway: HubSpotGateway, hubspot_server: HubSpotServer, fake_time: FakeTime) -> None:
    """A new rep's recordings find them within the hour; buyers' emails and staff without a
    HubSpot seat cost at most one owners read an hour (as the hourly list did), usually none."""
    hubspot_server.add_owner("7", "rep@acme.example")
    gateway.find_users_by_email(["rep@acme.example", "buyer@globex.example"])
    hubspot_server.add_owner("9", "new.rep@acme.example", "Nia", "New")  # hired this morning
    fake_time.now += 600

    assert gateway.find_users_by_email(["new.rep@acme.example", "buyer@globex.example"]) == {}  # the list is 10 minutes old
    assert _listings(hubspot_server) == ["true", "false"]
    fake_time.now += 3001
    found = gateway.find_users_by_email(["new.rep@acme.example", "buyer@globex.example", "cfo@globex.example"])
    assert found["new.rep@acme.example"].id == "9" and set(found) == {"new.rep@acme.example"}
    assert _listings(hubspot_server) == ["true", "false"] * 2

    for _ in range(5):  # staff without a seat, on every call: one more read, then remembered for the day
        fake_time.now += 3601
        gateway.find_users_by_email(["sales.desk@acme.example", "buyer@globex.example"])
    assert _listings(hubspot_server) == ["true", "false"] * 3


def test_an_owner_deactivated_since_the_daily_read_stays_active_until_the_next(gateway: HubSpotGateway, hubspot_server: HubSpotServer, fake_time: FakeTime) -> None:
    """The documented cost of one read a day: a deactivated user can still be chosen as a
    reviewer for up to a day."""
    hubspot_server.add_owner("7", "rep@acme.example")
    assert gateway.read_users(["7"])["7"].active
    hubspot_server.owners[0]["archived"] = True  # deactivated in HubSpot

    fake_time.now += 86399
    assert gateway.read_users(["7"])["7"].active
    fake_time.now += 2
    assert not gateway.read_users(["7"])["7"].active
