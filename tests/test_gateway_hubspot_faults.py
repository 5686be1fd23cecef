"""HubSpotGateway under failure, through the real hubspot-api-client to the loopback server:
which failures are resent, which come back ambiguous, how creates are found again, client
timeouts, and collaborators a person added while we were writing."""
from __future__ import annotations

import time
from decimal import Decimal
from typing import Any, Callable

import pytest

from integration.commands import Command
from integration.gateway import RecordDataError
from integration.gateway.hubspot import HubSpotError, HubSpotGateway
from integration.gateway.transport import RetryPolicy, Timeouts
from tests.hubspot_server import HubSpotServer, hubspot_server  # noqa: F401
from tests.test_gateway_hubspot import FakeTime, _call, _deals, _leaders, _note, _task, _tenant, _update, fake_time, make_gateway  # noqa: F401

CREATES: dict[str, tuple[str, Callable[[str, str], Command]]] = {
    "tasks": ("/crm/v3/objects/tasks/batch/create", lambda key, deal: _task(key, deal)),
    "calls": ("/crm/v3/objects/calls/batch/create", lambda key, deal: _call(key, deal)),
    "notes": ("/crm/v3/objects/notes/batch/create", lambda key, deal: _note(key, deal)),
}
UPDATE = "/crm/v3/objects/deals/batch/update"
AMBIGUOUS = ("applied-then-500", "applied-then-drop", "hang")


@pytest.fixture
def gateway(make_gateway: Callable[..., HubSpotGateway], hubspot_server: HubSpotServer) -> HubSpotGateway:
    hubspot_server.hang_seconds = 0.8
    return make_gateway(timeouts=Timeouts(connect=1.0, read=0.3))


# ---- creates: never resent after an ambiguous failure, then found exactly once ---------------


@pytest.mark.parametrize("fault", AMBIGUOUS)
@pytest.mark.parametrize("kind", CREATES)
def test_an_ambiguous_create_is_not_resent_and_reconcile_finds_the_record(gateway: HubSpotGateway, hubspot_server: HubSpotServer, kind: str, fault: str) -> None:
    path, make = CREATES[kind]
    hubspot_server.add_deal("101")
    hubspot_server.add_object(kind, "1", **{f"hs_{kind[:-1]}_body": "someone else's, no marker"})
    hubspot_server.associate(kind, "1", "deals", "101")
    command = make("k1", "101")
    hubspot_server.fault("POST", path, fault)

    [outcome] = gateway.execute([command])

    assert not outcome.ok and outcome.ambiguous and outcome.retryable
    assert len(hubspot_server.requests_to("POST", path)) == 1
    [created] = [i for i in hubspot_server.objects[kind] if i != "1"]
    assert gateway.reconcile([command]) == {"k1": created}


@pytest.mark.parametrize("kind", CREATES)
def test_a_create_refused_before_applying_is_found_absent_and_sent_once_more(gateway: HubSpotGateway, hubspot_server: HubSpotServer, kind: str) -> None:
    path, make = CREATES[kind]
    hubspot_server.add_deal("101")
    command = make("k1", "101")
    hubspot_server.fault("POST", path, "refused-500")

    [first] = gateway.execute([command])
    assert first.ambiguous and gateway.reconcile([command]) == {"k1": None}
    [second] = gateway.execute([command])

    assert second.ok and list(hubspot_server.objects[kind]) == [second.crm_id]
    assert gateway.reconcile([command]) == {"k1": second.crm_id}


def test_failures_before_sending_are_resent_even_for_creates(make_gateway: Callable[..., HubSpotGateway], hubspot_server: HubSpotServer, fake_time: FakeTime) -> None:
    hubspot_server.fault("POST", CREATES["notes"][0], "429", times=2)

    [outcome] = make_gateway().add_notes([_note("n")])

    assert outcome.ok and len(hubspot_server.objects["notes"]) == 1
    assert len(hubspot_server.requests_to("POST")) == 3 and fake_time.sleeps == [1.0, 1.0]  # Retry-After: 1


def test_connection_refused_on_a_create_is_resent_as_not_sent(make_gateway: Callable[..., HubSpotGateway], fake_time: FakeTime) -> None:
    gateway = make_gateway(host="http://127.0.0.1:9", retry=RetryPolicy(attempts=2, base_delay=1.0))

    [outcome] = gateway.create_tasks([_task("t")])

    assert not outcome.ok and outcome.retryable and not outcome.ambiguous
    assert fake_time.sleeps == [1.0, 2.0]


