"""Real-format, really signed requests to the three webhook endpoints, for the edge tests."""
from __future__ import annotations

import json
from typing import Any

from integration import samples
from integration.signature import gamefilm_header
from tests.conftest import HUBSPOT_SECRET, ORG_ID, PORTAL_ID, SF_SECRET

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
