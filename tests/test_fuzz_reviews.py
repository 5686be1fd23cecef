"""Property-based fuzz of the review entry paths (hypothesis, derandomized): mutated app-card
submissions correctly signed, mutated review-page forms on a valid link, mutated Call_Review__c
records. For every answer: no 5xx; a status the OpenAPI document lists; a JSON error names its
field (the card) or the page says why (HTML); nothing is stored unless the answer says so."""
from __future__ import annotations

import json
from urllib.parse import urlencode
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration import samples
from integration.ledger import PEER
from integration.openapi import ErrorSchema
from integration.openapi_reviews import ReviewAckSchema
from integration.review_link import review_link
from integration.rubric import DEFAULT_RUBRIC
from tests.conftest import ORG_ID
from tests.review_entry import LINK_ENVIRON, LINK_SECRET, PEER_TASK, T, org, peer_review, post_card, seed
from tests.test_fuzz_webhooks import FUZZ, JSON_VALUES, CountingStore, damaged, mutated
from tests.test_review_salesforce import REP, REVIEWER, OPP, record
from tests.webhooks import SOAP

CARD_BODIES = (
    mutated(peer_review(), JSON_VALUES).map(lambda p: json.dumps(p).encode())
    | mutated({"taskId": PEER_TASK, "scores": {k: 4 for k in DEFAULT_RUBRIC.keys}}, JSON_VALUES).map(lambda p: json.dumps(p).encode())
    | JSON_VALUES.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=64)
).flatmap(damaged)
FORM_TEXT = st.text(max_size=12) | st.sampled_from(["4", "0", "6", "-1", "4.5", "", "on", "true"])
PAGE_FIELDS = ["strengths", "suggestions", "improvement_area", "self_assessment", "scores", *(f"scores.{k}" for k in DEFAULT_RUBRIC.keys)]
PAGE_BODIES = (
    st.lists(st.tuples(st.sampled_from(PAGE_FIELDS) | st.text(max_size=8), FORM_TEXT), max_size=10).map(urlencode).map(str.encode)
    | st.binary(max_size=64)
)
RECORD_FIELDS = st.dictionaries(
    st.sampled_from(["Strengths__c", "Suggestions__c", "Self_Assessment__c", "Improvement_Area__c", "Reviewer__c", "Call_External_Id__c",
                     "LastModifiedDate", "Closing_Technique__c", "Discovery_Questions__c", "Id"]),
    st.text(st.characters(exclude_categories=["Cs", "Cc"], exclude_characters="\ufffe\uffff"), max_size=12).map(escape)
    | st.sampled_from(["4", "4.0", "9", "true", "2026-11-20T10:00:00Z"]),
    max_size=4,
)  # fmt: skip


@pytest.fixture
def web(make_app, tmp_path, clock):
    store = CountingStore(tmp_path / "fuzz.db")
    seed(store.ledger(), clock())
    seed(store.ledger(), clock(), tenant="acme-salesforce", reviewer=REVIEWER, rep=REP, deal=OPP)
    crm = org()
    app = make_app(store=store, environ=LINK_ENVIRON, gateway_for=lambda tenant: crm)
    client = app.test_client()
    yield client, store, client.get("/openapi.json").get_json()
    store.close()


def listed(doc: dict, path: str, method: str, status: int) -> None:
    assert status < 500 or status == 503, status
    assert str(status) in doc["paths"][path][method]["responses"], (path, status)


@FUZZ
@given(body=CARD_BODIES)
def test_card_fuzzed_submissions(web, clock, body):
    client, store, doc = web
    before = store.inserted
    r = post_card(client, clock, body)
    listed(doc, "/hooks/hubspot/reviews", "post", r.status_code)
    if r.status_code >= 400:
        answer = r.get_json()
        assert ErrorSchema().validate(answer) == {} and answer["field"] and answer["message"], answer
        assert store.inserted == before
    else:
        assert ReviewAckSchema().validate(r.get_json()) == {}
        assert store.inserted - before == r.get_json()["accepted"]


@settings(FUZZ, max_examples=100)
@given(body=PAGE_BODIES)
def test_review_page_fuzzed_forms(web, clock, body):
    client, store, doc = web
    before = store.inserted
    path = review_link(T, _peer(store), "http://localhost", clock(), secret=LINK_SECRET).removeprefix("http://localhost")
    r = client.post(path, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    listed(doc, "/review/{token}", "post", r.status_code)
    if r.status_code == 200:
        assert 'id="thanks"' in r.text and store.inserted - before <= 1
    else:
        assert store.inserted == before
        assert r.mimetype == "text/html" or ErrorSchema().validate(r.get_json()) == {}


@settings(FUZZ, max_examples=100)
@given(over=RECORD_FIELDS)
def test_call_review_records_fuzzed(web, over):
    client, store, doc = web
    r = client.post("/hooks/salesforce/outbound", data=samples.outbound_message(ORG_ID, [record(**over)]), headers=SOAP)
    listed(doc, "/hooks/salesforce/outbound", "post", r.status_code)
    assert r.status_code == 200 and b"<Ack>true</Ack>" in r.data


def _peer(store):
    return next(a for a in store.ledger().assignments_for(T, ["zoom:abc=="])["zoom:abc=="] if a.kind == PEER)
