"""A review from entry to write-back, one test per CRM: HubSpot (the app card's backend with a
real v3 signature and the review page opened from the task's own link, the real adapter and
SDK against the loopback fake HubSpot) and Salesforce (a `Call_Review__c` outbound message,
the real adapter on simple-salesforce against the seeded org). Each entry is delivered three
times; each review is written back once, with the bodies the CRM APIs document."""
from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest
import responses

from integration.signature import hubspot_v3_signature
from tests.conftest import HUBSPOT_SECRET, PORTAL_ID
from tests.game_film_hubspot import ANA, BEN, REP, TASKS_UPDATE, CALLS_UPDATE, make_portal
from tests.hubspot_server import hubspot_server  # noqa: F401  (fixture)

BASE = "https://hooks.acme.io/prod"
DEALS_UPDATE = "/crm/v3/objects/deals/batch/update"
MARKS = {"discovery_questions": 5, "objection_handling": 4, "closing_technique": 3, "next_steps_agreed": 4}


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:  # the seeded org serves every endpoint
        yield rsps


@pytest.fixture
def portal(hubspot_server, store, clock):  # noqa: F811
    made = make_portal(hubspot_server, store, clock, public_base_url=BASE, submit_url=None)
    yield made
    made.close()


def _card(portal, payload: dict, email: str):
    """`hubspot.fetch` from the app card: HubSpot appends the user and portal and signs (v3)."""
    query = urlencode({"userId": "7001", "userEmail": email, "portalId": PORTAL_ID, "appId": "456789"})
    path, body, ts = f"/hooks/hubspot/reviews?{query}", json.dumps(payload).encode(), str(int(portal.clock() * 1000))
    headers = {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": ts,
               "X-HubSpot-Signature-v3": hubspot_v3_signature(HUBSPOT_SECRET, "POST", f"{BASE}{path}", body, ts)}  # fmt: skip
    return portal.client.post(path, data=body, headers=headers)


def _writes(portal, since: int) -> dict[str, list]:
    found: dict[str, list] = {}
    for r in portal.server.requests[since:]:
        if r.path in (TASKS_UPDATE, DEALS_UPDATE, CALLS_UPDATE):
            found.setdefault(r.path, []).append(r.body)
    return found


