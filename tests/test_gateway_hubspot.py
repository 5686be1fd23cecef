"""HubSpotGateway against the real hubspot-api-client and a loopback fake HubSpot."""
from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Iterator

import pytest

from integration.commands import AddCollaborators, marker_for, AddNote, CreateTask, LogCall, UpdateFields
from integration.config import Tenant
from integration.gateway import CrmError, CrmLimitReached
from integration.gateway.hubspot import DEAL_PROPERTIES, HubSpotError, HubSpotGateway, OAuthCredentials
from integration.gateway.ratelimit import SlidingWindowLimiter
from integration.gateway.transport import RetryPolicy
from tests.hubspot_server import HubSpotServer, Reply, error_reply, hubspot_server, rate_limited  # noqa: F401

TOKEN = "pat-na1-secret-token"
NOW = 1_795_000_000.0  # wall clock for note timestamps


class FakeTime:
    """Monotonic clock that only moves when someone sleeps; sleeps are recorded."""

    def __init__(self) -> None:
        self.now = 5_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_gateway(hubspot_server: HubSpotServer, fake_time: FakeTime) -> Iterator[Callable[..., HubSpotGateway]]:
    made: list[HubSpotGateway] = []

    def make(token: str | None = TOKEN, **options: Any) -> HubSpotGateway:
        options = {"host": hubspot_server.url, "sleep": fake_time.sleep, "clock": fake_time.clock, "wall_clock": lambda: NOW, "retry": RetryPolicy(base_delay=1.0), "rng": lambda: 1.0, **options}
        made.append(HubSpotGateway(token, **options))
        return made[-1]

    yield make
    for gateway in made:
        gateway.close()


@pytest.fixture
def gateway(make_gateway: Callable[..., HubSpotGateway]) -> HubSpotGateway:
    return make_gateway()


def _update(key: str, record_id: str, **fields: Any) -> UpdateFields:
    return UpdateFields(key=key, rule="scores", reason="review scored", record_id=record_id, object_type="deal", fields=fields)


def _task(key: str, record_id: str = "101", **extra: Any) -> CreateTask:
    values = dict(owner_id="7", subject="Review the call", body="Watch <the> call\nScore it", due=date(2026, 12, 1))
    return CreateTask(key=key, rule="peer_review", reason="peer review", record_id=record_id, **{**values, **extra})


def _call(key: str, record_id: str = "101") -> LogCall:
    return LogCall(key=key, rule="recording", reason="recording", record_id=record_id, owner_id="7", title="Discovery call", recording_url="https://rec.example.com/1.mp3", occurred_at_ms=1_794_000_000_000, duration_ms=65_000, body="Notes")


def _note(key: str, record_id: str = "101") -> AddNote:
    return AddNote(key=key, rule="threshold", reason="big deal", record_id=record_id, body="Leaders joined: amount above 100000 USD")


def _leaders(key: str, record_id: str, *user_ids: str) -> AddCollaborators:
    return AddCollaborators(key=key, rule="threshold", reason="amount above threshold", record_id=record_id, user_ids=user_ids)


def _deals(server: HubSpotServer, count: int) -> list[str]:
    ids = [str(1000 + i) for i in range(count)]
    for deal_id in ids:
        server.add_deal(deal_id, amount="10", hs_is_closed="false")
    return ids


# ---- reads ------------------------------------------------------------------------------


