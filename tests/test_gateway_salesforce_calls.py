"""SalesforceGateway writes for recordings and reviews through the real simple-salesforce client:
call Tasks upserted on GameFilm_Recording_Id__c (exactly once under an applied-then-lost
answer), review tasks linking their call, task reminders; the doctor's Task field checks."""
from __future__ import annotations

import itertools
import json
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from integration.commands import LogCall, RemindTask, UpsertCall
from integration.gateway.salesforce import SalesforceGateway
from integration.gateway.transport import RetryPolicy
from tests.salesforce_http import (  # noqa: F401  (fixtures)
    COLLECTIONS, CONTACT, DATA, INSTANCE, OPP, OWNER, QUERY, UPSERT_TASKS, body, connector, created, describe, errors, failed,
    gateway, http, page, saving_callback, sf_id, sleeps, soql, task,
)

UPSERT_CALLS = f"{DATA}/composite/sobjects/Task/GameFilm_Recording_Id__c"
CALL = "00T000000000001AAA"
STARTED_MS = int(datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc).timestamp() * 1000)


def upsert_call(n: int = 1, **overrides) -> UpsertCall:
    values = dict(
        key=f"call#{n}", rule="attach_recording", reason="Recorded call matched by contact role", record_id=OPP,
        external_id=f"zoom:meeting-{n}", owner_id=OWNER, title="Acme discovery call", recording_url="https://rec.example/r/1",
        occurred_at_ms=STARTED_MS, duration_ms=1_799_600, body="Matched: contact role of pat@buyer.com", contact_ids=(CONTACT, sf_id("003", 2)),
    )  # fmt: skip
    values.update(overrides)
    return UpsertCall(**values)


def remind(n: int = 1, **overrides) -> RemindTask:
    values = dict(
        key=f"nudge#{n}", rule="overdue_review", reason="Review overdue", record_id=OPP, task_id=sf_id("00T", n),
        remind_at_ms=int(datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc).timestamp() * 1000),
        note="Game Film reminder (rule overdue_review, 2026-11-25): this review is 2 days overdue.",
    )  # fmt: skip
    values.update(overrides)
    return RemindTask(**values)


# ---- UpsertCall ------------------------------------------------------------------------------


def test_a_recording_is_upserted_as_a_call_task_on_its_recording_id(http, gateway):
    http.patch(UPSERT_CALLS, json=[{"id": CALL, "success": True, "errors": [], "created": True}])

    [outcome] = gateway.execute([upsert_call()])

    call = http.calls[0]
    assert call.request.method == "PATCH" and urlsplit(call.request.url).path == "/services/data/v59.0/composite/sobjects/Task/GameFilm_Recording_Id__c"
    assert body(call) == {"allOrNone": False, "records": [{
        "attributes": {"type": "Task"}, "GameFilm_Recording_Id__c": "zoom:meeting-1", "Subject": "Acme discovery call",
        "TaskSubtype": "Call", "Status": "Completed", "ActivityDate": "2026-11-20",
        "Description": "Matched: contact role of pat@buyer.com\n\nRecording: https://rec.example/r/1",
        "WhatId": OPP, "WhoId": CONTACT, "OwnerId": OWNER, "CallDurationInSeconds": 1800,
        "GameFilm_Recording_URL__c": "https://rec.example/r/1",
    }]}  # fmt: skip
    assert outcome.ok and outcome.crm_id == CALL and outcome.key == "call#1"


