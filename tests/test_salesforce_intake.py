"""Salesforce outbound messages (SOAP) and signed JSON events from Flow/Apex callouts."""
import json

import pytest

from integration import samples
from integration.signature import gamefilm_header
from tests.conftest import ORG_ID, SF_SECRET, SF_SECRET_NEXT

ACK = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    b'<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse>'
    b"</soapenv:Body></soapenv:Envelope>"
)
SOAP = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


def opportunity(nid, opp="0065e00000AbCdEAAV", amount="120000.0", **extra):
    return (nid, "Opportunity", {"Id": opp, "Amount": amount, "LastModifiedDate": "2026-11-20T10:00:00.000Z", **extra})


def outbound(client, notifications, org=ORG_ID, headers=SOAP):
    return client.post("/hooks/salesforce/outbound", data=samples.outbound_message(org, notifications), headers=headers)


# --- outbound messages ------------------------------------------------------------------------
def test_outbound_message_is_stored_and_acked_with_the_exact_envelope(client, store):
    r = outbound(client, [opportunity("04l5e000000AAA1AAG"), opportunity("04l5e000000AAA2AAG", opp="0065e00000XyZwEAAV")])
    assert r.status_code == 200
    assert r.data == ACK
    assert r.headers["Content-Type"] == "text/xml; charset=utf-8"
    event = store.get_event("salesforce#00D5e0000001Abc#04l5e000000AAA1AAG").event
    assert (event.tenant, event.object_type, event.object_id, event.kind) == ("acme-salesforce", "opportunity", "0065e00000AbCdEAAV", "updated")
    assert event.changed == {"Amount": "120000.0", "LastModifiedDate": "2026-11-20T10:00:00.000Z"}
    assert event.occurred_at.isoformat() == "2026-11-20T10:00:00+00:00"
    assert len(store.list_events()) == 2


def test_redelivered_outbound_message_is_acked_and_stored_once(client, store):
    for _ in range(3):
        assert outbound(client, [opportunity("04l5e000000AAA1AAG")]).data == ACK
    assert len(store.list_events()) == 1


def test_fifteen_character_org_id_matches_the_configured_eighteen(client, store):
    assert outbound(client, [opportunity("04l5e000000AAA1AAG")], org=ORG_ID[:15]).data == ACK
    assert len(store.list_events()) == 1


def test_hundred_notifications_in_one_message(client, store):
    r = outbound(client, [opportunity(f"04l5e00000{i:05d}AAG", opp=f"0065e00000{i:05d}AAV") for i in range(100)])
    assert r.data == ACK
    assert len(store.list_events(limit=200)) == 100


def test_nil_fields_are_none(client, store):
    outbound(client, [opportunity("04l5e000000AAA1AAG")])
    body = samples.outbound_message(ORG_ID, [opportunity("04l5e000000AAA3AAG")]).replace(
        b"<sf:Amount>120000.0</sf:Amount>", b'<sf:Amount xsi:nil="true"/>'
    )
    assert client.post("/hooks/salesforce/outbound", data=body, headers=SOAP).data == ACK
    assert store.get_event("salesforce#00D5e0000001Abc#04l5e000000AAA3AAG").event.changed["Amount"] is None


