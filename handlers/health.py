from __future__ import annotations

from flask import Blueprint, Response, jsonify

from handlers.errors import RETRY_AFTER_SECONDS, json_error, services
from integration.events import PENDING
from integration.intake import describe_failure

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response | tuple[Response, int]:
    s = services()
    try:
        s.store.list_events(status=PENDING, limit=1)  # one read proves the store answers (all statuses: five on DynamoDB)
    except Exception as exc:  # the store is what acknowledgement depends on
        response, status = json_error(503, "store_unavailable", describe_failure(exc))
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response, status
    return jsonify(
        {
            "status": "ok",
            "store": s.config.store.backend,
            "worker": s.config.worker.mode if s.background is None else getattr(s.background, "kind", "thread"),
            "tenants": [{"id": t.id, "crm": t.crm, "dry_run": t.dry_run} for t in s.config.tenants],
        }
    )
