"""Game film, end to end through the app: a recording (or a CRM call) arrives three times and
lands once on the right deal, with the rep's self-assessment task; FakeCrm records the commands."""
from __future__ import annotations

from datetime import date, timedelta

from integration.ledger import REC_ATTACHED, REC_GAVE_UP, REC_PRIVATE, REC_UNMATCHED
from integration.recordings import SOURCE_ZOOM, CallActivity
from tests.game_film_org import MONDAY, REP, TENANT, make_loop, recording


def _one_call_and_self_task(loop, deal_id):
    [call] = loop.upserts()
    [task] = loop.tasks("self")
    assert (call.record_id, call.owner_id, task.record_id, task.owner_id) == (deal_id, REP, deal_id, REP)
    assert len(loop.crm.activities) == 1 and len(loop.crm.tasks) == 1
    return call, task


def test_explicit_deal_delivered_three_times_attaches_once_with_one_self_assessment(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock)
    loop.deliver(recording("rec:1", "buyer@globex.com", deal_id="d4"))
    call, task = _one_call_and_self_task(loop, "d4")
    assert (call.key, call.external_id, call.evidence["step"]) == (f"call#{TENANT}#rec:1", "rec:1", "explicit")
    assert call.recording_url == "https://rec.example.com/rec:1" and call.occurred_at_ms == int((MONDAY - timedelta(hours=1)).timestamp() * 1000)
    assert call.contact_ids == ("c1",) and call.associate_deal
    assert task.key == f"review#{TENANT}#rec:1#self" and task.call_external_id == "rec:1"
    for words in ("Discovery questions", "Objection handling", "Closing technique", "Next steps agreed",
                  "one area you will improve", "https://rec.example.com/rec:1", "https://scores.example.com/submit"):  # fmt: skip
        assert words in task.body
    assert task.due == date(2026, 11, 25)  # after the 48 h grace
    entry = loop.ledger.get_recordings(TENANT, ["rec:1"])["rec:1"]
    assert (entry.status, entry.deal_id, entry.peers_due_at) == (REC_ATTACHED, "d4", MONDAY.timestamp() + 48 * 3600)


def test_matched_by_contact_role(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock)
    loop.deliver(recording("rec:2", "buyer@globex.com"))
    call, _ = _one_call_and_self_task(loop, "d1")
    assert call.evidence["step"] == "contact" and "a participant has a role on it" in call.reason


def test_matched_by_account(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock)
    loop.deliver(recording("rec:3", "it@initech.com"))
    call, _ = _one_call_and_self_task(loop, "d3")
    assert call.evidence["step"] == "account" and call.contact_ids == ("c3",)


def test_matched_by_email_domain(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock)
    loop.deliver(recording("rec:4", "someone@umbrella.com"))
    call, _ = _one_call_and_self_task(loop, "d5")
    assert call.evidence["step"] == "domain"


def test_ambiguous_account_prefers_the_deal_whose_owner_was_on_the_call(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock)
    loop.deliver(recording("rec:5", "cfo@globex.com"))  # account a1: d1 (the rep's) and d2 (modified later)
    call, _ = _one_call_and_self_task(loop, "d1")
    assert "chosen from 2 deals (its owner or team was on the call)" in call.reason


def test_ambiguous_account_without_the_owner_on_the_call_takes_the_latest_modified(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock)
    loop.deliver(recording("rec:6", "cfo@globex.com", rep="ben@acme.io"))
    [call] = loop.upserts()
    assert call.record_id == "d2" and call.owner_id == "503"


