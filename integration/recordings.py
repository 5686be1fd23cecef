"""Recorded calls: the one shape every recording source becomes, and what the CRMs hold about
calls and review tasks. Plain data, no I/O.

Sources (each normalised to a `Recording`):
- a dialer or recorder posting signed JSON to `/hooks/recordings`;
- Zoom's `recording.completed` webhook on `/hooks/zoom`;
- a CRM call activity: a HubSpot call (object 0-48) with `hs_call_recording_url`, a Salesforce
  Task with `TaskSubtype = 'Call'` and the admin's recording URL field. Its event names the
  call only (object_type "call"); the worker reads the call (`CrmGateway.read_calls`) and
  builds the `Recording` from the `CallActivity`, keeping any deal a person associated.

Events about recordings carry object_type RECORDING_OBJECT and the recording's `external_id`
as object_id; `changed` holds the `Recording` fields (`recording_to_changed`).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, timezone
from typing import Any, Mapping

RECORDING_OBJECT = "recording"  # Event.object_type of a recording from /hooks/recordings or Zoom
CALL_OBJECT = "call"  # Event.object_type of a CRM call activity (HubSpot call, Salesforce call Task)
TASK_OBJECT = "task"  # Event.object_type of a CRM task change (review task completed, ...)
REVIEW_OBJECT = "review"  # Event.object_type of a submitted review (integration.review.submitted)
CALL_REVIEW_SOBJECT = "Call_Review__c"  # the Salesforce object a review is entered on (integration.review_record)

SOURCE_RECORDER = "recorder"  # signed JSON on /hooks/recordings
SOURCE_ZOOM = "zoom"
SOURCE_CRM_CALL = "crm-call"


@dataclass(frozen=True)
class Recording:
    """One recorded call, whatever sent it.

    `external_id` is stable across redeliveries and names its source (`zoom:<meeting uuid>`,
    `rec:<sender's id>`, `hubspot-call:<id>`, `sf-task:<id>`); it becomes the call's external id
    in the CRM, so a recording is attached once. `participants` are lower-cased emails (the rep
    excluded). `consent` None means the sender did not say: the tenant's policy decides.
    """

    external_id: str
    source: str
    recording_url: str
    title: str
    started_at: datetime
    duration_ms: int | None = None
    rep_email: str | None = None
    rep_user_id: str | None = None  # CRM user/owner id, where the source knows it
    participants: tuple[str, ...] = ()
    deal_id: str | None = None  # explicit deal/opportunity id (sender's, or a person's association)
    consent: bool | None = None
    call_id: str | None = None  # the CRM call activity it came from, if any
    contact_ids: tuple[str, ...] = ()  # contacts the CRM call is already associated with


@dataclass(frozen=True)
class CallActivity:
    """A CRM call as read back: HubSpot call engagement / Salesforce Task (TaskSubtype Call)."""

    id: str
    recording_url: str | None
    title: str | None = None
    owner_id: str | None = None
    started_at: datetime | None = None
    duration_ms: int | None = None
    deal_ids: tuple[str, ...] = ()  # deals it is associated with (Salesforce: WhatId if an opportunity)
    contact_ids: tuple[str, ...] = ()  # contacts (Salesforce: WhoId if a contact)
    external_id: str | None = None  # gamefilm_recording_id / GameFilm_Recording_Id__c once attached


@dataclass(frozen=True)
class TaskState:
    """A CRM task as read back (review tasks: completion and due date decide the next step)."""

    id: str
    completed: bool
    owner_id: str | None = None
    due: date | None = None
    completed_at: datetime | None = None


def recording_to_changed(recording: Recording) -> dict[str, Any]:
    """The `Recording` as JSON-ready values, for `Event.changed`."""
    out: dict[str, Any] = {}
    for f in fields(recording):
        value = getattr(recording, f.name)
        if isinstance(value, datetime):
            value = value.astimezone(timezone.utc).isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def recording_from_changed(changed: Mapping[str, Any]) -> Recording:
    """Inverse of `recording_to_changed`; ValueError/KeyError on a malformed mapping."""
    values = dict(changed)
    values["started_at"] = datetime.fromisoformat(values["started_at"])
    for name in ("participants", "contact_ids"):
        values[name] = tuple(values.get(name) or ())
    known = {f.name for f in fields(Recording)}
    return Recording(**{k: v for k, v in values.items() if k in known})


__all__ = [
    "CALL_OBJECT", "RECORDING_OBJECT", "TASK_OBJECT", "SOURCE_CRM_CALL", "SOURCE_RECORDER", "SOURCE_ZOOM",
    "CallActivity", "Recording", "TaskState", "recording_from_changed", "recording_to_changed",
]  # fmt: skip
