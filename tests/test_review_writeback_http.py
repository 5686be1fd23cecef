"""The review write-back's commands through the real SDKs down to HTTP: one batch update per
HubSpot object type (deal, task, call), one sObject Collections PATCH on Salesforce for the
Task, the Opportunity, the User and the Call_Review__c record; exact bodies."""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlsplit

from integration.review import fields, writeback
from integration.rubric import DEFAULT_RUBRIC
from integration.scoring import Review, deal_rollups, rep_standing
from tests.hubspot_server import HubSpotServer, hubspot_server  # noqa: F401
from tests.salesforce_http import COLLECTIONS, OPP, OWNER, body, connector, created, gateway, http, sf_id, sleeps  # noqa: F401
from tests.test_gateway_hubspot import fake_time, make_gateway  # noqa: F401

AT = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
REVIEWS = [
    Review("rec:1#peer#ana", "501", "ana", AT, {"discovery_questions": 5, "objection_handling": 4, "closing_technique": 3, "next_steps_agreed": 4},
           deal_id="d1", call_external_id="rec:1"),
    Review("rec:1#peer#ben", "501", "ben", AT, {"discovery_questions": 3, "objection_handling": 3, "closing_technique": 4, "next_steps_agreed": 2},
           deal_id="d1", call_external_id="rec:1"),
]  # fmt: skip


def _commands(crm: str, deal: str, task: str, rep: str, call: str) -> list:
    rollup = deal_rollups(DEFAULT_RUBRIC, REVIEWS)["d1"]
    standing = rep_standing(DEFAULT_RUBRIC, "501", REVIEWS)
    out = [writeback.complete_task("t", crm, "review#t#rec:1#peer#ana", task, deal, "rec:1#peer#ana"),
           writeback.scores("t", fields.deal_object(crm), deal, fields.deal_fields(crm, rollup), "r", {})]  # fmt: skip
    if crm == "salesforce":
        out.append(writeback.scores("t", "User", rep, fields.rep_fields(crm, standing, AT.date()), "r", {}))
        out.append(writeback.review_score("t", call, rollup.last_score, "rec:1#peer#ben"))
    else:
        values = fields.call_fields(rollup.criteria, rollup.weighted_average) | fields.rep_fields(crm, standing, None)
        out.append(writeback.scores("t", "call", call, values, "r", {}))
    return out


def test_hubspot_writes_one_batch_update_per_object_type(make_gateway, hubspot_server: HubSpotServer) -> None:  # noqa: F811
    hubspot_server.add_deal("101")
    hubspot_server.add_object("tasks", "201")
    hubspot_server.add_object("calls", "301")
    outcomes = make_gateway().execute(_commands("hubspot", "101", "201", "501", "301"))
    assert [o.ok for o in outcomes] == [True, True, True]
    by_path = {r.path: r.body for r in hubspot_server.requests}
    assert len(hubspot_server.requests) == 3
    assert by_path["/crm/v3/objects/tasks/batch/update"] == {"inputs": [{"id": "201", "properties": {"hs_task_status": "COMPLETED"}}]}
    assert by_path["/crm/v3/objects/deals/batch/update"] == {"inputs": [{"id": "101", "properties": {
        "gamefilm_avg_discovery_questions": "4.00", "gamefilm_avg_objection_handling": "3.50", "gamefilm_avg_closing_technique": "3.50",
        "gamefilm_avg_next_steps_agreed": "3.00", "gamefilm_weighted_avg": "3.50", "gamefilm_review_count": "2",
        "gamefilm_last_score": "3.00", "gamefilm_last_reviewed": "2026-11-24"}}]}  # fmt: skip
    assert by_path["/crm/v3/objects/calls/batch/update"] == {"inputs": [{"id": "301", "properties": {
        "gamefilm_score_discovery_questions": "4.00", "gamefilm_score_objection_handling": "3.50", "gamefilm_score_closing_technique": "3.50",
        "gamefilm_score_next_steps_agreed": "3.00", "gamefilm_weighted_score": "3.50",
        "gamefilm_rep_rolling_discovery_questions": "4.00", "gamefilm_rep_rolling_objection_handling": "3.50",
        "gamefilm_rep_rolling_closing_technique": "3.50", "gamefilm_rep_rolling_next_steps_agreed": "3.00",
        "gamefilm_rep_rolling_avg": "3.50", "gamefilm_rep_status": "enrolled"}}]}  # fmt: skip


