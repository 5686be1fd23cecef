"""POST /hooks/zoom end to end at the edge: Zoom's x-zm-signature, the endpoint.url_validation
challenge, recording.completed stored as one recording, other events acknowledged."""
import hashlib
import hmac
import json
from datetime import datetime, timezone

import pytest

from integration.recordings import RECORDING_OBJECT, Recording, recording_to_changed
from integration.signature import zoom_signature
from tests.conftest import ENVIRON, ZOOM_TOKEN, make_config, tenants_raw
from tests.webhooks import post_zoom, zoom_recording_completed

UUID = "4444AAAiAAAAAiAiAiiAii=="


def stored(store) -> list:
    return [s.event for s in store.list_events()]


def test_signature_is_v0_hex_hmac_of_v0_timestamp_body():
    """Zoom's documented construction, computed independently."""
    body = b'{"event":"meeting.started"}'
    expected = "v0=" + hmac.new(b"secret", b"v0:1700000000:" + body, hashlib.sha256).hexdigest()
    assert zoom_signature("secret", "1700000000", body) == expected


def test_url_validation_is_answered_with_the_hmac_of_the_plain_token(client, store, clock):
    body = {"payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}, "event_ts": 1654503849680, "event": "endpoint.url_validation"}
    r = post_zoom(client, clock, body)
    assert r.status_code == 200
    assert r.get_json() == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw",
                            "encryptedToken": hmac.new(ZOOM_TOKEN.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()}  # fmt: skip
    assert stored(store) == []


@pytest.mark.parametrize("payload", [{}, {"plainToken": ""}, {"plainToken": 7}, {"plainToken": "x" * 257}])
def test_url_validation_without_a_usable_token_is_400(client, clock, payload):
    r = post_zoom(client, clock, {"event": "endpoint.url_validation", "payload": payload})
    assert (r.status_code, r.get_json()["field"]) == (400, "payload.plainToken")


def test_recording_completed_becomes_one_recording_of_the_host(client, store, clock):
    r = post_zoom(client, clock, zoom_recording_completed(UUID))
    assert (r.status_code, r.get_json()) == (200, {"accepted": 1, "duplicates": 0, "rejected": []})
    [event] = stored(store)
    assert (event.key, event.tenant, event.crm, event.object_type, event.object_id) == (
        f"zoom#acme-hubspot#{UUID}", "acme-hubspot", "hubspot", RECORDING_OBJECT, f"zoom:{UUID}")
    assert event.changed == recording_to_changed(Recording(
        external_id=f"zoom:{UUID}", source="zoom", recording_url="https://example.zoom.us/rec/share/Qg75t7xZBtEbAkjdlgbfdngBBBB",
        title="Acme / Client demo", started_at=datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc), duration_ms=42 * 60_000,
        rep_email="rep@acme.example"))  # fmt: skip
    # the passcode and download token are credentials the product never needs: not stored
    assert "CANARY" not in json.dumps(dict(event.raw)) and "CANARY" not in json.dumps(dict(event.changed))


def test_without_a_share_url_the_mp4_play_url_is_the_recording(client, store, clock):
    post_zoom(client, clock, zoom_recording_completed(UUID, share_url=None, duration=0))
    [event] = stored(store)
    assert event.changed["recording_url"] == "https://example.zoom.us/rec/play/Qg75t7xZBtEbAkjdlgbfdngCCCC"
    assert event.changed["duration_ms"] is None  # Zoom sends 0 when it does not know


def test_no_usable_recording_url_is_400_naming_it(client, store, clock):
    r = post_zoom(client, clock, zoom_recording_completed(UUID, share_url="http://x.example/", recording_files=[]))
    assert (r.status_code, r.get_json()["field"]) == (400, "payload.object.share_url")
    assert stored(store) == []


@pytest.mark.parametrize(
    ("over", "field"),
    [({"host_email": "nobody"}, "payload.object.host_email"), ({"start_time": "2026-11-20T09:00:00"}, "payload.object.start_time"),
     ({"uuid": ""}, "payload.object.uuid"), ({"duration": "42"}, "payload.object.duration")],  # fmt: skip
)
def test_an_unusable_recording_field_is_400_naming_it(client, store, clock, over, field):
    r = post_zoom(client, clock, zoom_recording_completed(UUID, **over))
    assert (r.status_code, r.get_json()["field"]) == (400, field)
    assert stored(store) == []


