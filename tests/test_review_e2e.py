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

from integration.signature import hubspot_v3_signature
from tests.conftest import HUBSPOT_SECRET, PORTAL_ID
from tests.game_film_hubspot import ANA, BEN, REP, TASKS_UPDATE, CALLS_UPDATE, make_portal
from tests.hubspot_server import hubspot_server  # noqa: F401  (fixture)

BASE = "https://hooks.acme.io/prod"
DEALS_UPDATE = "/crm/v3/objects/deals/batch/update"
MARKS = {"discovery_questions": 5, "objection_handling": 4, "closing_technique": 3, "next_steps_agreed": 4}


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
