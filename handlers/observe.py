"""One structured log line per request (integration.logs.request_line).

Handlers and error handlers `note()` what they learn (tenant, counts, error and field); the
line is written when the response is ready. Field names in the reason are logged only when
they are ours (schema fields, headers): an unknown key in a payload is payload content.
"""
from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from flask import Flask, Response, g, request

from integration import logs


def note(**fields: Any) -> None:
    """Remember facts for this request's log line (None values are ignored)."""
    noted: dict[str, Any] = g.setdefault("log_fields", {})
    for name, value in fields.items():
        if value is not None:
            noted[name] = value


@lru_cache(maxsize=1)
def _known_fields() -> frozenset[str]:
    from integration.normalize import HubSpotEventSchema, SalesforceJsonBatchSchema, SalesforceJsonEventSchema

    names = {"body", "Content-Type", "Content-Length", "X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp",
             "X-GameFilm-Signature", "OrganizationId", "Notification.Id", "_schema",
             "Content-Encoding", "path", "method", "request",
             "taskId", "userEmail", "portalId", "token", "reviewer", "task", "self_assessment", "scores", "strengths",
             "suggestions", "improvement_area", "improvement_note"}  # fmt: skip
    from integration.recording_intake import RecordingBatchSchema, RecordingSchema
    from integration.zoom_intake import ZoomEventSchema, ZoomMeetingSchema, ZoomRecordingPayloadSchema

    names |= {"x-zm-signature", "x-zm-request-timestamp", "payload.plainToken"}
    for schema in (HubSpotEventSchema(), SalesforceJsonBatchSchema(), SalesforceJsonEventSchema(), RecordingSchema(), RecordingBatchSchema(),
                   ZoomEventSchema()):  # fmt: skip
        names.update(f.data_key or name for name, f in schema.fields.items())
    names.update(f"payload.{name}" for name in ZoomRecordingPayloadSchema().fields)
    names.update(f"payload.object.{name}" for name in ZoomMeetingSchema().fields)
    return frozenset(names)


def _reason(noted: dict[str, Any]) -> str | None:
    error = noted.get("error")
    if error is None:
        return None
    field = noted.get("field")
    reason = f"{error} ({field if field in _known_fields() else 'a field of the body'})" if field else error
    # Only 401 messages are noted: they are fixed sentences from integration.signature.
    return f"{reason}: {noted['message']}" if noted.get("message") else reason


def register(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _log(response: Response) -> Response:
        state = vars(g._get_current_object())  # type: ignore[attr-defined]  # one proxy hop, not two
        noted: dict[str, Any] = state.get("log_fields", {})
        started = state.get("started", time.perf_counter())
        req = request._get_current_object()  # type: ignore[attr-defined]
        logs.request_line(
            method=req.method,
            endpoint=req.url_rule.rule if req.url_rule is not None else "(no route)",
            status=response.status_code,
            duration_ms=(time.perf_counter() - started) * 1000,
            tenant=noted.get("tenant"),
            accepted=noted.get("accepted"),
            duplicates=noted.get("duplicates"),
            rejected=noted.get("rejected"),
            dropped=noted.get("dropped"),
            reason=_reason(noted),
        )
        return response
