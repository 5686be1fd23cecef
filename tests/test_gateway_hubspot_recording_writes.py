"""Attaching recordings and running reviews on HubSpot, through the real hubspot-api-client to
the loopback fake: UpsertCall (one create with the associations inline, type ids from the labels
API; the upsert on the unique recording id plus association creates when HubSpot refuses the
create), review tasks linked to their call, RemindTask; exactly once under redelivery, 207
partial failures and 5xx after applying."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone
from typing import Any

import pytest

from integration.commands import CreateTask, RemindTask, UpsertCall, marker_for
from integration.gateway.hubspot import HubSpotGateway
from tests.hubspot_server import HubSpotServer, hubspot_server  # noqa: F401
from tests.test_gateway_hubspot import FakeTime, fake_time, gateway, make_gateway  # noqa: F401

UPSERT = "/crm/v3/objects/calls/batch/upsert"
CREATE = "/crm/v3/objects/calls/batch/create"
CALL_DEALS = "/crm/v4/associations/calls/deals/batch/create"
CALL_CONTACTS = "/crm/v4/associations/calls/contacts/batch/create"
TASKS_CREATE = "/crm/v3/objects/tasks/batch/create"
TASKS_UPDATE = "/crm/v3/objects/tasks/batch/update"


def _upsert(n: int | str = 1, deal: str = "101", **extra: Any) -> UpsertCall:
    values: dict[str, Any] = dict(
        external_id=f"zoom:meeting-{n}", owner_id="7", title="Discovery call", recording_url=f"https://rec.example/{n}.mp4",
        occurred_at_ms=1_795_000_000_000, duration_ms=65_000, contact_ids=("51",),
    )  # fmt: skip
    return UpsertCall(key=f"attach#{n}", rule="recording", reason="recorded call", record_id=deal, **{**values, **extra})


def _review(key: str = "review#1", **extra: Any) -> CreateTask:
    values: dict[str, Any] = dict(owner_id="8", subject="Review the call", body="Listen & score", due=date(2026, 12, 1), call_external_id="zoom:meeting-1")
    return CreateTask(key=key, rule="peer_review", reason="peer review", record_id="101", **{**values, **extra})


def _remind(task_id: str = "7001", key: str = "nudge#7001#2026-12-02", at: int = 1_796_000_000_000) -> RemindTask:
    return RemindTask(key=key, rule="overdue_review", reason="overdue", record_id="101", task_id=task_id, remind_at_ms=at, note="Overdue 1 day (rule overdue_review)")


def _portal(server: HubSpotServer, deals: int = 1) -> None:
    for n in range(deals):
        server.add_deal(str(101 + n), hs_is_closed="false")
    server.add_contact("51", "ana@buyer.example")


# ---- UpsertCall -------------------------------------------------------------------------------


def test_a_new_call_is_one_create_carrying_its_associations(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    _portal(hubspot_server)

    [outcome] = gateway.execute([_upsert(body="Notes <b>", contact_ids=("51", "52"))])

    assert outcome.ok and outcome.crm_id == "9001" and outcome.detail == {"call_id": "9001"}
    assert [(r.method, r.path) for r in hubspot_server.requests] == [
        ("GET", "/crm/v4/associations/calls/deals/labels"), ("GET", "/crm/v4/associations/calls/contacts/labels"), ("POST", CREATE),
    ]  # fmt: skip
    assert hubspot_server.requests[-1].body == {"inputs": [{
        "objectWriteTraceId": "0",
        "properties": {"gamefilm_recording_id": "zoom:meeting-1", "hs_timestamp": "1795000000000", "hs_call_title": "Discovery call",
                       "hs_call_recording_url": "https://rec.example/1.mp4", "hs_call_status": "COMPLETED", "hs_call_body": "Notes &lt;b&gt;",
                       "hs_call_duration": "65000", "hubspot_owner_id": "7"},
        "associations": [
            {"to": {"id": "101"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 206}]},
            {"to": {"id": "51"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 194}]},
            {"to": {"id": "52"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 194}]},
        ],
    }]}  # fmt: skip
    assert hubspot_server.associations[("calls", "deals")] == {"9001": ["101"]}
    assert hubspot_server.associations[("calls", "contacts")] == {"9001": ["51", "52"]}


def test_a_call_that_exists_is_upserted_and_associated_with_the_documented_bodies(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    _portal(hubspot_server)
    hubspot_server.add_object("calls", "8001", gamefilm_recording_id="zoom:meeting-1")  # attached by an earlier delivery

    [outcome] = gateway.execute([_upsert(body="Notes <b>")])

    assert outcome.ok and outcome.crm_id == "8001" and outcome.detail == {"call_id": "8001"}
    [create] = hubspot_server.requests_to("POST", CREATE)  # refused: the recording id is taken
    assert list(hubspot_server.objects["calls"]) == ["8001"]
    [upsert] = hubspot_server.requests_to("POST", UPSERT)
    assert upsert.body == {"inputs": [{
        "idProperty": "gamefilm_recording_id", "id": "zoom:meeting-1", "objectWriteTraceId": "zoom:meeting-1",
        "properties": {"gamefilm_recording_id": "zoom:meeting-1", "hs_timestamp": "1795000000000", "hs_call_title": "Discovery call",
                       "hs_call_recording_url": "https://rec.example/1.mp4", "hs_call_status": "COMPLETED", "hs_call_body": "Notes &lt;b&gt;",
                       "hs_call_duration": "65000", "hubspot_owner_id": "7"},
    }]}  # fmt: skip
    [deals] = hubspot_server.requests_to("POST", CALL_DEALS)
    assert deals.body == {"inputs": [{"from": {"id": "8001"}, "to": {"id": "101"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 206}]}]}
    [contacts] = hubspot_server.requests_to("POST", CALL_CONTACTS)
    assert contacts.body["inputs"][0]["types"] == [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 194}]
    assert hubspot_server.associations[("calls", "deals")] == {"8001": ["101"]}
    assert hubspot_server.associations[("calls", "contacts")] == {"8001": ["51"]}


@pytest.mark.parametrize("refusal", [
    (400, "VALIDATION_ERROR", "Property values were not valid: gamefilm_recording_id already has that value"),
    (409, "CONFLICT", "Object already exists"),
])  # fmt: skip
def test_a_chunk_where_one_call_exists_falls_back_and_leaves_one_call_each(gateway: HubSpotGateway, hubspot_server: HubSpotServer, refusal: tuple[int, str, str]) -> None:
    """HubSpot refuses the whole create (400 or 409, nothing created): the chunk is upserted."""
    _portal(hubspot_server, deals=3)
    hubspot_server.add_object("calls", "8001", gamefilm_recording_id="zoom:meeting-2")
    status, category, message = refusal
    if status == 409:
        hubspot_server.respond("POST", CREATE, status=409, body={"status": "error", "message": message, "correlationId": "c0ffee", "category": category})

    outcomes = gateway.execute([_upsert(1), _upsert(2, deal="102"), _upsert(3, deal="103")])

    assert all(o.ok for o in outcomes) and outcomes[1].crm_id == "8001"
    assert len(hubspot_server.requests_to("POST", CREATE)) == 1 and len(hubspot_server.requests_to("POST", UPSERT)) == 1
    calls = hubspot_server.objects["calls"]
    assert sorted(p["gamefilm_recording_id"] for p in calls.values()) == ["zoom:meeting-1", "zoom:meeting-2", "zoom:meeting-3"]
    assert hubspot_server.associations[("calls", "deals")] == {outcomes[0].crm_id: ["101"], "8001": ["102"], outcomes[2].crm_id: ["103"]}
    assert hubspot_server.associations[("calls", "contacts")] == {o.crm_id: ["51"] for o in outcomes}


def test_inputs_a_207_on_the_create_names_are_upserted_the_others_kept(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    _portal(hubspot_server, deals=2)
    hubspot_server.add_object("calls", "9100", gamefilm_recording_id="zoom:meeting-1")  # what the create made of input 0
    hubspot_server.associate("calls", "9100", "deals", "101")
    hubspot_server.respond("POST", CREATE, status=207, body={
        "status": "COMPLETE", "startedAt": "2026-11-20T10:00:00Z", "completedAt": "2026-11-20T10:00:01Z",
        "results": [{"id": "9100", "properties": {}, "createdAt": "2026-11-20T10:00:00Z", "updatedAt": "2026-11-20T10:00:00Z", "archived": False, "objectWriteTraceId": "0"}],
        "numErrors": 1,
        "errors": [{"status": "error", "category": "VALIDATION_ERROR", "message": "Property values were not valid", "context": {"objectWriteTraceId": ["1"]}}],
    })  # fmt: skip

    first, second = gateway.execute([_upsert(1), _upsert(2, deal="102")])

    assert first.ok and first.crm_id == "9100" and second.ok and second.crm_id != "9100"
    [upsert] = hubspot_server.requests_to("POST", UPSERT)
    assert [i["id"] for i in upsert.body["inputs"]] == ["zoom:meeting-2"]
    [deals] = hubspot_server.requests_to("POST", CALL_DEALS)
    assert deals.body["inputs"] == [{"from": {"id": second.crm_id}, "to": {"id": "102"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 206}]}]


@pytest.mark.parametrize("status", [401, 403, 429])
def test_a_refusal_for_access_or_rate_is_not_taken_for_an_existing_call(gateway: HubSpotGateway, hubspot_server: HubSpotServer, status: int) -> None:
    _portal(hubspot_server)
    hubspot_server.respond("POST", CREATE, status=status, body={"status": "error", "message": "no", "correlationId": "c0ffee", "category": "X"}, times=10)

    [outcome] = gateway.execute([_upsert()])

    assert not outcome.ok and not outcome.ambiguous
    assert hubspot_server.requests_to("POST", UPSERT) == [] and "calls" not in hubspot_server.objects


def test_association_types_come_from_the_labels_api_once_per_gateway(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    _portal(hubspot_server, deals=2)
    hubspot_server.association_labels[("calls", "deals")] = [
        {"category": "USER_DEFINED", "typeId": 31, "label": "Demo call"},
        {"category": "HUBSPOT_DEFINED", "typeId": 1206, "label": None},
    ]  # a portal whose plain call -> deal type is not the usual 206

    gateway.execute([_upsert(1)])
    gateway.execute([_upsert(2, deal="102")])

    labels = [r.path for r in hubspot_server.requests if r.path.endswith("/labels")]
    assert labels == ["/crm/v4/associations/calls/deals/labels", "/crm/v4/associations/calls/contacts/labels"]
    assert {r.body["inputs"][0]["associations"][0]["types"][0]["associationTypeId"] for r in hubspot_server.requests_to("POST", CREATE)} == {1206}


def test_each_delivery_three_times_leaves_one_call_with_one_association(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    _portal(hubspot_server)

    outcomes = [gateway.execute([_upsert()])[0] for _ in range(3)]

    assert all(o.ok for o in outcomes) and {o.crm_id for o in outcomes} == {"9001"}
    assert list(hubspot_server.objects["calls"]) == ["9001"]
    assert hubspot_server.associations[("calls", "deals")] == {"9001": ["101"]}
    assert hubspot_server.associations[("calls", "contacts")] == {"9001": ["51"]}
    assert len(hubspot_server.requests_to("POST", CREATE)) == 3 and len(hubspot_server.requests_to("POST", UPSERT)) == 2


def test_two_commands_for_one_recording_in_a_batch_are_one_upsert_input(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    _portal(hubspot_server)
    again = UpsertCall(**{**_upsert().__dict__, "key": "attach#again"})

    first, second = gateway.execute([_upsert(), again])

    assert first.ok and second.ok and first.crm_id == second.crm_id == "9001"
    [create] = hubspot_server.requests_to("POST", CREATE)
    assert len(create.body["inputs"]) == 1


def test_a_5xx_after_the_create_applied_falls_back_at_once_to_the_upsert_one_call_associated_once(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    _portal(hubspot_server)
    hubspot_server.fault("POST", CREATE, "applied-then-500")

    [outcome] = gateway.execute([_upsert()])

    assert outcome.ok and outcome.crm_id == "9001" and list(hubspot_server.objects["calls"]) == ["9001"]
    assert len(hubspot_server.requests_to("POST", CREATE)) == 1  # a create is never resent blindly
    assert len(hubspot_server.requests_to("POST", UPSERT)) == 1  # created or not: the upsert on the unique id found it
    assert hubspot_server.associations[("calls", "deals")] == {"9001": ["101"]}
    assert hubspot_server.associations[("calls", "contacts")] == {"9001": ["51"]}


def test_a_resend_after_an_unknown_outcome_never_creates_it_upserts(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    """The process died after sending: the outbox resends the command flagged `resend`, and the
    handler takes the path that is right whether or not the first send created the call, without
    relying on HubSpot refusing a repeated unique value."""
    _portal(hubspot_server)
    hubspot_server.add_object("calls", "8001", gamefilm_recording_id="zoom:meeting-1")

    [outcome] = gateway.execute([replace(_upsert(), resend=True)])

    assert outcome.ok and outcome.crm_id == "8001" and list(hubspot_server.objects["calls"]) == ["8001"]
    assert hubspot_server.requests_to("POST", CREATE) == [] and len(hubspot_server.requests_to("POST", UPSERT)) == 1
    assert hubspot_server.associations[("calls", "deals")] == {"8001": ["101"]}


def test_a_5xx_after_the_fallback_upsert_applied_is_upserted_again_and_still_one_call(gateway: HubSpotGateway, hubspot_server: HubSpotServer, fake_time: FakeTime) -> None:
    _portal(hubspot_server)
    hubspot_server.add_object("calls", "8001", gamefilm_recording_id="zoom:meeting-1")
    hubspot_server.fault("POST", UPSERT, "applied-then-500")

    [outcome] = gateway.execute([_upsert()])

    assert outcome.ok and len(hubspot_server.requests_to("POST", UPSERT)) == 2 and fake_time.sleeps == [1.0]
    assert list(hubspot_server.objects["calls"]) == ["8001"]


def test_an_unknown_outcome_of_the_fallback_associations_is_simply_sent_again(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    _portal(hubspot_server)
    hubspot_server.add_object("calls", "8001", gamefilm_recording_id="zoom:meeting-1")
    hubspot_server.fault("POST", CALL_DEALS, "applied-then-500", times=5)

    [first] = gateway.execute([_upsert()])
    assert not first.ok and first.ambiguous
    assert gateway.reconcile([_upsert()]) == {"attach#1": None}  # idempotent: never looked up
    [second] = gateway.execute([_upsert()])

    assert second.ok and list(hubspot_server.objects["calls"]) == ["8001"]
    assert hubspot_server.associations[("calls", "deals")] == {"8001": ["101"]}


@pytest.mark.parametrize(("records", "requests"), [(1, 1), (100, 1), (101, 2)])
def test_upsert_calls_send_100_per_request(gateway: HubSpotGateway, hubspot_server: HubSpotServer, records: int, requests: int) -> None:
    _portal(hubspot_server)

    outcomes = gateway.execute([_upsert(n) for n in range(records)])

    assert all(o.ok for o in outcomes) and len(hubspot_server.objects["calls"]) == records
    sizes = [len(r.body["inputs"]) for r in hubspot_server.requests_to("POST", CREATE)]
    assert len(sizes) == requests and max(sizes) <= 100
    assert [r.path for r in hubspot_server.requests if r.method == "POST"] == [CREATE] * requests  # associations inline
    assert len(hubspot_server.associations[("calls", "deals")]) == records


def test_a_207_fails_only_the_commands_hubspot_refused(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    _portal(hubspot_server)  # deal 999 does not exist: its association is refused
    hubspot_server.add_object("calls", "8001", gamefilm_recording_id="zoom:meeting-1")  # the chunk falls back to upsert + associations

    good, bad = gateway.execute([_upsert(1), _upsert(2, deal="999")])

    assert good.ok and not bad.ok and not bad.retryable
    assert "Could not find objects 999" in (bad.error or "")
    assert len(hubspot_server.objects["calls"]) == 2  # the call itself exists; a retry upserts it again


def test_a_207_on_the_upsert_maps_errors_to_their_recording(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    _portal(hubspot_server)
    hubspot_server.respond("POST", CREATE, status=400, body={"status": "error", "message": "already has that value", "correlationId": "c0ffee", "category": "VALIDATION_ERROR"})
    hubspot_server.respond("POST", UPSERT, status=207, body={
        "status": "COMPLETE", "startedAt": "2026-11-20T10:00:00Z", "completedAt": "2026-11-20T10:00:01Z",
        "results": [{"id": "9100", "properties": {"gamefilm_recording_id": "zoom:meeting-1"}, "createdAt": "2026-11-20T10:00:00Z",
                     "updatedAt": "2026-11-20T10:00:00Z", "archived": False, "new": True, "objectWriteTraceId": "zoom:meeting-1"}],
        "numErrors": 1,
        "errors": [{"status": "error", "category": "VALIDATION_ERROR", "message": "Property values were not valid", "context": {"ids": ["zoom:meeting-2"]}}],
    })  # fmt: skip
    hubspot_server.add_object("calls", "9100", gamefilm_recording_id="zoom:meeting-1")

    first, second = gateway.execute([_upsert(1), _upsert(2)])

    assert first.ok and first.crm_id == "9100"
    assert not second.ok and second.error == "VALIDATION_ERROR: Property values were not valid"


def test_a_call_from_the_crm_is_stamped_and_associated_only_when_asked(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    _portal(hubspot_server)
    hubspot_server.add_object("calls", "8001", hs_call_title="Logged by the rep")
    hubspot_server.add_object("calls", "8002", hs_call_title="Already on a deal")

    stamped, kept = gateway.execute([
        _upsert("a", call_id="8001", contact_ids=()),
        _upsert("b", call_id="8002", contact_ids=(), associate_deal=False),
    ])  # fmt: skip

    assert stamped.ok and stamped.crm_id == "8001" and kept.ok and kept.crm_id == "8002"
    assert not hubspot_server.requests_to("POST", UPSERT)
    [update] = hubspot_server.requests_to("POST", "/crm/v3/objects/calls/batch/update")
    assert update.body == {"inputs": [{"id": "8001", "properties": {"gamefilm_recording_id": "zoom:meeting-a"}}, {"id": "8002", "properties": {"gamefilm_recording_id": "zoom:meeting-b"}}]}
    [deals] = hubspot_server.requests_to("POST", CALL_DEALS)
    assert [i["from"]["id"] for i in deals.body["inputs"]] == ["8001"]
    assert hubspot_server.objects["calls"]["8001"]["hs_call_title"] == "Logged by the rep"


# ---- review tasks linked to their call ------------------------------------------------------


def test_a_review_task_is_associated_with_its_call_when_the_portal_defines_the_type(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    _portal(hubspot_server)
    gateway.execute([_upsert()])
    hubspot_server.association_labels[("tasks", "calls")] = [{"category": "HUBSPOT_DEFINED", "typeId": 1214, "label": None}]

    [outcome] = gateway.execute([_review()])

    assert outcome.ok
    assert hubspot_server.requests_to("POST", "/crm/v3/objects/calls/batch/read") == []  # the id the upsert answered
    [create] = hubspot_server.requests_to("POST", TASKS_CREATE)
    links = {(a["to"]["id"], a["types"][0]["associationTypeId"]) for a in create.body["inputs"][0]["associations"]}
    assert links == {("101", 216), ("9001", 1214)}
    assert hubspot_server.associations[("tasks", "calls")] == {outcome.crm_id: ["9001"]}
    assert "Recording zoom:meeting-1" not in create.body["inputs"][0]["properties"]["hs_task_body"]


def test_a_call_this_gateway_did_not_just_upsert_is_looked_up_by_its_recording_id(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    _portal(hubspot_server)
    hubspot_server.add_object("calls", "9001", hs_call_title="Call", gamefilm_recording_id="zoom:meeting-1")  # attached by another process
    hubspot_server.association_labels[("tasks", "calls")] = [{"category": "HUBSPOT_DEFINED", "typeId": 1214, "label": None}]

    [outcome] = gateway.execute([_review()])

    [lookup] = hubspot_server.requests_to("POST", "/crm/v3/objects/calls/batch/read")
    assert (lookup.body["idProperty"], lookup.body["inputs"]) == ("gamefilm_recording_id", [{"id": "zoom:meeting-1"}])
    assert outcome.ok and hubspot_server.associations[("tasks", "calls")] == {outcome.crm_id: ["9001"]}


TASK_TO_CALL = [{"category": "HUBSPOT_DEFINED", "typeId": 1214, "label": None}]


def test_a_review_task_carrying_its_call_id_is_associated_without_a_lookup(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    """The peers' tick: a fresh gateway (no upsert remembered), the call id from the attach
    command's outbox row: no calls read, the exact create body links deal and call."""
    _portal(hubspot_server)
    hubspot_server.add_object("calls", "9001", hs_call_title="Call", gamefilm_recording_id="zoom:meeting-1")
    hubspot_server.association_labels[("tasks", "calls")] = TASK_TO_CALL

    [outcome] = gateway.execute([_review(call_id="9001")])

    assert outcome.ok and hubspot_server.associations[("tasks", "calls")] == {outcome.crm_id: ["9001"]}
    assert [(r.method, r.path) for r in hubspot_server.requests] == [
        ("GET", "/crm/v4/associations/tasks/calls/labels"),
        ("GET", "/crm/v4/associations/tasks/deals/labels"),
        ("POST", TASKS_CREATE),
    ]
    due_noon_utc = int(datetime(2026, 12, 1, 12, tzinfo=timezone.utc).timestamp() * 1000)
    assert hubspot_server.requests[-1].body == {
        "inputs": [
            {
                "objectWriteTraceId": "0",
                "properties": {
                    "hs_timestamp": str(due_noon_utc),
                    "hs_task_subject": "Review the call",
                    "hs_task_body": f"Listen &amp; score<br>Game Film ref {marker_for('review#1')}",
                    "hs_task_status": "NOT_STARTED",
                    "hs_task_priority": "MEDIUM",
                    "hs_task_type": "TODO",
                    "hubspot_owner_id": "8",
                },
                "associations": [
                    {"to": {"id": "101"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 216}]},
                    {"to": {"id": "9001"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1214}]},
                ],
            }
        ]
    }