def test_unmatched_is_kept_and_matched_on_a_later_daily_retry(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock)
    loop.deliver(recording("rec:7", "new@hooli.com"))
    assert loop.upserts() == [] and loop.tasks() == []
    entry = loop.ledger.get_recordings(TENANT, ["rec:7"])["rec:7"]
    assert (entry.status, entry.match_attempts, entry.next_match_at) == (REC_UNMATCHED, 1, MONDAY.timestamp() + 86400)
    loop.tick(hours=2)  # not due yet
    assert loop.upserts() == []
    loop.crm.domains["hooli.com"] = ["a2"]  # the admin linked the domain to its account
    loop.tick(hours=23)
    call, _ = _one_call_and_self_task(loop, "d3")
    assert call.evidence["step"] == "domain"
    assert loop.services.store.get_action(call.key).event_key.startswith(f"tick#{TENANT}#")
    assert loop.ledger.get_recordings(TENANT, ["rec:7"])["rec:7"].status == REC_ATTACHED
    loop.tick(hours=24)
    assert len(loop.upserts()) == 1


def test_unmatched_gives_up_after_seven_daily_retries(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock)
    loop.deliver(recording("rec:8", participants=("x@hooli.com",)), times=1)
    for _ in range(8):
        loop.tick(hours=24)
    entry = loop.ledger.get_recordings(TENANT, ["rec:8"])["rec:8"]
    assert (entry.status, entry.match_attempts, entry.next_match_at) == (REC_GAVE_UP, 8, 0.0)
    assert loop.crm.calls.count(("find_users_by_email", 2)) == 8 and loop.upserts() == []


def test_a_crm_call_keeps_the_deal_a_person_associated(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock)
    loop.crm.activities["9001"] = CallActivity("9001", "https://hubspot.example.com/rec/9001", "Call with Globex", REP,
                                               MONDAY - timedelta(hours=2), 600_000, deal_ids=("d3",), contact_ids=("c1",))  # fmt: skip
    loop.hubspot("0-48", "9001")  # c1 has a role on d1, but a person put the call on d3
    [call] = loop.upserts()
    assert (call.record_id, call.call_id, call.associate_deal, call.external_id) == ("d3", "9001", False, "hubspot-call:9001")
    assert loop.crm.activities["9001"].deal_ids == ("d3",) and len(loop.crm.activities) == 1
    loop.clock.advance(60)
    loop.hubspot("0-48", "9001", "object.propertyChange", propertyName="gamefilm_recording_id", propertyValue="hubspot-call:9001")
    assert len(loop.upserts()) == 1 and len(loop.tasks("self")) == 1  # our own stamp changes nothing


def test_a_crm_call_without_a_recording_is_left_alone(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock)
    loop.crm.activities["9002"] = CallActivity("9002", None, "Quick call", REP, None, deal_ids=("d3",))
    loop.hubspot("0-48", "9002")
    assert loop.crm.written == [] and loop.ledger.recordings == {}


def test_no_consent_attaches_for_the_rep_only(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock)
    loop.deliver(recording("rec:9", "buyer@globex.com", consent=None))  # policy "flag": unknown is no
    call, _ = _one_call_and_self_task(loop, "d1")
    assert loop.ledger.get_recordings(TENANT, ["rec:9"])["rec:9"].status == REC_PRIVATE
    loop.tick(hours=72)
    assert loop.tasks("peer") == [] and loop.ledger.of(TENANT, "rec:9", "peer") == []


def test_consent_assumed_by_policy_reaches_peers(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock, consent="assume")
    loop.deliver(recording("rec:10", "buyer@globex.com", consent=None))
    loop.tick(hours=49)
    assert len(loop.tasks("peer")) == 2


def test_zoom_participants_come_from_the_injected_lookup(tmp_path, store, clock):
    asked = []

    def zoom(tenant, rec):
        asked.append((tenant.id, rec.external_id))
        return ["Buyer@Globex.com", "rep@acme.io"]

    loop = make_loop(tmp_path, store, clock, zoom=zoom)
    loop.deliver(recording("zoom:abc==", source=SOURCE_ZOOM), times=1)
    [call] = loop.upserts()
    assert call.record_id == "d1" and asked == [(TENANT, "zoom:abc==")]


