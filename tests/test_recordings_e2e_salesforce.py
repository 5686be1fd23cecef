"""Issue 9 end to end on Salesforce: signed posts in real formats, the real app, SQLite store and
review ledger, the real adapter on simple-salesforce, and a seeded org behind `responses` that
answers the adapter's SOQL and keeps what it writes (tests/game_film_sf.py). Each delivery is
sent three times; the org ends with one call Task and one set of review Tasks."""
from __future__ import annotations

import base64
import re

import pytest
import responses

from integration.ledger import REC_ATTACHED, REC_PRIVATE, REC_UNMATCHED
from integration.store.sqlite import SqliteStore
from integration.worker import Worker
from tests.game_film_sf import (
    ANA, BEN, BUYER, CFO, CY, IT, MONDAY, OPP1, OPP2, OPP3, OPP4, OPP5, PAT, RECORDING_ID, REP, TENANT, UPSERT_CALLS, UPSERT_TASKS,
    make_sf_loop,
)  # fmt: skip
from tests.salesforce_records import INSTANCE
from tests.game_film_loop import at_once


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def loop(tmp_path, store, clock, http):
    return make_sf_loop(tmp_path, store, clock, http)


def _one_call_and_self_task(loop, opp, contact=None):
    [call] = loop.calls()
    [own] = loop.review_tasks()
    assert (call["WhatId"], call.get("WhoId"), call["OwnerId"]) == (opp, contact, REP)
    assert (own["WhatId"], own["OwnerId"], own["Status"]) == (opp, REP, "Not Started")
    assert own["Description"].endswith(f"Call: {INSTANCE}/lightning/r/Task/{call['Id']}/view\nRecording: {call['GameFilm_Recording_URL__c']}")
    return call, own


def _ledger(loop, external_id):
    return loop.services.ledger.get_recordings(TENANT, [external_id])[external_id]


def test_explicit_opportunity_posted_three_times_is_one_call_task_with_one_self_assessment(loop):
    loop.post_recording("call-1", "buyer@globex.com", deal_id=OPP4)
    call, own = _one_call_and_self_task(loop, OPP4, BUYER)
    url = "https://rec.example.com/call-1.mp3"
    [upsert] = loop.org.bodies(UPSERT_CALLS)
    assert upsert == {"allOrNone": False, "records": [{
        "attributes": {"type": "Task"}, RECORDING_ID: "rec:call-1", "Subject": "Discovery with Globex", "TaskSubtype": "Call",
        "Status": "Completed", "ActivityDate": "2026-11-23", "Description": f"Game Film recording: {url}\n\nRecording: {url}",
        "WhatId": OPP4, "WhoId": BUYER, "OwnerId": REP, "CallDurationInSeconds": 1800, "GameFilm_Recording_URL__c": url,
    }]}  # fmt: skip
    [created] = loop.org.bodies(UPSERT_TASKS)
    [record] = created["records"]
    assert {k: v for k, v in record.items() if k != "Description"} == {
        "attributes": {"type": "Task"}, "WhatId": OPP4, "OwnerId": REP, "Subject": 'Game film: self-assess your call "Discovery with Globex"',
        "ActivityDate": "2026-11-25", "Status": "Not Started", "Priority": "Normal", "GameFilm_Key__c": own["GameFilm_Key__c"],
    }  # fmt: skip
    for words in ("discovery questions", "objection handling", "one area you will improve", "https://scores.example.com/submit", url):
        assert words.lower() in record["Description"].lower()  # criteria are named by their labels
    entry = _ledger(loop, "rec:call-1")
    assert (entry.status, entry.deal_id, entry.rep_user_id) == (REC_ATTACHED, OPP4, REP)
    assert loop.org.kinds().count(UPSERT_CALLS) == 1 and loop.org.kinds().count(UPSERT_TASKS) == 1
    assert "query Task" not in loop.org.kinds()  # the adapter remembers the call it upserted: the link costs no read