def test_unknown_org_gets_403_naming_the_field_and_nothing_is_stored(client, store):
    # Not a SOAP fault: SOAP 1.1 sends faults as HTTP 500, and no input may earn a 5xx.
    r = outbound(client, [opportunity("04l5e000000AAA1AAG")], org="00D5e0000009ZZZEAA")
    assert r.status_code == 403
    assert r.get_json() == {"error": "unknown_organization", "message": "OrganizationId is not connected to Game Film",
                            "field": "OrganizationId"}  # fmt: skip
    assert store.list_events() == []


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>&lol2;</soapenv:Body></soapenv:Envelope>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>&xxe;</soapenv:Body></soapenv:Envelope>"""


@pytest.mark.parametrize(
    "body, message",
    [
        (BILLION_LAUGHS, "DTD or entity declarations"),
        (EXTERNAL_ENTITY, "DTD or entity declarations"),
        (b"<soapenv:Envelope", "malformed XML"),
        (b"<hello/>", "not a SOAP 1.1 envelope"),
        (samples.outbound_message(ORG_ID, []), "no Notification"),
        (samples.outbound_message(ORG_ID, [opportunity("04l5e000000AAA1AAG")]).replace(b"<Id>04l5e000000AAA1AAG</Id>", b""), "needs an Id"),
    ],
)
def test_unsafe_or_malformed_xml_is_400(client, store, body, message):
    r = client.post("/hooks/salesforce/outbound", data=body, headers=SOAP)
    assert r.status_code == 400
    assert r.get_json()["error"] == "malformed_xml"
    assert message in r.get_json()["message"]
    assert store.list_events() == []


def test_outbound_wrong_content_type_is_415(client, store):
    r = outbound(client, [opportunity("04l5e000000AAA1AAG")], headers={"Content-Type": "application/json"})
    assert r.status_code == 415
    assert store.list_events() == []


# --- JSON events (Flow HTTP callout / Apex) ---------------------------------------------------------
def json_event(i=1, **over):
    return {"id": f"0065e00000AbCdEAAV-2026112010000{i}", "object": "Opportunity", "recordId": "0065e00000AbCdEAAV",
            "kind": "updated", "occurredAt": "2026-11-20T10:00:00Z", "fields": {"Amount": 130000}, **over}  # fmt: skip


def post_json(client, clock, events, *, org=ORG_ID, secret=SF_SECRET, header=None, body=None):
    body = body if body is not None else samples.salesforce_json(org, events)
    sig = header if header is not None else gamefilm_header(secret, body, int(clock()))
    return client.post("/hooks/salesforce/events", data=body, headers={"Content-Type": "application/json", "X-GameFilm-Signature": sig})


def test_signed_json_events_are_stored(client, store, clock):
    r = post_json(client, clock, [json_event(1), json_event(2)])
    assert r.status_code == 200
    assert r.get_json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    event = store.get_event("salesforce#00D5e0000001Abc#evt#0065e00000AbCdEAAV-20261120100001").event
    assert (event.object_type, event.kind, event.changed) == ("opportunity", "updated", {"Amount": 130000})


def test_json_redelivery_stores_once(client, store, clock):
    for _ in range(3):
        post_json(client, clock, [json_event(1)])
    assert len(store.list_events()) == 1


def test_either_secret_works_during_rotation(client, store, clock):
    assert post_json(client, clock, [json_event(1)], secret=SF_SECRET_NEXT).status_code == 200
    body = samples.salesforce_json(ORG_ID, [json_event(2)])
    t = int(clock())
    both = f"{gamefilm_header('retired', body, t)},{gamefilm_header(SF_SECRET, body, t).split(',')[1]}"
    assert post_json(client, clock, None, body=body, header=both).status_code == 200


@pytest.mark.parametrize("header", ["", "t=1,v1=00", "garbage"])
def test_json_bad_signature_is_401(client, store, clock, header):
    r = post_json(client, clock, [json_event()], header=header)
    assert r.status_code == 401 and r.get_json()["field"] == "X-GameFilm-Signature"
    assert store.list_events() == []


def test_json_stale_signature_is_401(client, store, clock):
    body = samples.salesforce_json(ORG_ID, [json_event()])
    r = post_json(client, clock, None, body=body, header=gamefilm_header(SF_SECRET, body, int(clock()) - 301))
    assert r.status_code == 401 and "seconds old" in r.get_json()["message"]


def test_json_org_must_be_the_signing_tenants(client, store, clock):
    r = post_json(client, clock, [json_event()], org="00D5e0000009ZZZEAA")
    assert r.status_code == 400
    assert r.get_json()["field"] == "organizationId"
    assert store.list_events() == []


def test_json_invalid_events_are_reported_rest_accepted(client, store, clock):
    r = post_json(client, clock, [json_event(1), json_event(2, recordId="not an id"), json_event(3, occurredAt="yesterday")])
    body = r.get_json()
    assert r.status_code == 200 and body["accepted"] == 1
    assert [(x["index"], sorted(x["fields"])) for x in body["rejected"]] == [(1, ["recordId"]), (2, ["occurredAt"])]


def test_json_malformed_is_400(client, store, clock):
    r = post_json(client, clock, None, body=b'{"organizationId":')
    assert r.status_code == 400 and r.get_json()["error"] == "malformed_json"


def test_json_batch_shape_is_validated(client, store, clock):
    r = post_json(client, clock, None, body=json.dumps({"organizationId": ORG_ID, "events": []}).encode())
    assert r.status_code == 400 and r.get_json()["field"] == "events"
    assert store.list_events() == []
