"""The review loop's CRM commands, built from decided facts. Pure: no I/O, no clock.

Keys name the intent, so redeliveries, retries and two workers plan each effect once:
`call#<tenant>#<external id>`, `review#<tenant>#<external id>#self`,
`review#<tenant>#<external id>#peer#<reviewer>`, `nudge#<tenant>#<task key>#<YYYY-MM-DD>`.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Mapping, Sequence

from integration.commands import CreateTask, RemindTask, UpsertCall
from integration.ledger import Assignment, RecordingEntry
from integration.recordings import Recording
from integration.review.settings import GameFilmSettings

RULE = "game_film"


def call_key(tenant: str, external_id: str) -> str:
    return f"call#{tenant}#{external_id}"


def self_key(tenant: str, external_id: str) -> str:
    return f"review#{tenant}#{external_id}#self"


def peer_key(tenant: str, external_id: str, reviewer: str) -> str:
    return f"review#{tenant}#{external_id}#peer#{reviewer}"


def nudge_key(tenant: str, task_key: str, day: str) -> str:
    return f"nudge#{tenant}#{task_key}#{day}"


def business_days_after(start: date, days: int) -> date:
    """The date `days` working days (Mon-Fri) after `start`."""
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def end_of(day: date) -> float:
    """Epoch seconds when `day` ends (UTC): a task due that day is overdue after this."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=timezone.utc).timestamp()


def utc_day(ts: float) -> date:
    return datetime.fromtimestamp(ts, tz=timezone.utc).date()


def upsert_call(
    tenant: str, recording: Recording, deal_id: str, owner_id: str | None, contact_ids: Sequence[str], reason: str,
    evidence: Mapping[str, object], *, associate_deal: bool,
) -> UpsertCall:  # fmt: skip
    return UpsertCall(
        key=call_key(tenant, recording.external_id),
        rule=f"{RULE}:attach",
        reason=reason,
        record_id=deal_id,
        evidence=dict(evidence),
        external_id=recording.external_id,
        owner_id=owner_id,
        title=recording.title,
        recording_url=recording.recording_url,
        occurred_at_ms=int(recording.started_at.timestamp() * 1000),
        duration_ms=recording.duration_ms,
        body=f"Game Film recording: {recording.recording_url}",
        contact_ids=tuple(contact_ids),
        call_id=recording.call_id,
        associate_deal=associate_deal,
    )


_IN_CRM = {
    "hubspot": "Submit your review with the Game Film review card on the deal (it completes this task).",
    "salesforce": "Submit your review with the Call Review quick action on the opportunity (it completes this task).",
}


def _rubric(settings: GameFilmSettings, review_url: str | None, crm: str) -> str:
    """The rubric's criteria, the scale and how to submit: the one-click signed link to the
    review page, else the tenant's own form (`submit_url`), else the CRM's own form (the app
    card on the deal / the Call Review quick action on the opportunity)."""
    rubric = settings.rubric
    lines = "\n".join(f"- {c.label}: {c.description}" if c.description else f"- {c.label}" for c in rubric.criteria)
    if review_url:
        how = f"Open your review form: {review_url}"
    elif settings.submit_url:
        how = f"Submit your review here: {settings.submit_url}"
    else:
        how = _IN_CRM.get(crm, "Submit your review with the Game Film review form on this record (it completes this task).")
    return f"Score the call from {rubric.scale_min} to {rubric.scale_max} on each rubric criterion:\n{lines}\n{how}"


def self_task(
    tenant: str, entry: RecordingEntry, assignment: Assignment, settings: GameFilmSettings, call_id: str | None = None,
    review_url: str | None = None, crm: str = "",
) -> CreateTask:  # fmt: skip
    body = (
        f"Listen back to your call \"{entry.title}\": {entry.recording_url}\n"
        f"{_rubric(settings, review_url, crm)}\n"
        "Then name the one area you will improve on your next call. Peers review the call after you."
    )
    return CreateTask(
        key=assignment.task_key,
        rule=f"{RULE}:self-assessment",
        reason="Self-assessment first: the rep who ran the call listens back and scores it before peers do.",
        record_id=entry.deal_id or "",
        evidence={"recording": entry.external_id, "rep": assignment.reviewer_id},
        owner_id=assignment.reviewer_id,
        subject=f"Game film: self-assess your call \"{entry.title}\"",
        body=body,
        due=utc_day(assignment.due_at - 1),
        call_external_id=entry.external_id,
        call_id=call_id,
    )


def peer_task(
    tenant: str, entry: RecordingEntry, assignment: Assignment, settings: GameFilmSettings, skipped: Mapping[str, str],
    call_id: str | None = None, review_url: str | None = None, crm: str = "",
) -> CreateTask:
    body = (
        f"Listen to the call \"{entry.title}\": {entry.recording_url}\n"
        f"{_rubric(settings, review_url, crm)}\n"
        "Feedback: what went well first, then one or two suggestions at most."
    )
    reason = (
        f"Peer review by rotation: {assignment.reviewer_id} was next in turn (least recently assigned, under the weekly"
        f" cap of {settings.weekly_cap}, never the rep)."
    )
    return CreateTask(
        key=assignment.task_key,
        rule=f"{RULE}:peer-review",
        reason=reason,
        record_id=entry.deal_id or "",
        evidence={"recording": entry.external_id, "rep": entry.rep_user_id, "reviewer": assignment.reviewer_id,
                  "skipped": dict(sorted(skipped.items()))},  # fmt: skip
        owner_id=assignment.reviewer_id,
        subject=f"Game film: review a teammate's call \"{entry.title}\"",
        body=body,
        due=utc_day(assignment.due_at - 1),
        call_external_id=entry.external_id,
        call_id=call_id,
    )


def reminder(tenant: str, entry: RecordingEntry | None, assignment: Assignment, now: float) -> RemindTask:
    """One reminder on the overdue task itself (the click that does the thing), saying which
    rule fired and the due date; keyed by the day, so at most one a day."""
    due = utc_day(assignment.due_at - 1).isoformat()
    what = "self-assessment" if assignment.kind == "self" else "peer review"
    note = (
        f"Game Film reminder (rule: overdue review task; the same for everyone): this {what} was due on {due}."
        " Open this task, listen to the recording and enter your scores."
    )
    return RemindTask(
        key=nudge_key(tenant, assignment.task_key, utc_day(now).isoformat()),
        rule=f"{RULE}:overdue",
        reason=f"Review task overdue since {due}: one reminder a day at most.",
        record_id=(entry.deal_id if entry else None) or "",
        evidence={"recording": assignment.external_id, "reviewer": assignment.reviewer_id, "due": due, "task_key": assignment.task_key},
        task_id=assignment.task_id or "",
        remind_at_ms=int(now * 1000),
        note=note,
    )
