"""Zoom webhooks on `/hooks/zoom`, after the signature picked the tenant. Pure: no Flask, no store.

- `endpoint.url_validation`: answered with the plainToken and its HMAC (Zoom re-validates
  every 72 hours; without the answer it stops delivering).
- `recording.completed`: reduced to the fields `/hooks/recordings` takes (`recording_intake`)
  and stored as one recording, `zoom:<meeting uuid>`. Only those fields are kept: the payload
  also carries the recording passcode and a download token, which the product never needs.
- Any other event: acknowledged, nothing stored.

Participants are not in the webhook: the worker asks Zoom's past-meeting participants API
(`integration.zoom`) when the tenant has server-to-server OAuth credentials.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from integration import limits
from integration.batch import Normalized
from integration.config import Tenant
from integration.recording_intake import ZOOM, https_url, stored_recording

URL_VALIDATION = "endpoint.url_validation"
RECORDING_COMPLETED = "recording.completed"
MAX_PLAIN_TOKEN = 256


class ZoomEventSchema(Schema):
    """The envelope of every Zoom webhook."""

    class Meta:
        unknown = INCLUDE

    event = fields.String(required=True, validate=validate.Length(min=1, max=100))
    event_ts = fields.Integer(strict=True, validate=validate.Range(min=0, max=limits.MAX_EPOCH_MS))
    payload = fields.Dict(required=True)


class ZoomRecordingFileSchema(Schema):
    class Meta:
        unknown = INCLUDE

    file_type = fields.String(allow_none=True)
    play_url = fields.String(allow_none=True)
    recording_type = fields.String(allow_none=True)
    status = fields.String(allow_none=True)


class ZoomMeetingSchema(Schema):
    """`payload.object` of `recording.completed` (the fields the product reads)."""

    class Meta:
        unknown = INCLUDE

    uuid = fields.String(required=True, validate=validate.Length(min=1, max=200))
    id = fields.Integer(strict=True, validate=validate.Range(min=0, max=limits.MAX_ID))
    host_id = fields.String(validate=validate.Length(max=200))
    host_email = fields.Email(required=True, validate=validate.Length(max=254))
    topic = fields.String(validate=validate.Length(max=255), allow_none=True)
    start_time = fields.AwareDateTime(required=True, validate=validate.Range(min=limits.MIN_TIME, max=limits.MAX_TIME))
    duration = fields.Integer(strict=True, validate=validate.Range(min=0, max=7 * 24 * 60), allow_none=True)  # minutes
    share_url = fields.String(allow_none=True)
    recording_files = fields.List(fields.Nested(ZoomRecordingFileSchema), validate=validate.Length(max=200), load_default=list)


class ZoomRecordingPayloadSchema(Schema):
    class Meta:
        unknown = INCLUDE

    account_id = fields.String(validate=validate.Length(max=200))
    object = fields.Nested(ZoomMeetingSchema, required=True)


@dataclass(frozen=True)
class Challenge:
    plain_token: str


def zoom_received(payload: Any, tenant: Tenant) -> Challenge | Normalized:
    """The validation challenge to answer, or what to store (nothing for other events).
    ValidationError names the field (dotted from the body's root) of anything unusable."""
    if not isinstance(payload, dict):
        raise ValidationError("body must be a Zoom event object", "body")
    envelope = _load(ZoomEventSchema(), payload, "")
    event, body = envelope["event"], envelope["payload"]
    if event == URL_VALIDATION:
        token = body.get("plainToken")
        if not isinstance(token, str) or not 1 <= len(token) <= MAX_PLAIN_TOKEN:
            raise ValidationError(f"must be a string of 1 to {MAX_PLAIN_TOKEN} characters", "payload.plainToken")
        return Challenge(token)
    out = Normalized(key_field="payload.object.uuid")
    if event != RECORDING_COMPLETED:
        return out
    data = _load(ZoomRecordingPayloadSchema(), body, "payload.")
    if tenant.zoom_account_id and data.get("account_id") != tenant.zoom_account_id:
        raise ValidationError("is not the Zoom account configured for the signing tenant", "payload.account_id")
    meeting = data["object"]
    fields_: dict[str, Any] = {
        "id": meeting["uuid"],
        "recording_url": _recording_url(meeting),
        "started_at": meeting["start_time"].isoformat(),
        "rep_email": meeting["host_email"],
    }
    if meeting.get("topic"):
        fields_["title"] = meeting["topic"]
    if meeting.get("duration"):  # Zoom documents duration 0 in some recording webhooks: unknown
        fields_["duration_seconds"] = meeting["duration"] * 60
    out.add(0, stored_recording(tenant, ZOOM, fields_))
    return out


def _recording_url(meeting: dict[str, Any]) -> str:
    """The share_url (one link to every file), else the MP4 file's play_url."""
    candidates = [meeting.get("share_url")] + [
        f.get("play_url") for f in meeting["recording_files"] if (f.get("file_type") or "").upper() == "MP4"
    ]
    for url in candidates:
        if isinstance(url, str):
            try:
                https_url(url)
            except ValidationError:
                continue
            return url
    raise ValidationError("no https share_url and no MP4 recording file with an https play_url", "payload.object.share_url")


def _load(schema: Schema, data: dict[str, Any], prefix: str) -> dict[str, Any]:
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise ValidationError({prefix + name: problems for name, problems in _flatten(exc.messages)}) from None


def _flatten(messages: Any, path: str = "") -> list[tuple[str, list[str]]]:
    """{"object": {"start_time": [...]}} -> [("object.start_time", [...])]."""
    if isinstance(messages, dict):
        out: list[tuple[str, list[str]]] = []
        for name, inner in messages.items():
            out.extend(_flatten(inner, f"{path}.{name}" if path else str(name)))
        return out
    return [(path or "body", messages if isinstance(messages, list) else [str(messages)])]