def test_redelivered_three_times_it_is_stored_once(client, store, clock):
    answers = [post_zoom(client, clock, zoom_recording_completed(UUID)).get_json() for _ in range(3)]
    assert [(a["accepted"], a["duplicates"]) for a in answers] == [(1, 0), (0, 1), (0, 1)]
    assert len(stored(store)) == 1


def test_other_events_are_acknowledged_and_not_stored(client, store, clock):
    r = post_zoom(client, clock, {"event": "meeting.started", "event_ts": 1, "payload": {"object": {"id": 1}}})
    assert (r.status_code, r.get_json()) == (200, {"accepted": 0, "duplicates": 0, "rejected": []})
    assert stored(store) == []


@pytest.mark.parametrize(
    ("secret", "timestamp_offset", "message"),
    [("wrong", 0, "x-zm-signature does not match"), (ZOOM_TOKEN, -301, "more than 300 seconds old"),
     (ZOOM_TOKEN, 301, "more than 300 seconds in the future")],  # fmt: skip
)
def test_a_bad_or_stale_signature_is_401(client, store, clock, secret, timestamp_offset, message):
    r = post_zoom(client, clock, zoom_recording_completed(UUID), secret=secret, timestamp=str(int(clock()) + timestamp_offset))
    assert (r.status_code, r.get_json()["field"]) == (401, "x-zm-signature")
    assert message in r.get_json()["message"]
    assert stored(store) == []


def test_a_millisecond_timestamp_gets_the_same_window(client, store, clock):
    assert post_zoom(client, clock, zoom_recording_completed(UUID), timestamp=str(int(clock() * 1000))).status_code == 200
    assert post_zoom(client, clock, zoom_recording_completed("b"), timestamp=str(int((clock() - 400) * 1000))).status_code == 401


@pytest.mark.parametrize("headers", [{"x-zm-signature": ""}, {"x-zm-request-timestamp": ""}, {"x-zm-request-timestamp": "１２"}])
def test_missing_or_malformed_headers_are_401(client, clock, headers):
    assert post_zoom(client, clock, zoom_recording_completed(UUID), headers=headers).status_code == 401


def test_the_token_picks_the_tenant_and_its_zoom_account_is_checked(make_app, tmp_path, store, clock):
    tenants = tenants_raw()
    tenants[2] |= {"zoom_secret_token_env": "SF_ZOOM", "zoom_account_id": "AAAAAABBBB", "zoom_client_id_env": "ZID",
                   "zoom_client_secret_env": "ZSECRET"}  # fmt: skip
    client = make_app(make_config(tmp_path, tenants=tenants), environ=ENVIRON | {"SF_ZOOM": "sf-token"}).test_client()
    assert post_zoom(client, clock, zoom_recording_completed("u1"), secret="sf-token").status_code == 200
    other_account = zoom_recording_completed("u2")
    other_account["payload"]["account_id"] = "SOMEONEELSE"
    r = post_zoom(client, clock, other_account, secret="sf-token")
    assert (r.status_code, r.get_json()["field"]) == (400, "payload.account_id")
    challenge = post_zoom(client, clock, {"event": "endpoint.url_validation", "payload": {"plainToken": "p"}}, secret="sf-token")
    assert challenge.get_json()["encryptedToken"] == hmac.new(b"sf-token", b"p", hashlib.sha256).hexdigest()
    assert [(e.tenant, e.crm, e.object_id) for e in stored(store)] == [("acme-salesforce", "salesforce", "zoom:u1")]


def test_no_tenant_with_a_zoom_token_is_401(make_app, tmp_path, clock):
    tenants = tenants_raw()
    del tenants[0]["zoom_secret_token_env"]
    client = make_app(make_config(tmp_path, tenants=tenants)).test_client()
    r = post_zoom(client, clock, zoom_recording_completed(UUID))
    assert (r.status_code, r.get_json()["field"]) == (401, "x-zm-signature")
