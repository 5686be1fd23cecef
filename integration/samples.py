"""Correctly signed sample requests, as HubSpot, Salesforce, a recorder and Zoom send them.

Used by `gamefilm send-sample` (a newcomer's one-line demo), the tests and the benchmarks.
"""
from __future__ import annotations

import json
import time
import uuid
from typing import Mapping

from integration.config import Tenant
from integration.signature import gamefilm_header, hubspot_v3_signature, zoom_signature


class SampleError(Exception):
    pass


def hubspot_events(portal_id: str, deal_ids: list[str], amount: str, *, occurred_at_ms: int | None = None) -> list[dict]:
    """A HubSpot webhook array: one `deal.propertyChange` on `amount` per deal."""
    at = occurred_at_ms or int(time.time() * 1000)
    return [
        {
            "eventId": 1_000_000 + i,
            "subscriptionId": 2_101_337,
            "portalId": int(portal_id),
            "appId": 4_242_42,
            "occurredAt": at,
            "subscriptionType": "deal.propertyChange",
            "attemptNumber": 0,
            "objectId": int(deal_id),
            "propertyName": "amount",
            "propertyValue": amount,
            "changeSource": "CRM_UI",
            "sourceId": "userId:1234567",
        }
        for i, deal_id in enumerate(deal_ids)
    ]


def hubspot_headers(secret: str, uri: str, body: bytes, timestamp_ms: int | None = None) -> dict[str, str]:
    ts = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": hubspot_v3_signature(secret, "POST", uri, body, ts),
        "X-HubSpot-Request-Timestamp": ts,
        "X-HubSpot-Signature-Version": "v3",
    }


def outbound_message(org_id: str, notifications: list[tuple[str, str, Mapping[str, str]]], action_id: str = "04k5e000000Demo") -> bytes:
    """A Salesforce outbound message; notifications are (Notification Id, sObject type, fields)."""
    items = "".join(
        f"<Notification><Id>{nid}</Id>"
        f'<sObject xsi:type="sf:{stype}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        + "".join(f"<sf:{k}>{v}</sf:{k}>" for k, v in fields.items())
        + "</sObject></Notification>"
        for nid, stype, fields in notifications
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body>"
        '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{org_id}</OrganizationId><ActionId>{action_id}</ActionId>"
        '<SessionId xsi:nil="true"/>'
        f"<EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/59.0/{org_id[:15]}</EnterpriseUrl>"
        f"<PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/59.0/{org_id[:15]}</PartnerUrl>"
        f"{items}</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


def salesforce_json(org_id: str, events: list[dict]) -> bytes:
    return json.dumps({"organizationId": org_id, "events": events}, separators=(",", ":")).encode()


def recording(deal_id: str | None, now: float) -> dict:
    """One recorded call as a dialer posts it to /hooks/recordings (a new id each time)."""
    body = {
        "id": f"sample-{uuid.uuid4().hex[:12]}", "recording_url": "https://recorder.example.com/r/sample.mp3",
        "title": "Discovery call (sample)", "started_at": _iso(now - 3600), "duration_seconds": 1800,
        "rep_email": "rep@example.com", "participants": ["buyer@client.example"], "consent": True,
    }  # fmt: skip
    return body | ({"deal_id": deal_id} if deal_id else {})


def zoom_recording_completed(account_id: str, now: float) -> dict:
    """Zoom's `recording.completed` (abridged to the fields the product reads; a new meeting each time)."""
    meeting = {
        "uuid": uuid.uuid4().hex[:22] + "==", "id": 85_000_000_000, "account_id": account_id, "host_id": "sampleHost",
        "host_email": "rep@example.com", "topic": "Client demo (sample)", "type": 2, "start_time": _iso(now - 3600),
        "duration": 30, "share_url": "https://example.zoom.us/rec/share/sample",
        "recording_files": [{"file_type": "MP4", "play_url": "https://example.zoom.us/rec/play/sample",
                             "recording_type": "shared_screen_with_speaker_view", "status": "completed"}],
    }  # fmt: skip
    return {"event": "recording.completed", "event_ts": int(now * 1000), "payload": {"account_id": account_id, "object": meeting}}


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def _first_secret(names: tuple[str, ...] | list[str], tenant: Tenant, key: str) -> str:
    secret = next((v for v in (tenant.secret(n) for n in names) if v), None)
    if not secret:
        raise SampleError(f"tenants[{tenant.id}].{key}: set {' or '.join(names) or key} to sign the sample")
    return secret


def build(kind: str, tenant: Tenant, base_url: str, *, deal_id: str, amount: str) -> tuple[str, dict[str, str], bytes]:
    """(path, headers, body) for one sample event to `tenant`, signed with its secret from the environment."""
    now = time.time()
    if kind == "recording":
        signing = _first_secret(tenant.recorder_secret_envs, tenant, "recorder_secret_envs")
        body = json.dumps(recording(deal_id or None, now)).encode()
        return "/hooks/recordings", {"Content-Type": "application/json", "X-GameFilm-Signature": gamefilm_header(signing, body, int(now))}, body
    if kind == "zoom":
        token = _first_secret([tenant.zoom_secret_token_env] if tenant.zoom_secret_token_env else [], tenant, "zoom_secret_token_env")
        body = json.dumps(zoom_recording_completed(tenant.zoom_account_id or "sampleAccount", now)).encode()
        ts = str(int(now))
        return "/hooks/zoom", {"Content-Type": "application/json", "x-zm-request-timestamp": ts, "x-zm-signature": zoom_signature(token, ts, body)}, body
    if kind == "hubspot":
        secret = tenant.secret(tenant.client_secret_env)  # the resolver the server reads: env + SSM
        if not secret:
            raise SampleError(f"set {tenant.client_secret_env} (the HubSpot client secret) to sign the sample")
        path = "/hooks/hubspot"
        body = json.dumps(hubspot_events(tenant.portal_id or "0", [deal_id], amount)).encode()
        return path, hubspot_headers(secret, base_url.rstrip("/") + path, body), body
    opp_id = deal_id if len(deal_id) in (15, 18) else f"006{deal_id:0>12}"[:15]
    if kind == "salesforce-outbound":
        nid = "04l" + uuid.uuid4().hex[:12]
        body = outbound_message(tenant.org_id or "", [(nid, "Opportunity", {"Id": opp_id, "Amount": amount})])
        return "/hooks/salesforce/outbound", {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}, body
    secrets = [tenant.secret(e) for e in tenant.shared_secret_envs]
    secret = next((s for s in secrets if s), None)
    if not secret:
        raise SampleError(f"set {' or '.join(tenant.shared_secret_envs) or 'shared_secret_envs'} to sign the sample")
    body = salesforce_json(
        tenant.org_id or "",
        [{"id": uuid.uuid4().hex, "object": "Opportunity", "recordId": opp_id, "kind": "updated",
          "occurredAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "fields": {"Amount": amount}}],
    )  # fmt: skip
    headers = {"Content-Type": "application/json", "X-GameFilm-Signature": gamefilm_header(secret, body, int(time.time()))}
    return "/hooks/salesforce/events", headers, body
