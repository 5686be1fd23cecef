"""Game film on HubSpot, end to end through the real SDK: recordings posted in their real,
signed formats (/hooks/recordings, /hooks/zoom, HubSpot call and task webhooks), each delivery
three times, land once on the right deal as one call; the rep's self-assessment comes first,
peers follow by rotation, overdue tasks get one HubSpot reminder a day. What the fake portal
stores and the exact request bodies are checked (the org: tests/game_film_hubspot.py)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import responses

from integration import zoom
from integration.ledger import REC_ATTACHED, REC_PRIVATE, REC_UNMATCHED
from integration.worker import Worker
from tests.game_film_hubspot import (
    ANA, BEN, BUYER, CALLS_CREATE, CALLS_UPDATE, CY, DEE, IT, INITECH, MONDAY, REP, TASKS_CREATE, TASKS_UPDATE, TENANT, UPSERT, ZOOM_ENV, Portal,
    make_portal,
)  # fmt: skip
from tests.hubspot_server import hubspot_server  # noqa: F401  (fixture)
from tests.webhooks import zoom_recording_completed
from tests.game_film_loop import at_once

CALL_AT_MS = int((MONDAY - timedelta(hours=1)).timestamp() * 1000)


@pytest.fixture
def make(hubspot_server, store, clock):  # noqa: F811
    made: list[Portal] = []

    def _make(**settings) -> Portal:
        made.append(make_portal(hubspot_server, store, clock, **settings))
        return made[-1]

    yield _make
    for p in made:
        p.close()


@pytest.fixture
def portal(make) -> Portal:
    return make()


def _attached_once(portal: Portal, recording_id: str, deal_id: str) -> tuple[str, str]:
    """One call holding the recording, on the deal, and one self-assessment task for the rep."""
    call_id = portal.call_of(recording_id)
    assert portal.linked("calls", call_id, "deals") == [deal_id]
    assert len(portal.sent(CALLS_CREATE)) + len(portal.sent(CALLS_UPDATE)) == 1 and portal.sent(UPSERT) == []
    [self_task] = portal.review_tasks(recording_id, "self").values()
    assert len(portal.tasks()) == 1 and portal.tasks()[self_task]["hubspot_owner_id"] == REP
    assert portal.linked("tasks", self_task, "deals") == [deal_id]
    return call_id, self_task


def _step(portal: Portal, recording_id: str) -> str:
    return portal.services.store.get_action(f"call#{TENANT}#{recording_id}").payload["evidence"]["step"]


# --- attaching: each way a recording finds its deal -----------------------------------------------
def test_explicit_deal_posted_three_times_is_one_call_and_one_self_assessment(portal):
    portal.post_recording("call-1", "buyer@globex.com", deal_id="1004")
    call_id, task_id = _attached_once(portal, "rec:call-1", "1004")
    [create] = portal.sent(CALLS_CREATE)  # one create, the deal and contact associations inline
    assert create.body == {"inputs": [{"objectWriteTraceId": "0", "properties": {
        "gamefilm_recording_id": "rec:call-1", "hs_timestamp": str(CALL_AT_MS), "hs_call_title": "Discovery with Globex",
        "hs_call_recording_url": "https://rec.example.com/call-1.mp3", "hs_call_status": "COMPLETED",
        "hs_call_body": "Game Film recording: https://rec.example.com/call-1.mp3", "hs_call_duration": "1800000", "hubspot_owner_id": REP},
        "associations": [{"to": {"id": "1004"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 206}]},
                         {"to": {"id": BUYER}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 194}]}]}]}  # fmt: skip
    assert portal.sent("/crm/v4/associations/calls/deals/batch/create") == [] and portal.sent("/crm/v4/associations/calls/contacts/batch/create") == []
    assert portal.linked("calls", call_id, "contacts") == [BUYER]
    # association type ids come from the labels API, once per object pair
    assert len(portal.sent("/crm/v4/associations/calls/deals/labels", "GET")) == 1
    [create] = portal.sent(TASKS_CREATE)
    [task] = create.body["inputs"]
    assert task["associations"] == [{"to": {"id": "1004"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 216}]}]
    props = task["properties"]
    assert props["hs_task_subject"] == 'Game film: self-assess your call "Discovery with Globex"'
    assert (props["hs_task_status"], props["hs_task_type"], props["hubspot_owner_id"]) == ("NOT_STARTED", "TODO", REP)
    assert props["hs_timestamp"] == str(int(datetime(2026, 11, 25, 12, tzinfo=timezone.utc).timestamp() * 1000))  # due the day the 48 h grace ends, noon UTC
    for words in ("https://rec.example.com/call-1.mp3", "discovery questions", "next steps agreed", "one area you will improve",
                  "https://scores.example.com/submit", f"Recording rec:call-1: HubSpot call {call_id}"):  # fmt: skip
        assert words.lower() in props["hs_task_body"].lower()  # criteria are named by their labels
    entry = portal.ledger.get_recordings(TENANT, ["rec:call-1"])["rec:call-1"]
    assert (entry.status, entry.deal_id, entry.rep_user_id) == (REC_ATTACHED, "1004", REP)
    assert _step(portal, "rec:call-1") == "explicit"


def test_matched_by_a_contact_associated_with_the_deal(portal):
    portal.post_recording("call-2", "buyer@globex.com")
    _attached_once(portal, "rec:call-2", "1001")
    assert _step(portal, "rec:call-2") == "contact"
    [read] = portal.sent("/crm/v3/objects/contacts/batch/read")
    assert (read.body["idProperty"], read.body["inputs"]) == ("email", [{"id": "buyer@globex.com"}])


def test_matched_by_the_contacts_company(portal):
    portal.post_recording("call-3", "it@initech.com")
    call_id, _ = _attached_once(portal, "rec:call-3", "1003")
    assert _step(portal, "rec:call-3") == "account" and portal.linked("calls", call_id, "contacts") == [IT]


def test_matched_by_email_domain(portal):
    portal.post_recording("call-4", "someone@umbrella.com")
    call_id, _ = _attached_once(portal, "rec:call-4", "1005")
    assert _step(portal, "rec:call-4") == "domain" and portal.linked("calls", call_id, "contacts") == []
    [search] = portal.sent("/crm/v3/objects/companies/search")
    assert search.body["filterGroups"] == [{"filters": [{"propertyName": "domain", "operator": "IN", "values": ["umbrella.com"]}]}]


def test_ambiguous_company_prefers_the_deal_whose_owner_was_on_the_call(portal):
    portal.post_recording("call-5", "cfo@globex.com")  # Globex: 1001 (the rep's) and 1002 (modified later)
    _attached_once(portal, "rec:call-5", "1001")
    assert "chosen from 2 deals (its owner or team was on the call)" in portal.services.store.get_action(f"call#{TENANT}#rec:call-5").reason


def test_ambiguous_company_without_the_owner_on_the_call_takes_the_latest_modified(portal):
    portal.post_recording("call-6", "cfo@globex.com", rep_email="ben@acme.io")
    call_id = portal.call_of("rec:call-6")
    assert portal.linked("calls", call_id, "deals") == ["1002"] and portal.calls()[call_id]["hubspot_owner_id"] == BEN


def test_unmatched_is_kept_then_matched_on_a_later_tick_once_the_contact_exists(portal):
    portal.post_recording("call-7", "new@hooli.com")
    assert portal.calls() == {} and portal.tasks() == {}
    entry = portal.ledger.get_recordings(TENANT, ["rec:call-7"])["rec:call-7"]
    assert (entry.status, entry.match_attempts) == (REC_UNMATCHED, 1)
    portal.tick(hours=2)  # not due yet
    assert portal.calls() == {}
    portal.server.add_contact("2004", "new@hooli.com", associatedcompanyid=INITECH)  # a person adds the contact
    portal.tick(hours=23)
    call_id, _ = _attached_once(portal, "rec:call-7", "1003")
    assert portal.linked("calls", call_id, "contacts") == ["2004"] and _step(portal, "rec:call-7") == "account"
    assert portal.ledger.get_recordings(TENANT, ["rec:call-7"])["rec:call-7"].status == REC_ATTACHED
    portal.tick(hours=24)
    assert len(portal.sent(CALLS_CREATE)) == 1


def test_a_hubspot_call_a_person_put_on_a_deal_keeps_that_deal(portal):
    server = portal.server
    server.add_object("calls", "7001", hs_call_title="Call with Globex", hs_call_recording_url="https://app.hubspot.example/rec/7001.mp3",
                      hubspot_owner_id=REP, hs_timestamp=str(CALL_AT_MS), hs_call_duration="600000")  # fmt: skip
    server.associate("calls", "7001", "deals", "1003")  # Buyer is on 1001, but a person put the call on 1003
    server.associate("calls", "7001", "contacts", BUYER)
    portal.hubspot("0-48", "7001")
    assert [r.body for r in portal.sent(CALLS_UPDATE)] == [{"inputs": [{"id": "7001", "properties": {"gamefilm_recording_id": "hubspot-call:7001"}}]}]
    assert portal.sent(UPSERT) == portal.sent(CALLS_CREATE) == [] and portal.sent("/crm/v4/associations/calls/deals/batch/create") == []
    assert list(portal.calls()) == ["7001"] and portal.linked("calls", "7001", "deals") == ["1003"]
    _attached_once(portal, "hubspot-call:7001", "1003")
    portal.clock.advance(60)  # our own stamp comes back as a property change: nothing more
    portal.hubspot("0-48", "7001", "object.propertyChange", propertyName="gamefilm_recording_id", propertyValue="hubspot-call:7001")
    assert len(portal.sent(CALLS_UPDATE)) == 1 and len(portal.tasks()) == 1


def test_a_hubspot_call_without_a_recording_is_left_alone(portal):
    portal.server.add_object("calls", "7002", hs_call_title="Quick call", hubspot_owner_id=REP, hs_timestamp=str(CALL_AT_MS))
    portal.hubspot("0-48", "7002")
    assert portal.sent(CALLS_UPDATE) == [] and portal.tasks() == {} and portal.ledger.get_recordings(TENANT, ["hubspot-call:7002"]) == {}


def test_zoom_recording_with_participants_from_zoom_api(make, monkeypatch):
    for name, value in ZOOM_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(zoom, "_clients", {})
    portal = make(zoom=True)
    uuid = "4444AAAiAAAAAiAiAiiAii=="
    body = zoom_recording_completed(uuid, host_email="Rep@Acme.io", start_time="2026-11-23T14:00:00Z", topic="Globex demo")
    with responses.RequestsMock() as zoom_api:
        token = zoom_api.post("https://zoom.us/oauth/token", json={"access_token": "zoom-access", "token_type": "bearer", "expires_in": 3599})
        people = zoom_api.get(re.compile(r"https://api\.zoom\.us/v2/past_meetings/4444AAAiAAAAAiAiAiiAii%3D%3D/participants.*"),
                              json={"page_size": 300, "next_page_token": "", "participants": [
                                  {"id": "a", "name": "Rep", "user_email": "rep@acme.io"}, {"id": "b", "name": "Buyer", "user_email": "Buyer@Globex.com"},
                                  {"id": "", "name": "Guest (email hidden)", "user_email": ""}]})  # fmt: skip
        answers = portal.post_zoom(body)
        assert token.call_count == 1 and people.call_count == 1  # the two redeliveries are duplicates
        assert zoom_api.calls[1].request.headers["Authorization"] == "Bearer zoom-access"
    assert answers[0] == {"accepted": 1, "duplicates": 0, "rejected": []} and answers[1]["duplicates"] == 1
    call_id, _ = _attached_once(portal, f"zoom:{uuid}", "1001")  # Buyer (from Zoom) is on 1001
    assert portal.linked("calls", call_id, "contacts") == [BUYER]
    assert portal.calls()[call_id]["hs_call_recording_url"] == "https://example.zoom.us/rec/share/Qg75t7xZBtEbAkjdlgbfdngBBBB"
    # Zoom says nothing about consent: under the "flag" policy the recording stays the rep's
    assert portal.ledger.get_recordings(TENANT, [f"zoom:{uuid}"])[f"zoom:{uuid}"].status == REC_PRIVATE


def test_zoom_url_validation_is_answered_and_changes_nothing(portal):
    import hashlib
    import hmac

    from tests.conftest import ZOOM_TOKEN

    [answer] = portal.post_zoom({"event": "endpoint.url_validation", "event_ts": 1654503849680, "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}}, times=1)
    assert answer == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": hmac.new(ZOOM_TOKEN.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()}
    assert portal.server.requests == []


def test_a_create_applied_then_500_leaves_one_call(portal):
    portal.server.fault("POST", CALLS_CREATE, "applied-then-500")
    portal.post_recording("call-8", "buyer@globex.com", times=1, run=False)
    assert portal.services.worker.run_due().failed == []
    portal.clock.advance(120)
    portal.post_recording("call-8", "buyer@globex.com", times=2)  # the sender retries as well
    portal.clock.advance(600)
    portal.run()
    [_], [upsert] = portal.sent(CALLS_CREATE), portal.sent(UPSERT)  # the create is never sent twice
    assert [i["id"] for i in upsert.body["inputs"]] == ["rec:call-8"]  # its answer lost: the upsert on the unique id found the call
    call_id = portal.call_of("rec:call-8")
    assert list(portal.calls()) == [call_id] and portal.linked("calls", call_id, "deals") == ["1001"]
    assert portal.linked("calls", call_id, "contacts") == [BUYER]
    assert len(portal.tasks()) == 1


# --- reviews ---------------------------------------------------------------------------------------
def test_no_consent_the_rep_only_and_no_peer_tasks(portal):
    portal.post_recording("call-9", "buyer@globex.com", consent=None)  # policy "flag": unknown is no
    _, self_task = _attached_once(portal, "rec:call-9", "1001")
    assert portal.ledger.get_recordings(TENANT, ["rec:call-9"])["rec:call-9"].status == REC_PRIVATE
    portal.complete_task(self_task)
    portal.tick(hours=72)
    assert list(portal.tasks()) == [self_task] and portal.review_tasks("rec:call-9", "peer") == {}
    assert [a for a in portal.ledger.open_assignments(TENANT, portal.clock() + 400 * 86400) if a.external_id == "rec:call-9"] == []


def test_peers_come_when_the_self_assessment_is_completed_in_hubspot(portal):
    portal.post_recording("call-10", "buyer@globex.com")
    assert portal.review_tasks("rec:call-10", "peer") == {}
    portal.clock.advance(3600)
    self_task = portal.review_tasks("rec:call-10", "self")[REP]
    portal.complete_task(self_task)
    assert portal.peer_owners("rec:call-10") == [ANA, BEN]  # Cy: none of his calls reviewed yet; Dee archived; never the rep
    creates = portal.sent(TASKS_CREATE)
    assert len(creates) == 2 and len(creates[1].body["inputs"]) == 2
    ana = next(i for i in creates[1].body["inputs"] if i["properties"]["hubspot_owner_id"] == ANA)
    assert ana["associations"] == [{"to": {"id": "1001"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 216}]}]
    assert ana["properties"]["hs_task_subject"] == 'Game film: review a teammate\'s call "Discovery with Globex"'
    assert ana["properties"]["hs_timestamp"] == str(int(datetime(2026, 11, 26, 12, tzinfo=timezone.utc).timestamp() * 1000))  # 3 business days
    assert "what went well first" in ana["properties"]["hs_task_body"]
    # HubSpot's task read told the loop it was done (and when)
    [read] = [r for r in portal.sent("/crm/v3/objects/tasks/batch/read") if r.body["inputs"] == [{"id": self_task}]][:1]
    assert {"hs_task_status", "hs_task_completion_date"} <= set(read.body["properties"])
    portal.tick(hours=72)  # after the grace: no second set
    assert len(portal.tasks()) == 3


def test_peers_come_after_the_grace_when_the_self_assessment_waits(portal):
    portal.post_recording("call-11", "buyer@globex.com")
    portal.tick(hours=47)
    assert portal.review_tasks("rec:call-11", "peer") == {}
    portal.tick(hours=1.5)
    assert portal.peer_owners("rec:call-11") == [ANA, BEN]
    portal.tick(hours=1)
    assert len(portal.tasks()) == 3


def test_graduated_rep_gets_no_peer_reviews(make):
    portal = make(graduated=["rep@acme.io"])
    portal.post_recording("call-12", "buyer@globex.com")
    portal.complete_task(portal.review_tasks("rec:call-12", "self")[REP])
    portal.tick(hours=72)
    assert portal.review_tasks("rec:call-12", "peer") == {} and len(portal.tasks()) == 1


def test_rotation_never_self_weekly_cap_and_only_the_reviewed_review(make):
    portal = make(reviewers_per_call=1, weekly_cap=1, grace_hours=0)
    portal.post_recording("r1", "buyer@globex.com", times=1)
    portal.post_recording("r2", "buyer@globex.com", rep_email="cy@acme.io", times=1)
    portal.post_recording("r3", "buyer@globex.com", rep_email="ben@acme.io", times=1)
    portal.tick(hours=1)
    assert {r: portal.peer_owners(f"rec:{r}") for r in ("r1", "r2", "r3")} == {"r1": [ANA], "r2": [BEN], "r3": []}
    # Ana and Ben reached the weekly cap; Cy has had no call reviewed; r3 is Ben's own call
    portal.complete_task(portal.review_tasks("rec:r2", "peer")[BEN])  # Ben reviews Cy's call: Cy has taken a turn
    assert portal.ledger.reviewer_stats(TENANT, [CY])[CY].reviewed_calls == 1
    portal.tick(hours=24)
    assert portal.peer_owners("rec:r3") == [CY]
    assert all(portal.tasks()[t]["hubspot_owner_id"] != DEE for t in portal.tasks())


def test_two_workers_ticking_at_once_create_one_set_of_peer_tasks(portal):
    portal.post_recording("call-13", "buyer@globex.com", times=1)
    portal.clock.advance(49 * 3600)
    portal.services.worker.insert_ticks()
    portal.clock.advance(3600)
    portal.services.worker.insert_ticks()
    store = portal.services.store
    keys = [k for k, _ in store.due_events(portal.clock(), 10)]
    assert len(keys) == 2
    base = portal.services.worker
    workers = [Worker(store, base.config, base.gateway_for, rules=base.rules, clock=portal.clock, ledger=base.ledger) for _ in keys]
    at_once(workers, keys)
    assert portal.peer_owners("rec:call-13") == [ANA, BEN] and len(portal.tasks()) == 3
    stats = portal.ledger.reviewer_stats(TENANT, [ANA, BEN])
    assert stats[ANA].week_count == 1 and stats[BEN].week_count == 1


def test_overdue_review_gets_one_hubspot_reminder_a_day(portal):
    portal.post_recording("call-14", "buyer@globex.com")
    portal.complete_task(portal.review_tasks("rec:call-14", "self")[REP])
    peers = portal.review_tasks("rec:call-14", "peer")
    portal.complete_task(peers[BEN])
    body_before = portal.tasks()[peers[ANA]]["hs_task_body"]
    portal.tick(hours=82)  # Friday 01:00: Ana's task was due Thursday
    [update] = portal.sent(TASKS_UPDATE)
    [item] = update.body["inputs"]
    assert item["id"] == peers[ANA] and set(item["properties"]) == {"hs_task_body", "hs_task_reminders"}
    assert item["properties"]["hs_task_reminders"] == str(int(portal.clock() * 1000))
    note = item["properties"]["hs_task_body"].removeprefix(body_before + "<br>")
    assert note.startswith("Game Film reminder (rule: overdue review task; the same for everyone): this peer review was due on 2026-11-26.")
    for _ in range(5):
        portal.tick(hours=1)
    assert len(portal.sent(TASKS_UPDATE)) == 1  # once a day at most
    [ana] = [a for a in portal.ledger.open_assignments(TENANT, portal.clock() + 400 * 86400) if a.reviewer_id == ANA]
    assert ana.last_nudged_day == "2026-11-27"  # recorded once the reminder's outbox row existed
    portal.tick(hours=24)
    assert len(portal.sent(TASKS_UPDATE)) == 2
    assert portal.tasks()[peers[ANA]]["hs_task_reminders"] == str(int(portal.clock() * 1000))
    portal.complete_task(peers[ANA])  # done at last: no more reminders
    portal.tick(hours=24)
    assert len(portal.sent(TASKS_UPDATE)) == 2
    assert portal.ledger.open_assignments(TENANT, portal.clock() + 400 * 86400) == []
