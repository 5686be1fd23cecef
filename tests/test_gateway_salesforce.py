"""SalesforceGateway against the real simple-salesforce client, HTTP intercepted with `responses`.

Response bodies follow the Salesforce REST API docs: query results (`totalSize`, `done`,
`records`, `nextRecordsUrl`), sObject Collections SaveResults (`id`, `success`, `errors`
with `statusCode`/`message`/`fields`), error arrays (`errorCode`, `message`), Composite
Batch (`hasErrors`, `results[].statusCode/result`) and the OAuth token response.
"""
from __future__ import annotations

import base64
import itertools
import json
from datetime import date
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from integration.commands import AddCollaborators, AddNote, CreateTask, LogCall, UpdateFields
from integration.config import Tenant
from integration.gateway import CrmError, CrmLimitReached, RecordDataError
from integration.gateway.salesforce import ENABLE_TEAMS, SalesforceGateway
from integration.gateway.transport import RetryPolicy

INSTANCE = "https://acme.my.salesforce.com"
DATA = f"{INSTANCE}/services/data/v59.0"
QUERY = f"{DATA}/query/"
COLLECTIONS = f"{DATA}/composite/sobjects"
UPSERT_TASKS = f"{DATA}/composite/sobjects/Task/GameFilm_Key__c"
OWNER = "005000000000001AAA"
LEADER = "005000000000002AAA"
VP = "005000000000003AAA"
OPP = "006000000000001AAA"
CONTACT = "003000000000001AAA"


def sf_id(prefix: str, n: int) -> str:
    return f"{prefix}{n:012d}AAA"


