"""Hostile requests found by attacking the running server, pinned through the Flask client:
routing errors, compressed bodies and ambiguous id spellings (each a bug once)."""
import gzip
import json

import pytest

from tests.webhooks import hubspot_events, post_hubspot, post_sf_json, json_event

ROUTES = ["/hooks/hubspot", "/hooks/salesforce/outbound", "/hooks/salesforce/events", "/healthz", "/openapi.json"]


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "TRACE", "FOO"])
def test_a_wrong_method_on_every_route_is_405_json_naming_the_method(client, store, path, method):
    r = client.open(path, method=method, data=b"[]", content_type="application/json")
    assert r.status_code == 405
    assert r.get_json() | {"message": ""} == {"error": "method_not_allowed", "field": "method", "message": ""}
    assert "POST" in r.headers["Allow"] or "GET" in r.headers["Allow"]
    assert store.list_events() == []


@pytest.mark.parametrize("path", ["/", "/nope", "/hooks/hubspot/", "/hooks/%00", "/..%2f..%2fetc/passwd", "/hooks/%FF%FE"])
def test_an_unknown_path_is_404_json_naming_the_path(client, store, path):
    r = client.post(path, data=b"[]", content_type="application/json")
    assert (r.status_code, r.get_json()["error"], r.get_json()["field"]) == (404, "not_found", "path")
    assert store.list_events() == []


@pytest.mark.parametrize("path", ROUTES)
def test_head_and_options_never_5xx(client, path):
    assert client.head(path).status_code in (200, 405)
    assert client.options(path).status_code == 200


def test_a_gzip_body_is_415_naming_content_encoding_even_when_correctly_signed(client, store, clock):
    body = gzip.compress(json.dumps(hubspot_events(1)).encode())
    r = post_hubspot(client, clock, body, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 415
    assert r.get_json() == {"error": "unsupported_media_type", "field": "Content-Encoding",
                            "message": "Content-Encoding is not supported: send the body uncompressed"}  # fmt: skip
    assert store.list_events() == []


def test_identity_content_encoding_is_accepted(client, store, clock):
    r = post_sf_json(client, clock, [json_event()], headers={"Content-Encoding": "identity"})
    assert (r.status_code, r.get_json()["accepted"]) == (200, 1)


@pytest.mark.parametrize("value", [1.5, 5000.0, "+5000", " 5000", "05000", "5_000", "٥٠٠٠", "5000 ", True])
def test_an_event_id_in_any_but_its_canonical_spelling_is_rejected_not_aliased(client, store, clock, value):
    # Once, 1.5 and 1.7 both became eventId 1: the second event was answered as a duplicate and lost.
    r = post_hubspot(client, clock, hubspot_events(1, eventId=value))
    assert r.status_code == 200
    body = r.get_json()
    assert (body["accepted"], body["rejected"]) == (0, [{"index": 0, "reason": "invalid event", "fields": {"eventId": ["Not a valid integer."]}}])
    assert store.list_events() == []


def test_two_events_whose_ids_differ_only_after_the_point_are_not_one_event(client, store, clock):
    r = post_hubspot(client, clock, hubspot_events(1, eventId=1.5) + hubspot_events(1, eventId=1.7))
    assert r.get_json()["duplicates"] == 0
    assert [x["fields"] for x in r.get_json()["rejected"]] == [{"eventId": ["Not a valid integer."]}] * 2


@pytest.mark.parametrize("field", ["eventId", "subscriptionId", "portalId", "occurredAt", "objectId", "attemptNumber"])
def test_canonical_decimal_strings_are_still_read_as_the_integer(client, store, clock, field):
    event = hubspot_events(1)[0]
    r = post_hubspot(client, clock, [event | {field: str(event[field])}])
    assert (r.status_code, r.get_json()["accepted"], r.get_json()["rejected"]) == (200, 1, [])
    [stored] = store.list_events()
    assert str(event[field]) in stored.key or field == "attemptNumber"


def test_an_invented_method_is_not_copied_into_the_log(client, caplog):
    r = client.open("/hooks/hubspot", method="CANARYSECRET")
    assert r.status_code == 405
    assert "CANARYSECRET" not in caplog.text
    assert "method=(other)" in caplog.text


@pytest.mark.parametrize("fields", [{}, {"Id": ""}, {"Id": "1"}, {"Id": "0065e00000AbCdE!!"}], ids=["no Id", "empty", "short", "not alphanumeric"])
def test_an_outbound_notification_without_a_record_id_is_acked_but_not_stored(client, store, fields):
    # It was stored with object_id "" and the worker planned a note on record "".
    from integration import samples
    from tests.conftest import ORG_ID
    from tests.webhooks import post_outbound

    body = samples.outbound_message(ORG_ID, [("04l5e000000AAA1AAG", "Opportunity", {"Amount": "1.0", **fields}),
                                             ("04l5e000000AAA2AAG", "Opportunity", {"Id": "0065e00000AbCdEAAV", "Amount": "2.0"})])  # fmt: skip
    r = post_outbound(client, body)
    assert r.status_code == 200 and b"<Ack>true</Ack>" in r.data
    assert [e.event.source_id for e in store.list_events()] == ["04l5e000000AAA2AAG"]
