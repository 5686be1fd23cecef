"""Property-based fuzz of the webhooks (hypothesis, derandomized for CI).

Bodies are mutated real payloads (fields replaced, removed, added; bytes flipped) and headers
are arbitrary text, but every request is CORRECTLY SIGNED where the scheme allows, so the
mutations get past authentication into the parsers. For every answer: no 5xx; a 4xx is JSON
naming the problem and the field, with a status the OpenAPI document lists for that path;
nothing is stored for a 4xx, and a 200 stores exactly what it says it accepted.
"""
from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integration import limits, samples
from integration.openapi import ErrorSchema, HubSpotAckSchema, SalesforceJsonAckSchema, ZoomChallengeSchema
from integration.signature import gamefilm_header
from integration.store.sqlite import SqliteStore
from tests.conftest import ORG_ID, SF_SECRET
from tests.webhooks import (
    SOAP, hubspot_events, json_event, notification, post_hubspot, post_recordings, post_zoom, recording, zoom_recording_completed,
)  # fmt: skip

FUZZ = settings(
    max_examples=200,
    derandomize=True,  # same examples on every run: CI failures reproduce
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class CountingStore(SqliteStore):
    """SQLite that counts the events it really inserted."""

    inserted = 0

    def add_events(self, events, now):
        fresh = super().add_events(events, now)
        self.inserted += sum(fresh)
        return fresh


@pytest.fixture
def web(make_app, tmp_path):
    store = CountingStore(tmp_path / "fuzz.db")
    app = make_app(store=store)
    yield app.test_client(), store, app.test_client().get("/openapi.json").get_json()
    store.close()


# --- strategies ---------------------------------------------------------------------------------
EDGE_NUMBERS = st.sampled_from([0, -1, 2**31, 2**63 - 1, 2**63, 10**30, limits.MAX_EPOCH_MS, limits.MAX_EPOCH_MS + 1, 1e308, -0.0])
SCALARS = st.none() | st.booleans() | st.integers() | EDGE_NUMBERS | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
JSON_VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=12
)
HEADER_TEXT = st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=40)
TIMES = st.sampled_from(["2026-11-20T10:00:00Z", "1969-12-31T23:59:59Z", "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00",
                         "10000-01-01T00:00:00Z", "2026-02-30T00:00:00Z", ""])  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, base: dict, values: st.SearchStrategy = JSON_VALUES) -> dict:
    """`base` with some fields replaced or removed and some unknown ones added."""
    item = dict(base)
    for key in draw(st.lists(st.sampled_from(sorted(base)), unique=True, max_size=4)):
        if draw(st.booleans()):
            del item[key]
        else:
            item[key] = draw(values)
    return item | draw(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=2))


@st.composite
def damaged(draw: st.DrawFn, body: bytes) -> bytes:
    """Sometimes cut, splice or flip bytes of an otherwise well-formed body."""
    action = draw(st.sampled_from(["keep"] * 5 + ["cut", "insert", "flip"]))
    if action == "keep" or not body:
        return body
    at = draw(st.integers(0, len(body) - 1))
    if action == "cut":
        return body[:at]
    if action == "insert":
        return body[:at] + draw(st.binary(min_size=1, max_size=8)) + body[at:]
    return body[:at] + bytes([body[at] ^ draw(st.integers(1, 255))]) + body[at + 1 :]


def nested(levels: int) -> Any:
    return json.loads("[" * levels + "]" * levels)


# Fresh event ids, so a 200 has something new to store and "stored == accepted" means something.
HUBSPOT_EVENTS = st.integers(0, 10**9).flatmap(lambda i: mutated(hubspot_events(1, eventId=i)[0]))
JSON_EVENTS = st.integers(0, 10**9).flatmap(lambda i: mutated(json_event(i), JSON_VALUES | TIMES))

HUBSPOT_BODIES = (
    st.lists(HUBSPOT_EVENTS, min_size=1, max_size=3).map(lambda b: json.dumps(b).encode())
    | JSON_VALUES.map(lambda v: json.dumps(v).encode())
    | st.integers(25, 40).map(lambda n: json.dumps([hubspot_events(1)[0] | {"propertyValue": nested(n)}]).encode())
    | st.binary(max_size=64)
).flatmap(damaged)

