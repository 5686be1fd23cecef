"""The HubSpot app card's backend: a review posted with `hubspot.fetch` (v3-signed, the user in
the signed query) is checked against the ledger and stored once as a review event."""
from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from integration.events import PENDING
from integration.ledger import DONE
from integration.recordings import REVIEW_OBJECT
from integration.review.submitted import submitted_from_changed
from integration.review_form import form_fields
from integration.rubric import DEFAULT_RUBRIC
from integration.scoring import weighted_score
from tests.review_entry import (
    CALL, PEER_TASK, REP, REVIEWER, SELF_TASK, STRENGTH, SUGGESTION, T, get_form, org, peer_review, post_card, scores, seed,
)  # fmt: skip


@pytest.fixture
def web(make_app, store, clock):
    crm = org()
    app = make_app(gateway_for=lambda tenant: crm)
    made = seed(store.ledger(), clock())
    return app.test_client(), store, made, crm


def stored(store):
    return store.list_events(status=PENDING, tenant=T, limit=100)


def test_a_valid_review_is_stored_once_as_a_review_event_and_answers_the_weighted_score(web, clock):
    client, store, _, crm = web
    payload = peer_review(scores=scores(4, closing_technique=3))
    r = post_card(client, clock, payload)
    assert r.status_code == 200, r.get_json()
    expected = weighted_score(DEFAULT_RUBRIC, scores(4, closing_technique=3))
    assert r.get_json() == {"accepted": 1, "duplicates": 0, "review_id": f"{CALL}#peer#{REVIEWER}", "weighted_score": str(expected)}
    [row] = stored(store)
    event = row.event
    assert (event.object_type, event.object_id, event.crm) == (REVIEW_OBJECT, f"{CALL}#peer#{REVIEWER}", "hubspot")
    submitted = submitted_from_changed(event.changed)
    assert submitted.source == "hubspot-card" and submitted.submitted_at.timestamp() == int(clock())
    assert (submitted.review.task_id, submitted.review.rep_id, submitted.review.deal_id) == (PEER_TASK, REP, "d1")
    assert submitted.review.strengths == STRENGTH and submitted.review.suggestions == (SUGGESTION,)
    assert ("find_users_by_email", 1) in crm.calls


def test_the_same_review_delivered_three_times_is_one_event(web, clock):
    client, store, _, _ = web
    answers = [post_card(client, clock, peer_review()).get_json() for _ in range(3)]
    assert [(a["accepted"], a["duplicates"]) for a in answers] == [(1, 0), (0, 1), (0, 1)]
    assert len(stored(store)) == 1


def test_an_edit_is_a_new_event_of_the_same_review(web, clock):
    client, store, _, _ = web
    post_card(client, clock, peer_review())
    clock.advance(60)
    assert post_card(client, clock, peer_review(scores=scores(5))).get_json()["accepted"] == 1
    assert {e.event.object_id for e in stored(store)} == {f"{CALL}#peer#{REVIEWER}"} and len(stored(store)) == 2


@pytest.mark.parametrize(
    "payload, status, field",
    [
        (peer_review(strengths=""), 400, "strengths"),
        (peer_review(scores=scores(closing_technique=9)), 400, "scores.closing_technique"),
        (peer_review(suggestions=["a", "b", "c"]), 400, "suggestions"),
        (peer_review(improvement_area="closing_technique"), 400, "improvement_area"),
        (peer_review(taskId=None), 400, "taskId"),
        (peer_review(taskId="404"), 404, "taskId"),
        ({"taskId": PEER_TASK, "scores": "high"}, 400, "scores"),
        ([1, 2], 400, "body"),
    ],
)
def test_a_bad_submission_names_every_field_and_stores_nothing(web, clock, payload, status, field):
    client, store, _, _ = web
    r = post_card(client, clock, payload)
    body = r.get_json()
    assert (r.status_code, body["error"], body["field"]) == (status, "invalid_review", field), body
    assert field in body["errors"]
    assert stored(store) == []


