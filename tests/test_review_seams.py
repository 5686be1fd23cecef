"""The review loop's seams: review tasks carry the signed link to the review page (and the
link opens it), the entry paths check the tenant's own rubric, and Salesforce tenants with
`review_intake = "poll"` have their `Call_Review__c` records polled on the hourly tick."""
from __future__ import annotations

import re
from urllib.parse import urlencode

from integration.review_link import read_token
from tests.conftest import make_config, tenants_raw
from tests.game_film_org import ANA, BEN, LINK_SECRET, REP, TENANT, make_loop, recording
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
