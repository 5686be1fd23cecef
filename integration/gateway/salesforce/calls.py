"""Recorded calls and review tasks <-> Salesforce Task records: pure functions, no I/O.

A recording becomes a Task with TaskSubtype 'Call' on the opportunity (what the activity
timeline and activity reports show), keyed by the External ID field GameFilm_Recording_Id__c
so that sending it again updates the same Task. The recording URL goes into the tenant's URL
field (a URL field holds 255 characters: longer links live in Description only).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping
from urllib.parse import urlsplit

from integration.commands import RemindTask, UpsertCall
from integration.gateway.salesforce.mapping import DESCRIPTION_CHARS, sf_date, sf_datetime
from integration.recordings import CallActivity, TaskState

RECORDING_ID_FIELD = "GameFilm_Recording_Id__c"  # Task: Text(255), External ID, Unique
DEFAULT_RECORDING_URL_FIELD = "GameFilm_Recording_URL__c"  # Task: URL, unless the tenant names its own
URL_FIELD_CHARS = 255
OPPORTUNITY_PREFIX = "006"
CONTACT_PREFIX = "003"


def upsert_call_record(command: UpsertCall, url_field: str) -> dict[str, Any]:
    """The Task a recording becomes (upserted on RECORDING_ID_FIELD): a completed call on the
    opportunity, the first contact as its Name."""
    record: dict[str, Any] = {
        "attributes": {"type": "Task"},
        RECORDING_ID_FIELD: command.external_id,
        "Subject": command.title[:255],
        "TaskSubtype": "Call",
        "Status": "Completed",
        "ActivityDate": datetime.fromtimestamp(command.occurred_at_ms / 1000, tz=timezone.utc).date().isoformat(),
        "Description": _described(command.body, command.recording_url),
    }
    if command.record_id:
        record["WhatId"] = command.record_id
    if command.contact_ids:
        record["WhoId"] = command.contact_ids[0]
    if command.owner_id:
        record["OwnerId"] = command.owner_id
    if command.duration_ms is not None:
        record["CallDurationInSeconds"] = round(command.duration_ms / 1000)
    if len(command.recording_url) <= URL_FIELD_CHARS:
        record[url_field] = command.recording_url
    return record


def stamp_call_record(command: UpsertCall) -> dict[str, Any]:
    """An update of a call Task that exists already: the recording id stamped, the deal set
    only when the command says so (a person's association is never changed)."""
    assert command.call_id is not None
    record: dict[str, Any] = {"attributes": {"type": "Task"}, "id": command.call_id, RECORDING_ID_FIELD: command.external_id}
    if command.associate_deal and command.record_id:
        record["WhatId"] = command.record_id
    return record


def _described(body: str, recording_url: str) -> str:
    recording = f"Recording: {recording_url}"
    body = body[: DESCRIPTION_CHARS - len(recording) - 2]
    return f"{body}\n\n{recording}" if body else recording


def call_activity_from_record(record: Mapping[str, Any], url_field: str) -> CallActivity:
    """A call Task as read back. WhatId counts as a deal only when it is an opportunity, WhoId
    as a contact only when it is a contact (a lead's id starts with 00Q). The call's time is
    CreatedDate when logged on the day of ActivityDate, else that day at midnight UTC."""
    what, who = record.get("WhatId") or "", record.get("WhoId") or ""
    duration = record.get("CallDurationInSeconds")
    return CallActivity(
        id=record["Id"],
        recording_url=record.get(url_field) or None,
        title=record.get("Subject"),
        owner_id=record.get("OwnerId"),
        started_at=_call_time(record),
        duration_ms=int(duration) * 1000 if duration is not None else None,
        deal_ids=(what,) if what.startswith(OPPORTUNITY_PREFIX) else (),
        contact_ids=(who,) if who.startswith(CONTACT_PREFIX) else (),
        external_id=record.get(RECORDING_ID_FIELD) or None,
    )


def _call_time(record: Mapping[str, Any]) -> datetime | None:
    created, day = sf_datetime(record.get("CreatedDate")), sf_date(record.get("ActivityDate"))
    if created is not None and (day is None or created.astimezone(timezone.utc).date() == day.date()):
        return created
    return day


def task_state_from_record(record: Mapping[str, Any]) -> TaskState:
    due = sf_date(record.get("ActivityDate"))
    return TaskState(
        id=record["Id"],
        completed=bool(record.get("IsClosed")),
        owner_id=record.get("OwnerId"),
        due=due.date() if due else None,
        completed_at=sf_datetime(record.get("CompletedDateTime")),
    )


# ---- domains ---------------------------------------------------------------------------------


def bare_domain(domain: str) -> str:
    """A domain as compared with an Account Website's host: lower case, no `www.`."""
    return domain.strip().lower().rstrip(".").removeprefix("www.")


def website_host(website: str | None) -> str | None:
    """The host of an Account's Website as people type it (`https://www.acme.com/de`,
    `acme.com`, `WWW.ACME.COM:443`), lower case, without `www.`; None when there is none."""
    text = (website or "").strip()
    if not text:
        return None
    if "//" not in text:
        text = "//" + text
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    return bare_domain(host) if host else None


# ---- review tasks and reminders ----------------------------------------------------------------


def call_link(instance_url: str, task_id: str) -> str:
    """One click from the review task to the call Task (Lightning record page)."""
    return f"{instance_url.rstrip('/')}/lightning/r/Task/{task_id}/view"


def with_call_link(description: str, link: str, recording_url: str | None) -> str:
    lines = [f"Call: {link}"] + ([f"Recording: {recording_url}"] if recording_url else [])
    footer = "\n".join(lines)
    body = description[: DESCRIPTION_CHARS - len(footer) - 2]
    return f"{body}\n\n{footer}" if body else footer


def reminded_description(current: str | None, command: RemindTask) -> str | None:
    """Description with the reminder's note appended once; None when the note is there already
    (a resend, or the same nudge planned again) so nothing is written twice."""
    text = current or ""
    if command.note in text:
        return None
    room = DESCRIPTION_CHARS - len(command.note) - 2
    return f"{text[:room]}\n\n{command.note}" if text else command.note[:DESCRIPTION_CHARS]
