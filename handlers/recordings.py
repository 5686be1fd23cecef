"""POST /hooks/recordings: recordings a dialer or recorder posts, signed with X-GameFilm-Signature.

The signature picks the tenant (each names its `recorder_secret_envs`), as on
/hooks/salesforce/events. One recording object, or `{"recordings": [...]}`: in a batch a bad
recording is reported in `rejected` and the rest stored; a bad single recording is a 400.
"""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from handlers.errors import InputError, json_error, parse_json, raw_body, require_content_type, services
from handlers.observe import note
from integration.batch import describe
from integration.config import Tenant
from integration.recording_intake import recordings_received
from integration.signature import SignatureError, verify_gamefilm

bp = Blueprint("recordings", __name__)


@bp.post("/hooks/recordings")
def recordings() -> Response | tuple[Response, int]:
    require_content_type("application/json")
    s = services()
    body = raw_body()
    header = request.headers.get("X-GameFilm-Signature")
    tenant: Tenant | None = None
    error = "no tenant has recorder_secret_envs configured"
    for candidate in (t for t in s.config.tenants if t.recorder_secret_envs):
        secrets = [v for v in (s.secret(n) for n in candidate.recorder_secret_envs) if v]
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
    note(tenant=tenant.id)
    batch, single = recordings_received(parse_json(body), tenant)
    if single and batch.rejected:
        messages = {str(k) or "(empty name)": v for k, v in (batch.rejected[0].detail or {"body": ["invalid"]}).items()}
        raise InputError(400, "invalid_recording", "; ".join(f"{k}: {v}" for k, v in messages.items()), next(iter(messages)))
    batch.enforce_limits(len(body))
    if single and batch.rejected:  # the one recording is over a storage limit
        field, problems = next(iter((batch.rejected[0].detail or {"body": ["too large"]}).items()))
        raise InputError(400, "too_large", f"{field}: {problems}", str(field))
    accepted = s.intake.accept(batch.events)
    note(accepted=accepted.new, duplicates=accepted.duplicates, rejected=len(batch.rejected))
    return jsonify({"accepted": accepted.new, "duplicates": accepted.duplicates, "rejected": describe(batch.rejected)})
