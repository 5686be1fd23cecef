"""Recordings posted to `/hooks/recordings` (and Zoom's, once reduced to the same fields):
validated, keyed and stored raw at the ack; turned into an `Event` carrying a `Recording` when
the worker reads them back. Pure: no Flask, no store, no clock.

A stored recording's source is `<crm>-recorder` or `<crm>-zoom`: the tenant's CRM comes first,
so `Received.crm` and `Event.crm` are the CRM the recording will be attached in, and nothing
else about the row (or the stores) has to change.

Delivery keys: `rec#<tenant>#<sender's id>` and `zoom#<tenant>#<meeting uuid>`; the sender's id
must be stable across its retries. A redelivery with the same id is a duplicate, even if its
fields differ.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from functools import cache
from typing import Any, Iterator
from urllib.parse import urlsplit

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from integration import events as ev
from integration import limits
from integration.batch import Normalized, Rejected, raw_json
from integration.config import Tenant
from integration.events import Event, Received
from integration.recordings import RECORDING_OBJECT, SOURCE_RECORDER, SOURCE_ZOOM, Recording, recording_to_changed

RECORDER = "recorder"  # source suffix: signed JSON from a dialer or recorder
ZOOM = "zoom"  # source suffix: Zoom's recording.completed
_KINDS = {RECORDER: ("rec", SOURCE_RECORDER), ZOOM: ("zoom", SOURCE_ZOOM)}  # suffix -> (id prefix, Recording.source)
MAX_URL = 2_048
MAX_PARTICIPANTS = 200
DEFAULT_TITLE = "Recorded call"


def source_for(tenant: Tenant, kind: str) -> str:
    """The stored row's source: the tenant's CRM, then the kind (`hubspot-recorder`)."""
    return f"{tenant.crm}-{kind}"


def is_recording_source(source: str) -> bool:
    return source.rpartition("-")[2] in _KINDS


_SPACE = re.compile(r"\s")


def https_url(value: str) -> None:
    """An https:// URL with a host, no whitespace, at most MAX_URL characters."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if len(value) > MAX_URL or parts is None or parts.scheme != "https" or not parts.hostname or _SPACE.search(value):
        raise ValidationError(f"must be an https:// URL with a host, at most {MAX_URL} characters")


class _StrictBoolean(fields.Boolean):
    """true or false only: "yes" or 1 for a consent flag is more likely a mistake than a choice."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if type(value) is not bool:
            raise self.make_error("invalid")
        return value


_CRM_ID = validate.Regexp(r"^[A-Za-z0-9_-]{1,64}$", error="must be a CRM id: 1-64 letters, digits, - or _")
_EMAIL = validate.Length(max=254)


class RecordingSchema(Schema):
    """One recording as a dialer or recorder posts it (`POST /hooks/recordings`)."""

    class Meta:
        unknown = RAISE

    id = fields.String(required=True, validate=validate.Length(min=1, max=255), metadata={"description": "the sender's stable id"})
    recording_url = fields.String(required=True, validate=https_url)
    title = fields.String(validate=validate.Length(max=255), load_default=None, allow_none=True)
    started_at = fields.AwareDateTime(required=True, validate=validate.Range(min=limits.MIN_TIME, max=limits.MAX_TIME),
                                      metadata={"description": "ISO-8601 with an offset"})  # fmt: skip
    duration_seconds = fields.Integer(strict=True, validate=validate.Range(min=0, max=7 * 24 * 3600), load_default=None, allow_none=True)
    rep_email = fields.Email(validate=_EMAIL, load_default=None, allow_none=True)
    rep_user_id = fields.String(validate=_CRM_ID, load_default=None, allow_none=True, metadata={"description": "CRM owner/user id"})
    participants = fields.List(fields.Email(validate=_EMAIL), validate=validate.Length(max=MAX_PARTICIPANTS), load_default=list)
    deal_id = fields.String(validate=_CRM_ID, load_default=None, allow_none=True)
    consent = _StrictBoolean(load_default=None, allow_none=True, metadata={"description": "omitted: the tenant's policy decides"})

    @validates_schema
    def _a_rep(self, data: dict, **_: Any) -> None:
        if not data.get("rep_email") and not data.get("rep_user_id"):
            raise ValidationError("rep_email or rep_user_id is required", "rep_email")


class RecordingBatchSchema(Schema):
    class Meta:
        unknown = RAISE

    recordings = fields.List(fields.Dict(), required=True, validate=validate.Length(min=1, max=limits.MAX_BATCH))


@cache
def _schema(kind: type[Schema]) -> Schema:
    return kind()


def recordings_received(payload: Any, tenant: Tenant) -> tuple[Normalized, bool]:
    """What the ack stores of a post: each valid recording raw with its key, and whether the
    body was a single recording (the caller answers a bad single one with 400, not 200)."""
    if not isinstance(payload, dict):
        raise ValidationError('body must be a recording object or {"recordings": [...]}', "body")
    single = "recordings" not in payload
    out = Normalized(key_field="id")
    items = [payload] if single else _schema(RecordingBatchSchema).load(payload)["recordings"]
    source = source_for(tenant, RECORDER)
    for index, item in _valid(items, out):
        out.add(index, Received(f"rec#{tenant.id}#{item['id']}", tenant.id, source, raw_json(item), item))
    return out, single


def _valid(items: list[Any], out: Normalized) -> Iterator[tuple[int, dict[str, Any]]]:
    for index, item in enumerate(items):
        try:
            _schema(RecordingSchema).load(item)
        except ValidationError as exc:
            out.rejected.append(Rejected(index, "invalid recording", exc.messages))
            continue
        yield index, item


def stored_recording(tenant: Tenant, kind: str, fields_: dict[str, Any]) -> Received:
    """A recording another intake (Zoom) reduced to the posted fields, as the ack stores it."""
    prefix = _KINDS[kind][0]
    return Received(f"{prefix}#{tenant.id}#{fields_['id']}", tenant.id, source_for(tenant, kind), raw_json(fields_), fields_)


def recording_event(source: str, key: str, tenant_id: str, raw: dict[str, Any]) -> Event:
    """The `Event` of a stored recording (the worker's side of the ack)."""
    crm, _, kind = source.rpartition("-")
    data = _schema(RecordingSchema).load(raw)
    recording = to_recording(kind, data)
    started: datetime = data["started_at"]
    return Event(
        key=key,
        tenant=tenant_id,
        crm=crm,
        object_type=RECORDING_OBJECT,
        object_id=recording.external_id,
        kind=ev.CREATED,
        occurred_at=started.astimezone(timezone.utc),
        source_id=data["id"],
        changed=recording_to_changed(recording),
        raw=raw,
    )


def to_recording(kind: str, data: dict[str, Any]) -> Recording:
    """A loaded `RecordingSchema` dict as a `Recording`: emails lower-cased, the rep and
    repeated participants dropped (order kept)."""
    prefix, source = _KINDS[kind]
    rep = (data.get("rep_email") or "").lower() or None
    participants = [p.lower() for p in data.get("participants") or ()]
    duration = data.get("duration_seconds")
    return Recording(
        external_id=f"{prefix}:{data['id']}",
        source=source,
        recording_url=data["recording_url"],
        title=data.get("title") or DEFAULT_TITLE,
        started_at=data["started_at"],
        duration_ms=duration * 1000 if duration is not None else None,
        rep_email=rep,
        rep_user_id=data.get("rep_user_id"),
        participants=tuple(dict.fromkeys(p for p in participants if p != rep)),
        deal_id=data.get("deal_id"),
        consent=data.get("consent"),
    )
