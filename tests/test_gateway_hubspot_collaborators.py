"""Deal collaborators on HubSpot: written from the worker's state read without reading again,
and collaborators a person added between our read and our write put back from the history."""
from __future__ import annotations

import threading
import time
from typing import Callable

import pytest

from integration.gateway.hubspot import HubSpotGateway
from integration.gateway.hubspot.collaborators import Repair, Version, Write, repair_for
from tests.hubspot_server import HubSpotServer, hubspot_server  # noqa: F401
from tests.test_gateway_hubspot import NOW, FakeTime, _leaders, fake_time, gateway, make_gateway  # noqa: F401

READ, UPDATE = "/crm/v3/objects/deals/batch/read", "/crm/v3/objects/deals/batch/update"
COLLABORATORS = "hs_all_collaborator_owner_ids"


@pytest.fixture(autouse=True)
def server_clock(hubspot_server: HubSpotServer) -> None:
    hubspot_server.clock = lambda: NOW  # history stamps in step with the gateway's wall clock


def paths(server: HubSpotServer, since: int = 0) -> list[str]:
    return [r.path for r in server.requests[since:]]


def value(server: HubSpotServer, deal_id: str) -> str:
    return server.objects["deals"][deal_id][COLLABORATORS]


def test_after_the_state_read_the_handler_writes_without_reading_again(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_deal("101", **{COLLABORATORS: "1"})
    hubspot_server.add_deal("102", **{COLLABORATORS: ""})
    gateway.read_deals(["101", "102"])

    outcomes = gateway.add_collaborators([_leaders("a", "101", "7"), _leaders("b", "102", "7"), _leaders("c", "101", "8")])

    assert all(o.ok for o in outcomes)
    assert paths(hubspot_server) == [READ, UPDATE]
    assert hubspot_server.requests[1].body == {"inputs": [{"id": "101", "properties": {COLLABORATORS: "1;7;8"}}, {"id": "102", "properties": {COLLABORATORS: "7"}}]}


def test_a_state_read_older_than_max_state_age_is_read_again_right_before_writing(gateway: HubSpotGateway, hubspot_server: HubSpotServer, fake_time: FakeTime) -> None:
    hubspot_server.add_deal("101", **{COLLABORATORS: "1"})
    gateway.read_deals(["101"])
    hubspot_server.set_property("deals", "101", COLLABORATORS, "1;9")
    fake_time.now += 5.1

    gateway.add_collaborators([_leaders("a", "101", "7")])

    assert paths(hubspot_server) == [READ, READ, UPDATE]
    assert value(hubspot_server, "101") == "1;9;7"


def test_a_collaborator_added_while_we_wrote_is_put_back_by_the_next_read(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_deal("101", **{COLLABORATORS: "1"})
    gateway.read_deals(["101"])
    hubspot_server.set_property("deals", "101", COLLABORATORS, "1;9")  # a person, after our read
    gateway.add_collaborators([_leaders("a", "101", "7")])
    assert value(hubspot_server, "101") == "1;7"  # our write dropped 9
    before = len(hubspot_server.requests)

    deals = gateway.read_deals(["101"])

    assert paths(hubspot_server, before) == [READ, UPDATE]
    assert hubspot_server.requests[-1].body == {"inputs": [{"id": "101", "properties": {COLLABORATORS: "1;7;9"}}]}
    assert deals["101"].collaborators == {"1", "7", "9"}
    gateway.read_deals(["101"])
    assert paths(hubspot_server, before) == [READ, UPDATE, READ]  # repaired once


def test_an_id_a_person_removed_again_after_our_write_is_not_put_back(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_deal("101", **{COLLABORATORS: "1"})
    gateway.read_deals(["101"])
    hubspot_server.set_property("deals", "101", COLLABORATORS, "1;9")
    gateway.add_collaborators([_leaders("a", "101", "7")])
    hubspot_server.set_property("deals", "101", COLLABORATORS, "1;7;9")
    hubspot_server.set_property("deals", "101", COLLABORATORS, "1;7")  # 9 removed on purpose

    assert gateway.read_deals(["101"])["101"].collaborators == {"1", "7"}
    assert hubspot_server.requests_to("POST", UPDATE)[1:] == []


def test_the_handlers_own_read_also_repairs_what_an_earlier_write_dropped(gateway: HubSpotGateway, hubspot_server: HubSpotServer, fake_time: FakeTime) -> None:
    hubspot_server.add_deal("101", **{COLLABORATORS: "1"})
    gateway.read_deals(["101"])
    hubspot_server.set_property("deals", "101", COLLABORATORS, "1;9")
    gateway.add_collaborators([_leaders("a", "101", "7")])
    fake_time.now += 60

    gateway.add_collaborators([_leaders("b", "101", "8")])

    assert value(hubspot_server, "101") == "1;7;9;8"
    assert paths(hubspot_server)[-2:] == [READ, UPDATE]


def test_verify_reads_back_old_writes_and_repairs_them(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_deal("101", **{COLLABORATORS: "1"})
    hubspot_server.add_deal("102", **{COLLABORATORS: ""})
    gateway.read_deals(["101", "102"])
    hubspot_server.set_property("deals", "101", COLLABORATORS, "1;9")
    gateway.add_collaborators([_leaders("a", "101", "7"), _leaders("b", "102", "7")])
    before = len(hubspot_server.requests)

    assert gateway.verify_collaborators(older_than_seconds=0) == {"101": ["1", "7", "9"]}
    assert paths(hubspot_server, before) == [READ, UPDATE]
    assert hubspot_server.requests[before].body["inputs"] == [{"id": "101"}, {"id": "102"}]
    assert gateway.verify_collaborators(older_than_seconds=0) == {}  # 102 verified clean; 101's repair verified


def test_repair_for_waits_until_the_history_shows_our_write() -> None:
    write = Write(base=frozenset({"1"}), written=frozenset({"1", "7"}), at_ms=1_000_000)
    history = [Version(frozenset({"1"}), 900_000), Version(frozenset({"1", "9"}), 999_000)]

    assert repair_for(write, history) is None
    assert repair_for(write, [*history, Version(frozenset({"1", "7"}), 1_000_050)]) == Repair(add=frozenset({"9"}))


def test_repair_for_compares_with_nothing_when_our_write_is_the_oldest_version_shown() -> None:
    write = Write(base=frozenset({"1", "5"}), written=frozenset({"1", "5", "7"}), at_ms=1_000_000)

    assert repair_for(write, [Version(frozenset({"1", "5", "7"}), 1_000_000)]) == Repair()


def test_an_id_a_person_removed_while_we_wrote_is_removed_again_by_the_next_read(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_deal("101", **{COLLABORATORS: "1;5"})
    gateway.read_deals(["101"])
    hubspot_server.set_property("deals", "101", COLLABORATORS, "1")  # a person removes 5
    gateway.add_collaborators([_leaders("a", "101", "7")])
    assert value(hubspot_server, "101") == "1;5;7"  # our write put 5 back

    assert gateway.read_deals(["101"])["101"].collaborators == {"1", "7"}
    assert value(hubspot_server, "101") == "1;7"


def test_a_removal_is_not_undone_once_someone_wrote_after_us(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_deal("101", **{COLLABORATORS: "1;5"})
    gateway.read_deals(["101"])
    hubspot_server.set_property("deals", "101", COLLABORATORS, "1")
    gateway.add_collaborators([_leaders("a", "101", "7")])
    hubspot_server.set_property("deals", "101", COLLABORATORS, "1;5;7;8")  # a person saw 5 and kept it

    assert gateway.read_deals(["101"])["101"].collaborators == {"1", "5", "7", "8"}
    assert len(hubspot_server.requests_to("POST", UPDATE)) == 1


def test_threads_sharing_a_gateway_each_write_their_deal(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    ids = [str(200 + i) for i in range(8)]
    for deal_id in ids:
        hubspot_server.add_deal(deal_id, **{COLLABORATORS: "1"})
    errors: list[BaseException] = []

    def work(deal_id: str) -> None:
        try:
            gateway.read_deals([deal_id])
            [outcome] = gateway.add_collaborators([_leaders(deal_id, deal_id, "7")])
            assert outcome.ok
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(d,)) for d in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == [] and all(value(hubspot_server, d) == "1;7" for d in ids)
    assert len(hubspot_server.requests) == 16


def test_a_failed_repair_does_not_fail_the_read_and_is_tried_again_on_the_next(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_deal("101", **{COLLABORATORS: "1"})
    gateway.read_deals(["101"])
    hubspot_server.set_property("deals", "101", COLLABORATORS, "1;9")
    gateway.add_collaborators([_leaders("a", "101", "7")])
    hubspot_server.respond("POST", UPDATE, status=400, body={"status": "error", "message": "Property values were not valid", "category": "VALIDATION_ERROR"})

    assert gateway.read_deals(["101"])["101"].collaborators == {"1", "7"}
    assert gateway.read_deals(["101"])["101"].collaborators == {"1", "7", "9"}
    assert value(hubspot_server, "101") == "1;7;9"
