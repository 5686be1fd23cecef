"""POST /hooks/recordings: recordings a dialer or recorder posts, signed with X-GameFilm-Signature.

The signature picks the tenant (each names its `recorder_secret_envs`), as on
/hooks/salesforce/events. One recording object, or `{"recordings": [...]}`: in a batch a bad
recording is reported in `rejected` and the rest stored; a bad single recording is a 400.
"""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from handlers.errors import InputError, gamefilm_signed_tenant, parse_json, raw_body, require_content_type, services
from handlers.observe import note
from integration.batch import describe
from integration.recording_intake import recordings_received

bp = Blueprint("recordings", __name__)


@bp.post("/hooks/recordings")
def recordings() -> Response | tuple[Response, int]:
    require_content_type("application/json")
    s = services()
    body = raw_body()
    tenant = gamefilm_signed_tenant(body, lambda t: t.recorder_secret_envs, "no tenant has recorder_secret_envs configured")
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
