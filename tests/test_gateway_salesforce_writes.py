"""SalesforceGateway writes (sObject Collections), retries and API limits, through the real client."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import requests
import responses

from integration.commands import AddCollaborators, AddNote, LogCall, UpdateFields
from integration.gateway import CrmError, CrmLimitReached
from integration.gateway.salesforce import SalesforceGateway
from tests.salesforce_http import (  # noqa: F401  (fixtures)
    COLLECTIONS, CONTACT, LEADER, OPP, OWNER, QUERY, UPSERT_TASKS, VP, body, connector, created, errors, failed, gateway, http,
    opportunity, page, saving_callback, sf_id, sleeps, task,
)


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


def test_threads_sharing_a_gateway_connect_once_and_reconnect_once(http, connector, sleeps):
    import threading
    import time

    def slow_login():
        time.sleep(0.02)  # a login takes a while: racing threads must not log in again meanwhile
        return connector()

    gateway = SalesforceGateway(slow_login, sleep=sleeps.append)
    http.get(QUERY, status=401, json=errors("INVALID_SESSION_ID", "Session expired or invalid"))
    http.get(QUERY, json=page([]))
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def work() -> None:
        start.wait()
        try:
            gateway.read_users([LEADER])
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert failures == [] and len(http.calls) == 5
    assert connector.calls == 2  # once at first use, once after the one expired answer