def test_only_review_tasks_without_a_call_id_look_their_call_up(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    _portal(hubspot_server)
    hubspot_server.add_object("calls", "9001", gamefilm_recording_id="zoom:meeting-1")
    hubspot_server.add_object("calls", "9002", gamefilm_recording_id="zoom:meeting-2")
    hubspot_server.association_labels[("tasks", "calls")] = TASK_TO_CALL
    tasks = [
        _review("review#1", call_id="9001"),
        _review("review#2", call_external_id="zoom:meeting-2"),
        _review("review#3", call_external_id="zoom:meeting-2", call_id="9002"),
    ]

    outcomes = gateway.execute(tasks)

    [lookup] = hubspot_server.requests_to("POST", "/crm/v3/objects/calls/batch/read")
    assert lookup.body == {"idProperty": "gamefilm_recording_id", "inputs": [{"id": "zoom:meeting-2"}], "properties": ["gamefilm_recording_id"], "propertiesWithHistory": []}
    assert all(o.ok for o in outcomes)
    assert hubspot_server.associations[("tasks", "calls")] == {outcomes[0].crm_id: ["9001"], outcomes[1].crm_id: ["9002"], outcomes[2].crm_id: ["9002"]}


def test_without_a_task_to_call_type_a_known_call_id_is_named_in_the_body(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    _portal(hubspot_server)

    gateway.execute([_review(call_id="9001")])

    [create] = hubspot_server.requests_to("POST", TASKS_CREATE)
    assert create.body["inputs"][0]["properties"]["hs_task_body"].startswith("Listen &amp; score<br>Recording zoom:meeting-1: HubSpot call 9001<br>Game Film ref gf-")
    assert hubspot_server.requests_to("POST", "/crm/v3/objects/calls/batch/read") == []


def test_remembered_call_ids_expire():
    from integration.gateway.hubspot.known_calls import KnownCalls

    now = [0.0]
    known = KnownCalls(lambda: now[0], max_age=600, max_entries=2)
    known.remember([("rec:1", "9001"), ("rec:2", "9002")])
    assert known.known(["rec:1", "rec:2", "rec:3"]) == {"rec:1": "9001", "rec:2": "9002"}
    known.remember([("rec:3", "9003")])  # over the bound: the oldest goes
    now[0] = 600.0
    assert known.known(["rec:1", "rec:2", "rec:3"]) == {"rec:2": "9002", "rec:3": "9003"}
    now[0] = 600.1
    assert known.known(["rec:2", "rec:3"]) == {}


def test_without_a_task_to_call_type_the_task_body_names_the_call(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    _portal(hubspot_server)
    gateway.execute([_upsert()])

    [outcome] = gateway.execute([_review(), _review("review#2", call_external_id="zoom:not-attached")])[:1]

    bodies = [i["properties"]["hs_task_body"] for i in hubspot_server.requests_to("POST", TASKS_CREATE)[0].body["inputs"]]
    assert outcome.ok and bodies[0].startswith("Listen &amp; score<br>Recording zoom:meeting-1: HubSpot call 9001<br>Game Film ref gf-")
    assert "Recording zoom:not-attached: not attached to a HubSpot call yet" in bodies[1]
    assert all(len(i["associations"]) == 1 for i in hubspot_server.requests_to("POST", TASKS_CREATE)[0].body["inputs"])


def test_an_unknown_outcome_of_a_review_task_is_reconciled_not_sent_twice(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    _portal(hubspot_server)
    gateway.execute([_upsert()])
    hubspot_server.association_labels[("tasks", "calls")] = [{"category": "HUBSPOT_DEFINED", "typeId": 1214, "label": None}]
    hubspot_server.fault("POST", TASKS_CREATE, "applied-then-500")
    task = _review()

    [first] = gateway.execute([task])
    found = gateway.reconcile([task])

    assert first.ambiguous and len(hubspot_server.requests_to("POST", TASKS_CREATE)) == 1
    [created] = hubspot_server.objects["tasks"]
    assert found == {"review#1": created}
    assert hubspot_server.associations[("tasks", "calls")] == {created: ["9001"]}


# ---- RemindTask ---------------------------------------------------------------------------------


def test_remind_task_sets_one_reminder_and_says_which_rule_fired(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_object("tasks", "7001", hs_task_body="Review the call<br>Game Film ref gf-00000000000000000000", hs_task_status="NOT_STARTED")
    command = _remind()

    [outcome] = gateway.execute([command])

    assert outcome.ok and outcome.crm_id == "7001"
    read, update = hubspot_server.requests
    assert (read.path, read.body["properties"]) == ("/crm/v3/objects/tasks/batch/read", ["hs_task_body", "hs_task_reminders", "hs_task_status"])
    assert update.body == {"inputs": [{"id": "7001", "properties": {
        "hs_task_body": f"Review the call<br>Game Film ref gf-00000000000000000000<br>Overdue 1 day (rule overdue_review) (Game Film ref {command.marker})",
        "hs_task_reminders": "1796000000000",
    }}]}  # fmt: skip


def test_the_same_reminder_twice_changes_nothing_the_second_time(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_object("tasks", "7001", hs_task_body="Review")

    first = gateway.execute([_remind()])
    second = gateway.execute([_remind()])

    assert first[0].ok and second[0].ok
    assert len(hubspot_server.requests_to("POST", TASKS_UPDATE)) == 1
    assert hubspot_server.objects["tasks"]["7001"]["hs_task_body"].count("Overdue 1 day") == 1


def test_a_5xx_after_the_reminder_applied_is_resent_and_the_note_is_added_once(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_object("tasks", "7001", hs_task_body="Review")
    hubspot_server.fault("POST", TASKS_UPDATE, "applied-then-500")

    [outcome] = gateway.execute([_remind()])

    assert outcome.ok and len(hubspot_server.requests_to("POST", TASKS_UPDATE)) == 2
    assert hubspot_server.objects["tasks"]["7001"]["hs_task_body"].count("Overdue 1 day") == 1


def test_a_task_completed_meanwhile_gets_no_reminder(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_object("tasks", "7001", hs_task_body="Review", hs_task_status="COMPLETED")

    [outcome] = gateway.execute([_remind()])

    assert outcome.ok and outcome.detail == {"skipped": "the task was completed before the reminder"}
    assert not hubspot_server.requests_to("POST", TASKS_UPDATE)


def test_a_reminder_for_a_deleted_task_fails_without_writing(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_object("tasks", "7001", hs_task_body="Review")

    ok, missing = gateway.execute([_remind("7001"), _remind("404", key="nudge#404")])

    assert ok.ok and not missing.ok and not missing.retryable and "no task 404" in (missing.error or "")
    [update] = hubspot_server.requests_to("POST", TASKS_UPDATE)
    assert [i["id"] for i in update.body["inputs"]] == ["7001"]


@pytest.mark.parametrize(("records", "requests"), [(1, 2), (100, 2), (101, 4)])
def test_reminders_read_and_update_100_tasks_per_request(gateway: HubSpotGateway, hubspot_server: HubSpotServer, records: int, requests: int) -> None:
    for n in range(records):
        hubspot_server.add_object("tasks", str(7000 + n), hs_task_body="Review")

    outcomes = gateway.execute([_remind(str(7000 + n), key=f"nudge#{n}") for n in range(records)])

    assert all(o.ok for o in outcomes) and len(hubspot_server.requests) == requests


# ---- doctor -------------------------------------------------------------------------------------


def test_doctor_asks_for_the_recording_property_when_it_is_missing(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    del hubspot_server.properties["calls"]["gamefilm_recording_id"]

    finding = gateway.check()[-1]

    assert (finding.check, finding.ok) == ("recording property", False)
    assert finding.message.startswith("Create the call property gamefilm_recording_id (single-line text, unique values on, group gamefilm)")


def test_doctor_flags_a_recording_property_without_unique_values(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.properties["calls"]["gamefilm_recording_id"]["hasUniqueValue"] = False

    finding = gateway.check()[-1]

    assert not finding.ok and "does not require unique values" in finding.message


def test_doctor_names_the_companies_scope_matching_needs(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.scopes.remove("crm.objects.companies.read")

    scopes = gateway.check()[1]

    assert not scopes.ok and "crm.objects.companies.read" in scopes.message