SF_BODIES = (
    st.builds(
        lambda org, events: json.dumps({"organizationId": org, "events": events}).encode(),
        st.sampled_from([ORG_ID, ORG_ID[:15], "00D5e0000009ZZZEAA", "", 7]),
        st.lists(JSON_EVENTS, max_size=3),
    )
    | st.builds(lambda o: json.dumps(o).encode(), mutated({"organizationId": ORG_ID, "events": [json_event(1)]}))
    | st.binary(max_size=64)
).flatmap(damaged)

# Text XML 1.0 can carry (escaped), so most generated messages parse and reach normalisation.
XML_TEXT = st.text(st.characters(exclude_categories=["Cs", "Cc"], exclude_characters="\ufffe\uffff"), max_size=12).map(escape)
ENCODINGS = [b'encoding="UTF-8"'] * 4 + [b'encoding="latin-1"', b'encoding="shift_jis"', b'encoding="utf-16"', b'encoding="x-nope"']
OUTBOUND_MESSAGES = (
    st.builds(
        lambda org, items, encoding: samples.outbound_message(org, items).replace(b'encoding="UTF-8"', encoding),
        st.sampled_from([ORG_ID, ORG_ID[:15], "00D5e0000009ZZZEAA", ""]),
        st.lists(st.builds(lambda nid, v, t: notification(nid, Amount=v, LastModifiedDate=t),
                           XML_TEXT | st.integers(0, 10**6).map(lambda i: f"04l5e0000{i:09d}"), XML_TEXT,
                           TIMES | XML_TEXT), min_size=1, max_size=3),  # fmt: skip
        st.sampled_from(ENCODINGS),
    )
)
OUTBOUND_BODIES = st.one_of(OUTBOUND_MESSAGES, OUTBOUND_MESSAGES, OUTBOUND_MESSAGES, st.binary(max_size=64)).flatmap(damaged)


RECORDINGS = st.integers(0, 10**9).flatmap(lambda i: mutated(recording(i), JSON_VALUES | TIMES))
FRESH_RECORDINGS = st.integers(0, 10**9).map(recording)  # valid, so a share of the 200s store something
RECORDING_BODIES = (
    (FRESH_RECORDINGS | RECORDINGS).map(lambda r: json.dumps(r).encode())
    | st.lists(FRESH_RECORDINGS | RECORDINGS, max_size=3).map(lambda rs: json.dumps({"recordings": rs}).encode())
    | st.builds(lambda o: json.dumps(o).encode(), mutated({"recordings": [recording(1)]}))
    | JSON_VALUES.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=64)
).flatmap(damaged)


@st.composite
def zoom_events(draw: st.DrawFn) -> dict:
    """recording.completed with its meeting, payload or envelope mutated; or the URL validation."""
    event = zoom_recording_completed(f"uuid-{draw(st.integers(0, 10**9))}==")
    which = draw(st.sampled_from(["as sent", "meeting", "meeting", "payload", "envelope", "file", "challenge", "challenge"]))
    if which == "as sent":
        pass
    elif which == "meeting":
        event["payload"]["object"] = draw(mutated(event["payload"]["object"], JSON_VALUES | TIMES))
    elif which == "payload":
        event["payload"] = draw(mutated(event["payload"]))
    elif which == "file":
        event["payload"]["object"]["recording_files"][0] = draw(mutated(event["payload"]["object"]["recording_files"][0]))
    elif which == "challenge":
        event = {"event": "endpoint.url_validation", "event_ts": 1, "payload": {"plainToken": draw(st.text(max_size=40) | JSON_VALUES)}}
    else:
        event = draw(mutated(event))
    return event


ZOOM_BODIES = (zoom_events().map(lambda e: json.dumps(e).encode()) | st.binary(max_size=64)).flatmap(damaged)


# --- the properties ------------------------------------------------------------------------------
def check(response, path: str, store: CountingStore, before: int, doc: dict) -> None:
    status = response.status_code
    stored = store.inserted - before
    assert status < 500, (status, response.data[:300])
    assert str(status) in doc["paths"][path]["post"]["responses"], status
    if status >= 400:
        body = response.get_json()
        assert ErrorSchema().validate(body) == {}, body
        assert body["error"] and body["message"] and body["field"], body
        assert stored == 0
    elif path == "/hooks/salesforce/outbound":
        assert b"<Ack>true</Ack>" in response.data
    elif path == "/hooks/zoom" and "plainToken" in response.get_json():
        assert ZoomChallengeSchema().validate(response.get_json()) == {}
        assert stored == 0
    else:
        body = response.get_json()
        schema = HubSpotAckSchema() if path == "/hooks/hubspot" else SalesforceJsonAckSchema()
        assert schema.validate(body) == {}, body
        assert stored == body["accepted"]
        assert all(r["fields"] or r["reason"] for r in body["rejected"])


