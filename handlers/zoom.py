"""POST /hooks/zoom: Zoom webhooks, verified with `x-zm-signature` against each tenant's
`zoom_secret_token_env` (the matching token picks the tenant, and signs the URL validation
answer). `recording.completed` stores one recording; other events are acknowledged and dropped.

Zoom retries a delivery that is not answered 200/204 within 3 seconds, so this path only
verifies, validates and stores.
"""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from handlers.errors import json_error, parse_json, raw_body, require_content_type, services
from handlers.observe import note
from integration.batch import describe
from integration.signature import SignatureError, verify_zoom, zoom_challenge
from integration.zoom_intake import Challenge, zoom_received

bp = Blueprint("zoom", __name__)


@bp.post("/hooks/zoom")
def zoom_webhook() -> Response | tuple[Response, int]:
    require_content_type("application/json")
    s = services()
    body = raw_body()
    tenants = [t for t in s.config.tenants if t.zoom_secret_token_env]
    secret_of = {t.id: s.secret(t.zoom_secret_token_env) for t in tenants}  # read once per request
    secrets = [v for v in secret_of.values() if v]
    if not secrets:
        return json_error(401, "invalid_signature", "no tenant has zoom_secret_token_env configured", field="x-zm-signature")
    try:
        matched = verify_zoom(
            secrets=secrets,
            body=body,
            signature=request.headers.get("x-zm-signature"),
            timestamp=request.headers.get("x-zm-request-timestamp"),
            now=s.clock(),
            tolerance=s.config.intake.signature_tolerance_seconds,
        )
    except SignatureError as exc:
        return json_error(401, "invalid_signature", str(exc), field="x-zm-signature")
    tenant = next(t for t in tenants if secret_of[t.id] == matched)
    note(tenant=tenant.id)
    outcome = zoom_received(parse_json(body), tenant)
    if isinstance(outcome, Challenge):
        return jsonify({"plainToken": outcome.plain_token, "encryptedToken": zoom_challenge(matched, outcome.plain_token)})
    batch = outcome.enforce_limits(len(body))
    accepted = s.intake.accept(batch.events)
    note(accepted=accepted.new, duplicates=accepted.duplicates, rejected=len(batch.rejected))
    return jsonify({"accepted": accepted.new, "duplicates": accepted.duplicates, "rejected": describe(batch.rejected)})