def test_matched_by_contact_role(loop):
    loop.post_recording("call-2", "buyer@globex.com")
    _one_call_and_self_task(loop, OPP1, BUYER)
    by_role = [q for q in loop.org.bodies("query Opportunity") if "OpportunityContactRole" in q]
    assert by_role == [
        "SELECT Id, Name, Amount, CurrencyIsoCode, OwnerId, StageName, RecordTypeId, IsClosed, LastModifiedDate, AccountId, CloseDate, "
        "(SELECT ContactId FROM OpportunityContactRoles), (SELECT UserId FROM OpportunityTeamMembers) FROM Opportunity "
        f"WHERE Id IN (SELECT OpportunityId FROM OpportunityContactRole WHERE ContactId IN ('{BUYER}'))"
    ]
    assert "query OpportunityTeamMember" not in loop.org.kinds()  # the team came with the opportunity


def test_matched_by_account(loop):
    loop.post_recording("call-3", "it@initech.com")
    _one_call_and_self_task(loop, OPP3, IT)


def test_matched_by_website_domain(loop):
    loop.post_recording("call-4", "someone@umbrella.com")
    _one_call_and_self_task(loop, OPP5)
    assert loop.org.bodies("query Account") == ["SELECT Id, Website FROM Account WHERE Website LIKE '%umbrella.com%'"]


def test_ambiguous_account_prefers_the_owner_on_the_call_then_the_latest_modified(loop):
    loop.post_recording("call-5", "cfo@globex.com")  # Globex: Opp1 (the rep's) and Opp2 (modified later)
    call, _ = _one_call_and_self_task(loop, OPP1, CFO)
    loop.post_recording("call-6", "cfo@globex.com", rep_email="ben@acme.io")
    [other] = [c for c in loop.calls() if c[RECORDING_ID] == "rec:call-6"]
    assert (other["WhatId"], other["OwnerId"]) == (OPP2, BEN)


def test_unmatched_is_matched_on_a_later_tick_after_a_contact_role_is_added(loop):
    loop.post_recording("call-7", "pat@hooli.com")  # Hooli: a contact and an account, no opportunity
    assert loop.calls() == [] and loop.review_tasks() == []
    entry = _ledger(loop, "rec:call-7")
    assert (entry.status, entry.match_attempts, entry.next_match_at) == (REC_UNMATCHED, 1, MONDAY.timestamp() + 86400)
    loop.tick(hours=2)
    assert loop.calls() == []
    loop.org.add("OpportunityContactRole", ContactId=PAT, OpportunityId=OPP4, Role="Evaluator")  # a person adds the role
    loop.tick(hours=23)
    _one_call_and_self_task(loop, OPP4, PAT)
    loop.tick(hours=24)
    assert len(loop.calls()) == 1 and loop.org.kinds().count(UPSERT_CALLS) == 1
    assert _ledger(loop, "rec:call-7").status == REC_ATTACHED


def test_a_call_task_a_person_put_on_an_opportunity_keeps_it(loop):
    task_id = loop.org.add("Task", Subject="Call with Globex", TaskSubtype="Call", Status="Completed", OwnerId=REP, WhatId=OPP3, WhoId=BUYER,
                           ActivityDate="2026-11-23", CallDurationInSeconds=300, GameFilm_Recording_URL__c="https://dialer.example.com/r/1")  # fmt: skip
    loop.outbound(task_id, TaskSubtype="Call", Status="Completed", WhatId=OPP3)  # Buyer has a role on Opp1; the person chose Opp3
    assert loop.org.bodies("update Task") == [{"allOrNone": False, "records": [
        {"attributes": {"type": "Task"}, "id": task_id, RECORDING_ID: f"sf-task:{task_id}"}]}]  # fmt: skip
    [call] = loop.calls()
    assert (call["Id"], call["WhatId"], call[RECORDING_ID]) == (task_id, OPP3, f"sf-task:{task_id}")
    [own] = loop.review_tasks("self")
    assert own["WhatId"] == OPP3 and f"/lightning/r/Task/{task_id}/view" in own["Description"]
    loop.clock.advance(60)
    loop.outbound(task_id, TaskSubtype="Call", Status="Completed", WhatId=OPP3)  # our own stamp: nothing more
    assert len(loop.org.bodies("update Task")) == 1 and len(loop.review_tasks()) == 1