def test_hubspot_reviews_from_the_card_and_the_page_are_written_back_once_each(portal):
    portal.post_recording("rec-1", "buyer@globex.com")
    portal.complete_task(portal.review_tasks("rec:rec-1", "self")[REP])
    peers = portal.review_tasks("rec:rec-1", "peer")
    assert sorted(peers) == [ANA, BEN]
    call = portal.call_of("rec:rec-1")

    mark = len(portal.server.requests)
    payload = {"taskId": peers[ANA], "strengths": "Named the buyer's pain in their words", "scores": MARKS,
               "suggestions": ["Confirm the next meeting before hanging up"]}  # fmt: skip
    for n in range(3):  # the card's submit, retried before the worker got to it
        r = _card(portal, payload, "ana@acme.io")
        assert r.status_code == 200 and (r.get_json()["accepted"], r.get_json()["duplicates"]) == (int(n == 0), int(n > 0)), r.get_json()
    portal.run()
    portal.run()
    assert _writes(portal, mark) == {
        TASKS_UPDATE: [{"inputs": [{"id": peers[ANA], "properties": {"hs_task_status": "COMPLETED"}}]}],
        DEALS_UPDATE: [{"inputs": [{"id": "1001", "properties": {
            "gamefilm_avg_discovery_questions": "5.00", "gamefilm_avg_objection_handling": "4.00", "gamefilm_avg_closing_technique": "3.00",
            "gamefilm_avg_next_steps_agreed": "4.00", "gamefilm_weighted_avg": "4.00", "gamefilm_review_count": "1",
            "gamefilm_last_score": "4.00", "gamefilm_last_reviewed": "2026-11-23"}}]}],  # fmt: skip
        CALLS_UPDATE: [{"inputs": [{"id": call, "properties": {
            "gamefilm_score_discovery_questions": "5.00", "gamefilm_score_objection_handling": "4.00", "gamefilm_score_closing_technique": "3.00",
            "gamefilm_score_next_steps_agreed": "4.00", "gamefilm_weighted_score": "4.00",
            "gamefilm_rep_rolling_discovery_questions": "5.00", "gamefilm_rep_rolling_objection_handling": "4.00",
            "gamefilm_rep_rolling_closing_technique": "3.00", "gamefilm_rep_rolling_next_steps_agreed": "4.00",
            "gamefilm_rep_rolling_avg": "4.00", "gamefilm_rep_status": "enrolled"}}]}],  # fmt: skip
    }

    # Ben opens the link in his HubSpot task and submits the page (resubmitted twice).
    [path] = re.findall(re.escape(BASE) + r"(/review/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)", portal.tasks()[peers[BEN]]["hs_task_body"])
    assert portal.client.get(path).status_code == 200
    mark = len(portal.server.requests)
    form = urlencode({"strengths": "Clear agenda up front", **{f"scores.{k}": "3" for k in MARKS}, "suggestions": "Ask about budget"})
    for _ in range(3):
        r = portal.client.post(path, data=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 200 and 'id="thanks"' in r.text
    portal.run()
    portal.run()
    writes = _writes(portal, mark)
    assert writes[TASKS_UPDATE] == [{"inputs": [{"id": peers[BEN], "properties": {"hs_task_status": "COMPLETED"}}]}]
    [deal] = writes[DEALS_UPDATE]
    assert deal["inputs"][0]["properties"] | {"gamefilm_last_reviewed": ""} == {
        "gamefilm_avg_discovery_questions": "4.00", "gamefilm_avg_objection_handling": "3.50", "gamefilm_avg_closing_technique": "3.00",
        "gamefilm_avg_next_steps_agreed": "3.50", "gamefilm_weighted_avg": "3.50", "gamefilm_review_count": "2",
        "gamefilm_last_score": "3.00", "gamefilm_last_reviewed": ""}  # fmt: skip
    [scores] = writes[CALLS_UPDATE]
    assert scores["inputs"][0]["id"] == call and scores["inputs"][0]["properties"]["gamefilm_weighted_score"] == "3.50"
    assert portal.tasks()[peers[ANA]]["hs_task_status"] == portal.tasks()[peers[BEN]]["hs_task_status"] == "COMPLETED"


def test_a_salesforce_call_review_outbound_message_is_one_patch_of_review_opportunity_task_and_rep(tmp_path, store, clock, http):
    from integration import samples
    from integration.commands import marker_for
    from tests.conftest import ORG_ID
    from tests.game_film_sf import ANA as SF_ANA, BEN as SF_BEN, OPP1, REP as SF_REP, TENANT as SF_TENANT, make_sf_loop
    from tests.salesforce_records import sf_time

    loop = make_sf_loop(tmp_path, store, clock, http, submit_url=None)
    loop.post_recording("call-1", "buyer@globex.com")
    loop.task_completed(loop.self_task("rec:call-1")["Id"])
    assert loop.peer_owners("rec:call-1") == [SF_ANA, SF_BEN]
    ana_task = loop.task(f"review#{SF_TENANT}#rec:call-1#peer#{SF_ANA}")
    review = loop.org.add("Call_Review__c", "a0X000000000001AAA", Opportunity__c=OPP1, Call_External_Id__c="rec:call-1",
                          Reviewer__c=SF_ANA, Rep__c=SF_REP)  # fmt: skip
    values = {"Id": review, "Opportunity__c": OPP1, "Call_External_Id__c": "rec:call-1", "Reviewer__c": SF_ANA, "Rep__c": SF_REP,
              "Strengths__c": "Named the buyer's pain in their words", "Suggestions__c": "Confirm the next meeting",
              "Self_Assessment__c": "false", "LastModifiedDate": sf_time(loop.now()), "Discovery_Questions__c": "5.0",
              "Objection_Handling__c": "4.0", "Closing_Technique__c": "3.0", "Next_Steps_Agreed__c": "4.0"}  # fmt: skip
    mark = len(loop.org.requests)
    message = samples.outbound_message(ORG_ID, [("04l5e000000RV01AAG", "Call_Review__c", values)])
    for _ in range(3):  # Salesforce resends until acked; each one acked
        r = loop.client.post("/hooks/salesforce/outbound", data=message, headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
        assert r.status_code == 200 and b"<Ack>true</Ack>" in r.data
        loop.run()
    writes = [(kind, body) for kind, body in loop.org.requests[mark:] if not kind.startswith("query")]
    (kind, body), share_write = writes  # the updates, and the review shared with the rep (Private, owned by Ana)
    assert kind == "update Call_Review__c,Opportunity,Task,User" and body["allOrNone"] is False
    assert share_write == ("create Call_Review__Share", {"allOrNone": False, "records": [
        {"attributes": {"type": "Call_Review__Share"}, "ParentId": review, "UserOrGroupId": SF_REP, "AccessLevel": "Read", "RowCause": "Manual"}]})
    assert [(s["ParentId"], s["UserOrGroupId"]) for s in loop.org.of_type("Call_Review__Share")] == [(review, SF_REP)]
    by_id = {r["id"]: {k: v for k, v in r.items() if k != "id"} for r in body["records"]}
    assert by_id[review] == {"attributes": {"type": "Call_Review__c"}, "Weighted_Score__c": 4.0, "GameFilm_Error__c": None}
    assert by_id[ana_task["Id"]] == {"attributes": {"type": "Task"}, "Status": "Completed"}
    assert by_id[OPP1] == {"attributes": {"type": "Opportunity"}, "GameFilm_Avg_Discovery_Questions__c": 5.0,
                           "GameFilm_Avg_Objection_Handling__c": 4.0, "GameFilm_Avg_Closing_Technique__c": 3.0,
                           "GameFilm_Avg_Next_Steps_Agreed__c": 4.0, "GameFilm_Weighted_Avg__c": 4.0, "GameFilm_Review_Count__c": 1,
                           "GameFilm_Last_Score__c": 4.0, "GameFilm_Last_Reviewed__c": loop.now().date().isoformat()}  # fmt: skip
    assert by_id[SF_REP]["GameFilm_Rolling_Avg__c"] == 4.0 and by_id[SF_REP]["GameFilm_Status__c"] == "enrolled"
    assert loop.org.records[review]["Weighted_Score__c"] == 4.0 and loop.org.records[ana_task["Id"]]["Status"] == "Completed"
    assert ana_task["GameFilm_Key__c"] == marker_for(f"review#{SF_TENANT}#rec:call-1#peer#{SF_ANA}")