def test_read_deals_sends_one_batch_read_and_maps_the_properties(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_deal("101", dealname="Acme", amount="250000.50", deal_currency_code="EUR", hubspot_owner_id="7", dealstage="qualifiedtobuy", pipeline="default", hs_is_closed="false", hs_all_collaborator_owner_ids="8;9")

    deals = gateway.read_deals(["101"])

    [request] = hubspot_server.requests
    assert (request.method, request.path) == ("POST", "/crm/v3/objects/deals/batch/read")
    assert request.body == {"inputs": [{"id": "101"}], "properties": list(DEAL_PROPERTIES), "propertiesWithHistory": ["hs_all_collaborator_owner_ids"]}
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    deal = deals["101"]
    assert (deal.amount, deal.currency, deal.owner_id, deal.stage, deal.pipeline, deal.name) == (Decimal("250000.50"), "EUR", "7", "qualifiedtobuy", "default", "Acme")
    assert deal.closed is False and deal.collaborators == {"8", "9"}


def test_read_deals_leaves_out_ids_hubspot_reports_missing(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_deal("101", hs_is_closed="true")

    deals = gateway.read_deals(["101", "404"])

    assert list(deals) == ["101"] and deals["101"].closed is True


@pytest.mark.parametrize(("records", "requests"), [(1, 1), (100, 1), (101, 2)])
def test_read_deals_batches_100_ids_per_request(gateway: HubSpotGateway, hubspot_server: HubSpotServer, records: int, requests: int) -> None:
    ids = _deals(hubspot_server, records)

    assert len(gateway.read_deals(ids)) == records
    sizes = [len(r.body["inputs"]) for r in hubspot_server.requests]
    assert len(sizes) == requests and max(sizes) <= 100


def test_find_contacts_reads_by_email_as_id_property(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_contact("51", "Ana@Example.com", firstname="Ana", lastname="Lima")

    contacts = gateway.find_contacts(["ana@example.com", "ANA@example.com", "nobody@example.com"])

    [request] = hubspot_server.requests
    assert request.path == "/crm/v3/objects/contacts/batch/read"
    assert request.body["idProperty"] == "email"
    assert request.body["inputs"] == [{"id": "ana@example.com"}, {"id": "nobody@example.com"}]
    assert contacts["ana@example.com"].id == "51" and contacts["ana@example.com"].name == "Ana Lima"
    assert "nobody@example.com" not in contacts


def test_open_deals_for_contacts_uses_associations_v4_and_drops_closed_deals(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_deal("101", hs_is_closed="false")
    hubspot_server.add_deal("102", hs_is_closed="true")
    hubspot_server.associate("contacts", "51", "deals", "101")
    hubspot_server.associate("contacts", "51", "deals", "102")

    deals = gateway.open_deals_for_contacts(["51", "52"])

    assert [d.id for d in deals["51"]] == ["101"] and deals["52"] == []
    assoc, read = hubspot_server.requests
    assert (assoc.path, assoc.body) == ("/crm/v4/associations/contacts/deals/batch/read", {"inputs": [{"id": "51"}, {"id": "52"}]})
    assert read.body["inputs"] == [{"id": "101"}, {"id": "102"}]


# ---- writes -----------------------------------------------------------------------------


def test_update_fields_sends_string_values_and_merges_commands_on_one_deal(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_deal("101")
    commands = [_update("a", "101", gf_score_avg=Decimal("3.75"), gf_last_reviewed=date(2026, 11, 20)), _update("b", "101", gf_review_count=4, gf_graduated=True)]

    outcomes = gateway.update_fields(commands)

    [request] = hubspot_server.requests
    assert (request.method, request.path) == ("POST", "/crm/v3/objects/deals/batch/update")
    assert request.body == {"inputs": [{"id": "101", "properties": {"gf_score_avg": "3.75", "gf_last_reviewed": "2026-11-20", "gf_review_count": "4", "gf_graduated": "true"}}]}
    assert [(o.key, o.ok, o.crm_id) for o in outcomes] == [("a", True, "101"), ("b", True, "101")]


def test_update_fields_maps_a_207_error_to_that_command_only(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.respond(
        "POST",
        "/crm/v3/objects/deals/batch/update",
        status=207,
        body={
            "status": "COMPLETE",
            "results": [{"id": "101", "properties": {"gf_score_avg": "4"}, "createdAt": "2026-11-01T10:00:00.000Z", "updatedAt": "2026-11-20T10:00:00.000Z", "archived": False}],
            "numErrors": 1,
            "errors": [{"status": "error", "category": "OBJECT_NOT_FOUND", "message": "Could not get some DEAL objects, they may be deleted or not exist. Check that ids are valid.", "context": {"ids": ["102"]}}],
            "startedAt": "2026-11-20T10:00:00.000Z",
            "completedAt": "2026-11-20T10:00:00.100Z",
        },
    )

    first, second = gateway.update_fields([_update("a", "101", gf_score_avg=4), _update("b", "102", gf_score_avg=4)])

    assert first.ok and first.crm_id == "101"
    assert not second.ok and second.error is not None and second.error.startswith("OBJECT_NOT_FOUND: Could not get some DEAL objects")
    assert not second.retryable


def test_create_tasks_puts_the_deal_and_contact_associations_in_the_create_body(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    [outcome] = gateway.create_tasks([_task("t1", contact_id="51")])

    lookups, [request] = hubspot_server.requests_to("GET"), hubspot_server.requests_to("POST")
    assert [r.path for r in lookups] == ["/crm/v4/associations/tasks/deals/labels", "/crm/v4/associations/tasks/contacts/labels"]
    assert (request.method, request.path) == ("POST", "/crm/v3/objects/tasks/batch/create")
    due_noon_utc = int(datetime(2026, 12, 1, 12, tzinfo=timezone.utc).timestamp() * 1000)
    assert request.body == {
        "inputs": [
            {
                "objectWriteTraceId": "0",
                "properties": {
                    "hs_timestamp": str(due_noon_utc),
                    "hs_task_subject": "Review the call",
                    "hs_task_body": f"Watch &lt;the&gt; call<br>Score it<br>Game Film ref {marker_for('t1')}",
                    "hs_task_status": "NOT_STARTED",
                    "hs_task_priority": "MEDIUM",
                    "hs_task_type": "TODO",
                    "hubspot_owner_id": "7",
                },
                "associations": [
                    {"to": {"id": "101"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 216}]},
                    {"to": {"id": "51"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204}]},
                ],
            }
        ]
    }
    assert outcome.ok and outcome.crm_id in hubspot_server.objects["tasks"]


def test_task_priority_maps_to_hubspot_values(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    gateway.create_tasks([_task("h", priority="HIGH"), _task("l", priority="LOW")])

    assert [i["properties"]["hs_task_priority"] for i in hubspot_server.requests_to("POST")[0].body["inputs"]] == ["HIGH", "LOW"]


def test_log_calls_creates_completed_calls_on_the_deal(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    [outcome] = gateway.log_calls([_call("c1")])

    [request] = hubspot_server.requests_to("POST")  # after the association type lookup (labels API)
    assert request.path == "/crm/v3/objects/calls/batch/create"
    assert request.body["inputs"] == [
        {
            "objectWriteTraceId": "0",
            "properties": {
                "hs_timestamp": "1794000000000",
                "hs_call_title": "Discovery call",
                "hs_call_body": f"Notes<br>Game Film ref {marker_for('c1')}",
                "hs_call_status": "COMPLETED",
                "hs_call_recording_url": "https://rec.example.com/1.mp3",
                "hs_call_duration": "65000",
                "hubspot_owner_id": "7",
            },
            "associations": [{"to": {"id": "101"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 206}]}],
        }
    ]
    assert outcome.ok


def test_add_notes_creates_notes_on_the_deal(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    gateway.add_notes([_note("n1")])

    [request] = hubspot_server.requests_to("POST")
    assert request.path == "/crm/v3/objects/notes/batch/create"
    assert request.body["inputs"] == [
        {
            "objectWriteTraceId": "0",
            "properties": {"hs_timestamp": str(int(NOW * 1000)), "hs_note_body": f"Leaders joined: amount above 100000 USD<br>Game Film ref {marker_for('n1')}"},
            "associations": [{"to": {"id": "101"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 214}]}],
        }
    ]


WRITES: dict[str, Callable[[HubSpotGateway, list[str]], list[Any]]] = {
    "update_fields": lambda g, ids: g.update_fields([_update(f"k{i}", d, gf_score_avg=3) for i, d in enumerate(ids)]),
    "add_collaborators": lambda g, ids: g.add_collaborators([_leaders(f"k{i}", d, "77") for i, d in enumerate(ids)]),
    "create_tasks": lambda g, ids: g.create_tasks([_task(f"k{i}", d) for i, d in enumerate(ids)]),
    "log_calls": lambda g, ids: g.log_calls([_call(f"k{i}", d) for i, d in enumerate(ids)]),
    "add_notes": lambda g, ids: g.add_notes([_note(f"k{i}", d) for i, d in enumerate(ids)]),
}


@pytest.mark.parametrize("op", WRITES)
@pytest.mark.parametrize(("records", "requests"), [(1, 1), (100, 1), (101, 2)])
def test_writes_batch_100_records_per_request(gateway: HubSpotGateway, hubspot_server: HubSpotServer, op: str, records: int, requests: int) -> None:
    ids = _deals(hubspot_server, records)

    outcomes = WRITES[op](gateway, ids)

    assert len(outcomes) == records and all(o.ok for o in outcomes)
    writes = [r for r in hubspot_server.requests_to("POST") if not r.path.endswith("/batch/read")]
    assert len(writes) == requests
    assert [len(r.body["inputs"]) for r in writes] == [min(records, 100)] + [records - 100] * (requests - 1)


def test_created_records_are_matched_by_trace_id_not_by_position(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    record = {"properties": {}, "createdAt": "2026-11-20T10:00:00.000Z", "updatedAt": "2026-11-20T10:00:00.000Z", "archived": False}
    hubspot_server.respond(
        "POST",
        "/crm/v3/objects/tasks/batch/create",
        status=201,
        body={"status": "COMPLETE", "results": [{**record, "id": "702", "objectWriteTraceId": "1"}, {**record, "id": "701", "objectWriteTraceId": "0"}], "startedAt": "2026-11-20T10:00:00.000Z", "completedAt": "2026-11-20T10:00:00.100Z"},
    )

    outcomes = gateway.create_tasks([_task("first"), _task("second")])

    assert [(o.key, o.crm_id) for o in outcomes] == [("first", "701"), ("second", "702")]


def test_a_create_error_naming_no_input_fails_the_inputs_without_a_result(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    record = {"properties": {}, "createdAt": "2026-11-20T10:00:00.000Z", "updatedAt": "2026-11-20T10:00:00.000Z", "archived": False}
    hubspot_server.respond(
        "POST",
        "/crm/v3/objects/calls/batch/create",
        status=207,
        body={
            "status": "COMPLETE",
            "results": [{**record, "id": "801", "objectWriteTraceId": "0"}],
            "numErrors": 1,
            "errors": [{"status": "error", "category": "VALIDATION_ERROR", "message": "Property values were not valid", "context": {}}],
            "startedAt": "2026-11-20T10:00:00.000Z",
            "completedAt": "2026-11-20T10:00:00.100Z",
        },
    )

    ok, failed = gateway.log_calls([_call("a"), _call("b")])

    assert ok.ok and ok.crm_id == "801"
    assert not failed.ok and failed.error == "VALIDATION_ERROR: Property values were not valid"


def test_add_collaborators_keeps_existing_ids_and_skips_deals_that_do_not_change(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_deal("101", hs_all_collaborator_owner_ids="1;2")
    hubspot_server.add_deal("102", hs_all_collaborator_owner_ids="5")
    commands = [_leaders("a", "101", "2", "3"), _leaders("b", "102", "5"), _leaders("c", "101", "3", "4"), _leaders("d", "404", "1")]

    outcomes = gateway.add_collaborators(commands)

    read, update = hubspot_server.requests
    assert read.body == {"inputs": [{"id": "101"}, {"id": "102"}, {"id": "404"}], "properties": ["hs_all_collaborator_owner_ids"], "propertiesWithHistory": ["hs_all_collaborator_owner_ids"]}
    assert (update.path, update.body) == ("/crm/v3/objects/deals/batch/update", {"inputs": [{"id": "101", "properties": {"hs_all_collaborator_owner_ids": "1;2;3;4"}}]})
    assert [(o.key, o.ok) for o in outcomes] == [("a", True), ("b", True), ("c", True), ("d", False)]
    assert outcomes[1].detail == {"unchanged": True}
    assert outcomes[3].error == "deal 404 not found in HubSpot"


def test_add_collaborators_sends_no_update_when_every_leader_is_already_there(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_deal("101", hs_all_collaborator_owner_ids="1;2")

    [outcome] = gateway.add_collaborators([_leaders("a", "101", "2")])

    assert outcome.ok and [r.path for r in hubspot_server.requests] == ["/crm/v3/objects/deals/batch/read"]


def test_a_failing_later_chunk_keeps_the_outcomes_of_chunks_already_written(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    ids = _deals(hubspot_server, 101)
    answers = iter([None, error_reply(400, "VALIDATION_ERROR", "Property values were not valid")])
    hubspot_server.route("POST", "/crm/v3/objects/deals/batch/update", lambda request: next(answers) or hubspot_server.default(request))

    outcomes = gateway.update_fields([_update(f"k{i}", d, gf_score_avg=1) for i, d in enumerate(ids)])

    assert all(o.ok for o in outcomes[:100])
    assert not outcomes[100].ok and not outcomes[100].retryable
    assert outcomes[100].error == "HubSpot 400 VALIDATION_ERROR: Property values were not valid"


# ---- errors, retries, limits -----------------------------------------------------------


def test_429_is_retried_after_the_interval_the_rate_limit_headers_give(gateway: HubSpotGateway, hubspot_server: HubSpotServer, fake_time: FakeTime) -> None:
    hubspot_server.add_deal("101")
    headers = {"X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Remaining": "0", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}
    hubspot_server.respond("POST", "/crm/v3/objects/deals/batch/read", status=429, headers=headers, body=rate_limited())

    assert "101" in gateway.read_deals(["101"])

    assert len(hubspot_server.requests) == 2
    assert sum(fake_time.sleeps) == pytest.approx(10.0)


def test_429_honours_retry_after(gateway: HubSpotGateway, hubspot_server: HubSpotServer, fake_time: FakeTime) -> None:
    hubspot_server.respond("POST", "/crm/v3/objects/notes/batch/create", status=429, headers={"Retry-After": "3"}, body=rate_limited())

    [outcome] = gateway.add_notes([_note("n")])

    assert outcome.ok and len(hubspot_server.requests_to("POST")) == 2 and fake_time.sleeps == [3.0]


# A 5xx on a batch create used to be resent here (issue 7: duplicated notes); it is now an
# ambiguous outcome, looked up by the worker: see test_gateway_hubspot_faults.py.
def test_5xx_on_a_batch_update_is_resent_with_backoff(gateway: HubSpotGateway, hubspot_server: HubSpotServer, fake_time: FakeTime) -> None:
    hubspot_server.add_deal("101")
    hubspot_server.respond("POST", "/crm/v3/objects/deals/batch/update", status=502, body={"status": "error", "message": "Bad Gateway"}, times=2)

    [outcome] = gateway.update_fields([_update("a", "101", x=1)])

    assert outcome.ok
    assert [r.method for r in hubspot_server.requests] == ["POST"] * 3
    assert fake_time.sleeps == [1.0, 2.0]


def test_5xx_gives_up_after_the_policys_attempts_with_a_retryable_ambiguous_outcome(make_gateway: Callable[..., HubSpotGateway], hubspot_server: HubSpotServer) -> None:
    hubspot_server.respond("POST", "/crm/v3/objects/deals/batch/update", status=503, body={"status": "error", "message": "Service Unavailable"}, times=10)

    [outcome] = make_gateway(retry=RetryPolicy(attempts=2, base_delay=1.0)).update_fields([_update("a", "101", x=1)])

    assert not outcome.ok and outcome.retryable and outcome.ambiguous
    assert outcome.error == "HubSpot 503: Service Unavailable"
    assert len(hubspot_server.requests) == 3


def test_daily_limit_raises_crm_limit_reached_without_retrying(gateway: HubSpotGateway, hubspot_server: HubSpotServer, fake_time: FakeTime) -> None:
    hubspot_server.respond("POST", "/crm/v3/objects/deals/batch/read", status=429, body=rate_limited("DAILY"))

    with pytest.raises(CrmLimitReached, match="daily limit"):
        gateway.read_deals(["101"])

    assert len(hubspot_server.requests) == 1 and fake_time.sleeps == []


def test_other_4xx_raises_a_final_crm_error_with_hubspots_message(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.respond("POST", "/crm/v3/objects/deals/batch/update", status=400, body={"status": "error", "message": "Property values were not valid", "correlationId": "x", "category": "VALIDATION_ERROR"})

    [outcome] = gateway.update_fields([_update("a", "101", amount="lots")])

    assert not outcome.ok and not outcome.retryable and not outcome.ambiguous
    assert outcome.error == "HubSpot 400 VALIDATION_ERROR: Property values were not valid"
    assert len(hubspot_server.requests) == 1


def test_a_rejected_private_app_token_is_a_final_error_without_the_token(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.accepted_tokens = {"another-token"}

    with pytest.raises(HubSpotError) as raised:
        gateway.read_deals(["101"])

    assert raised.value.status == 401 and not raised.value.retryable
    assert TOKEN not in str(raised.value) and raised.value.__cause__ is None


def test_oauth_refreshes_the_access_token_once_on_401_then_repeats_the_request(make_gateway: Callable[..., HubSpotGateway], hubspot_server: HubSpotServer) -> None:
    hubspot_server.accepted_tokens = set()
    hubspot_server.add_deal("101")
    gateway = make_gateway("expired-token", oauth=OAuthCredentials("refresh-1", "client-1", "client-secret-1"))

    assert "101" in gateway.read_deals(["101"])
    assert "101" in gateway.read_deals(["101"])

    first, refresh, repeat, later = hubspot_server.requests
    assert first.headers["authorization"] == "Bearer expired-token"
    assert (refresh.method, refresh.path) == ("POST", "/oauth/v1/token")
    assert refresh.body == {"grant_type": "refresh_token", "refresh_token": "refresh-1", "client_id": "client-1", "client_secret": "client-secret-1"}
    assert repeat.headers["authorization"] == later.headers["authorization"] == "Bearer refreshed-access-token"


def test_oauth_refreshes_only_once_per_request(make_gateway: Callable[..., HubSpotGateway], hubspot_server: HubSpotServer) -> None:
    hubspot_server.accepted_tokens = set()
    hubspot_server.route("POST", "/oauth/v1/token", lambda request: Reply(200, {"token_type": "bearer", "refresh_token": "refresh-1", "access_token": "still-rejected", "expires_in": 1800}))
    gateway = make_gateway("expired-token", oauth=OAuthCredentials("refresh-1", "client-1", "client-secret-1"))

    with pytest.raises(HubSpotError) as raised:
        gateway.read_deals(["101"])

    assert raised.value.status == 401
    assert [r.path for r in hubspot_server.requests] == ["/crm/v3/objects/deals/batch/read", "/oauth/v1/token", "/crm/v3/objects/deals/batch/read"]


def test_oauth_secrets_stay_out_of_repr() -> None:
    text = repr(OAuthCredentials("refresh-secret", "client-1", "client-secret"))

    assert "refresh-secret" not in text and "client-secret" not in text


# ---- rate limiter -----------------------------------------------------------------------


def test_limiter_keeps_a_burst_within_the_window_budget(fake_time: FakeTime) -> None:
    limiter = SlidingWindowLimiter(10, 10.0, clock=fake_time.clock, sleep=fake_time.sleep)
    sent = []

    for _ in range(35):
        limiter.acquire()
        sent.append(fake_time.now)

    assert max(sum(1 for t in sent if start <= t < start + 10.0) for start in sent) == 10
    assert sent[-1] - sent[0] == pytest.approx(30.0)  # 35 requests need 3 more windows, no more


def test_gateway_paces_requests_to_the_configured_limit(make_gateway: Callable[..., HubSpotGateway], hubspot_server: HubSpotServer, fake_time: FakeTime) -> None:
    gateway = make_gateway(rate_limit_per_10s=5)

    for _ in range(12):
        gateway.read_deals(["101"])

    assert len(hubspot_server.requests) == 12
    assert sum(fake_time.sleeps) == pytest.approx(20.0)


def test_limiter_waits_a_server_interval_when_the_server_reports_the_budget_spent(fake_time: FakeTime) -> None:
    limiter = SlidingWindowLimiter(100, 10.0, clock=fake_time.clock, sleep=fake_time.sleep)

    limiter.acquire()
    limiter.observe({"X-HubSpot-RateLimit-Remaining": "1", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"})
    limiter.acquire()

    assert fake_time.sleeps == [10.0]


def test_gateway_honours_low_remaining_headers_on_success(gateway: HubSpotGateway, hubspot_server: HubSpotServer, fake_time: FakeTime) -> None:
    hubspot_server.rate_limit_headers = {"X-HubSpot-RateLimit-Remaining": "0", "X-HubSpot-RateLimit-Interval-Milliseconds": "2000"}

    gateway.read_deals(["101"])
    gateway.read_deals(["101"])

    assert fake_time.sleeps == [2.0]


# ---- doctor and construction -----------------------------------------------------------


def test_check_passes_for_a_private_app_with_every_scope(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    findings = gateway.check()

    assert [(f.check, f.ok) for f in findings] == [("token", True), ("scopes", True), ("collaborators", True), ("recording property", True)]
    info, prop, recording = hubspot_server.requests
    assert (info.method, info.path, info.body) == ("POST", "/oauth/v2/private-apps/get/access-token-info", {"tokenKey": TOKEN})
    assert (prop.method, prop.path) == ("GET", "/crm/v3/properties/deals/hs_all_collaborator_owner_ids")
    assert (recording.method, recording.path) == ("GET", "/crm/v3/properties/calls/gamefilm_recording_id")


def test_check_names_missing_scopes_and_the_collaborators_setting(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.scopes = ["crm.objects.deals.read", "crm.objects.contacts.read"]
    hubspot_server.properties["deals"].clear()

    token, scopes, collaborators, _ = gateway.check()

    assert token.ok and not scopes.ok and not collaborators.ok
    assert "crm.objects.deals.write" in scopes.message and "crm.objects.owners.read" in scopes.message
    assert "crm.objects.deals.read," not in scopes.message
    assert "Turn on deal collaborators" in collaborators.message


def test_check_reports_a_rejected_token(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.accepted_tokens = set()

    [finding] = gateway.check()

    assert not finding.ok and finding.check == "token" and TOKEN not in finding.message


def test_check_for_oauth_refreshes_then_reads_token_metadata(make_gateway: Callable[..., HubSpotGateway], hubspot_server: HubSpotServer) -> None:
    gateway = make_gateway("old", oauth=OAuthCredentials("refresh-1", "client-1", "client-secret-1"))

    assert all(f.ok for f in gateway.check())
    assert [r.path for r in hubspot_server.requests] == [
        "/oauth/v1/token", "/oauth/v1/access-tokens/refreshed-access-token",
        "/crm/v3/properties/deals/hs_all_collaborator_owner_ids", "/crm/v3/properties/calls/gamefilm_recording_id",
    ]  # fmt: skip


def _tenant(**overrides: Any) -> Tenant:
    values: dict[str, Any] = dict(id="acme", crm="hubspot", dry_run=False, portal_id="62515", client_secret_env="HS_SECRET", access_token_env="HS_TOKEN", rate_limit_per_10s=190)
    return Tenant(**{**values, **overrides})


def test_from_tenant_uses_the_private_app_token_and_the_api_base_url(hubspot_server: HubSpotServer) -> None:
    gateway = HubSpotGateway.from_tenant(_tenant(api_base_url=hubspot_server.url), {"HS_TOKEN": TOKEN})

    gateway.read_deals(["101"])
    gateway.close()

    assert hubspot_server.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert gateway.limiter.limit == 190


def test_from_tenant_uses_oauth_when_a_refresh_token_is_configured(hubspot_server: HubSpotServer) -> None:
    tenant = _tenant(api_base_url=hubspot_server.url, refresh_token_env="HS_REFRESH", client_id_env="HS_CLIENT_ID")
    hubspot_server.accepted_tokens = set()
    gateway = HubSpotGateway.from_tenant(tenant, {"HS_TOKEN": "expired", "HS_REFRESH": "r", "HS_CLIENT_ID": "c", "HS_SECRET": "s"})

    gateway.read_deals(["101"])
    gateway.close()

    assert hubspot_server.requests[1].body == {"grant_type": "refresh_token", "refresh_token": "r", "client_id": "c", "client_secret": "s"}


def test_from_tenant_names_the_missing_variable_not_a_value() -> None:
    with pytest.raises(CrmError, match="HS_TOKEN is not set"):
        HubSpotGateway.from_tenant(_tenant(), {})


def test_the_sdk_is_not_imported_with_the_module() -> None:
    code = "import sys, integration.gateway.hubspot; assert 'hubspot' not in sys.modules, 'hubspot imported at module load'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_an_unreachable_host_is_retried_then_a_retryable_error_without_the_url(make_gateway: Callable[..., HubSpotGateway], fake_time: FakeTime) -> None:
    gateway = make_gateway(host="http://127.0.0.1:9", retry=RetryPolicy(attempts=2, base_delay=1.0))

    with pytest.raises(HubSpotError) as raised:
        gateway.read_deals(["101"])

    assert raised.value.retryable and not raised.value.ambiguous  # never reached HubSpot
    assert raised.value.status == 0 and fake_time.sleeps == [1.0, 2.0]
    assert str(raised.value) == "HubSpot unreachable (MaxRetryError)"