def test_a_call_task_without_an_opportunity_waits_for_the_person_signed_json(loop):
    task_id = loop.org.add("Task", Subject="Call", TaskSubtype="Call", Status="Completed", OwnerId=REP, ActivityDate="2026-11-23",
                           GameFilm_Recording_URL__c="https://dialer.example.com/r/2")  # fmt: skip
    loop.json_event(task_id, {"TaskSubtype": "Call"})
    assert loop.org.bodies("update Task") == [] and _ledger(loop, f"sf-task:{task_id}").status == REC_UNMATCHED
    loop.org.update(task_id, WhatId=OPP5)  # a person sets Related To
    loop.tick(hours=25)
    [call] = loop.calls()
    assert (call["WhatId"], call[RECORDING_ID]) == (OPP5, f"sf-task:{task_id}") and len(loop.review_tasks("self")) == 1


def test_no_consent_attaches_for_the_rep_only(loop):
    loop.post_recording("call-9", "buyer@globex.com", consent=False)
    _one_call_and_self_task(loop, OPP1, BUYER)
    assert _ledger(loop, "rec:call-9").status == REC_PRIVATE
    loop.tick(hours=72)
    assert loop.review_tasks("peer") == []


def test_peers_come_when_the_self_assessment_task_is_completed(loop):
    loop.post_recording("call-1", "buyer@globex.com")
    assert loop.review_tasks("peer") == []
    loop.clock.advance(3600)
    own = loop.self_task("rec:call-1")
    loop.task_completed(own["Id"])
    assert loop.peer_owners("rec:call-1") == [ANA, BEN]  # Cy: not yet reviewed; Dee inactive; never the rep
    ana = loop.task(f"review#{TENANT}#rec:call-1#peer#{ANA}")
    assert (ana["WhatId"], ana["ActivityDate"], ana["Subject"]) == (OPP1, "2026-11-26", 'Game film: review a teammate\'s call "Discovery with Globex"')
    [call] = loop.calls()
    assert f"/lightning/r/Task/{call['Id']}/view" in ana["Description"] and "what went well first" in ana["Description"]
    assert [a.kind for a in loop.services.ledger.open_assignments(TENANT, 1e12)] == ["peer", "peer"]  # the self-assessment is done
    loop.tick(hours=72)
    assert len(loop.review_tasks("peer")) == 2 and len(loop.review_tasks()) == 3


def test_peers_come_after_the_grace_period_from_a_new_process(loop):
    loop.post_recording("call-1", "buyer@globex.com")
    loop.tick(hours=47)
    assert loop.review_tasks("peer") == []
    loop.restart()  # the tick runs in a new process: its adapter has seen no call upserted
    loop.org.requests.clear()
    loop.tick(hours=1.5)
    assert loop.peer_owners("rec:call-1") == [ANA, BEN]
    [call] = loop.calls()
    [sent] = loop.org.bodies(UPSERT_TASKS)
    ana = next(r for r in sent["records"] if r["OwnerId"] == ANA)
    assert ana["Description"].endswith(f"\n\nCall: {INSTANCE}/lightning/r/Task/{call['Id']}/view")  # its id came from the outbox
    assert (ana["WhatId"], ana["ActivityDate"], ana["Status"]) == (OPP1, "2026-11-30", "Not Started")
    assert sorted(loop.org.kinds()) == ["query User", "query User", UPSERT_TASKS]  # pool emails -> ids, who is inactive; the tasks: no Task lookup
    loop.tick(hours=1)
    assert len(loop.review_tasks("peer")) == 2


