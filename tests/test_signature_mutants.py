"""Signature checks pinned to values computed outside this code, and to their exact edges.

The reference signatures were computed once with openssl (not with this module):
  printf '%s' '1795000000.{"organizationId":"00D000000000001","events":[]}' \
    | openssl dgst -sha256 -hmac 'sf-secret' -hex
  printf '%s' 'POSThttps://hooks.example.com/hooks/hubspot?a=b:c[{"eventId":1,"portalId":62515}]1795000000000' \
    | openssl dgst -sha256 -hmac 's3cret' -binary | base64
"""
import pytest

from integration.limits import MAX_SIGNATURE_HEADER
from integration.signature import (
    SignatureError,
    gamefilm_header,
    gamefilm_signature,
    hubspot_v3_signature,
    verify_gamefilm,
    verify_hubspot_v3,
)

NOW = 1_795_000_000.0
SF_BODY = b'{"organizationId":"00D000000000001","events":[]}'
SF_REFERENCE = "ea4f8ae9d3ec111f03779ad6f090d952991b1c01e63c50b2b9e6dcd941b313bd"
HS_URI = "https://hooks.example.com/hooks/hubspot?a=b%3Ac"  # HubSpot signs the decoded ':'
HS_BODY = b'[{"eventId":1,"portalId":62515}]'
HS_TS = "1795000000000"
HS_REFERENCE = "HgNJYV5/Nkqr6nO35X5GxtaR3TZGOm9AjcLFBLW7Fhg="


def hubspot(**change):
    args = dict(secrets=["s3cret"], method="POST", uri=HS_URI, body=HS_BODY, signature=HS_REFERENCE,
                timestamp=HS_TS, now=NOW) | change  # fmt: skip
    return verify_hubspot_v3(**args)


def gamefilm(header, body=SF_BODY, now=NOW):
    return verify_gamefilm(secrets=["sf-secret"], body=body, header=header, now=now)


def test_gamefilm_signature_equals_the_openssl_reference():
    assert gamefilm_signature("sf-secret", SF_BODY, 1_795_000_000) == SF_REFERENCE
    assert gamefilm_header("sf-secret", SF_BODY, 1_795_000_000) == f"t=1795000000,v1={SF_REFERENCE}"


def test_reference_gamefilm_header_verifies_and_any_tampering_with_the_body_fails():
    gamefilm(f"t=1795000000,v1={SF_REFERENCE}")
    gamefilm(f"t=1795000000,v1={SF_REFERENCE.upper()}")  # hex compared case-insensitively
    tampered = SF_BODY.replace(b"001", b"002")
    with pytest.raises(SignatureError, match="^X-GameFilm-Signature does not match$"):
        gamefilm(f"t=1795000000,v1={SF_REFERENCE}", body=tampered)


def test_hubspot_signature_equals_the_openssl_reference():
    assert hubspot_v3_signature("s3cret", "post", HS_URI, HS_BODY, HS_TS) == HS_REFERENCE
    assert hubspot() == "s3cret"
    with pytest.raises(SignatureError, match="^X-HubSpot-Signature-v3 does not match$"):
        hubspot(body=HS_BODY.replace(b"62515", b"62516"))


def test_signature_header_exactly_at_the_length_limit_is_checked_not_refused_for_length():
    with pytest.raises(SignatureError, match="does not match"):
        hubspot(signature="A" * MAX_SIGNATURE_HEADER)
    with pytest.raises(SignatureError, match="^X-HubSpot-Signature-v3 is longer than 1024 characters$"):
        hubspot(signature="A" * (MAX_SIGNATURE_HEADER + 1))
    header = f"t=1795000000,v1={SF_REFERENCE},v1="
    header += "0" * (MAX_SIGNATURE_HEADER - len(header))
    gamefilm(header)  # a rotation header of exactly the maximum length still verifies
    with pytest.raises(SignatureError, match="^X-GameFilm-Signature is longer than 1024 characters$"):
        gamefilm(header + "0")


@pytest.mark.parametrize(
    "header, message",
    [
        (None, "missing X-GameFilm-Signature header"),
        ("", "missing X-GameFilm-Signature header"),
        (f"t=1795000000,v0={SF_REFERENCE}", "X-GameFilm-Signature must look like t=<unix seconds>,v1=<hex>"),
        ("t=1795000000,v1=", "X-GameFilm-Signature must look like t=<unix seconds>,v1=<hex>"),
        (f"v1={SF_REFERENCE}", "X-GameFilm-Signature must look like t=<unix seconds>,v1=<hex>"),
        (f"t=1795000000,v1={SF_REFERENCE}=", "X-GameFilm-Signature does not match"),
        (f"t=1795000000,v1={SF_REFERENCE[:-1]}", "X-GameFilm-Signature does not match"),
    ],
)
def test_gamefilm_header_rejections_say_exactly_why(header, message):
    """An unknown scheme (v0=) is never a candidate, and a value is everything after the first '='."""
    with pytest.raises(SignatureError) as caught:
        gamefilm(header)
    assert str(caught.value) == message


def test_timestamps_exactly_at_the_tolerance_are_accepted_one_past_are_not():
    gamefilm(f"t=1795000000,v1={SF_REFERENCE}", now=NOW + 300)
    gamefilm(f"t=1795000000,v1={SF_REFERENCE}", now=NOW - 300)
    assert hubspot(now=NOW + 300) == hubspot(now=NOW - 300) == "s3cret"
    with pytest.raises(SignatureError, match="^signature timestamp is more than 300 seconds old$"):
        hubspot(now=NOW + 300.001)
    with pytest.raises(SignatureError, match="^signature timestamp is more than 300 seconds in the future$"):
        gamefilm(f"t=1795000000,v1={SF_REFERENCE}", now=NOW - 301)


def test_gamefilm_timestamp_is_seconds_not_milliseconds():
    header = gamefilm_header("sf-secret", SF_BODY, 1_795_000_000_000)
    with pytest.raises(SignatureError, match="in the future"):
        gamefilm(header)


def test_tampered_body_of_a_signed_salesforce_json_post_is_401_and_stores_nothing(client, store, clock):
    from integration import samples
    from tests.conftest import ORG_ID, SF_SECRET
    from tests.webhooks import json_event

    body = samples.salesforce_json(ORG_ID, [json_event(1)])
    header = gamefilm_header(SF_SECRET, body, int(clock()))
    tampered = body.replace(b"130000", b"930000")
    assert tampered != body
    r = client.post("/hooks/salesforce/events", data=tampered,
                    headers={"Content-Type": "application/json", "X-GameFilm-Signature": header})  # fmt: skip
    assert r.status_code == 401
    assert r.get_json() == {"error": "invalid_signature", "message": "X-GameFilm-Signature does not match",
                            "field": "X-GameFilm-Signature"}  # fmt: skip
    assert store.list_events() == []
    ok = client.post("/hooks/salesforce/events", data=body,
                     headers={"Content-Type": "application/json", "X-GameFilm-Signature": header})  # fmt: skip
    assert ok.status_code == 200 and len(store.list_events()) == 1
