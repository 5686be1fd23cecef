"""Salesforce `Call_Review__c` records arriving by outbound message: mapped to the form's
payload, checked against the ledger at the ack, stored once as review events; a bad record is
acked (Salesforce would resend it for a day) and stored nowhere, its text never logged."""
from __future__ import annotations

import logging
from xml.sax.saxutils import escape

import pytest

from integration import samples
from integration.events import PENDING
from integration.review.submitted import submitted_from_changed
from integration.review_record import RecordError, criterion_field, record_review, review_fields
from integration.rubric import DEFAULT_RUBRIC
from tests.conftest import ORG_ID
from tests.review_entry import CALL, STRENGTH, SUGGESTION, seed
from tests.webhooks import SOAP, notification

T = "acme-salesforce"
REVIEWER, REP, OPP = "0055e000001RevAAA", "0055e000001RepAAA", "0065e00000AbCdEAAV"


def record(nid: str = "04l5e000000RV01AAG", **over: str) -> tuple[str, str, dict[str, str]]:
    values = {"Id": "a0X5e000000Rev1EAC", "Opportunity__c": OPP, "Call_External_Id__c": CALL, "Reviewer__c": REVIEWER,
              "Rep__c": REP, "Strengths__c": escape(STRENGTH), "Suggestions__c": escape(SUGGESTION), "Self_Assessment__c": "false",
              "LastModifiedDate": "2026-11-20T10:00:00.000Z", **{criterion_field(k): "4.0" for k in DEFAULT_RUBRIC.keys}, **over}  # fmt: skip
    return nid, "Call_Review__c", values


@pytest.fixture
def web(make_app, store, clock):
    seed(store.ledger(), clock(), tenant=T, reviewer=REVIEWER, rep=REP, deal=OPP)
    return make_app().test_client(), store


def post(client, *items):
    return client.post("/hooks/salesforce/outbound", data=samples.outbound_message(ORG_ID, list(items)), headers=SOAP)


def stored(store):
    return store.list_events(status=PENDING, tenant=T, limit=100)


def test_a_review_record_becomes_one_review_event_whatever_the_redeliveries(web):
    client, store = web
    for _ in range(3):
        r = post(client, record())
        assert r.status_code == 200 and b"<Ack>true</Ack>" in r.data
    [row] = stored(store)
    submitted = submitted_from_changed(row.event.changed)
    assert (submitted.source, submitted.crm_review_id, row.event.crm) == ("salesforce-record", "a0X5e000000Rev1EAC", "salesforce")
    assert (submitted.review.reviewer_id, submitted.review.rep_id, submitted.review.deal_id) == (REVIEWER, REP, OPP)
    assert submitted.review.scores == {k: 4 for k in DEFAULT_RUBRIC.keys} and str(submitted.review.weighted_score) == "4.00"
    assert submitted.submitted_at.isoformat() == "2026-11-20T10:00:00+00:00"  # LastModifiedDate: redeliveries are one event


def test_review_records_and_other_notifications_share_a_message(web):
    client, store = web
    post(client, record(), notification())
    assert sorted(e.event.object_type for e in stored(store)) == ["opportunity", "review"]


@pytest.mark.parametrize("over", [{"Strengths__c": ""}, {"Closing_Technique__c": "9"}, {"Reviewer__c": REP},
                                  {"Call_External_Id__c": "zoom:unknown"}, {"Suggestions__c": "one\n\ntwo\n\nthree"}])  # fmt: skip
def test_a_bad_record_is_acked_stored_nowhere_and_logged_without_its_text(web, caplog, over):
    client, store = web
    with caplog.at_level(logging.WARNING):
        r = post(client, record(**over))
    assert r.status_code == 200 and b"<Ack>true</Ack>" in r.data
    assert stored(store) == []
    assert "Call_Review__c 0 of the message not stored" in caplog.text and "canary" not in caplog.text


def test_the_record_maps_to_the_forms_payload():
    _, _, values = record(Suggestions__c="first idea\n\nsecond idea", Discovery_Questions__c="3")
    ref = record_review(DEFAULT_RUBRIC, values)
    assert (ref.kind, ref.reviewer_id, ref.call_external_id) == ("peer", REVIEWER, CALL)
    assert ref.payload["suggestions"] == ["first idea", "second idea"] and ref.payload["scores"]["discovery_questions"] == 3
    self_ref = record_review(DEFAULT_RUBRIC, record(Self_Assessment__c="true", Improvement_Area__c="closing_technique")[2])
    assert self_ref.kind == "self" and "strengths" not in self_ref.payload and self_ref.payload["improvement_area"] == "closing_technique"
    with pytest.raises(RecordError) as caught:
        record_review(DEFAULT_RUBRIC, {"Id": "a0X"})
    assert set(caught.value.errors) == {"Call_External_Id__c", "Reviewer__c"}
    assert criterion_field("next_steps_agreed") == "Next_Steps_Agreed__c" and "Next_Steps_Agreed__c" in review_fields(DEFAULT_RUBRIC)


def test_review_records_by_the_signed_json_endpoint_report_bad_ones_by_field(web, clock):
    from tests.webhooks import json_event, post_sf_json

    client, store = web
    _, _, values = record()
    fields = {k: v for k, v in values.items() if k != "Id"} | {"Strengths__c": STRENGTH, "Suggestions__c": SUGGESTION}
    good = json_event(1, object="Call_Review__c", recordId=values["Id"], fields=fields)
    bad = json_event(2, object="Call_Review__c", recordId="a0X5e000000Rev2EAC", fields=fields | {"Strengths__c": ""})
    r = post_sf_json(client, clock, [json_event(3), bad, good])
    answer = r.get_json()
    assert r.status_code == 200 and (answer["accepted"], answer["duplicates"]) == (2, 0)
    assert answer["rejected"] == [{"index": 1, "reason": "invalid review", "fields": {"strengths": ["required: say what went well first"]}}]
    assert sorted(e.event.object_type for e in stored(store)) == ["opportunity", "review"]
    assert post_sf_json(client, clock, [good]).get_json()["duplicates"] == 1
