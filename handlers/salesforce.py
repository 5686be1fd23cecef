"""Salesforce intake: SOAP outbound messages, and signed JSON from Flow/Apex callouts.

Outbound messages carry no signature: the OrganizationId must be a configured org (compared
on its 15-character prefix), and the answer must be Salesforce's exact `Ack` envelope or it
retries for 24 hours.
"""
from __future__ import annotations

from datetime import datetime, timezone
from xml.sax.saxutils import escape

from flask import Blueprint, Response, jsonify, request

from handlers.errors import json_error, parse_json, raw_body, require_content_type, services
from integration.normalize import SoapError, describe, outbound_events, parse_outbound_message, salesforce_json_batch
from integration.signature import SignatureError, verify_gamefilm

bp = Blueprint("salesforce", __name__)

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    "<soapenv:Body>"
    '<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body>"
    "</soapenv:Envelope>"
)


def soap_fault(code: str, message: str, status: int = 500) -> tuple[Response, int]:
    """SOAP 1.1 faults travel with HTTP 500; Salesforce shows the faultstring in its queue."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
        f"<soapenv:Fault><faultcode>soapenv:{code}</faultcode><faultstring>{escape(message)}</faultstring></soapenv:Fault>"
        "</soapenv:Body></soapenv:Envelope>"
    )
    return Response(body, mimetype="text/xml", content_type="text/xml; charset=utf-8"), status


@bp.post("/hooks/salesforce/outbound")
def outbound_message() -> Response | tuple[Response, int]:
    require_content_type("text/xml", "application/soap+xml")
    s = services()
    try:
        message = parse_outbound_message(raw_body())
    except SoapError as exc:
        return json_error(400, "malformed_xml", str(exc), field="body")
    tenant = s.config.salesforce_tenant(message.organization_id)
    if tenant is None:
        return soap_fault("Client", "OrganizationId is not connected to Game Film")
    received = datetime.fromtimestamp(s.clock(), tz=timezone.utc)
    s.intake.accept(outbound_events(message, tenant, received))
    return Response(ACK, content_type="text/xml; charset=utf-8")


@bp.post("/hooks/salesforce/events")
def json_events() -> Response | tuple[Response, int]:
    require_content_type("application/json")
    s = services()
    body = raw_body()
    header = request.headers.get("X-GameFilm-Signature")
    tenant = None
    error = "no Salesforce tenant has a shared secret configured"
    # The signature, not the (unverified) body, decides which org is talking.
    for candidate in (t for t in s.config.tenants if t.crm == "salesforce"):
        secrets = [v for v in (s.secret(n) for n in candidate.shared_secret_envs) if v]
        if not secrets:
            continue
        try:
            verify_gamefilm(secrets=secrets, body=body, header=header, now=s.clock(), tolerance=s.config.intake.signature_tolerance_seconds)
        except SignatureError as exc:
            error = str(exc)
            continue
        tenant = candidate
        break
    if tenant is None:
        return json_error(401, "invalid_signature", error, field="X-GameFilm-Signature")
    batch = salesforce_json_batch(parse_json(body), tenant)
    accepted = s.intake.accept(batch.events)
    return jsonify({"accepted": accepted.new, "duplicates": accepted.duplicates, "rejected": describe(batch.rejected)})
