"""Hostile and out-of-range input at the edge: a 4xx JSON naming the field (or a per-event
rejection), nothing stored, never a 5xx. Every limit here is listed in the README."""
import json

import pytest

from integration import limits, samples
from integration.signature import gamefilm_signature
from tests.conftest import ORG_ID
from tests.webhooks import (
    hubspot_events,
    json_event,
    notification,
    post_hubspot,
    post_outbound,
    post_sf_json,
)


def nested(levels: int) -> object:
    value: object = "leaf"
    for _ in range(levels):
        value = [value]
    return value


# --- signature timestamps --------------------------------------------------------------------
BAD_TIMESTAMPS = [
    "١٧٩٥٠٠٠٠٠٠٠٠٠",  # Arabic-Indic digits: str.isdigit() is True, and then what?
    "²",  # a latin-1 superscript (what a real server decodes header bytes as): isdigit() True, int() fails
    "9" * 5000,  # int() refuses more than 4300 digits; fewer would overflow the division
    "-1795000000000",
    "1795000000000.5",
    "1.795e12",
    " 1795000000000",
]


@pytest.mark.parametrize("timestamp", BAD_TIMESTAMPS)
def test_hubspot_timestamp_that_is_not_ascii_digits_is_401(client, store, clock, timestamp):
    r = post_hubspot(client, clock, hubspot_events(), headers={"X-HubSpot-Request-Timestamp": timestamp})
    assert r.status_code == 401
    assert r.get_json() == {"error": "invalid_signature", "message": "signature timestamp must be 1 to 16 ASCII digits",
                            "field": "X-HubSpot-Signature-v3"}  # fmt: skip
    assert store.list_events() == []


@pytest.mark.parametrize("timestamp", BAD_TIMESTAMPS)
def test_gamefilm_timestamp_that_is_not_ascii_digits_is_401(client, store, clock, timestamp):
    body = samples.salesforce_json(ORG_ID, [json_event()])
    header = f"t={timestamp[:900]},v1={gamefilm_signature('x', body, 1)}"  # under the header limit
    r = post_sf_json(client, clock, body, headers={"X-GameFilm-Signature": header})
    assert r.status_code == 401
    assert r.get_json()["message"] == "signature timestamp must be 1 to 16 ASCII digits"
    assert store.list_events() == []


def test_signature_header_longer_than_the_limit_is_401(client, store, clock):
    body = samples.salesforce_json(ORG_ID, [json_event()])
    header = f"t={int(clock())}," + ",".join(["v1=" + "0" * 64] * 20)
    r = post_sf_json(client, clock, body, headers={"X-GameFilm-Signature": header})
    assert r.status_code == 401 and "longer than 1024 characters" in r.get_json()["message"]


# --- numeric and time ranges ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "field, value",
    [
        ("occurredAt", limits.MAX_EPOCH_MS + 1),  # year 10000
        ("occurredAt", 10**30),  # orjson reads this as a float
        ("occurredAt", -1),  # before 1970
        ("objectId", 2**63),
        ("eventId", -5),
        ("portalId", 10**19),
        ("attemptNumber", 2**31),
        ("objectId", True),
    ],
)
def test_hubspot_number_out_of_range_rejects_that_event_naming_the_field(client, store, clock, field, value):
    good, bad = hubspot_events(2)
    bad[field] = value
    r = post_hubspot(client, clock, [good, bad])
    assert r.status_code == 200
    body = r.get_json()
    assert body["accepted"] == 1
    assert [(x["index"], list(x["fields"])) for x in body["rejected"]] == [(1, [field])]
    assert len(store.list_events()) == 1


def test_hubspot_last_millisecond_of_year_9999_is_accepted(client, store, clock):
    r = post_hubspot(client, clock, hubspot_events(1, occurredAt=limits.MAX_EPOCH_MS))
    assert r.get_json()["accepted"] == 1
    assert store.list_events()[0].event.occurred_at.year == 9999


def test_hubspot_number_with_thousands_of_digits_is_400(client, store, clock):
    body = json.dumps(hubspot_events(1)).replace('"objectId": 5000', '"objectId": ' + "9" * 5000).encode()
    r = post_hubspot(client, clock, body)
    assert r.status_code == 400 and r.get_json()["error"] == "malformed_json"
    assert store.list_events() == []


@pytest.mark.parametrize(
    "occurred_at", ["1969-12-31T23:59:59Z", "9999-12-31T23:00:00-05:00", "10000-01-01T00:00:00Z", "0001-01-01T00:00:00Z"]
)
def test_salesforce_json_time_outside_1970_to_9999_is_rejected(client, store, clock, occurred_at):
    r = post_sf_json(client, clock, [json_event(1), json_event(2, occurredAt=occurred_at)])
    assert r.status_code == 200
    assert [(x["index"], list(x["fields"])) for x in r.get_json()["rejected"]] == [(1, ["occurredAt"])]
    assert len(store.list_events()) == 1