def test_only_the_assigned_reviewer_may_submit(web, clock):
    client, store, _, _ = web
    r = post_card(client, clock, peer_review(), email="robin@acme.example")  # the rep, on their own call
    assert r.status_code == 403 and "own call" in r.get_json()["errors"]["reviewer"]
    r = post_card(client, clock, peer_review(), email="stranger@acme.example")
    assert r.status_code == 403 and r.get_json()["errors"]["reviewer"]
    r = post_card(client, clock, {"taskId": SELF_TASK, "scores": scores(3), "improvement_area": "closing_technique"})
    assert r.status_code == 403  # the reviewer cannot answer the rep's self-assessment
    assert stored(store) == []


def test_the_rep_submits_their_self_assessment(web, clock):
    client, store, _, _ = web
    r = post_card(client, clock, {"taskId": SELF_TASK, "scores": scores(3), "improvement_area": "closing_technique"},
                  email="robin@acme.example")  # fmt: skip
    assert r.status_code == 200, r.get_json()
    assert submitted_from_changed(stored(store)[0].event.changed).review.improvement_area == "closing_technique"


def test_a_closed_task_is_409(web, clock):
    client, store, made, _ = web
    store.ledger().update_assignments([replace(made["peer"], status=DONE, completed_at=clock())], clock())
    r = post_card(client, clock, peer_review())
    assert r.status_code == 409 and r.get_json()["field"] == "task"
    assert stored(store) == []


@pytest.mark.parametrize("how", ["wrong secret", "stale", "portal of another app", "no user"])
def test_requests_not_signed_by_the_app_for_this_portal_are_refused(web, clock, how):
    client, store, _, _ = web
    if how == "wrong secret":
        r = post_card(client, clock, peer_review(), secret="not-the-client-secret")
        assert (r.status_code, r.get_json()["field"]) == (401, "X-HubSpot-Signature-v3")
    elif how == "stale":
        r = post_card(client, clock, peer_review(), age=301)
        assert (r.status_code, r.get_json()["field"]) == (401, "X-HubSpot-Signature-v3")
    elif how == "portal of another app":
        r = post_card(client, clock, peer_review(), portalId="777")  # other-hubspot: signed with another secret
        assert (r.status_code, r.get_json()["field"]) == (403, "portalId")
    else:
        r = post_card(client, clock, peer_review(), email="")
        assert (r.status_code, r.get_json()["field"]) == (400, "userEmail")
    assert stored(store) == []


def test_the_form_definition_and_the_calls_context(web, clock):
    client, _, _, _ = web
    r = get_form(client, clock, PEER_TASK)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert [f["name"] for f in body["fields"]] == [f.name for f in form_fields(DEFAULT_RUBRIC, "peer")]
    assert body["fields"][0]["name"] == "strengths" and body["fields"][-1]["name"] == "suggestions"
    assert (body["kind"], body["open"], body["call"]["title"], body["call"]["deal_id"]) == ("peer", True, "Discovery with Client Co", "d1")
    self_form = get_form(client, clock, SELF_TASK).get_json()
    assert [f["name"] for f in self_form["fields"]][-2:] == ["improvement_area", "improvement_note"]
    assert get_form(client, clock, "404").status_code == 404
    assert get_form(client, clock, PEER_TASK, secret="wrong").status_code == 401


def test_review_text_never_reaches_the_log(web, clock, caplog):
    client, _, _, _ = web
    with caplog.at_level(logging.DEBUG):
        post_card(client, clock, peer_review())
        post_card(client, clock, peer_review(scores=scores(closing_technique=0), **{STRENGTH[:20]: SUGGESTION}))
    assert caplog.records
    assert "canary" not in caplog.text


def test_a_ledger_or_crm_that_does_not_answer_is_503_and_stores_nothing(make_app, store, clock):
    from integration.gateway import CrmError
    from tests.fake_ledger import FakeLedger

    class Down(FakeLedger):
        def assignments_by_task(self, tenant, task_ids):
            raise OSError("disk I/O error")

    client = make_app(ledger=Down(), gateway_for=lambda tenant: org()).test_client()
    r = post_card(client, clock, peer_review())
    assert r.status_code == 503 and r.headers["Retry-After"] and r.get_json()["error"] == "store_unavailable"
    crm = org()
    crm.fail_next.append(CrmError("owners: 502 from HubSpot"))
    seed(store.ledger(), clock())
    r = post_card(make_app(gateway_for=lambda tenant: crm).test_client(), clock, peer_review())
    assert r.status_code == 503 and r.headers["Retry-After"] and r.get_json()["error"] == "crm_unavailable"
    assert stored(store) == []