def test_graduated_rep_gets_no_peer_reviews(tmp_path, store, clock, http):
    loop = make_sf_loop(tmp_path, store, clock, http, graduated=["rep@acme.io"])
    loop.post_recording("call-1", "buyer@globex.com")
    loop.task_completed(loop.self_task("rec:call-1")["Id"])
    loop.tick(hours=72)
    assert len(loop.review_tasks("self")) == 1 and loop.review_tasks("peer") == []


def test_rotation_never_self_capped_and_only_reviewed_reviewers(tmp_path, store, clock, http):
    loop = make_sf_loop(tmp_path, store, clock, http, reviewers_per_call=1, weekly_cap=1, grace_hours=0)
    loop.post_recording("call-1", "buyer@globex.com", times=1)
    loop.post_recording("call-2", "buyer@globex.com", rep_email="cy@acme.io", times=1)
    loop.post_recording("call-3", "buyer@globex.com", rep_email="ben@acme.io", times=1)
    loop.tick(hours=1)
    assert (loop.peer_owners("rec:call-1"), loop.peer_owners("rec:call-2"), loop.peer_owners("rec:call-3")) == ([ANA], [BEN], [])
    loop.task_completed(loop.task(f"review#{TENANT}#rec:call-2#peer#{BEN}")["Id"])  # Cy's call reviewed: Cy may review now
    loop.tick(hours=24)
    assert loop.peer_owners("rec:call-3") == [CY]
    assert all(t["OwnerId"] != REP for t in loop.review_tasks("peer"))


def test_two_workers_ticking_at_once_create_one_set_of_peer_tasks(tmp_path, store, clock, http):
    loop = make_sf_loop(tmp_path, store, clock, http)
    loop.post_recording("call-1", "buyer@globex.com", times=1)
    loop.clock.advance(49 * 3600)
    loop.services.worker.insert_ticks()
    loop.clock.advance(3600)
    loop.services.worker.insert_ticks()  # two hours' ticks, both due: one for each worker
    keys = [k for k, _ in store.due_events(loop.clock(), 10)]
    assert len(keys) == 2
    other = SqliteStore(tmp_path / "gamefilm.db")  # another process on the same database
    base = loop.services.worker
    workers = [Worker(s, base.config, base.gateway_for, clock=loop.clock, ledger=s.ledger()) for s in (store, other)]
    at_once(workers, keys)
    other.close()
    assert loop.peer_owners("rec:call-1") == [ANA, BEN] and len(loop.review_tasks("peer")) == 2
    stats = loop.services.ledger.reviewer_stats(TENANT, [ANA, BEN])
    assert (stats[ANA].week_count, stats[BEN].week_count) == (1, 1)


def test_overdue_review_gets_one_salesforce_reminder_a_day(loop):
    loop.post_recording("call-1", "buyer@globex.com")
    loop.task_completed(loop.self_task("rec:call-1")["Id"])
    ana = loop.task(f"review#{TENANT}#rec:call-1#peer#{ANA}")
    loop.task_completed(loop.task(f"review#{TENANT}#rec:call-1#peer#{BEN}")["Id"])
    loop.tick(hours=82)  # Friday 01:00: Ana's task was due Thursday
    [reminder] = loop.org.bodies("update Task")
    [record] = reminder["records"]
    assert {k: v for k, v in record.items() if k != "Description"} == {
        "attributes": {"type": "Task"}, "id": ana["Id"], "IsReminderSet": True, "ReminderDateTime": "2026-11-27T01:00:00Z"}
    assert "rule: overdue review task" in record["Description"] and "due on 2026-11-26" in record["Description"]
    assert loop.org.records[ana["Id"]]["IsReminderSet"] is True
    for _ in range(5):
        loop.tick(hours=1)
    assert len(loop.org.bodies("update Task")) == 1  # once a day at most
    loop.tick(hours=24)
    assert len(loop.org.bodies("update Task")) == 2
    loop.org.complete(ana["Id"])
    loop.tick(hours=24)
    assert len(loop.org.bodies("update Task")) == 2
    assert [a for a in loop.services.ledger.open_assignments(TENANT, 1e12) if a.reviewer_id == ANA] == []


