"""POST /hooks/hubspot with real-format, really signed HubSpot batches."""
import json

import pytest

from integration import samples
from tests.conftest import HUBSPOT_SECRET, OTHER_APP_SECRET, PORTAL_ID, make_config

BASE = "http://localhost"


def post(client, events, *, clock, secret=HUBSPOT_SECRET, uri=f"{BASE}/hooks/hubspot", path="/hooks/hubspot",
         ts_ms=None, headers=None, body=None, **kw):  # fmt: skip
    body = body if body is not None else json.dumps(events).encode()
    signed = samples.hubspot_headers(secret, uri, body, ts_ms if ts_ms is not None else int(clock() * 1000))
    signed.update(headers or {})
    return client.post(path, data=body, headers=signed, **kw)


def deals(n, amount="150000", portal=PORTAL_ID, at=1_795_000_000_000):
    return samples.hubspot_events(portal, [str(5000 + i) for i in range(n)], amount, occurred_at_ms=at)


def test_signed_batch_is_stored_and_acknowledged(client, store, clock):
    r = post(client, deals(3), clock=clock)
    assert r.status_code == 200
    assert r.get_json() == {"accepted": 3, "duplicates": 0, "rejected": [], "dropped": []}
    stored = store.list_events(limit=10)
    assert {s.event.object_id for s in stored} == {"5000", "5001", "5002"}
    first = store.get_event(f"hubspot#{PORTAL_ID}#1795000000000#1000000#2101337#5000")
    assert (first.status, first.event.kind, first.event.object_type) == ("pending", "updated", "deal")
    assert first.event.changed == {"amount": "150000"}


def test_redelivered_batch_three_times_stores_one_copy(client, store, clock):
    batch = deals(100)
    responses = [post(client, batch, clock=clock) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r.get_json()["accepted"] for r in responses] == [100, 0, 0]
    assert responses[2].get_json()["duplicates"] == 100
    assert len(store.list_events(limit=1000)) == 100


def test_a_retry_with_a_new_attempt_number_is_the_same_event(client, store, clock):
    batch = deals(1)
    post(client, batch, clock=clock)
    batch[0]["attemptNumber"] = 3
    assert post(client, batch, clock=clock).get_json()["duplicates"] == 1


def test_same_event_id_on_another_object_is_a_different_event(client, store, clock):
    # HubSpot documents eventId as not guaranteed unique: the key adds subscription, object, time.
    a, b = deals(2)
    b["eventId"] = a["eventId"]
    assert post(client, [a, b], clock=clock).get_json()["accepted"] == 2


def test_generic_object_subscription_and_event_type_alias(client, store, clock):
    event = {"eventId": 9, "subscriptionId": 1, "portalId": int(PORTAL_ID), "occurredAt": 1_795_000_000_000,
             "eventType": "object.propertyChange", "objectTypeId": "0-3", "objectId": 42,
             "propertyName": "amount", "propertyValue": "7"}  # fmt: skip
    assert post(client, [event], clock=clock).get_json()["accepted"] == 1
    stored = store.list_events()[0].event
    assert (stored.object_type, stored.object_id, stored.kind) == ("deal", "42", "updated")


def test_unknown_event_types_are_stored_not_errors(client, store, clock):
    event = deals(1)[0] | {"subscriptionType": "deal.somethingNew"}
    assert post(client, [event], clock=clock).get_json()["accepted"] == 1
    assert store.list_events()[0].event.kind == "unknown"


def test_invalid_events_are_reported_and_the_rest_accepted(client, store, clock):
    good = deals(2)
    bad = {k: v for k, v in good[0].items() if k != "portalId"}
    r = post(client, [good[0], bad, good[1], "nonsense"], clock=clock)
    assert r.status_code == 200
    body = r.get_json()
    assert body["accepted"] == 2
    assert [(x["index"], x["reason"]) for x in body["rejected"]] == [(1, "invalid event"), (3, "invalid event")]
    assert "portalId" in body["rejected"][0]["fields"]
    assert len(store.list_events()) == 2


def test_unknown_portal_is_acknowledged_and_dropped(client, store, clock, caplog):
    r = post(client, deals(1, portal="999999"), clock=clock)
    assert r.status_code == 200  # a 4xx would make HubSpot retry for 24 hours
    assert r.get_json()["dropped"] == [{"index": 0, "reason": "no tenant for portalId 999999", "fields": None}]
    assert store.list_events() == []
    assert "dropped: no tenant for its portalId" in caplog.text
    assert "999999" not in caplog.text  # the portal id is payload content: the log doesn't quote it