def test_an_existing_call_is_stamped_and_its_deal_set_only_when_asked(http, gateway):
    mine, theirs = sf_id("00T", 7), sf_id("00T", 8)
    http.patch(UPSERT_CALLS, json=created(CALL))
    http.patch(COLLECTIONS, json=created(mine, theirs))
    commands = [
        upsert_call(1, call_id=mine, external_id="sf-task:" + mine),
        upsert_call(2),
        upsert_call(3, call_id=theirs, external_id="sf-task:" + theirs, associate_deal=False),
    ]

    outcomes = gateway.execute(commands)

    assert [len(body(c)["records"]) for c in http.calls] == [1, 2]
    assert body(http.calls[1])["records"] == [
        {"attributes": {"type": "Task"}, "id": mine, "GameFilm_Recording_Id__c": "sf-task:" + mine, "WhatId": OPP},
        {"attributes": {"type": "Task"}, "id": theirs, "GameFilm_Recording_Id__c": "sf-task:" + theirs},
    ]
    assert [(o.key, o.crm_id) for o in outcomes] == [("call#1", mine), ("call#2", CALL), ("call#3", theirs)]


def test_a_recording_url_longer_than_a_url_field_stays_in_the_description(http, gateway):
    long_url = "https://zoom.example/rec/download/" + "x" * 300
    http.patch(UPSERT_CALLS, json=created(CALL))

    gateway.execute([upsert_call(recording_url=long_url, contact_ids=(), owner_id=None, duration_ms=None, body="")])

    [record] = body(http.calls[0])["records"]
    assert "GameFilm_Recording_URL__c" not in record and record["Description"] == f"Recording: {long_url}"
    assert not {"WhoId", "OwnerId", "CallDurationInSeconds"} & set(record)


@pytest.mark.parametrize("count, batches", [(1, [1]), (200, [200]), (201, [200, 1])])
def test_calls_are_upserted_200_per_request(http, gateway, count, batches):
    http.add_callback(responses.PATCH, UPSERT_CALLS, callback=saving_callback("00T"))

    outcomes = gateway.execute([upsert_call(n) for n in range(count)])

    assert [len(body(c)["records"]) for c in http.calls] == batches
    assert all(o.ok for o in outcomes) and len({o.crm_id for o in outcomes}) == count