@pytest.mark.parametrize("modified", ["1969-12-31T23:59:59.000Z", "9999-12-31T23:00:00-05:00", "not a date"])
def test_outbound_time_outside_the_range_falls_back_to_receipt_time(client, store, clock, modified):
    assert post_outbound(client, [notification(LastModifiedDate=modified)]).status_code == 200
    assert store.list_events()[0].event.occurred_at.timestamp() == pytest.approx(clock())


# --- JSON nesting ----------------------------------------------------------------------------------
def test_hubspot_json_nested_to_the_limit_is_accepted(client, store, clock):
    # array (1) > event object (2) > propertyValue: 30 lists deep reaches 32 levels.
    r = post_hubspot(client, clock, hubspot_events(1, propertyValue=nested(30)))
    assert r.status_code == 200 and r.get_json()["accepted"] == 1


@pytest.mark.parametrize("levels", [31, 500, 5000])
def test_hubspot_json_nested_past_the_limit_is_400(client, store, clock, levels):
    body = json.dumps(hubspot_events(1, propertyValue="X")).replace('"X"', "[" * levels + "]" * levels).encode()
    r = post_hubspot(client, clock, body)
    assert r.status_code == 400
    assert r.get_json()["field"] == "body"
    assert r.get_json()["error"] in ("too_deep", "malformed_json")  # orjson itself stops at 1024
    assert store.list_events() == []


def test_salesforce_json_nested_past_the_limit_is_400(client, store, clock):
    r = post_sf_json(client, clock, [json_event(fields={"Note__c": nested(40)})])
    assert r.status_code == 400
    assert r.get_json() == {"error": "too_deep", "message": "JSON nests more than 32 levels", "field": "body"}
    assert store.list_events() == []


# --- XML encodings ---------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["shift_jis", "x-no-such-codec", "utf-32", "UTF-7", "base64", "undefined", "utf-16", "cp037"])
def test_xml_declaring_an_encoding_the_parser_refuses_is_400(client, store, encoding):
    body = samples.outbound_message(ORG_ID, [notification()]).replace(b'encoding="UTF-8"', f'encoding="{encoding}"'.encode())
    r = post_outbound(client, body)
    assert r.status_code == 400
    assert r.get_json()["error"] == "malformed_xml" and r.get_json()["field"] == "body"
    assert store.list_events() == []


def test_xml_in_a_single_byte_encoding_is_read(client, store):
    body = samples.outbound_message(ORG_ID, [notification(Name="Caf\u00e9")]).decode().replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
    assert post_outbound(client, body.encode("latin-1")).status_code == 200
    assert store.list_events()[0].event.changed["Name"] == "Caf\u00e9"


def test_xml_in_utf16_with_its_bom_is_read(client, store):
    body = samples.outbound_message(ORG_ID, [notification(Name="Caf\u00e9")]).decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    assert post_outbound(client, body.encode("utf-16")).status_code == 200
    assert store.list_events()[0].event.changed["Name"] == "Caf\u00e9"


@pytest.mark.parametrize(
    "environ",
    [{"QUERY_STRING": "tenant=\xff\xfe", "RAW_URI": "", "REQUEST_URI": ""}, {"RAW_URI": "/hooks/hubspot?\udcff"},
     {"RAW_URI": "/hooks/hubspot?\xff"}],  # fmt: skip
)
def test_request_uri_bytes_that_are_not_utf8_are_401_not_500(client, store, clock, environ):
    r = post_hubspot(client, clock, hubspot_events(1), environ_overrides=environ)
    assert r.status_code == 401 and r.get_json()["message"] == "X-HubSpot-Signature-v3 does not match"
    assert store.list_events() == []


def test_a_utf8_path_as_a_wsgi_server_passes_it_is_signed_as_text(client, store, clock):
    # HubSpot signs the text of the URL; WSGI servers pass the raw bytes decoded as latin-1.
    uri = "http://localhost/hooks/hubspot?name=caf\u00e9"
    body = json.dumps(hubspot_events(1)).encode()
    headers = samples.hubspot_headers("test-hubspot-client-secret", uri, body, int(clock() * 1000))
    raw = "/hooks/hubspot?name=caf\u00e9".encode().decode("latin-1")
    r = client.post("/hooks/hubspot", data=body, headers=headers, environ_overrides={"RAW_URI": raw})
    assert r.status_code == 200, r.get_json()
