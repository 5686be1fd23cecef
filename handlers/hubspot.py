"""POST /hooks/hubspot: HubSpot webhook batches signed with X-HubSpot-Signature-v3.

HubSpot retries any 4xx/5xx for up to 24 hours, so events it should not resend (unknown
portal, one bad event in a batch) are answered 200 and reported in the body instead.
"""
from __future__ import annotations

import logging
from urllib.parse import quote

from flask import Blueprint, Request, Response, request

from handlers.errors import InputError, check_depth, json_response, load_json, raw_body, require_content_type, services
from handlers.observe import note
from integration.config_model import IntakeConfig, Tenant
from integration.normalize import describe, hubspot_received
from integration.signature import SignatureError, verify_hubspot_v3

bp = Blueprint("hubspot", __name__)
log = logging.getLogger(__name__)


def hubspot_signed_tenants(body: bytes) -> list[Tenant]:
    """The HubSpot tenants whose app secret signed this request (X-HubSpot-Signature-v3; several
    portals may share one app): the webhook and the app card's backend both start here. 401
    naming the header when no secret matches. Each secret is read once per request."""
    s = services()
    req: Request = request._get_current_object()  # type: ignore[attr-defined]  # one proxy hop, not ten
    tenants = [t for t in s.config.tenants if t.crm == "hubspot"]
    secret_of = {t.id: s.secret(t.client_secret_env) for t in tenants}
    headers = req.headers
    try:
        matched = verify_hubspot_v3(
            secrets=sorted({v for v in secret_of.values() if v}), method=req.method, uri=signed_uri(req, s.config.intake), body=body,
            signature=headers.get("X-HubSpot-Signature-v3"), timestamp=headers.get("X-HubSpot-Request-Timestamp"),
            now=s.clock(), tolerance=s.config.intake.signature_tolerance_seconds,
        )  # fmt: skip
    except SignatureError as exc:
        raise InputError(401, "invalid_signature", str(exc), "X-HubSpot-Signature-v3") from None
    return [t for t in tenants if secret_of[t.id] == matched]


def signed_uri(req: Request, intake: IntakeConfig) -> str:
    """The URI HubSpot called, as HubSpot saw it (not as API Gateway/Lambda rewrote it).

    `intake.public_base_url` (e.g. https://abc.execute-api.us-east-1.amazonaws.com/prod) wins;
    else, behind a proxy, X-Forwarded-Proto/-Host/-Prefix; else the request as received.
    """
    # Bytes that are not UTF-8 cannot be what HubSpot signed: decode them so the check fails cleanly.
    query_string = req.query_string
    query = f"?{query_string.decode('utf-8', 'replace')}" if query_string else ""
    path = quote(req.path, safe="/%:@!$&'()*+,;=-._~")
    if intake.public_base_url:
        return intake.public_base_url.rstrip("/") + path + query
    # Servers that keep the request line as sent (werkzeug, gunicorn) give the exact bytes.
    environ = req.environ
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:  # WSGI hands over the request line's bytes as latin-1 (PEP 3333): recover the text
        raw = raw.encode("latin-1", "replace").decode("utf-8", "replace")
    path_and_query = raw if raw and raw.startswith("/") else req.script_root + path + query
    proto, host, prefix = req.scheme, req.host, ""
    if intake.trust_forwarded:  # the headers as WSGI names them (werkzeug's lookup raises for each absent one)
        proto = environ.get("HTTP_X_FORWARDED_PROTO", proto).split(",")[0].strip()
        host = environ.get("HTTP_X_FORWARDED_HOST", host).split(",")[0].strip()
        prefix = environ.get("HTTP_X_FORWARDED_PREFIX", "").rstrip("/")
    return f"{proto}://{host}{prefix}{path_and_query}"


@bp.post("/hooks/hubspot")
def hubspot_webhook() -> Response:
    require_content_type("application/json")
    s = services()
    body = raw_body()
    signed = hubspot_signed_tenants(body)
    note(tenant=",".join(t.id for t in signed))
    signed_ids = {t.id for t in signed}
    signed_for = lambda tenant: tenant.id in signed_ids  # noqa: E731
    # Parsed without the generic depth walk: the batch check vouches for a flat batch, and
    # `check_depth` runs on anything else before it is looked at.
    batch = hubspot_received(load_json(body), s.config, signed_for, check_depth).enforce_limits(len(body))
    accepted = s.intake.accept(batch.events)
    note(accepted=accepted.new, duplicates=accepted.duplicates, rejected=len(batch.rejected), dropped=len(batch.dropped))
    for dropped in batch.dropped:  # the portal id is payload content: the response names it, the log doesn't
        log.warning("hubspot event %d dropped: no tenant for its portalId", dropped.index)
    return json_response(
        {
            "accepted": accepted.new,
            "duplicates": accepted.duplicates,
            "rejected": describe(batch.rejected),
            "dropped": describe(batch.dropped),
        }
    )