class Connector:
    """`connect` for the gateway: a real client per call, counted (a reconnect is a second call)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self):
        from simple_salesforce import Salesforce

        self.calls += 1
        return Salesforce(instance_url=INSTANCE, session_id=f"session-{self.calls}")


@pytest.fixture
def http():
    with responses.RequestsMock() as rsps:
        yield rsps


@pytest.fixture
def connector() -> Connector:
    return Connector()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def gateway(connector, sleeps) -> SalesforceGateway:
    return SalesforceGateway(connector, sleep=sleeps.append)


def soql(call) -> str:
    return parse_qs(urlsplit(call.request.url).query)["q"][0]


def body(call) -> dict:
    return json.loads(call.request.body)


def page(records: list[dict], next_url: str | None = None) -> dict:
    result = {"totalSize": len(records), "done": next_url is None, "records": records}
    if next_url:
        result["nextRecordsUrl"] = next_url
    return result


def errors(code: str, message: str) -> list[dict]:
    return [{"message": message, "errorCode": code}]


def opportunity(opp_id: str = OPP, *, team: tuple[str, ...] = (LEADER,), **overrides) -> dict:
    record = {
        "attributes": {"type": "Opportunity", "url": f"/services/data/v59.0/sobjects/Opportunity/{opp_id}"},
        "Id": opp_id,
        "Name": "Acme - 500 seats",
        "Amount": 250000.5,
        "CurrencyIsoCode": "EUR",
        "OwnerId": OWNER,
        "StageName": "Negotiation/Review",
        "RecordTypeId": "012000000000001AAA",
        "IsClosed": False,
        "LastModifiedDate": "2026-11-02T10:15:00.000+0000",
        "OpportunityTeamMembers": page(
            [{"attributes": {"type": "OpportunityTeamMember", "url": "/services/data/v59.0/sobjects/OpportunityTeamMember/00q000000000001AAA"}, "UserId": u} for u in team]
        )
        if team
        else None,
    }
    record.update(overrides)
    return record


def created(*ids: str) -> list[dict]:
    return [{"id": i, "success": True, "errors": []} for i in ids]


def failed(code: str, message: str, fields: list[str] | None = None) -> dict:
    return {"success": False, "errors": [{"statusCode": code, "message": message, "fields": fields or []}]}


def task(n: int = 1, **overrides) -> CreateTask:
    values = dict(
        key=f"review#{n}", rule="peer_review", reason="Peer review of a recorded call", record_id=OPP,
        owner_id=LEADER, subject="Review the Acme discovery call", body="Rubric: ...", due=date(2026, 11, 20),
    )
    values.update(overrides)
    return CreateTask(**values)


def saving_callback(prefix: str):
    """Answers every collection request with one success per record it carried."""
    numbers = itertools.count(1)

    def callback(request):
        records = json.loads(request.body)["records"]
        return 200, {}, json.dumps(created(*(sf_id(prefix, next(numbers)) for _ in records)))

    return callback


# ---- reads ----------------------------------------------------------------------------


def test_read_deals_selects_opportunity_fields_and_team_members(http, gateway):
    http.get(QUERY, json=page([opportunity(team=(LEADER, VP))]))

    deals = gateway.read_deals([OPP])

    assert soql(http.calls[0]) == (
        "SELECT Id, Name, Amount, CurrencyIsoCode, OwnerId, StageName, RecordTypeId, IsClosed, LastModifiedDate, "
        f"(SELECT UserId FROM OpportunityTeamMembers) FROM Opportunity WHERE Id IN ('{OPP}')"
    )
    deal = deals[OPP]
    assert deal.amount == Decimal("250000.5")
    assert (deal.currency, deal.owner_id, deal.stage, deal.pipeline, deal.closed) == ("EUR", OWNER, "Negotiation/Review", "012000000000001AAA", False)
    assert deal.collaborators == {LEADER, VP}
    assert "OpportunityTeamMembers" not in deal.fields and deal.fields["Name"] == "Acme - 500 seats"


def test_read_deals_with_no_team_members_has_no_collaborators(http, gateway):
    http.get(QUERY, json=page([opportunity(team=())]))

    assert gateway.read_deals([OPP])[OPP].collaborators == frozenset()


def test_read_deals_follows_next_records_url(http, gateway):
    second = sf_id("006", 2)
    http.get(QUERY, json=page([opportunity()], next_url="/services/data/v59.0/query/01gD0000002HU6KIAW-2000"))
    http.get(f"{DATA}/query/01gD0000002HU6KIAW-2000", json=page([opportunity(second)]))

    assert set(gateway.read_deals([OPP, second])) == {OPP, second}
    assert len(http.calls) == 2


def test_read_deals_chunks_ids_200_per_query(http, gateway):
    ids = [sf_id("006", n) for n in range(450)]
    http.get(QUERY, json=page([]))

    gateway.read_deals(ids + ids[:10])  # duplicates are asked once

    in_lists = [soql(c).split(" IN ")[1] for c in http.calls]
    assert [lst.count("'") // 2 for lst in in_lists] == [200, 200, 50]
    assert all(len(c.request.url) < 16000 for c in http.calls)


def test_missing_currency_iso_code_is_dropped_and_remembered(http, gateway):
    http.get(QUERY, status=400, json=errors(
        "INVALID_FIELD",
        "\nSELECT Id, Name, Amount, CurrencyIsoCode, OwnerId\n                        ^\nERROR at Row:1:Column:26\n"
        "No such column 'CurrencyIsoCode' on entity 'Opportunity'. If you are attempting to use a custom field, "
        "be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
    ))
    record = opportunity()
    del record["CurrencyIsoCode"]
    http.get(QUERY, json=page([record]))

    assert gateway.read_deals([OPP])[OPP].currency is None
    gateway.read_deals([OPP])

    assert [("CurrencyIsoCode" in soql(c)) for c in http.calls] == [True, False, False]


def test_org_without_opportunity_teams_is_read_without_the_team_subquery(http, gateway):
    http.get(QUERY, status=400, json=errors(
        "INVALID_TYPE",
        "\nIsClosed, LastModifiedDate, (SELECT UserId FROM OpportunityTeamMembers)\n                                  ^\n"
        "ERROR at Row:1:Column:120\nDidn't understand relationship 'OpportunityTeamMembers' in FROM part of query call. "
        "If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name.",
    ))
    http.get(QUERY, json=page([opportunity(team=())]))

    assert gateway.read_deals([OPP])[OPP].collaborators == frozenset()
    assert "OpportunityTeamMembers" not in soql(http.calls[1])


def test_unknown_invalid_field_is_an_error_not_a_silent_drop(http, gateway):
    http.get(QUERY, status=400, json=errors("INVALID_FIELD", "No such column 'Score__c' on entity 'Opportunity'."))

    with pytest.raises(CrmError) as raised:
        gateway.read_deals([OPP])

    assert not raised.value.retryable and "INVALID_FIELD" in str(raised.value)
    assert len(http.calls) == 1


def test_query_errors_keep_the_reason_but_not_the_echoed_query(http, gateway):
    http.get(QUERY, status=400, json=errors(
        "MALFORMED_QUERY",
        "\nEmail IN ('pat@buyer.com') ORDER BY\n                 ^\nERROR at Row:1:Column:60\nunexpected token: ORDER",
    ))

    with pytest.raises(CrmError) as raised:
        gateway.find_contacts(["pat@buyer.com"])

    assert str(raised.value) == "Salesforce MALFORMED_QUERY: unexpected token: ORDER"


def test_read_users(http, gateway):
    http.get(QUERY, json=page([{
        "attributes": {"type": "User", "url": f"/services/data/v59.0/sobjects/User/{LEADER}"},
        "Id": LEADER, "Name": "Dana Leader", "Email": "dana@acme.com", "ManagerId": VP, "IsActive": True,
    }]))

    users = gateway.read_users([LEADER])

    assert soql(http.calls[0]) == f"SELECT Id, Name, Email, ManagerId, IsActive FROM User WHERE Id IN ('{LEADER}')"
    assert (users[LEADER].email, users[LEADER].manager_id, users[LEADER].active) == ("dana@acme.com", VP, True)


def test_find_contacts_lower_cases_and_quotes_emails(http, gateway):
    http.get(QUERY, json=page([{
        "attributes": {"type": "Contact", "url": f"/services/data/v59.0/sobjects/Contact/{CONTACT}"},
        "Id": CONTACT, "Email": "Pat.O'Brien@Buyer.com", "Name": "Pat O'Brien",
    }]))

    contacts = gateway.find_contacts([" Pat.O'Brien@Buyer.com", "pat.o'brien@buyer.com"])

    assert soql(http.calls[0]) == (
        "SELECT Id, Email, Name FROM Contact WHERE Email IN ('pat.o\\'brien@buyer.com') ORDER BY LastModifiedDate DESC"
    )
    assert contacts["pat.o'brien@buyer.com"].id == CONTACT


def test_open_deals_for_contacts_groups_contact_roles_per_contact(http, gateway):
    other_contact, other_opp = sf_id("003", 2), sf_id("006", 2)

    def role(contact_id: str, opp: dict) -> dict:
        del opp["OpportunityTeamMembers"]
        return {"attributes": {"type": "OpportunityContactRole", "url": "/services/data/v59.0/sobjects/OpportunityContactRole/00K000000000001AAA"}, "ContactId": contact_id, "Opportunity": opp}

    http.get(QUERY, json=page([role(CONTACT, opportunity()), role(CONTACT, opportunity(other_opp)), role(other_contact, opportunity())]))

    deals = gateway.open_deals_for_contacts([CONTACT, other_contact])

    assert soql(http.calls[0]).endswith(f"FROM OpportunityContactRole WHERE ContactId IN ('{CONTACT}','{other_contact}') AND Opportunity.IsClosed = false")
    assert soql(http.calls[0]).startswith("SELECT ContactId, Opportunity.Id, Opportunity.Name, Opportunity.Amount, Opportunity.CurrencyIsoCode")
    assert [d.id for d in deals[CONTACT]] == [OPP, other_opp]
    assert [d.id for d in deals[other_contact]] == [OPP]


def test_empty_inputs_send_no_request(http, gateway):
    assert gateway.read_deals([]) == {} and gateway.find_contacts([]) == {}
    assert gateway.create_tasks([]) == [] and gateway.add_collaborators([]) == []
    assert len(http.calls) == 0


# ---- writes ---------------------------------------------------------------------------


def test_update_fields_patches_a_collection(http, gateway):
    http.patch(COLLECTIONS, json=created(OPP))
    command = UpdateFields(key="score#1", rule="rubric", reason="Review scored", record_id=OPP, object_type="opportunity",
                           fields={"Game_Film_Avg__c": Decimal("4.25"), "Game_Film_Last_Reviewed__c": date(2026, 11, 3)})

    [outcome] = gateway.update_fields([command])

    assert http.calls[0].request.method == "PATCH"
    assert urlsplit(http.calls[0].request.url).path == "/services/data/v59.0/composite/sobjects"
    assert body(http.calls[0]) == {"allOrNone": False, "records": [
        {"attributes": {"type": "Opportunity"}, "id": OPP, "Game_Film_Avg__c": 4.25, "Game_Film_Last_Reviewed__c": "2026-11-03"},
    ]}
    assert outcome.ok and outcome.crm_id == OPP and outcome.key == "score#1"


def test_update_fields_groups_object_types_and_keeps_outcomes_in_order(http, gateway):
    review = sf_id("a01", 1)
    http.patch(COLLECTIONS, json=created(OPP, sf_id("006", 2), review))
    commands = [
        UpdateFields(key="a", rule="r", reason="x", record_id=OPP, object_type="opportunity", fields={"A__c": 1}),
        UpdateFields(key="b", rule="r", reason="x", record_id=review, object_type="Review__c", fields={"B__c": 2}),
        UpdateFields(key="c", rule="r", reason="x", record_id=sf_id("006", 2), object_type="opportunity", fields={"A__c": 3}),
    ]

    outcomes = gateway.update_fields(commands)

    assert [r["attributes"]["type"] for r in body(http.calls[0])["records"]] == ["Opportunity", "Opportunity", "Review__c"]
    assert [(o.key, o.crm_id) for o in outcomes] == [("a", OPP), ("b", review), ("c", sf_id("006", 2))]


@pytest.mark.parametrize("count, batches", [(1, [1]), (200, [200]), (201, [200, 1])])
def test_writes_are_sent_200_records_per_request(http, gateway, count, batches):
    http.add_callback(responses.PATCH, UPSERT_TASKS, callback=saving_callback("00T"))
    http.add_callback(responses.POST, COLLECTIONS, callback=saving_callback("0D5"))

    tasks = gateway.create_tasks([task(n) for n in range(count)])
    notes = gateway.add_notes([AddNote(key=f"note#{n}", rule="r", reason="x", record_id=OPP, body="b") for n in range(count)])

    assert [len(body(c)["records"]) for c in http.calls] == batches + batches
    assert [o.key for o in tasks] == [f"review#{n}" for n in range(count)]
    assert all(o.ok for o in tasks + notes) and len({o.crm_id for o in tasks + notes}) == 2 * count


def test_create_tasks_upserts_on_the_external_id_field(http, gateway):
    http.patch(UPSERT_TASKS, json=[{**created("00T000000000001AAA")[0], "created": True}])
    command = task(priority="HIGH", contact_id=CONTACT)

    [outcome] = gateway.create_tasks([command])

    assert body(http.calls[0]) == {"allOrNone": False, "records": [{
        "attributes": {"type": "Task"}, "WhatId": OPP, "WhoId": CONTACT, "OwnerId": LEADER,
        "Subject": "Review the Acme discovery call", "Description": "Rubric: ...", "ActivityDate": "2026-11-20",
        "Status": "Not Started", "Priority": "High", "GameFilm_Key__c": command.marker,
    }]}
    assert outcome.crm_id == "00T000000000001AAA"


NO_KEY_FIELD = {"status": 404, "json": errors("NOT_FOUND", "The requested resource does not exist")}


def test_without_the_external_id_field_tasks_are_created_with_a_marker_line(http, gateway):
    http.patch(UPSERT_TASKS, **NO_KEY_FIELD)
    http.post(COLLECTIONS, json=created("00T000000000001AAA"))
    http.post(COLLECTIONS, json=created("00T000000000002AAA"))
    first, second = task(1, priority="HIGH", contact_id=CONTACT), task(2)

    [outcome] = gateway.create_tasks([first])
    gateway.create_tasks([second])  # remembered: no second upsert attempt

    assert [(c.request.method, urlsplit(c.request.url).path.rsplit("/", 1)[1]) for c in http.calls] == [
        ("PATCH", "GameFilm_Key__c"), ("POST", "sobjects"), ("POST", "sobjects")]
    assert body(http.calls[1]) == {"allOrNone": False, "records": [{
        "attributes": {"type": "Task"}, "WhatId": OPP, "WhoId": CONTACT, "OwnerId": LEADER,
        "Subject": "Review the Acme discovery call", "Description": f"Rubric: ...\n\n{first.marker}", "ActivityDate": "2026-11-20",
        "Status": "Not Started", "Priority": "High",
    }]}
    assert outcome.ok and outcome.crm_id == "00T000000000001AAA"


def test_marker_line_fits_in_a_full_description(http, gateway):
    http.patch(UPSERT_TASKS, **NO_KEY_FIELD)
    http.post(COLLECTIONS, json=created("00T000000000001AAA"))
    command = task(body="x" * 40000)

    gateway.create_tasks([command])

    description = body(http.calls[1])["records"][0]["Description"]
    assert len(description) == 32000 and description.endswith(f"x\n\n{command.marker}")


def test_log_calls_creates_completed_call_tasks(http, gateway):
    http.patch(UPSERT_TASKS, json=created("00T000000000002AAA"))
    call = LogCall(key="call#1", rule="recording", reason="Recording attached", record_id=OPP, owner_id=OWNER,
                   title="Discovery call", recording_url="https://rec.example/r/42", occurred_at_ms=1_762_000_000_000,
                   duration_ms=754_400, body="Consent given.")

    [outcome] = gateway.log_calls([call])

    assert body(http.calls[0])["records"] == [{
        "attributes": {"type": "Task"}, "WhatId": OPP, "Subject": "Discovery call", "TaskSubtype": "Call",
        "Status": "Completed", "ActivityDate": "2025-11-01", "OwnerId": OWNER, "CallDurationInSeconds": 754,
        "Description": "Consent given.\n\nRecording: https://rec.example/r/42", "GameFilm_Key__c": call.marker,
    }]
    assert outcome.ok and outcome.crm_id == "00T000000000002AAA"


def test_add_notes_posts_to_the_record_feed(http, gateway):
    http.post(COLLECTIONS, json=created("0D5000000000001AAA"))

    note = AddNote(key="note#1", rule="threshold", reason="x", record_id=OPP, body="Dana joined: amount over 200k.")

    [outcome] = gateway.add_notes([note])

    assert body(http.calls[0])["records"] == [{"attributes": {"type": "FeedItem"}, "ParentId": OPP, "Body": f"Dana joined: amount over 200k.\n\n{note.marker}"}]
    assert outcome.crm_id == "0D5000000000001AAA"


def test_per_record_failures_become_outcomes(http, gateway):
    http.patch(UPSERT_TASKS, json=[
        created("00T000000000001AAA")[0],
        failed("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record"),
        failed("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["WhatId"]),
    ])

    ok, locked, invalid = gateway.create_tasks([task(1), task(2), task(3)])

    assert ok.ok and ok.crm_id == "00T000000000001AAA"
    assert (locked.ok, locked.retryable, locked.error) == (False, True, "UNABLE_TO_LOCK_ROW: unable to obtain exclusive access to this record")
    assert (invalid.ok, invalid.retryable, invalid.error) == (False, False, "INVALID_CROSS_REFERENCE_KEY: invalid cross reference id")


def note(n: int) -> AddNote:
    return AddNote(key=f"note#{n}", rule="threshold", reason="x", record_id=OPP, body="Dana joined.")


def test_a_failed_later_batch_keeps_the_outcomes_of_earlier_batches(http, gateway, sleeps):
    http.add_callback(responses.POST, COLLECTIONS, callback=saving_callback("0D5"))
    http.post(COLLECTIONS, status=503, json=errors("SERVER_UNAVAILABLE", "Server temporarily unavailable"))

    outcomes = gateway.add_notes([note(n) for n in range(450)])

    assert len(http.calls) == 2 and sleeps == []  # a create is not resent after a 5xx, nor are later chunks sent
    assert all(o.ok for o in outcomes[:200])
    assert all(not o.ok and o.ambiguous and "SERVER_UNAVAILABLE" in o.error for o in outcomes[200:400])
    assert all(not o.ok and o.retryable and not o.ambiguous and o.error.startswith("not sent") for o in outcomes[400:])


def test_an_ambiguous_first_batch_of_several_fails_only_its_own_records(http, gateway):
    http.post(COLLECTIONS, body=requests.exceptions.ReadTimeout("read timed out"))

    outcomes = gateway.add_notes([note(n) for n in range(201)])

    assert len(http.calls) == 1
    assert all(o.ambiguous for o in outcomes[:200]) and not outcomes[200].ambiguous and outcomes[200].retryable


def test_add_collaborators_creates_team_members(http, gateway):
    http.post(COLLECTIONS, json=created("00q000000000001AAA", "00q000000000002AAA", "00q000000000003AAA"))
    commands = [
        AddCollaborators(key="t#1", rule="threshold", reason="Over 200k", record_id=OPP, user_ids=(LEADER, VP)),
        AddCollaborators(key="t#2", rule="threshold", reason="Over 1M", record_id=sf_id("006", 2), user_ids=(VP,), role="Executive Sponsor", access_level="Read"),
    ]

    first, second = gateway.add_collaborators(commands)

    assert body(http.calls[0]) == {"allOrNone": False, "records": [
        {"attributes": {"type": "OpportunityTeamMember"}, "OpportunityId": OPP, "UserId": LEADER, "TeamMemberRole": "Sales Manager", "OpportunityAccessLevel": "Edit"},
        {"attributes": {"type": "OpportunityTeamMember"}, "OpportunityId": OPP, "UserId": VP, "TeamMemberRole": "Sales Manager", "OpportunityAccessLevel": "Edit"},
        {"attributes": {"type": "OpportunityTeamMember"}, "OpportunityId": sf_id("006", 2), "UserId": VP, "TeamMemberRole": "Executive Sponsor", "OpportunityAccessLevel": "Read"},
    ]}
    assert first.ok and first.detail["members"] == {LEADER: "00q000000000001AAA", VP: "00q000000000002AAA"}
    assert second.ok and second.crm_id == "00q000000000003AAA"


def test_add_collaborators_counts_existing_members_and_fails_a_command_if_any_user_fails(http, gateway):
    http.post(COLLECTIONS, json=[
        failed("DUPLICATE_VALUE", "duplicate value found: UserId duplicates value on record with id: 00q000000000001AAA"),
        created("00q000000000002AAA")[0],
        failed("INACTIVE_OWNER_OR_USER", "operation performed with inactive user"),
    ])
    commands = [
        AddCollaborators(key="t#1", rule="threshold", reason="x", record_id=OPP, user_ids=(LEADER, VP)),
        AddCollaborators(key="t#2", rule="threshold", reason="x", record_id=sf_id("006", 2), user_ids=(OWNER,)),
    ]

    first, second = gateway.add_collaborators(commands)

    assert first.ok
    assert not second.ok and not second.retryable
    assert second.error == f"user {OWNER}: INACTIVE_OWNER_OR_USER: operation performed with inactive user"


def test_read_only_access_level_is_dropped_and_the_member_resent(http, gateway):
    http.post(COLLECTIONS, json=[failed(
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        "Unable to create/update fields: OpportunityAccessLevel. Please check the security settings of this field "
        "and verify that it is read/write for your profile or permission set.",
        ["OpportunityAccessLevel"],
    )])
    http.post(COLLECTIONS, json=created("00q000000000001AAA"))
    http.post(COLLECTIONS, json=created("00q000000000002AAA"))
    command = AddCollaborators(key="t#1", rule="threshold", reason="x", record_id=OPP, user_ids=(LEADER,))

    [outcome] = gateway.add_collaborators([command])
    gateway.add_collaborators([command])

    assert outcome.ok and outcome.crm_id == "00q000000000001AAA"
    assert ["OpportunityAccessLevel" in body(c)["records"][0] for c in http.calls] == [True, False, False]


@pytest.mark.parametrize("response", [
    {"status": 400, "json": errors("INVALID_TYPE", "sObject type 'OpportunityTeamMember' is not supported.")},
    {"status": 200, "json": [failed("INVALID_TYPE", "sObject type 'OpportunityTeamMember' is not supported.")]},
])
def test_add_collaborators_without_opportunity_teams_tells_the_admin_to_enable_them(http, gateway, response):
    http.post(COLLECTIONS, **response)
    command = AddCollaborators(key="t#1", rule="threshold", reason="x", record_id=OPP, user_ids=(LEADER,))

    with pytest.raises(CrmError) as raised:
        gateway.add_collaborators([command])
    with pytest.raises(CrmError):
        gateway.add_collaborators([command])  # remembered: no second request

    assert not raised.value.retryable
    assert "Setup → Opportunity Team Settings → Enable Team Selling" in str(raised.value)
    assert len(http.calls) == 1


# ---- errors, retries, limits ----------------------------------------------------------


def test_503_is_retried_with_backoff(http, gateway, sleeps):
    http.get(QUERY, status=503, json=errors("SERVER_UNAVAILABLE", "Server temporarily unavailable"))
    http.get(QUERY, json=page([opportunity()]))

    assert OPP in gateway.read_deals([OPP])
    assert len(http.calls) == 2 and len(sleeps) == 1 and 0 < sleeps[0] <= 0.5


def test_unable_to_lock_row_is_retried(http, gateway, sleeps):
    http.patch(COLLECTIONS, status=400, json=errors("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records"))
    http.patch(COLLECTIONS, json=created(OPP))

    [outcome] = gateway.update_fields([UpdateFields(key="k", rule="r", reason="x", record_id=OPP, object_type="opportunity", fields={"A__c": 1})])

    assert outcome.ok and len(http.calls) == 2 and len(sleeps) == 1


def test_retries_stop_after_max_retries_with_a_retryable_error(http, gateway, sleeps):
    http.get(QUERY, status=500, json=errors("UNKNOWN_EXCEPTION", "An unexpected error occurred"))

    with pytest.raises(CrmError) as raised:
        gateway.read_users([LEADER])

    assert raised.value.retryable and raised.value.ambiguous and "UNKNOWN_EXCEPTION" in str(raised.value)
    assert len(http.calls) == 5 and len(sleeps) == 4
    assert sleeps[-1] > sleeps[0]


def test_invalid_session_reconnects_once_and_repeats_the_request(http, gateway, connector):
    http.get(QUERY, status=401, json=errors("INVALID_SESSION_ID", "Session expired or invalid"))
    http.get(QUERY, json=page([]))

    gateway.read_users([LEADER])

    assert connector.calls == 2
    assert [c.request.headers["Authorization"] for c in http.calls] == ["Bearer session-1", "Bearer session-2"]


def test_a_session_still_invalid_after_reconnecting_is_not_retried_again(http, gateway, connector):
    http.get(QUERY, status=401, json=errors("INVALID_SESSION_ID", "Session expired or invalid"))

    with pytest.raises(CrmError, match="INVALID_SESSION_ID"):
        gateway.read_users([LEADER])

    assert connector.calls == 2 and len(http.calls) == 2


def test_request_limit_exceeded_raises_limit_reached(http, gateway, sleeps):
    http.patch(UPSERT_TASKS, status=403, json=errors("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."))

    with pytest.raises(CrmLimitReached) as raised:
        gateway.create_tasks([task()])

    assert raised.value.retryable and len(http.calls) == 1 and sleeps == []


def test_usage_above_the_share_stops_before_the_next_call(http, gateway):
    http.get(QUERY, json=page([]), headers={"Sforce-Limit-Info": "api-usage=80500/100000"})

    gateway.read_users([LEADER])
    with pytest.raises(CrmLimitReached, match="80500/100000"):
        gateway.create_tasks([task()])

    assert gateway.api_usage() == (80500, 100000)
    assert len(http.calls) == 1


def test_usage_below_the_share_lets_calls_through(http, gateway):
    http.get(QUERY, json=page([]), headers={"Sforce-Limit-Info": "api-usage=79000/100000"})

    gateway.read_users([LEADER])
    gateway.read_users([VP])

    assert gateway.api_usage() == (79000, 100000) and len(http.calls) == 2


# ---- authentication -------------------------------------------------------------------

TOKEN_RESPONSE = {
    "access_token": "00D000000000001!AQ0AQH0dMHZfz972Szmpkb58urFRkgeBGsxL",
    "scope": "api",
    "instance_url": INSTANCE,
    "id": f"https://login.salesforce.com/id/00D000000000001AAA/{OWNER}",
    "token_type": "Bearer",
}


def sf_tenant(**overrides) -> Tenant:
    values = dict(id="acme", crm="salesforce", dry_run=False, org_id="00D000000000001AAA", instance_url=INSTANCE)
    values.update(overrides)
    return Tenant(**values)


def test_jwt_bearer_login_signs_an_assertion_and_uses_the_returned_token(http):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    tenant = sf_tenant(auth="jwt", username="integration@acme.com", consumer_key_env="SF_KEY", private_key_env="SF_PEM")
    gateway = SalesforceGateway.from_tenant(tenant, {"SF_KEY": "3MVG9-consumer-key", "SF_PEM": pem})
    http.post("https://login.salesforce.com/services/oauth2/token", json=TOKEN_RESPONSE)
    http.get(QUERY, json=page([]))

    gateway.read_users([LEADER])

    form = parse_qs(http.calls[0].request.body)
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    claims = jwt.decode(form["assertion"][0], key.public_key(), algorithms=["RS256"], audience="https://login.salesforce.com")
    assert (claims["iss"], claims["sub"]) == ("3MVG9-consumer-key", "integration@acme.com")
    assert http.calls[1].request.headers["Authorization"] == f"Bearer {TOKEN_RESPONSE['access_token']}"


def test_client_credentials_login_uses_the_my_domain_token_endpoint(http):
    tenant = sf_tenant(auth="client_credentials", consumer_key_env="SF_KEY", consumer_secret_env="SF_SECRET")
    gateway = SalesforceGateway.from_tenant(tenant, {"SF_KEY": "3MVG9-key", "SF_SECRET": "s3cr3t-value"})
    http.post(f"{INSTANCE}/services/oauth2/token", json=TOKEN_RESPONSE)
    http.get(QUERY, json=page([]))

    gateway.read_users([LEADER])

    token_request = http.calls[0].request
    assert parse_qs(token_request.body) == {"grant_type": ["client_credentials"]}
    assert token_request.headers["Authorization"] == "Basic " + base64.b64encode(b"3MVG9-key:s3cr3t-value").decode()


def test_a_rejected_login_is_a_clear_error_without_the_secret(http):
    tenant = sf_tenant(auth="client_credentials", consumer_key_env="SF_KEY", consumer_secret_env="SF_SECRET")
    gateway = SalesforceGateway.from_tenant(tenant, {"SF_KEY": "3MVG9-key", "SF_SECRET": "s3cr3t-value"})
    http.post(f"{INSTANCE}/services/oauth2/token", status=400, json={"error": "invalid_client", "error_description": "invalid client credentials"})

    with pytest.raises(CrmError) as raised:
        gateway.read_users([LEADER])

    assert "invalid_client" in str(raised.value) and not raised.value.retryable
    assert "s3cr3t-value" not in str(raised.value) and raised.value.__cause__ is None


def test_a_missing_secret_names_the_environment_variable(http):
    gateway = SalesforceGateway.from_tenant(sf_tenant(auth="session", session_id_env="SF_SESSION"), {})

    with pytest.raises(CrmError, match="SF_SESSION"):
        gateway.read_users([LEADER])
    assert len(http.calls) == 0


# ---- doctor ---------------------------------------------------------------------------


def describe(name: str, fields: list[str], **flags) -> dict:
    return {
        "name": name, "queryable": True, "createable": True, "updateable": True, **flags,
        "fields": [{"name": f, "createable": True, "updateable": True, "custom": f.endswith("__c")} for f in fields],
    }


def test_check_reports_usage_and_missing_opportunity_teams_in_two_calls(http, gateway):
    http.get(f"{DATA}/limits/", json={"DailyApiRequests": {"Max": 100000, "Remaining": 95000}, "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000}})
    http.post(f"{DATA}/composite/batch", json={"hasErrors": True, "results": [
        {"statusCode": 200, "result": describe("Opportunity", ["Id", "Amount", "StageName", "Game_Film_Avg__c"])},
        {"statusCode": 200, "result": describe("Task", ["WhatId", "WhoId", "OwnerId", "Subject", "Description", "ActivityDate", "Status", "Priority", "TaskSubtype", "CallDurationInSeconds"])},
        {"statusCode": 200, "result": describe("FeedItem", ["ParentId", "Body"])},
        {"statusCode": 404, "result": errors("NOT_FOUND", "The requested resource does not exist")},
    ]})

    findings = {f.check: f for f in gateway.check()}

    assert body(http.calls[1]) == {"batchRequests": [
        {"method": "GET", "url": f"v59.0/sobjects/{name}/describe"} for name in ("Opportunity", "Task", "FeedItem", "OpportunityTeamMember")
    ]}
    assert findings["auth"].ok and findings["task"].ok and findings["feed_item"].ok
    assert findings["api_usage"].ok and "5000/100000 (5%)" in findings["api_usage"].message
    assert findings["opportunity"].ok and "(1 custom)" in findings["opportunity"].message
    assert not findings["opportunity_teams"].ok and ENABLE_TEAMS in findings["opportunity_teams"].message
    assert len(http.calls) == 2
    # What the doctor learned holds for the gateway's life: no multi-currency, no record types, no teams.
    http.get(QUERY, json=page([]))
    gateway.read_deals([OPP])
    assert soql(http.calls[2]) == f"SELECT Id, Name, Amount, OwnerId, StageName, IsClosed, LastModifiedDate FROM Opportunity WHERE Id IN ('{OPP}')"


def test_check_reports_a_failed_login_as_a_finding(http):
    tenant = sf_tenant(auth="client_credentials", consumer_key_env="SF_KEY", consumer_secret_env="SF_SECRET")
    gateway = SalesforceGateway.from_tenant(tenant, {"SF_KEY": "3MVG9-key", "SF_SECRET": "s3cr3t-value"})
    http.post(f"{INSTANCE}/services/oauth2/token", status=400, json={"error": "invalid_grant", "error_description": "authentication failure"})

    [finding] = gateway.check()

    assert finding.check == "auth" and not finding.ok and "invalid_grant" in finding.message
    assert "s3cr3t-value" not in finding.message


# ---- currency rates ---------------------------------------------------------------------------


def currency_type(iso: str, rate: float) -> dict:
    return {"attributes": {"type": "CurrencyType", "url": f"/services/data/v59.0/sobjects/CurrencyType/01L{iso}"}, "IsoCode": iso, "ConversionRate": rate}


def test_currency_rates_come_from_currency_type_and_are_cached_for_an_hour(http, connector, sleeps):
    now = [1000.0]
    gateway = SalesforceGateway(connector, sleep=sleeps.append, clock=lambda: now[0])
    http.add(responses.GET, QUERY, json=page([currency_type("USD", 1.0), currency_type("EUR", 0.8)]))
    rates = gateway.read_currency_rates()
    assert rates == {"USD": Decimal(1), "EUR": Decimal("1.25")}  # 1 USD = 0.8 EUR, so 1 EUR = 1.25 USD
    assert soql(http.calls[0]) == "SELECT IsoCode, ConversionRate FROM CurrencyType WHERE IsActive = true"
    now[0] += 3599
    assert gateway.read_currency_rates() == rates
    assert len(http.calls) == 1
    now[0] += 2
    http.add(responses.GET, QUERY, json=page([currency_type("EUR", 0.9)]))
    assert gateway.read_currency_rates()["EUR"] == 1 / Decimal("0.9")
    assert len(http.calls) == 2


def test_single_currency_org_has_no_rates_and_is_not_asked_again(http, gateway):
    http.add(responses.GET, QUERY, status=400, json=errors("INVALID_TYPE", "sObject type 'CurrencyType' is not supported."))
    assert gateway.read_currency_rates() == {}
    assert gateway.read_currency_rates() == {}
    assert len(http.calls) == 1


# ---- unconvertible record values ------------------------------------------------------------


@pytest.mark.parametrize("amount", ["n/a", "NaN", "Infinity", True])
def test_an_amount_that_is_not_a_number_names_the_record_and_the_field(http, gateway, amount):
    http.get(QUERY, json=page([opportunity(Amount=amount)]))

    with pytest.raises(RecordDataError) as raised:
        gateway.read_deals([OPP])

    assert (raised.value.record_id, raised.value.field_name) == (OPP, "Amount")
    assert not raised.value.retryable and str(raised.value).startswith(f"record {OPP}: field Amount: expected a")
    assert str(amount) not in str(raised.value).split(": ", 2)[2]  # the value itself stays out of logs


def test_text_amounts_from_an_outbound_message_still_convert(http, gateway):
    http.get(QUERY, json=page([opportunity(Amount=" 1250.50 ")]))

    assert gateway.read_deals([OPP])[OPP].amount == Decimal("1250.50")


# ---- which exactly-once mechanism the org supports ------------------------------------------


def test_the_doctor_learns_that_task_has_the_external_id_and_says_how_tasks_are_written(http, gateway):
    task_fields = ["WhatId", "WhoId", "OwnerId", "Subject", "Description", "ActivityDate", "Status", "Priority", "TaskSubtype", "CallDurationInSeconds"]
    keyed = describe("Task", task_fields)
    keyed["fields"].append({"name": "GameFilm_Key__c", "createable": True, "updateable": True, "custom": True, "externalId": True})
    http.get(f"{DATA}/limits/", json={"DailyApiRequests": {"Max": 100000, "Remaining": 95000}})
    http.post(f"{DATA}/composite/batch", json={"hasErrors": False, "results": [
        {"statusCode": 200, "result": describe("Opportunity", ["Id", "Amount", "CurrencyIsoCode", "RecordTypeId"])},
        {"statusCode": 200, "result": keyed},
        {"statusCode": 200, "result": describe("FeedItem", ["ParentId", "Body"])},
        {"statusCode": 200, "result": describe("OpportunityTeamMember", ["OpportunityId", "UserId"])},
    ]})

    findings = {f.check: f for f in gateway.check()}

    assert findings["task"].ok and "upserted on the external id GameFilm_Key__c" in findings["task"].message


def test_the_doctor_learns_that_task_has_no_external_id_and_tasks_are_created_directly(http, gateway):
    task_fields = ["WhatId", "WhoId", "OwnerId", "Subject", "Description", "ActivityDate", "Status", "Priority", "TaskSubtype", "CallDurationInSeconds"]
    http.get(f"{DATA}/limits/", json={"DailyApiRequests": {"Max": 100000, "Remaining": 95000}})
    http.post(f"{DATA}/composite/batch", json={"hasErrors": False, "results": [
        {"statusCode": 200, "result": describe("Opportunity", ["Id", "Amount", "CurrencyIsoCode", "RecordTypeId"])},
        {"statusCode": 200, "result": describe("Task", task_fields)},
        {"statusCode": 200, "result": describe("FeedItem", ["ParentId", "Body"])},
        {"statusCode": 200, "result": describe("OpportunityTeamMember", ["OpportunityId", "UserId"])},
    ]})
    http.post(COLLECTIONS, json=created("00T000000000001AAA"))

    findings = {f.check: f for f in gateway.check()}
    [outcome] = gateway.create_tasks([task()])

    assert findings["task"].ok and "marker line in Description" in findings["task"].message
    assert outcome.ok and http.calls[-1].request.method == "POST"  # no upsert probe: the describe told
    assert body(http.calls[-1])["records"][0]["Description"] == f"Rubric: ...\n\n{task().marker}"


def test_an_external_id_the_user_may_not_write_falls_back_to_markers(http, gateway):
    refusal = failed("INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: GameFilm_Key__c. Please check the security settings of this field.", ["GameFilm_Key__c"])
    http.patch(UPSERT_TASKS, json=[refusal, refusal])
    http.post(COLLECTIONS, json=created("00T000000000001AAA", "00T000000000002AAA"))
    http.post(COLLECTIONS, json=created("00T000000000003AAA"))

    outcomes = gateway.create_tasks([task(1), task(2)])
    gateway.create_tasks([task(3)])

    assert [o.crm_id for o in outcomes] == ["00T000000000001AAA", "00T000000000002AAA"]
    assert [r["Description"] for r in body(http.calls[1])["records"]] == [f"Rubric: ...\n\n{task(n).marker}" for n in (1, 2)]
    assert [c.request.method for c in http.calls] == ["PATCH", "POST", "POST"]