def test_salesforce_call_task_event_signed_json_three_times_attaches_once(tmp_path, store, clock):
    from dataclasses import replace as _replace

    from integration import samples
    from integration.signature import gamefilm_header
    from tests.conftest import ORG_ID, SF_SECRET
    from tests.game_film_org import org

    crm = _replace(org(), crm="salesforce")
    loop = make_loop(tmp_path, store, clock, crm=crm, salesforce=True)
    task_id = "00T5e00000AbCdEFGH"
    crm.activities[task_id] = CallActivity(task_id, "https://dialer.example.com/r/1", "Call with Globex", REP,
                                           MONDAY - timedelta(hours=1), 300_000, deal_ids=(), contact_ids=())  # fmt: skip
    for n in range(3):
        body = samples.salesforce_json(ORG_ID, [{"id": f"{task_id}-1", "object": "Task", "recordId": task_id, "kind": "created",
                                                 "occurredAt": "2026-11-23T14:00:00Z", "fields": {"TaskSubtype": "Call"}}])  # fmt: skip
        r = loop.client.post("/hooks/salesforce/events", data=body,
                             headers={"Content-Type": "application/json", "X-GameFilm-Signature": gamefilm_header(SF_SECRET, body, int(clock()))})  # fmt: skip
        assert r.status_code == 200
        loop.run()
    # No deal on the Task and no participants: kept unmatched (a person may still put it on a deal).
    assert loop.upserts() == [] and loop.ledger.get_recordings(TENANT, [f"sf-task:{task_id}"])[f"sf-task:{task_id}"].status == REC_UNMATCHED
    crm.activities[task_id] = _replace(crm.activities[task_id], deal_ids=("d3",))  # a person sets WhatId
    loop.tick(hours=25)
    [call] = loop.upserts()
    assert (call.record_id, call.call_id, call.associate_deal, call.external_id) == ("d3", task_id, False, f"sf-task:{task_id}")
    assert len(loop.tasks("self")) == 1


def test_three_deliveries_in_one_batch_attach_once(tmp_path, store, clock):
    from integration.events import CREATED, Event
    from integration.recordings import RECORDING_OBJECT, recording_to_changed

    loop = make_loop(tmp_path, store, clock)
    rec = recording("rec:11", "buyer@globex.com")
    events = [Event(key=f"rec#{n}", tenant=TENANT, crm="hubspot", object_type=RECORDING_OBJECT, object_id=rec.external_id, kind=CREATED,
                    occurred_at=MONDAY, source_id=str(n), changed=recording_to_changed(rec)) for n in range(3)]  # fmt: skip
    loop.services.intake.accept(events)
    report = loop.services.worker.run_due()
    assert sorted(report.done) == ["rec#0", "rec#1", "rec#2"]
    _one_call_and_self_task(loop, "d1")
    assert ("find_contacts", 1) in loop.crm.calls and loop.crm.calls.count(("find_contacts", 1)) == 1  # one read for the batch


def test_zoom_lookup_failing_holds_only_that_recording(tmp_path, store, clock):
    def zoom(tenant, rec):
        raise TimeoutError("zoom")

    loop = make_loop(tmp_path, store, clock, zoom=zoom)
    from integration.events import CREATED, Event
    from integration.recordings import RECORDING_OBJECT, recording_to_changed

    recs = [recording("zoom:1", "buyer@globex.com", source=SOURCE_ZOOM), recording("rec:12", "buyer@globex.com")]
    loop.services.intake.accept([Event(key=f"k#{r.external_id}", tenant=TENANT, crm="hubspot", object_type=RECORDING_OBJECT,
                                       object_id=r.external_id, kind=CREATED, occurred_at=MONDAY, source_id=r.external_id,
                                       changed=recording_to_changed(r)) for r in recs])  # fmt: skip
    report = loop.services.worker.run_due()
    assert report.retrying == ["k#zoom:1"] and report.done == ["k#rec:12"]
    assert "Zoom" in store.get_event("k#zoom:1").last_error and [c.external_id for c in loop.upserts()] == ["rec:12"]