def test_salesforce_writes_every_record_in_one_collection(http, gateway) -> None:  # noqa: F811
    task, review = sf_id("00T", 1), sf_id("a0X", 1)
    http.patch(COLLECTIONS, json=created(task, OPP, OWNER, review))
    outcomes = gateway.execute(_commands("salesforce", OPP, task, OWNER, review))
    assert [o.ok for o in outcomes] == [True, True, True, True]
    [call] = http.calls
    assert call.request.method == "PATCH" and urlsplit(call.request.url).path == "/services/data/v59.0/composite/sobjects"
    assert body(call) == {"allOrNone": False, "records": [
        {"attributes": {"type": "Call_Review__c"}, "id": review, "Weighted_Score__c": 3.0, "GameFilm_Error__c": None},
        {"attributes": {"type": "Opportunity"}, "id": OPP, "GameFilm_Avg_Discovery_Questions__c": 4.0, "GameFilm_Avg_Objection_Handling__c": 3.5,
         "GameFilm_Avg_Closing_Technique__c": 3.5, "GameFilm_Avg_Next_Steps_Agreed__c": 3.0, "GameFilm_Weighted_Avg__c": 3.5,
         "GameFilm_Review_Count__c": 2, "GameFilm_Last_Score__c": 3.0, "GameFilm_Last_Reviewed__c": "2026-11-24"},
        {"attributes": {"type": "Task"}, "id": task, "Status": "Completed"},
        {"attributes": {"type": "User"}, "id": OWNER, "GameFilm_Rolling_Discovery_Questions__c": 4.0,
         "GameFilm_Rolling_Objection_Handling__c": 3.5, "GameFilm_Rolling_Closing_Technique__c": 3.5,
         "GameFilm_Rolling_Next_Steps_Agreed__c": 3.0, "GameFilm_Rolling_Avg__c": 3.5, "GameFilm_Peer_Reviews__c": 2,
         "GameFilm_Status__c": "enrolled", "GameFilm_Status_Reason__c": DEFAULT_STATUS, "GameFilm_Status_Since__c": "2026-11-24"},
    ]}  # fmt: skip


DEFAULT_STATUS = "enrolled: 0 of 5 consecutive peer reviews with the rolling average at or above the mastery bar 4"


def test_salesforce_rep_scorecards_are_upserted_on_their_external_id(http, gateway) -> None:  # noqa: F811
    from integration.scoring import rep_standing

    standing = rep_standing(DEFAULT_RUBRIC, "501", REVIEWS)
    command = writeback.scorecard("t", OWNER, fields.rep_fields("salesforce", standing, AT.date()), "r", {})
    http.patch(f"{COLLECTIONS}/Rep_Scorecard__c/GameFilm_Rep_Key__c", json=created(sf_id("a0S", 1)))
    [outcome] = gateway.execute([command])
    [call] = http.calls
    assert call.request.method == "PATCH"
    assert urlsplit(call.request.url).path == "/services/data/v59.0/composite/sobjects/Rep_Scorecard__c/GameFilm_Rep_Key__c"
    assert body(call) == {"allOrNone": False, "records": [
        {"attributes": {"type": "Rep_Scorecard__c"}, "GameFilm_Rep_Key__c": OWNER, "Rep__c": OWNER,
         "GameFilm_Rolling_Discovery_Questions__c": 4.0, "GameFilm_Rolling_Objection_Handling__c": 3.5,
         "GameFilm_Rolling_Closing_Technique__c": 3.5, "GameFilm_Rolling_Next_Steps_Agreed__c": 3.0, "GameFilm_Rolling_Avg__c": 3.5,
         "GameFilm_Peer_Reviews__c": 2, "GameFilm_Status__c": "enrolled", "GameFilm_Status_Reason__c": DEFAULT_STATUS,
         "GameFilm_Status_Since__c": "2026-11-24"},
    ]}  # fmt: skip
    assert outcome.ok and outcome.crm_id == sf_id("a0S", 1) and type(command).idempotent