def test_find_batches_one_lookup_for_many_commands_over_many_deals(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    deals = _deals(hubspot_server, 150)
    commands = [_note(f"k{i}", d) for i, d in enumerate(deals)]
    assert all(o.ok for o in gateway.add_notes(commands[:120]))
    before = len(hubspot_server.requests)

    found = gateway.reconcile(commands)

    lookups = [(r.path, len(r.body["inputs"])) for r in hubspot_server.requests[before:]]
    assert lookups == [("/crm/v4/associations/deals/notes/batch/read", 100), ("/crm/v4/associations/deals/notes/batch/read", 50),
                       ("/crm/v3/objects/notes/batch/read", 100), ("/crm/v3/objects/notes/batch/read", 20)]  # fmt: skip
    assert sum(v is not None for v in found.values()) == 120 and all(found[f"k{i}"] is None for i in range(120, 150))
    assert len(set(found.values()) - {None}) == 120


def test_find_follows_association_paging(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_deal("101")
    [outcome] = gateway.add_notes([_note("k", "101")])
    pages = iter([
        {"status": "COMPLETE", "results": [{"from": {"id": "101"}, "to": [{"toObjectId": 1, "associationTypes": []}], "paging": {"next": {"after": "p2"}}}]},
        {"status": "COMPLETE", "results": [{"from": {"id": "101"}, "to": [{"toObjectId": int(outcome.crm_id or 0), "associationTypes": []}]}]},
    ])  # fmt: skip
    from tests.hubspot_server import Reply

    hubspot_server.route("POST", "/crm/v4/associations/deals/notes/batch/read", lambda request: Reply(200, next(pages)))

    assert gateway.reconcile([_note("k", "101")]) == {"k": outcome.crm_id}
    first, second = hubspot_server.requests_to("POST", "/crm/v4/associations/deals/notes/batch/read")
    assert first.body == {"inputs": [{"id": "101"}]} and second.body == {"inputs": [{"id": "101", "after": "p2"}]}


def test_a_lookup_that_cannot_read_hubspot_leaves_the_command_unknown(make_gateway: Callable[..., HubSpotGateway], hubspot_server: HubSpotServer) -> None:
    hubspot_server.fault("POST", "/crm/v4/associations/deals/notes/batch/read", "refused-500", times=3)
    gateway = make_gateway(retry=RetryPolicy(attempts=2, base_delay=1.0))

    assert gateway.reconcile([_note("k", "101"), _update("u", "101", x=1)]) == {"u": None}


# ---- updates: idempotent, resent --------------------------------------------------------------


@pytest.mark.parametrize("fault", AMBIGUOUS)
def test_an_ambiguous_update_is_resent_and_applied_once(gateway: HubSpotGateway, hubspot_server: HubSpotServer, fault: str) -> None:
    hubspot_server.add_deal("101", hs_all_collaborator_owner_ids="1")
    hubspot_server.add_deal("102")
    hubspot_server.fault("POST", UPDATE, fault, times=2)

    outcomes = gateway.execute([_update("u", "102", gf_score_avg=4), _leaders("c", "101", "7")])

    assert [o.ok for o in outcomes] == [True, True]
    assert len(hubspot_server.requests_to("POST", UPDATE)) == 4  # each update resent once
    assert hubspot_server.objects["deals"]["102"]["gf_score_avg"] == "4"
    assert hubspot_server.objects["deals"]["101"]["hs_all_collaborator_owner_ids"] == "1;7"


def test_one_command_type_failing_keeps_the_other_types_outcomes(make_gateway: Callable[..., HubSpotGateway], hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_deal("101")
    hubspot_server.fault("POST", UPDATE, "refused-500", times=5)
    gateway = make_gateway(retry=RetryPolicy(attempts=1, base_delay=1.0))

    update, note = gateway.execute([_update("u", "101", x=1), _note("n", "101")])

    assert not update.ok and update.retryable and note.ok and note.crm_id in hubspot_server.objects["notes"]


def test_a_failing_middle_chunk_fails_only_itself_and_the_unsent_rest(make_gateway: Callable[..., HubSpotGateway], hubspot_server: HubSpotServer) -> None:
    deals = _deals(hubspot_server, 250)
    answers = iter(["ok", "applied-then-500"])
    gateway = make_gateway()
    real = hubspot_server.default

    def second_chunk_fails(request: Any) -> Any:
        from tests.hubspot_server import error_reply

        reply = real(request)
        return error_reply(500, "INTERNAL_ERROR", "boom") if next(answers, "ok") != "ok" else reply

    hubspot_server.route("POST", CREATES["notes"][0], second_chunk_fails)

    outcomes = gateway.add_notes([_note(f"k{i}", d) for i, d in enumerate(deals)])

    assert all(o.ok for o in outcomes[:100])
    assert all(o.ambiguous for o in outcomes[100:200])
    assert all(o.retryable and not o.ambiguous and o.error and o.error.startswith("not sent") for o in outcomes[200:])
    assert len(hubspot_server.requests_to("POST", CREATES["notes"][0])) == 2


# ---- timeouts --------------------------------------------------------------------------------


def test_a_hanging_read_costs_the_read_timeout_then_is_resent(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_deal("101")
    hubspot_server.fault("POST", "/crm/v3/objects/deals/batch/read", "hang")

    start = time.perf_counter()
    deals = gateway.read_deals(["101"])

    assert "101" in deals and time.perf_counter() - start < 1.5  # 0.3 s read timeout + the resend
    assert len(hubspot_server.requests) == 2


def test_from_tenant_takes_the_tenants_timeouts(hubspot_server: HubSpotServer) -> None:
    gateway = HubSpotGateway.from_tenant(_tenant(api_base_url=hubspot_server.url, connect_timeout_seconds=2.0, read_timeout_seconds=0.3), {"HS_TOKEN": "pat-na1-tenant"})
    hubspot_server.hang_seconds = 0.8
    hubspot_server.fault("POST", CREATES["notes"][0], "hang")

    [outcome] = gateway.add_notes([_note("n")])
    gateway.close()

    assert gateway.transport.timeouts == Timeouts(2.0, 0.3)
    assert outcome.ambiguous and outcome.error == "HubSpot unreachable (ReadTimeoutError)"


# ---- record data --------------------------------------------------------------------------------


def test_a_non_numeric_amount_raises_record_data_error_naming_deal_and_field_not_the_value(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_deal("101", amount="12,5 k€")
    hubspot_server.add_deal("102", amount="250000")

    with pytest.raises(RecordDataError) as raised:
        gateway.read_deals(["102", "101"])

    assert (raised.value.record_id, raised.value.field_name, raised.value.retryable) == ("101", "amount", False)
    assert "12,5" not in str(raised.value) and str(raised.value).startswith("record 101: field amount: not a number")


@pytest.mark.parametrize(("props", "field"), [({"amount": "NaN"}, "amount"), ({"amount": "Infinity"}, "amount"), ({"hs_is_closed": "maybe"}, "hs_is_closed")])
def test_other_unconvertible_values_are_record_data_errors(gateway: HubSpotGateway, hubspot_server: HubSpotServer, props: dict[str, str], field: str) -> None:
    hubspot_server.add_deal("101", **props)

    with pytest.raises(RecordDataError) as raised:
        gateway.read_deals(["101"])

    assert raised.value.field_name == field


def test_amounts_with_spaces_and_exponents_still_read(gateway: HubSpotGateway, hubspot_server: HubSpotServer) -> None:
    hubspot_server.add_deal("101", amount=" 1.5E5 ")

    assert gateway.read_deals(["101"])["101"].amount == Decimal("150000")


def test_an_error_text_never_holds_the_token(make_gateway: Callable[..., HubSpotGateway], hubspot_server: HubSpotServer) -> None:
    hubspot_server.respond("POST", UPDATE, status=400, body={"status": "error", "message": "bad token pat-na1-secret-token", "category": "VALIDATION_ERROR"})

    [outcome] = make_gateway().update_fields([_update("u", "101", x=1)])

    assert outcome.error == "HubSpot 400 VALIDATION_ERROR: bad token ***"


def test_read_errors_say_they_may_have_been_applied_only_after_sending() -> None:
    from integration.gateway.hubspot.transport import Failure

    assert Failure(500, {}, {}).ambiguous and not Failure(429, {}, {}).ambiguous and not Failure(0, {}, {}, sent=False).ambiguous
    assert isinstance(HubSpotError("x", status=503, ambiguous=True).retryable, bool)


def test_a_create_refused_with_401_is_sent_again_after_the_oauth_refresh(make_gateway: Callable[..., HubSpotGateway], hubspot_server: HubSpotServer) -> None:
    from integration.gateway.hubspot import OAuthCredentials

    gateway = make_gateway("expired-token", oauth=OAuthCredentials("refresh-1", "client-1", "client-secret-1"))
    gateway.association_types.find("notes", "deals")  # looked up while the token still worked
    hubspot_server.accepted_tokens = set()
    hubspot_server.requests.clear()

    [outcome] = gateway.add_notes([_note("n")])

    assert outcome.ok and list(hubspot_server.objects["notes"]) == [outcome.crm_id]
    assert [r.path for r in hubspot_server.requests] == [CREATES["notes"][0], "/oauth/v1/token", CREATES["notes"][0]]