@FUZZ
@given(body=HUBSPOT_BODIES)
def test_hubspot_fuzzed_bodies(web, clock, body):
    client, store, doc = web
    before = store.inserted
    check(post_hubspot(client, clock, body), "/hooks/hubspot", store, before, doc)


@FUZZ
@given(body=SF_BODIES)
def test_salesforce_json_fuzzed_bodies(web, clock, body):
    client, store, doc = web
    before = store.inserted
    headers = {"Content-Type": "application/json", "X-GameFilm-Signature": gamefilm_header(SF_SECRET, body, int(clock()))}
    check(client.post("/hooks/salesforce/events", data=body, headers=headers), "/hooks/salesforce/events", store, before, doc)


@FUZZ
@given(body=OUTBOUND_BODIES)
def test_outbound_fuzzed_bodies(web, body):
    client, store, doc = web
    before = store.inserted
    check(client.post("/hooks/salesforce/outbound", data=body, headers=SOAP), "/hooks/salesforce/outbound", store, before, doc)


@FUZZ
@given(body=RECORDING_BODIES)
def test_recordings_fuzzed_bodies(web, clock, body):
    client, store, doc = web
    before = store.inserted
    check(post_recordings(client, clock, body), "/hooks/recordings", store, before, doc)


@FUZZ
@given(body=ZOOM_BODIES)
def test_zoom_fuzzed_bodies(web, clock, body):
    client, store, doc = web
    before = store.inserted
    check(post_zoom(client, clock, body), "/hooks/zoom", store, before, doc)


@settings(FUZZ, max_examples=40)
@given(
    which=st.sampled_from(["x-zm-signature", "x-zm-request-timestamp", "X-GameFilm-Signature", "Content-Type", "Transfer-Encoding"]),
    value=HEADER_TEXT | st.sampled_from(["²", "9" * 5000, "-1", "1.5", "v0=", "t=1,v1=", "application/json; charset=x"]),
)
def test_fuzzed_headers_on_signed_recording_requests(web, clock, which, value):
    client, store, doc = web
    before = store.inserted
    check(post_zoom(client, clock, zoom_recording_completed("h"), headers={which: value}), "/hooks/zoom", store, before, doc)
    before = store.inserted
    check(post_recordings(client, clock, recording(9), headers={which: value}), "/hooks/recordings", store, before, doc)


@settings(FUZZ, max_examples=60)
@given(
    which=st.sampled_from(["X-HubSpot-Request-Timestamp", "X-HubSpot-Signature-v3", "X-GameFilm-Signature", "Content-Type",
                           "Transfer-Encoding", "X-Forwarded-Host"]),  # fmt: skip
    value=HEADER_TEXT | st.sampled_from(["²", "9" * 5000, "-1", "1.5", "t=1,v1=", "t=²,v1=00", "chunked", "application/json; charset=x"]),
)
def test_fuzzed_headers_on_signed_requests(web, clock, which, value):
    client, store, doc = web
    before = store.inserted
    hubspot = post_hubspot(client, clock, hubspot_events(1, eventId=7), headers={which: value})
    check(hubspot, "/hooks/hubspot", store, before, doc)
    body = samples.salesforce_json(ORG_ID, [json_event(3)])
    headers = {"Content-Type": "application/json", "X-GameFilm-Signature": gamefilm_header(SF_SECRET, body, int(clock()))}
    before = store.inserted
    check(client.post("/hooks/salesforce/events", data=body, headers=headers | {which: value}), "/hooks/salesforce/events", store, before, doc)


@settings(FUZZ, max_examples=40)
@given(query=st.binary(max_size=30), raw_uri=st.booleans())
def test_fuzzed_query_strings(web, clock, query, raw_uri):
    """The HubSpot signature covers the URI: arbitrary request-line bytes must still get a clean answer."""
    client, store, doc = web
    text = query.decode("latin-1")  # how a WSGI server hands the bytes over
    environ = {"QUERY_STRING": text, "RAW_URI": f"/hooks/hubspot?{text}" if raw_uri else "", "REQUEST_URI": ""}
    before = store.inserted
    check(post_hubspot(client, clock, hubspot_events(1, eventId=8), environ_overrides=environ), "/hooks/hubspot", store, before, doc)
