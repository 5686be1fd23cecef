"""Signature schemes, checked against the SDK's own implementation where one exists."""
import pytest
from hubspot.utils.signature import Signature

from integration.signature import (
    SignatureError,
    gamefilm_header,
    hubspot_uri,
    hubspot_v3_signature,
    verify_gamefilm,
    verify_hubspot_v3,
)

NOW = 1_795_000_000.0
TS = str(int(NOW * 1000))
URI = "https://hooks.example.com/hooks/hubspot"
BODY = b'[{"eventId":1,"portalId":62515}]'


def test_v3_signature_matches_the_hubspot_sdk():
    expected = Signature.get_signature("s3cret", BODY.decode(), "v3", URI, "POST", TS)
    assert hubspot_v3_signature("s3cret", "POST", URI, BODY, TS) == expected


def test_only_the_documented_escapes_are_decoded():
    assert hubspot_uri("https://x.io/hooks%3Fa%3Db%2Cc%40d?q=%2a%20%26") == "https://x.io/hooks?a%3Db,c@d?q=*%20%26"


def test_signature_over_a_decoded_uri_verifies_against_the_encoded_one():
    signed = hubspot_v3_signature("s", "POST", "https://x.io/h?name=a:b", BODY, TS)
    assert verify_hubspot_v3(secrets=["s"], method="POST", uri="https://x.io/h?name=a%3Ab", body=BODY,
                             signature=signed, timestamp=TS, now=NOW) == "s"  # fmt: skip


def test_verify_returns_the_secret_that_signed():
    sig = hubspot_v3_signature("second", "POST", URI, BODY, TS)
    assert verify_hubspot_v3(secrets=["first", "second"], method="POST", uri=URI, body=BODY, signature=sig, timestamp=TS, now=NOW) == "second"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"signature": None}, "missing X-HubSpot-Signature-v3"),
        ({"timestamp": None}, "missing X-HubSpot-Request-Timestamp"),
        ({"body": BODY + b" "}, "does not match"),
        ({"uri": URI + "/other"}, "does not match"),
        ({"method": "PUT"}, "does not match"),
        ({"now": NOW + 301}, "seconds old"),
        ({"now": NOW - 301}, "in the future"),
        ({"timestamp": "12ab"}, "1 to 16 ASCII digits"),
    ],
)
def test_hubspot_v3_rejections(change, message):
    args = dict(secrets=["s3cret"], method="POST", uri=URI, body=BODY, timestamp=TS, now=NOW)
    args["signature"] = hubspot_v3_signature("s3cret", "POST", URI, BODY, TS)
    args.update(change)
    with pytest.raises(SignatureError, match=message):
        verify_hubspot_v3(**args)


def test_gamefilm_header_accepts_any_of_several_v1_values_during_rotation():
    t = int(NOW)
    old = gamefilm_header("old", BODY, t)
    new = gamefilm_header("new", BODY, t).split(",")[1]
    verify_gamefilm(secrets=["new"], body=BODY, header=f"{old},{new}", now=NOW)
    verify_gamefilm(secrets=["old"], body=BODY, header=f"{old},{new}", now=NOW)


@pytest.mark.parametrize(
    "header, now, message",
    [
        (None, NOW, "missing"),
        ("v1=abc", NOW, "must look like"),
        (gamefilm_header("s", BODY, int(NOW)), NOW + 301, "seconds old"),
        (gamefilm_header("s", BODY, int(NOW)), NOW - 301, "in the future"),
        (gamefilm_header("wrong", BODY, int(NOW)), NOW, "does not match"),
        (gamefilm_header("s", BODY, int(NOW)).replace(f"t={int(NOW)}", f"t={int(NOW) + 1}"), NOW, "does not match"),
    ],
)
def test_gamefilm_rejections(header, now, message):
    with pytest.raises(SignatureError, match=message):
        verify_gamefilm(secrets=["s"], body=BODY, header=header, now=now)
