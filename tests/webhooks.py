"""Real-format, really signed requests to the three webhook endpoints, for the edge tests."""
from __future__ import annotations

import json
from typing import Any

from integration import samples
from integration.signature import gamefilm_header, zoom_signature
from tests.conftest import HUBSPOT_SECRET, ORG_ID, PORTAL_ID, REC_SECRET, SF_SECRET, ZOOM_TOKEN

HUBSPOT_URI = "http://localhost/hooks/hubspot"
SOAP = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


def hubspot_events(n: int = 1, **over: Any) -> list[dict]:
    events = samples.hubspot_events(PORTAL_ID, [str(5000 + i) for i in range(n)], "150000", occurred_at_ms=1_795_000_000_000)
    return [e | over for e in events]


def json_event(i: int = 1, **over: Any) -> dict:
    return {"id": f"0065e00000AbCdEAAV-{i}", "object": "Opportunity", "recordId": "0065e00000AbCdEAAV",
            "kind": "updated", "occurredAt": "2026-11-20T10:00:00Z", "fields": {"Amount": 130000}, **over}  # fmt: skip


def notification(nid: str = "04l5e000000AAA1AAG", **values: str) -> tuple[str, str, dict[str, str]]:
    return nid, "Opportunity", {"Id": "0065e00000AbCdEAAV", "Amount": "120000.0", **values}


def post_hubspot(client, clock, body: bytes | list, *, secret: str = HUBSPOT_SECRET, headers: dict | None = None, **kw):
    body = body if isinstance(body, bytes) else json.dumps(body).encode()
    signed = samples.hubspot_headers(secret, HUBSPOT_URI, body, int(clock() * 1000))
    return client.post("/hooks/hubspot", data=body, headers=signed | (headers or {}), **kw)


def post_outbound(client, body: bytes | list, *, org: str = ORG_ID, headers: dict | None = None, **kw):
    body = body if isinstance(body, bytes) else samples.outbound_message(org, body)
    return client.post("/hooks/salesforce/outbound", data=body, headers=SOAP | (headers or {}), **kw)


def post_sf_json(client, clock, body: bytes | list, *, secret: str = SF_SECRET, org: str = ORG_ID,
                 headers: dict | None = None, **kw):  # fmt: skip
    body = body if isinstance(body, bytes) else samples.salesforce_json(org, body)
    signed = {"Content-Type": "application/json", "X-GameFilm-Signature": gamefilm_header(secret, body, int(clock()))}
    return client.post("/hooks/salesforce/events", data=body, headers=signed | (headers or {}), **kw)


# --- recording sources ----------------------------------------------------------------------------
def recording(i: int = 1, **over: Any) -> dict:
    """One recording as a dialer posts it to /hooks/recordings."""
    return {"id": f"call-{i}", "recording_url": f"https://recorder.example.com/r/{i}.mp3", "title": "Discovery call",
            "started_at": "2026-11-20T10:00:00+01:00", "duration_seconds": 1800, "rep_email": "Rep@Acme.example",
            "participants": ["Buyer@Client.example", "rep@acme.example", "cfo@client.example"], **over}  # fmt: skip


def post_recordings(client, clock, body: bytes | dict | list, *, secret: str = REC_SECRET, headers: dict | None = None, **kw):
    body = body if isinstance(body, bytes) else json.dumps(body).encode()
    signed = {"Content-Type": "application/json", "X-GameFilm-Signature": gamefilm_header(secret, body, int(clock()))}
    return client.post("/hooks/recordings", data=body, headers=signed | (headers or {}), **kw)


def zoom_recording_completed(meeting_uuid: str = "4444AAAiAAAAAiAiAiiAii==", **over: Any) -> dict:
    """Zoom's recording.completed as documented (abridged to one MP4 and one audio file)."""
    meeting = {
        "uuid": meeting_uuid, "id": 6840331990, "account_id": "AAAAAABBBB", "host_id": "z8yAAAAA8bbbQ", "topic": "Acme / Client demo",
        "type": 2, "start_time": "2026-11-20T09:00:00Z", "timezone": "America/New_York", "host_email": "Rep@Acme.example",
        "duration": 42, "total_size": 529758, "recording_count": 2, "password": "CANARY-passcode",
        "share_url": "https://example.zoom.us/rec/share/Qg75t7xZBtEbAkjdlgbfdngBBBB",
        "recording_files": [
            {"id": "ed6c2f27-2ae7-42f4-b3d0-835b493e4fa8", "meeting_id": "098765ABCD", "recording_start": "2026-11-20T09:00:05Z",
             "recording_end": "2026-11-20T09:42:00Z", "file_type": "MP4", "file_size": 282825, "file_extension": "MP4",
             "play_url": "https://example.zoom.us/rec/play/Qg75t7xZBtEbAkjdlgbfdngCCCC",
             "download_url": "https://example.zoom.us/rec/download/Qg75t7xZBtEbAkjdlgbfdngCCCC",
             "status": "completed", "recording_type": "shared_screen_with_speaker_view"},
            {"id": "7dc2f27-2ae7-42f4-b3d0-835b493e4fa8", "meeting_id": "098765ABCD", "recording_start": "2026-11-20T09:00:05Z",
             "recording_end": "2026-11-20T09:42:00Z", "file_type": "M4A", "file_size": 246560, "file_extension": "M4A",
             "play_url": "https://example.zoom.us/rec/play/Qg75t7xZBtEbAkjdlgbfdngDDDD",
             "download_url": "https://example.zoom.us/rec/download/Qg75t7xZBtEbAkjdlgbfdngDDDD",
             "status": "completed", "recording_type": "audio_only"},
        ],
    }  # fmt: skip
    return {"event": "recording.completed", "event_ts": 1_795_000_000_000, "download_token": "CANARY-download-token",
            "payload": {"account_id": "AAAAAABBBB", "object": meeting | over}}  # fmt: skip


def post_zoom(client, clock, body: bytes | dict, *, secret: str = ZOOM_TOKEN, timestamp: str | None = None,
              headers: dict | None = None, **kw):  # fmt: skip
    body = body if isinstance(body, bytes) else json.dumps(body).encode()
    ts = timestamp if timestamp is not None else str(int(clock()))
    signed = {"Content-Type": "application/json; charset=utf-8", "x-zm-request-timestamp": ts, "x-zm-signature": zoom_signature(secret, ts, body)}
    return client.post("/hooks/zoom", data=body, headers=signed | (headers or {}), **kw)