def test_an_upsert_applied_then_answered_500_leaves_one_call_task(loop):
    loop.org.faults = ["apply-500"]
    loop.post_recording("call-1", "buyer@globex.com")
    [call] = loop.calls()
    assert (call["TaskSubtype"], call["WhatId"], call[RECORDING_ID]) == ("Call", OPP1, "rec:call-1")
    sent = loop.org.bodies(UPSERT_CALLS)
    assert len(sent) == 3 and "TaskSubtype" in sent[1]["records"][0] and "TaskSubtype" not in sent[2]["records"][0]
    assert len(loop.review_tasks("self")) == 1


def test_zoom_recording_with_participants_from_zoom_api_lands_once_on_the_matched_opportunity(tmp_path, store, clock, http, monkeypatch):
    from integration import zoom
    from tests.game_film_sf import ZOOM_ENV
    from tests.webhooks import zoom_recording_completed

    for name, value in ZOOM_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(zoom, "_clients", {})
    loop = make_sf_loop(tmp_path, store, clock, http, zoom=True)
    uuid = "4444AAAiAAAAAiAiAiiAii=="
    body = zoom_recording_completed(uuid, host_email="Rep@Acme.io", start_time="2026-11-23T14:00:00Z", topic="Globex demo")
    token = http.post("https://zoom.us/oauth/token", json={"access_token": "zoom-access", "token_type": "bearer", "expires_in": 3599})
    people = http.get(re.compile(r"https://api\.zoom\.us/v2/past_meetings/4444AAAiAAAAAiAiAiiAii%3D%3D/participants.*"),
                      json={"page_size": 300, "next_page_token": "", "participants": [
                          {"id": "a", "name": "Rep", "user_email": "rep@acme.io"}, {"id": "b", "name": "Buyer", "user_email": "Buyer@Globex.com"},
                          {"id": "", "name": "Guest (email hidden)", "user_email": ""}]})  # fmt: skip

    answers = loop.post_zoom(body)

    assert [a["accepted"] for a in answers] == [1, 0, 0] and [a["duplicates"] for a in answers] == [0, 1, 1]
    assert token.call_count == 1 and people.call_count == 1  # the two redeliveries are duplicates: Zoom is not asked again
    assert people.calls[0].request.headers["Authorization"] == "Bearer zoom-access"
    asked = token.calls[0].request
    assert asked.url == "https://zoom.us/oauth/token?grant_type=account_credentials&account_id=AAAAAABBBB"
    assert asked.headers["Authorization"] == "Basic " + base64.b64encode(b"zoom-client-id:zoom-client-secret").decode()
    share_url = "https://example.zoom.us/rec/share/Qg75t7xZBtEbAkjdlgbfdngBBBB"
    [upsert] = loop.org.bodies(UPSERT_CALLS)  # once over three deliveries
    assert upsert == {"allOrNone": False, "records": [{
        "attributes": {"type": "Task"}, RECORDING_ID: f"zoom:{uuid}", "Subject": "Globex demo", "TaskSubtype": "Call",
        "Status": "Completed", "ActivityDate": "2026-11-23", "Description": f"Game Film recording: {share_url}\n\nRecording: {share_url}",
        "WhatId": OPP1, "WhoId": BUYER, "OwnerId": REP, "CallDurationInSeconds": 42 * 60, "GameFilm_Recording_URL__c": share_url,
    }]}  # fmt: skip
    _one_call_and_self_task(loop, OPP1, BUYER)  # Buyer (known only from Zoom) has the role on Opp1, which the rep owns
    entry = _ledger(loop, f"zoom:{uuid}")
    assert (entry.deal_id, entry.rep_user_id) == (OPP1, REP)
    assert entry.status == REC_PRIVATE  # Zoom says nothing about consent: under the "flag" policy the call stays the rep's
    assert loop.org.kinds().count(UPSERT_CALLS) == 1 and loop.org.kinds().count(UPSERT_TASKS) == 1
