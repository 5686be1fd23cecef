"""The review page behind a signed, expiring link: the form in the form's order, errors shown
next to their fields with nothing stored, the thank-you once stored; and the token itself."""
from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlencode

import pytest

from integration.events import PENDING
from integration.ledger import CANCELLED, PEER, SELF
from integration.review.submitted import submitted_from_changed
from integration.review_link import LinkClaim, LinkError, make_token, read_token, review_link
from integration.rubric import DEFAULT_RUBRIC
from tests.review_entry import CALL, LINK_ENVIRON, LINK_SECRET, REP, REVIEWER, STRENGTH, SUGGESTION, T, seed

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def web(make_app, store, clock):
    app = make_app(environ=LINK_ENVIRON)
    made = seed(store.ledger(), clock())
    return app.test_client(), store, made


def path_of(made, kind: str, now: float, secret: str = LINK_SECRET) -> str:
    return review_link(T, made[kind], "https://gamefilm.example/prod/", now, secret=secret).removeprefix("https://gamefilm.example/prod")


def form_body(**over: str | list[str]) -> str:
    fields: dict[str, str | list[str]] = {"strengths": STRENGTH, **{f"scores.{k}": "4" for k in DEFAULT_RUBRIC.keys},
                                          "suggestions": [SUGGESTION, ""], **over}  # fmt: skip
    return urlencode(fields, doseq=True)


def stored(store):
    return store.list_events(status=PENDING, tenant=T, limit=100)


def test_the_peer_form_asks_strengths_first_then_scores_then_two_suggestion_boxes(web, clock):
    client, _, made = web
    r = client.get(path_of(made, PEER, clock()))
    assert r.status_code == 200 and r.mimetype == "text/html"
    names = re.findall(r'<(?:input|textarea|select)[^>]* name="([^"]+)"', r.text)
    assert names == ["strengths", *(f"scores.{k}" for k in DEFAULT_RUBRIC.keys), "suggestions", "suggestions"]
    assert "Discovery with Client Co" in r.text and 'href="https://rec.example/1.mp3"' in r.text
    assert r.headers["Referrer-Policy"] == "no-referrer" and r.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


def test_the_self_assessment_asks_scores_and_one_improvement_area(web, clock):
    client, store, made = web
    r = client.get(path_of(made, SELF, clock()))
    names = re.findall(r'<(?:input|textarea|select)[^>]* name="([^"]+)"', r.text)
    assert names == [*(f"scores.{k}" for k in DEFAULT_RUBRIC.keys), "improvement_area", "improvement_note"]
    body = urlencode({**{f"scores.{k}": "3" for k in DEFAULT_RUBRIC.keys}, "improvement_area": "next_steps_agreed", "improvement_note": ""})
    r = client.post(path_of(made, SELF, clock()), data=body, headers=FORM)
    assert r.status_code == 200 and 'id="thanks"' in r.text
    [row] = stored(store)
    review = submitted_from_changed(row.event.changed).review
    assert (review.reviewer_id, review.self_assessment, review.improvement_area) == (REP, True, "next_steps_agreed")


def test_a_valid_submission_is_stored_and_thanked(web, clock):
    client, store, made = web
    r = client.post(path_of(made, PEER, clock()), data=form_body(), headers=FORM)
    assert r.status_code == 200 and 'id="thanks"' in r.text and "4.00" in r.text
    [row] = stored(store)
    submitted = submitted_from_changed(row.event.changed)
    assert (submitted.source, submitted.review.reviewer_id, submitted.review.call_external_id) == ("review-page", REVIEWER, CALL)
    assert submitted.review.suggestions == (SUGGESTION,)  # the blank second box is no suggestion
    client.post(path_of(made, PEER, clock()), data=form_body(), headers=FORM)
    assert len(stored(store)) == 1  # submitted twice in the same second: one event


def test_a_missing_strength_re_renders_the_form_with_the_error_at_the_field_and_keeps_the_input(web, clock):
    client, store, made = web
    r = client.post(path_of(made, PEER, clock()), data=form_body(strengths="  ", **{"scores.closing_technique": "7"}), headers=FORM)
    assert r.status_code == 400
    assert re.search(r'name="strengths".*?</textarea><p class="error" id="error-strengths"', r.text, re.S)
    assert 'id="error-scores.closing_technique"' in r.text
    assert f'value="{SUGGESTION}"' in r.text  # what was typed stays
    assert stored(store) == []


def test_three_suggestions_are_refused(web, clock):
    client, store, made = web
    r = client.post(path_of(made, PEER, clock()), data=form_body(suggestions=["a", "b", "c"]), headers=FORM)
    assert r.status_code == 400 and 'id="error-suggestions"' in r.text
    assert stored(store) == []


@pytest.mark.parametrize("how", ["expired", "tampered", "other secret", "garbage", "closed task", "cancelled task"])
def test_links_that_do_not_open_a_review(web, clock, store, how):
    client, _, made = web
    path = path_of(made, PEER, clock())
    expected = 403
    if how == "expired":
        path = path_of(made, PEER, clock() - 15 * 86400)
    elif how == "tampered":
        payload, mac = path.removeprefix("/review/").split(".")
        path = f"/review/{payload[:-2]}AA.{mac}"
    elif how == "other secret":
        path = path_of(made, PEER, clock(), secret="another-deployments-secret-xyz")
    elif how == "garbage":
        path = "/review/" + "%E2%82" * 50
    else:
        status = "done" if how == "closed task" else CANCELLED
        store.ledger().update_assignments([replace(made[PEER], status=status)], clock())
        expected = 409
    assert client.get(path).status_code == expected
    r = client.post(path, data=form_body(), headers=FORM)
    assert r.status_code == expected and r.mimetype == "text/html"
    assert stored(store) == []


def test_a_deployment_without_a_link_secret_serves_no_page(make_app, store, clock):
    from tests.conftest import ENVIRON

    made = seed(store.ledger(), clock())
    client = make_app(environ=ENVIRON).test_client()
    assert client.get(path_of(made, PEER, clock())).status_code == 404


def test_the_token_round_trips_and_expires():
    claim = LinkClaim(T, CALL, PEER, REVIEWER, 2_000)
    token = make_token(LINK_SECRET, claim)
    assert read_token(LINK_SECRET, token, 1_999) == claim
    with pytest.raises(LinkError, match="expired"):
        read_token(LINK_SECRET, token, 2_001)
    with pytest.raises(LinkError, match="at least"):
        make_token("short", claim)
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", token)


def test_review_text_typed_on_the_page_never_reaches_the_log(web, clock, caplog):
    import logging

    client, _, made = web
    with caplog.at_level(logging.DEBUG):
        client.post(path_of(made, PEER, clock()), data=form_body(**{"scores.closing_technique": "9"}), headers=FORM)
        client.post(path_of(made, PEER, clock()), data=form_body(), headers=FORM)
    assert caplog.records and "canary" not in caplog.text