def test_one_refused_call_fails_alone(http, gateway):
    http.patch(UPSERT_CALLS, json=[created(CALL)[0], failed("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["WhatId"])])

    ok, refused = gateway.execute([upsert_call(1), upsert_call(2, record_id="006000000000404AAA")])

    assert ok.ok and ok.crm_id == CALL
    assert not refused.ok and not refused.retryable and "INVALID_CROSS_REFERENCE_KEY" in (refused.error or "")


class CallTasks:
    """The org's Tasks behind an upsert URL: applies every request, answers the first with a
    500 (the answer is lost), and refuses TaskSubtype on a Task that exists (create-only field)."""

    def __init__(self, http: responses.RequestsMock, key_field: str = "GameFilm_Recording_Id__c"):
        self.tasks: dict[str, dict] = {}
        self.bodies: list[dict] = []
        self.key_field = key_field
        self._ids = itertools.count(1)
        http.add_callback(responses.PATCH, f"{DATA}/composite/sobjects/Task/{key_field}", callback=self._upsert)

    def _upsert(self, request):
        payload = json.loads(request.body)
        self.bodies.append(payload)
        results = []
        for record in payload["records"]:
            existing = next((t for t in self.tasks.values() if t[self.key_field] == record[self.key_field]), None)
            if existing is None:
                new_id = sf_id("00T", next(self._ids))
                self.tasks[new_id] = {**record, "Id": new_id}
                results.append({"id": new_id, "success": True, "errors": [], "created": True})
            elif "TaskSubtype" in record:
                results.append(failed("INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: TaskSubtype. Please check the security settings of this field.", ["TaskSubtype"]))
            else:
                existing.update(record)
                results.append({"id": existing["Id"], "success": True, "errors": [], "created": False})
        if len(self.bodies) == 1:
            return 500, {}, json.dumps(errors("UNKNOWN_EXCEPTION", "An unexpected error occurred"))
        return 200, {}, json.dumps(results)


def test_an_upsert_applied_then_lost_is_sent_again_and_leaves_one_task(http, connector):
    org = CallTasks(http)
    gateway = SalesforceGateway(connector, sleep=lambda s: None, retry=RetryPolicy(attempts=2))

    [outcome] = gateway.execute([upsert_call(title="Acme discovery call (edited)")])

    [only] = org.tasks.values()
    assert outcome.ok and outcome.crm_id == only["Id"]
    assert only["TaskSubtype"] == "Call" and only["Subject"] == "Acme discovery call (edited)"
    assert ["TaskSubtype" in b["records"][0] for b in org.bodies] == [True, True, False]
    assert gateway.reconcile([upsert_call()]) == {"call#1": None}  # idempotent: never looked up, simply sent again


def test_a_keyed_call_log_applied_then_lost_also_leaves_one_task(http, connector):
    org = CallTasks(http, key_field="GameFilm_Key__c")
    gateway = SalesforceGateway(connector, sleep=lambda s: None, retry=RetryPolicy(attempts=2))
    command = LogCall(key="log#1", rule="r", reason="x", record_id=OPP, owner_id=OWNER, title="Call", recording_url="https://rec.example/1",
                      occurred_at_ms=STARTED_MS)  # fmt: skip

    [outcome] = gateway.execute([command])

    [only] = org.tasks.values()
    assert outcome.ok and outcome.crm_id == only["Id"] and only["GameFilm_Key__c"] == command.marker
    assert ["TaskSubtype" in b["records"][0] for b in org.bodies] == [True, True, False]


def test_an_org_without_the_recording_id_field_gets_a_clear_error(http, gateway):
    http.patch(UPSERT_CALLS, status=404, json=errors("NOT_FOUND", "The requested resource does not exist"))

    [outcome] = gateway.execute([upsert_call()])

    assert not outcome.ok and not outcome.retryable
    assert outcome.error is not None and "GameFilm_Recording_Id__c" in outcome.error and "External ID, Unique" in outcome.error
    assert len(http.calls) == 1


# ---- review tasks link their call --------------------------------------------------------------


def test_a_review_task_links_its_call_task_and_the_recording(http, gateway):
    http.get(QUERY, json=page([{"attributes": {"type": "Task"}, "Id": CALL, "GameFilm_Recording_Id__c": "zoom:meeting-1",
                                "GameFilm_Recording_URL__c": "https://rec.example/r/1"}]))  # fmt: skip
    http.patch(UPSERT_TASKS, json=created(sf_id("00T", 21), sf_id("00T", 22), sf_id("00T", 23)))
    review = task(1, call_external_id="zoom:meeting-1")
    unattached = task(2, call_external_id="zoom:not-yet")
    plain = task(3)

    outcomes = gateway.execute([review, unattached, plain])

    assert soql(http.calls[0]) == (
        "SELECT Id, GameFilm_Recording_Id__c, GameFilm_Recording_URL__c FROM Task "
        "WHERE GameFilm_Recording_Id__c IN ('zoom:meeting-1','zoom:not-yet')"
    )
    records = body(http.calls[1])["records"]
    assert records[0]["Description"] == (
        f"Rubric: ...\n\nCall: {INSTANCE}/lightning/r/Task/{CALL}/view\nRecording: https://rec.example/r/1"
    )
    assert records[0]["GameFilm_Key__c"] == review.marker
    assert records[1]["Description"] == records[2]["Description"] == "Rubric: ..."
    assert all(o.ok for o in outcomes)


def test_review_tasks_are_created_without_links_in_an_org_without_the_recording_id_field(http, gateway, caplog):
    http.get(QUERY, status=400, json=errors("INVALID_FIELD", "No such column 'GameFilm_Recording_Id__c' on entity 'Task'."))
    http.patch(UPSERT_TASKS, json=created(sf_id("00T", 21)))

    [outcome] = gateway.execute([task(1, call_external_id="zoom:meeting-1")])

    assert outcome.ok and body(http.calls[1])["records"][0]["Description"] == "Rubric: ..."
    assert "GameFilm_Recording_Id__c" in caplog.text and "zoom:meeting-1" not in caplog.text


def test_review_tasks_link_a_call_they_name_or_the_adapter_upserted_without_a_lookup(http, gateway):
    http.patch(UPSERT_CALLS, json=[{"id": CALL, "success": True, "errors": [], "created": True}])
    http.patch(UPSERT_TASKS, json=created(sf_id("00T", 21), sf_id("00T", 22)))
    known = sf_id("00T", 9)

    gateway.execute([upsert_call()])
    gateway.execute([task(1, call_external_id="zoom:meeting-1"), task(2, call_external_id="zoom:meeting-9", call_id=known)])

    assert [urlsplit(c.request.url).path.rsplit("/", 1)[-1] for c in http.calls] == ["GameFilm_Recording_Id__c", "GameFilm_Key__c"]
    upserted, named = body(http.calls[1])["records"]
    assert upserted["Description"] == f"Rubric: ...\n\nCall: {INSTANCE}/lightning/r/Task/{CALL}/view\nRecording: https://rec.example/r/1"
    assert named["Description"] == f"Rubric: ...\n\nCall: {INSTANCE}/lightning/r/Task/{known}/view"


def test_a_failed_call_upsert_is_not_remembered_for_links(http, gateway):
    http.patch(UPSERT_CALLS, json=[failed("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Subject is required")])
    http.get(QUERY, json=page([]))
    http.patch(UPSERT_TASKS, json=created(sf_id("00T", 21)))

    gateway.execute([upsert_call()])
    gateway.execute([task(1, call_external_id="zoom:meeting-1")])

    assert "GameFilm_Recording_Id__c IN ('zoom:meeting-1')" in soql(http.calls[1])  # looked up: nothing remembered
    assert body(http.calls[2])["records"][0]["Description"] == "Rubric: ..."


def test_review_tasks_without_a_call_cost_no_lookup(http, gateway):
    http.patch(UPSERT_TASKS, json=created(sf_id("00T", 21)))

    gateway.execute([task(1)])

    assert [urlsplit(c.request.url).path for c in http.calls] == ["/services/data/v59.0/composite/sobjects/Task/GameFilm_Key__c"]


# ---- RemindTask --------------------------------------------------------------------------------


def open_task(n: int, description: str | None = "Listen back and score the call.", closed: bool = False) -> dict:
    return {"attributes": {"type": "Task"}, "Id": sf_id("00T", n), "IsClosed": closed, "Description": description}


def test_a_reminder_sets_the_task_reminder_and_appends_its_note_once(http, gateway):
    already = remind(2)
    http.get(QUERY, json=page([
        open_task(1), open_task(2, f"Listen back.\n\n{already.note}"), open_task(3, closed=True), open_task(5, None),
    ]))  # fmt: skip
    http.patch(COLLECTIONS, json=created(sf_id("00T", 1), sf_id("00T", 2), sf_id("00T", 5)))
    commands = [remind(1), already, remind(3), remind(4), remind(5)]

    first, second, closed, missing, empty = gateway.execute(commands)

    ids = "','".join(sf_id("00T", n) for n in range(1, 6))
    assert soql(http.calls[0]) == f"SELECT Id, IsClosed, Description FROM Task WHERE Id IN ('{ids}')"
    reminder = {"attributes": {"type": "Task"}, "IsReminderSet": True, "ReminderDateTime": "2026-11-25T09:00:00Z"}
    assert body(http.calls[1]) == {"allOrNone": False, "records": [
        {**reminder, "id": sf_id("00T", 1), "Description": f"Listen back and score the call.\n\n{remind(1).note}"},
        {**reminder, "id": sf_id("00T", 2)},
        {**reminder, "id": sf_id("00T", 5), "Description": remind(5).note},
    ]}  # fmt: skip
    assert first.ok and second.ok and empty.ok and first.crm_id == sf_id("00T", 1)
    assert closed.ok and closed.detail == {"skipped": "the task is closed"}
    assert not missing.ok and not missing.retryable and "not found" in (missing.error or "")


@pytest.mark.parametrize("count, batches", [(1, [1]), (200, [200]), (201, [200, 1])])
def test_reminders_read_and_write_200_tasks_per_request(http, gateway, count, batches):
    http.add_callback(responses.GET, QUERY, callback=lambda request: (200, {}, json.dumps(page(
        [open_task(int(i[3:15])) for i in soql_of(request).split(" IN (")[1].rstrip(")").replace("'", "").split(",")]
    ))))
    http.add_callback(responses.PATCH, COLLECTIONS, callback=saving_callback("00T"))

    outcomes = gateway.execute([remind(n) for n in range(count)])

    queries = [c for c in http.calls if c.request.method == "GET"]
    writes = [c for c in http.calls if c.request.method == "PATCH"]
    assert len(queries) == len(batches) and [len(body(c)["records"]) for c in writes] == batches
    assert all(o.ok for o in outcomes)


def soql_of(request) -> str:
    return parse_qs(urlsplit(request.url).query)["q"][0]


# ---- doctor ------------------------------------------------------------------------------------


TASK_FIELDS = ["WhatId", "WhoId", "OwnerId", "Subject", "Description", "ActivityDate", "Status", "Priority", "TaskSubtype", "CallDurationInSeconds"]


def doctor_findings(http, gateway, task_fields: list[dict]) -> dict:
    http.get(f"{DATA}/limits/", json={"DailyApiRequests": {"Max": 100000, "Remaining": 95000}})
    task_describe = describe("Task", TASK_FIELDS)
    task_describe["fields"] += task_fields
    http.post(f"{DATA}/composite/batch", json={"hasErrors": False, "results": [
        {"statusCode": 200, "result": describe("Opportunity", ["Id", "Amount"])},
        {"statusCode": 200, "result": task_describe},
        {"statusCode": 200, "result": describe("FeedItem", ["ParentId", "Body"])},
        {"statusCode": 200, "result": describe("OpportunityTeamMember", ["UserId"])},
    ]})  # fmt: skip
    return {f.check: f for f in gateway.check()}


def field(name: str, **flags) -> dict:
    return {"name": name, "createable": True, "updateable": True, "custom": True, **flags}


def test_doctor_passes_when_task_has_the_recording_fields(http, gateway):
    findings = doctor_findings(http, gateway, [
        field("GameFilm_Recording_Id__c", type="string", externalId=True, unique=True), field("GameFilm_Recording_URL__c", type="url"),
    ])  # fmt: skip

    assert findings["recording_id"].ok and findings["recording_url"].ok
    assert "GameFilm_Recording_URL__c" in findings["recording_url"].message


def test_doctor_says_how_to_add_each_missing_recording_field(http, connector, sleeps):
    gateway = SalesforceGateway(connector, sleep=sleeps.append, recording_url_field="Call_Link__c")
    findings = doctor_findings(http, gateway, [field("GameFilm_Recording_Id__c", type="string", externalId=True, unique=False)])

    assert not findings["recording_id"].ok and findings["recording_id"].message == (
        "Task.GameFilm_Recording_Id__c is not marked External ID and Unique: deploy it on Activity as Text(255), External ID, Unique "
        "(the installer does), or recordings cannot be attached once."
    )
    assert not findings["recording_url"].ok and findings["recording_url"].message == (
        "Task has no field Call_Link__c: create it on Activity (type URL), or set the tenant's recording_url_field to the org's recording URL field."
    )


def test_doctor_flags_a_recording_url_field_that_is_not_a_writable_url(http, gateway):
    findings = doctor_findings(http, gateway, [
        field("GameFilm_Recording_Id__c", type="string", externalId=True, unique=True, updateable=False),
        field("GameFilm_Recording_URL__c", type="string"),
    ])  # fmt: skip

    assert not findings["recording_id"].ok and "grant Edit" in findings["recording_id"].message
    assert not findings["recording_url"].ok and "must be a URL field" in findings["recording_url"].message

