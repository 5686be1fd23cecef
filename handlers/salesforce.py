"""Salesforce intake: SOAP outbound messages, and signed JSON from Flow/Apex callouts.

Outbound messages carry no signature: the OrganizationId must be a configured org (compared
on its 15-character prefix), and the answer must be Salesforce's exact `Ack` envelope or it
retries for 24 hours.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from flask import Blueprint, Response, jsonify

from handlers.errors import gamefilm_signed_tenant, json_error, parse_json, raw_body, require_content_type, services
from handlers.observe import note
from handlers.reviews import salesforce_reviews
from integration.batch import Rejected
from integration.normalize import SoapError, describe, outbound_received, parse_outbound_message, salesforce_json_received
from integration.recordings import CALL_REVIEW_SOBJECT

bp = Blueprint("salesforce", __name__)
log = logging.getLogger(__name__)

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    "<soapenv:Body>"
    '<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body>"
    "</soapenv:Envelope>"
)


@bp.post("/hooks/salesforce/outbound")
def outbound_message() -> Response | tuple[Response, int]:
    require_content_type("text/xml", "application/soap+xml")
    s = services()
    body = raw_body()
    try:
        message = parse_outbound_message(body)
    except SoapError as exc:
        return json_error(400, "malformed_xml", str(exc), field="body")
    tenant = s.config.salesforce_tenant(message.organization_id)
    if tenant is None:
        # Not a SOAP fault: those travel as HTTP 500, and no input earns a 5xx here. Salesforce
        # treats any answer but the Ack as a failed delivery either way.
        return json_error(403, "unknown_organization", "OrganizationId is not connected to Game Film", field="OrganizationId")
    note(tenant=tenant.id)
    # Call_Review__c records are reviews: checked against the ledger here, stored as review events.
    records = [values for _, sobject, values in message.notifications if sobject == CALL_REVIEW_SOBJECT]
    message = replace(message, notifications=[n for n in message.notifications if n[1] != CALL_REVIEW_SOBJECT])
    reviews, refused = salesforce_reviews(tenant, records)
    batch = outbound_received(message, tenant).enforce_limits(len(body))
    events: list[Any] = [*batch.events, *reviews]
    accepted = s.intake.accept(events)
    note(accepted=accepted.new, duplicates=accepted.duplicates, rejected=len(batch.rejected) + len(refused))
    for rejected in batch.rejected:  # acked anyway: Salesforce would resend it for 24 hours
        log.warning("salesforce notification %d not stored: %s", rejected.index, rejected.reason)
    for index, problems in refused.items():  # field names only: the record's text is the reviewer's
        log.warning("Call_Review__c %d of the message not stored: invalid %s", index, ", ".join(sorted(problems)))
    return Response(ACK, content_type="text/xml; charset=utf-8")


@bp.post("/hooks/salesforce/events")
def json_events() -> Response | tuple[Response, int]:
    require_content_type("application/json")
    s = services()
    body = raw_body()
    tenant = gamefilm_signed_tenant(
        body, lambda t: t.shared_secret_envs if t.crm == "salesforce" else (), "no Salesforce tenant has a shared secret configured"
    )
    note(tenant=tenant.id)
    batch = salesforce_json_received(parse_json(body), tenant).enforce_limits(len(body))
    # A Call_Review__c event is a review: checked against the ledger, stored as a review event,
    # or reported in `rejected` with every field at fault (the Flow can show it).
    is_review = [e.raw.get("object") == CALL_REVIEW_SOBJECT for e in batch.events]
    records = [{"Id": e.raw.get("recordId"), **(e.raw.get("fields") or {})} for e, r in zip(batch.events, is_review) if r]
    reviews, refused = salesforce_reviews(tenant, records)
    review_indexes = [i for i, r in zip(batch.indexes, is_review) if r]
    rejected = batch.rejected + [Rejected(review_indexes[n], "invalid review", {f: [m] for f, m in p.items()}) for n, p in refused.items()]
    events: list[Any] = [e for e, r in zip(batch.events, is_review) if not r] + reviews
    accepted = s.intake.accept(events)
    note(accepted=accepted.new, duplicates=accepted.duplicates, rejected=len(rejected))
    rejected.sort(key=lambda r: r.index)
    return jsonify({"accepted": accepted.new, "duplicates": accepted.duplicates, "rejected": describe(rejected)})
