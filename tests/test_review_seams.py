"""The review loop's seams: review tasks carry the signed link to the review page (and the
link opens it), the entry paths check the tenant's own rubric, and Salesforce tenants with
`review_intake = "poll"` have their `Call_Review__c` records polled on the hourly tick."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from urllib.parse import urlencode

from integration.review_link import read_token
from tests.conftest import make_config, tenants_raw
from tests.game_film_org import ANA, BEN, LINK_SECRET, REP, TENANT, make_loop, recording
from tests.game_film_org import org as org_of_loop
from tests.salesforce_http import connector, gateway, http, sleeps  # noqa: F401  (fixtures)
from tests.review_entry import LINK_ENVIRON, PEER_TASK, REVIEWER, STRENGTH, T, org, post_card, seed
from tests.review_entry import LINK_SECRET as ENTRY_SECRET

BASE = "https://hooks.acme.io/prod"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CUSTOM = {"criteria": [{"key": "rapport", "label": "Rapport", "weight": 2}, {"key": "pain", "label": "Pain found"}],
          "scale": {"min": 1, "max": 10}, "mastery_bar": 8}  # fmt: skip


def _link(body: str) -> str:
    found = re.findall(re.escape(BASE) + r"(/review/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)", body)
    assert len(found) == 1, body
    return found[0]


def test_review_tasks_carry_a_signed_link_that_opens_the_review_page(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock, public_base_url=BASE, submit_url=None)
    loop.deliver(recording("rec:1", "buyer@globex.com"))
    [own] = loop.tasks("self")
    assert own.key == f"review#{TENANT}#rec:1#self"  # keys unchanged: the link is text, not identity
    path = _link(own.body)
    assert f"Open your review form: {BASE}{path}\n" in own.body
    claim = read_token(LINK_SECRET, path.removeprefix("/review/"), clock())
    assert (claim.tenant, claim.external_id, claim.kind, claim.reviewer_id) == (TENANT, "rec:1", "self", REP)
    page = loop.client.get(path)
    assert page.status_code == 200 and "Your self-assessment" in page.text and 'name="improvement_area"' in page.text

    loop.task_completed(loop.task_id(f"review#{TENANT}#rec:1#self"))
    peers = loop.tasks("peer")
    assert sorted(t.key for t in peers) == [f"review#{TENANT}#rec:1#peer#{ANA}", f"review#{TENANT}#rec:1#peer#{BEN}"]
    for task in peers:
        claim = read_token(LINK_SECRET, _link(task.body).removeprefix("/review/"), clock())
        assert (claim.kind, claim.reviewer_id) == ("peer", task.owner_id)
        page = loop.client.get(_link(task.body))
        assert page.status_code == 200 and "Peer review" in page.text and 'name="strengths"' in page.text


def test_without_a_public_base_url_the_task_points_at_the_crm_form(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock, submit_url=None)
    loop.deliver(recording("rec:1", "buyer@globex.com"), times=1)
    [own] = loop.tasks("self")
    assert "/review/" not in own.body
    assert own.body.endswith("Submit your review with the Game Film review card on the deal (it completes this task).\n"
                             "Then name the one area you will improve on your next call. Peers review the call after you.")  # fmt: skip


def test_a_salesforce_task_without_a_link_names_the_quick_action(tmp_path, store, clock):
    from tests.review_events import deliver, scores, submitted

    loop = make_loop(tmp_path, store, clock, salesforce=True, submit_url=None)
    loop.deliver(recording("rec:1", "buyer@globex.com"), times=1)
    [own] = loop.tasks("self")
    assert "Submit your review with the Call Review quick action on the opportunity (it completes this task)." in own.body
    deliver(loop, submitted(loop, "rec:1", REP, scores(4), self_assessment=True, crm_review_id="a0X000000000000"), crm="salesforce")
    assert all("quick action on the opportunity" in t.body for t in loop.tasks("peer")) and len(loop.tasks("peer")) == 2


# --- the tenant's rubric at the edge -----------------------------------------------------------
def _custom_app(make_app, tmp_path, store, clock, **overrides):
    rules = {"hubspot": {"game_film": {"pool": [REVIEWER], "rubric": CUSTOM}}}
    app = make_app(make_config(tmp_path, tenants=tenants_raw(**rules)), **overrides)
    made = seed(store.ledger(), clock())
    return app.test_client(), made


def test_the_card_checks_the_tenants_own_rubric(make_app, tmp_path, store, clock):
    crm = org()
    client, _ = _custom_app(make_app, tmp_path, store, clock, gateway_for=lambda tenant: crm)
    default = post_card(client, clock, {"taskId": PEER_TASK, "strengths": STRENGTH, "scores": {"discovery_questions": 4}})
    assert default.status_code == 400
    errors = default.get_json()["errors"]
    assert errors["scores.rapport"] and errors["scores.pain"] and errors["scores.discovery_questions"]
    assert store.list_events(tenant=T, limit=10) == []
    over = post_card(client, clock, {"taskId": PEER_TASK, "strengths": STRENGTH, "scores": {"rapport": 11, "pain": 9}})
    assert over.status_code == 400 and set(over.get_json()["errors"]) == {"scores.rapport"}
    ok = post_card(client, clock, {"taskId": PEER_TASK, "strengths": STRENGTH, "scores": {"rapport": 9, "pain": 6}})
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["weighted_score"] == "8.00"  # (9 * 2 + 6) / 3


def test_the_review_page_asks_and_checks_the_tenants_own_rubric(make_app, tmp_path, store, clock):
    from integration.review_link import review_link

    client, made = _custom_app(make_app, tmp_path, store, clock, environ=LINK_ENVIRON)
    path = review_link(T, made["peer"], BASE, clock(), secret=ENTRY_SECRET).removeprefix(BASE)
    form = client.get(path)
    assert re.findall(r'<select id="(scores\.[a-z_]+)"', form.text) == ["scores.rapport", "scores.pain"]
    assert '<option value="10">10</option>' in form.text
    default = urlencode({"strengths": STRENGTH, "scores.discovery_questions": "4", "scores.objection_handling": "4"})
    refused = client.post(path, data=default, headers=FORM)
    assert refused.status_code == 400 and 'id="error-scores.rapport"' in refused.text
    assert store.list_events(tenant=T, limit=10) == []
    taken = client.post(path, data=urlencode({"strengths": STRENGTH, "scores.rapport": "9", "scores.pain": "6"}), headers=FORM)
    assert taken.status_code == 200 and "<strong>8.00</strong>" in taken.text
    assert len(store.list_events(tenant=T, limit=10)) == 1


# --- Salesforce editions without outbound messages: the hourly poll ----------------------------
def _record(n: int, stamp: str, reviewer: str, **over) -> dict:
    marks = {"Discovery_Questions__c": 5.0, "Objection_Handling__c": 4.0, "Closing_Technique__c": 3.0, "Next_Steps_Agreed__c": 4.0}
    return {"attributes": {"type": "Call_Review__c", "url": f"/services/data/v59.0/sobjects/Call_Review__c/a0X00000000000{n}AAA"},
            "Id": f"a0X00000000000{n}AAA", "Opportunity__c": "d1", "Call_External_Id__c": "rec:1", "Reviewer__c": reviewer,
            "Rep__c": REP, "Strengths__c": STRENGTH, "Suggestions__c": "Confirm the next meeting", "Self_Assessment__c": False,
            "Improvement_Area__c": None, "LastModifiedDate": stamp, "SystemModstamp": stamp, **marks, **over}  # fmt: skip


def test_salesforce_reviews_are_polled_hourly_from_the_last_high_water_mark_and_written_back_once(tmp_path, store, clock, http, gateway):
    from decimal import Decimal

    from integration.review.poll import CURSOR_ID
    from tests.review_events import updates
    from tests.salesforce_http import QUERY, page, soql

    crm = org_of_loop()
    crm.read_changed_records = gateway.read_changed_records  # the poll's one read: simple-salesforce over HTTP
    loop = make_loop(tmp_path, store, clock, salesforce=True, crm=crm, review_intake="poll")
    loop.deliver(recording("rec:1", "buyer@globex.com"), times=1)
    own = _record(1, "2026-11-23T15:20:00.000+0000", REP, Self_Assessment__c=True, Improvement_Area__c="closing_technique",
                  Strengths__c=None, Suggestions__c=None)  # fmt: skip
    peer = _record(2, "2026-11-23T16:40:00.000+0000", ANA)
    answers = [[own], [own, peer], [peer]]  # each poll from the newest stamp seen: the boundary record comes again
    http.add_callback("GET", QUERY, callback=lambda request: (200, {}, json.dumps(page(answers.pop(0)))))

    loop.tick(hours=1)  # 16:00: the first poll looks back 14 days; the self-assessment is stored as an event
    assert "WHERE SystemModstamp >= 2026-11-09T16:00:00Z ORDER BY SystemModstamp, Id LIMIT 200" in soql(http.calls[0])
    loop.run()
    assert sorted(t.owner_id for t in loop.tasks("peer")) == [ANA, BEN]  # the self-assessment, polled, started the peers
    assert loop.ledger.get_reviews(TENANT, [CURSOR_ID])[CURSOR_ID].submitted_at == datetime(2026, 11, 23, 15, 20, tzinfo=timezone.utc).timestamp()

    loop.tick(hours=1)  # 17:00: from 15:20; the self-assessment again (a duplicate) and the peer review
    assert "WHERE SystemModstamp >= 2026-11-23T15:20:00Z " in soql(http.calls[1])
    loop.run()
    loop.tick(hours=1)  # 18:00: from 16:40; the peer review again: nothing new
    assert "WHERE SystemModstamp >= 2026-11-23T16:40:00Z " in soql(http.calls[2])
    loop.run()
    assert len(http.calls) == 3
    reviews = [e for e in store.list_events(tenant=TENANT, limit=50) if e.event.object_type == "review"]
    assert len(reviews) == 2
    records = {u.record_id: dict(u.fields) for u in updates(loop, "Call_Review__c")}  # one write each, the self-assessment's too
    assert len(updates(loop, "Call_Review__c")) == 2 and records["a0X000000000002AAA"] == {"Weighted_Score__c": Decimal("4.00"), "GameFilm_Error__c": None}
    done = sorted(u.record_id for u in updates(loop, "Task") if dict(u.fields) == {"Status": "Completed"})
    assert done == sorted(loop.task_id(f"review#{TENANT}#rec:1#{who}") for who in ("self", f"peer#{ANA}")) and len(updates(loop, "Task")) == 2
    [opp] = updates(loop, "Opportunity")
    assert opp.record_id == "d1" and opp.fields["GameFilm_Review_Count__c"] == 1


def test_a_poll_that_fails_fails_the_tick_only_and_keeps_the_mark(tmp_path, store, clock, http, gateway):
    from integration.review.poll import CURSOR_ID
    from tests.salesforce_http import QUERY

    crm = org_of_loop()
    crm.read_changed_records = gateway.read_changed_records
    loop = make_loop(tmp_path, store, clock, salesforce=True, crm=crm, review_intake="poll")
    http.add("GET", QUERY, status=503, json=[{"errorCode": "SERVER_UNAVAILABLE", "message": "down"}])
    clock.advance(3600)
    loop.services.worker.insert_ticks()
    report = loop.services.worker.run_due()
    [failed] = report.failed
    assert failed.startswith(f"tick#{TENANT}#") and "polling Call_Review__c" in store.get_event(failed).last_error
    assert loop.ledger.get_reviews(TENANT, [CURSOR_ID]) == {}