def test_another_apps_signature_cannot_inject_events_for_this_portal(client, store, clock):
    r = post(client, deals(1), clock=clock, secret=OTHER_APP_SECRET)
    assert r.status_code == 200
    assert r.get_json()["rejected"][0]["reason"] == "portalId belongs to a tenant that did not sign this request"
    assert store.list_events() == []


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"headers": {"X-HubSpot-Signature-v3": ""}}, "missing X-HubSpot-Signature-v3 header"),
        ({"headers": {"X-HubSpot-Request-Timestamp": ""}}, "missing X-HubSpot-Request-Timestamp header"),
        ({"secret": "not-the-secret"}, "X-HubSpot-Signature-v3 does not match"),
        ({"uri": "http://localhost/hooks/other"}, "X-HubSpot-Signature-v3 does not match"),
        ({"stale": True}, "signature timestamp is more than 300 seconds old"),
        ({"future": True}, "signature timestamp is more than 300 seconds in the future"),
    ],
)
def test_bad_signatures_get_401_and_store_nothing(client, store, clock, kwargs, error):
    kwargs = dict(kwargs)  # the parameter is shared by reruns in one process (mutmut)
    if kwargs.pop("stale", False):
        kwargs["ts_ms"] = int((clock() - 301) * 1000)
    if kwargs.pop("future", False):
        kwargs["ts_ms"] = int((clock() + 301) * 1000)
    r = post(client, deals(1), clock=clock, **kwargs)
    assert r.status_code == 401
    assert r.get_json() == {"error": "invalid_signature", "message": error, "field": "X-HubSpot-Signature-v3"}
    assert store.list_events() == []


def test_malformed_json_is_400(client, store, clock):
    r = post(client, None, clock=clock, body=b'[{"eventId": 1,')
    assert r.status_code == 400
    assert r.get_json()["error"] == "malformed_json" and r.get_json()["field"] == "body"
    assert store.list_events() == []


@pytest.mark.parametrize("payload, message", [({"eventId": 1}, "JSON array"), (deals(101), "at most 100")])
def test_batch_shape_errors_are_400(client, store, clock, payload, message):
    r = post(client, payload, clock=clock)
    assert r.status_code == 400
    assert message in r.get_json()["message"]
    assert store.list_events() == []


def test_wrong_content_type_is_415(client, store, clock):
    r = post(client, deals(1), clock=clock, headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert r.get_json()["field"] == "Content-Type"
    assert store.list_events() == []


def test_body_over_one_mebibyte_is_413(client, store, clock):
    body = json.dumps(deals(1) + [{"pad": "x" * (1024 * 1024)}]).encode()
    r = post(client, None, clock=clock, body=body)
    assert r.status_code == 413
    assert r.get_json() == {"error": "request_entity_too_large", "message": "body is larger than 1048576 bytes", "field": "body"}
    assert store.list_events() == []


def test_uri_behind_api_gateway_is_rebuilt_from_forwarded_headers(client, store, clock):
    # API Gateway forwards to Lambda with its own host; HubSpot signed the public URL + stage.
    public = "https://abc123.execute-api.us-east-1.amazonaws.com/prod/hooks/hubspot?tenant=acme%3Awest"
    r = post(client, deals(1), clock=clock, uri=public, path="/hooks/hubspot?tenant=acme%3Awest",
             headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "abc123.execute-api.us-east-1.amazonaws.com",
                      "X-Forwarded-Prefix": "/prod"})  # fmt: skip
    assert r.status_code == 200, r.get_json()


def test_uri_from_configured_public_base_url(make_app, tmp_path, store, clock):
    cfg = make_config(tmp_path, intake={"public_base_url": "https://hooks.acme.io/prod", "trust_forwarded": False})
    client = make_app(cfg).test_client()
    r = post(client, deals(1), clock=clock, uri="https://hooks.acme.io/prod/hooks/hubspot",
             headers={"X-Forwarded-Host": "evil.example.com"})  # fmt: skip
    assert r.status_code == 200, r.get_json()


def test_forwarded_headers_are_ignored_when_not_trusted(make_app, tmp_path, clock):
    client = make_app(make_config(tmp_path, intake={"trust_forwarded": False})).test_client()
    r = post(client, deals(1), clock=clock, uri="https://evil.example.com/hooks/hubspot",
             headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example.com"})  # fmt: skip
    assert r.status_code == 401
