"""A review submitted by an entry path (HubSpot app card, the review page, a Salesforce
`Call_Review__c` record) checked against the ledger and kept as one raw event. No Flask.

The task a submission answers always comes from the ledger (by CRM task id from the app card,
by call + kind + reviewer from a signed link), never from the form. A valid submission becomes
a `Received` with source `<crm>-review` and the `review.submitted` shape, keyed by
`Submitted.delivery_key`: a resubmission of the same content is one event, an edit a new one.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from integration import events as ev
from integration.batch import raw_json
from integration.config_model import Tenant
from integration.events import Event, Received
from integration.ledger import Assignment, RecordingEntry, ReviewLedger
from integration.recordings import REVIEW_OBJECT
from integration.review.submitted import FROM_SALESFORCE_RECORD, Submitted, submitted_from_changed, submitted_to_changed
from integration.review_record import CALL_FIELD, record_review
from integration.review_form import ReviewTask, SubmissionError, validate_submission
from integration.rubric import Rubric, load_rubric

OPEN_HORIZON = 400 * 86400.0  # open assignments due before now + this: all of them
GAME_FILM = "game_film"  # the rule whose settings carry the rubric
REVIEW = "review"  # source suffix: `hubspot-review`, `salesforce-review`


def source_for(tenant: Tenant) -> str:
    return f"{tenant.crm}-{REVIEW}"


def is_review_source(source: str) -> bool:
    return source.rpartition("-")[2] == REVIEW


def rubric_of(tenant: Tenant) -> Rubric:
    """The tenant's rubric (`[tenants.rules.game_film.rubric]`, validated when the config was
    loaded), else the default: the edge checks what the worker will score."""
    raw = tenant.rules.get(GAME_FILM, {})
    return load_rubric(raw.get("rubric") if isinstance(raw, Mapping) else None, f"tenants[{tenant.id}].rules.{GAME_FILM}.rubric")


Found = tuple[ReviewTask, RecordingEntry]  # the task as validation sees it, and the call it reviews


def _task(ledger: ReviewLedger, tenant: str, assignment: Assignment, field: str) -> Found:
    recording = ledger.get_recordings(tenant, [assignment.external_id]).get(assignment.external_id)
    if recording is None:
        raise SubmissionError(404, {field: "the recorded call of this review task is no longer known"})
    return ReviewTask.of(assignment, recording), recording


def learn_task_ids(ledger: ReviewLedger, tenant: str, action: Callable[[str], Any], now: float) -> int:
    """Record on open assignments the CRM task ids their CreateTask rows got (the outbox is the
    truth of what was created); the hourly tick does the same. Answers how many were learned."""
    learned = []
    for a in ledger.open_assignments(tenant, now + OPEN_HORIZON):
        row = None if a.task_id else action(a.task_key)
        if row is not None and row.crm_id:
            learned.append(replace(a, task_id=str(row.crm_id)))
    if learned:
        ledger.update_assignments(learned, now)
    return len(learned)


def task_by_crm_id(ledger: ReviewLedger, tenant: str, task_id: str, field: str = "taskId",
                   learn: Callable[[], int] | None = None) -> Found:  # fmt: skip
    """The review task behind a CRM task id; SubmissionError 404 naming `field` when none.
    A task created since the last tick is not on its assignment yet: `learn()` records the
    ids the outbox holds, and the lookup is made once more."""
    assignment = ledger.assignments_by_task(tenant, [task_id]).get(task_id)
    if assignment is None and learn is not None and learn():
        assignment = ledger.assignments_by_task(tenant, [task_id]).get(task_id)
    if assignment is None:
        raise SubmissionError(404, {field: "not a Game Film review task"})
    return _task(ledger, tenant, assignment, field)


def task_by_assignment(ledger: ReviewLedger, tenant: str, external_id: str, kind: str, reviewer_id: str, field: str = "token") -> Found:
    """The review task of one (call, kind, reviewer), as a signed link names it."""
    found = ledger.assignments_for(tenant, [external_id]).get(external_id, [])
    assignment = next((a for a in found if a.kind == kind and a.reviewer_id == reviewer_id), None)
    if assignment is None:
        raise SubmissionError(404, {field: "this review task no longer exists"})
    return _task(ledger, tenant, assignment, field)


def accept_submission(
    rubric: Rubric, tenant: Tenant, task: ReviewTask, submitter_id: str, payload: Any, now: float, source: str,
    crm_review_id: str | None = None,
) -> tuple[Submitted, Received]:  # fmt: skip
    """Validate (SubmissionError naming each field) and build the event to store."""
    valid = validate_submission(rubric, task, submitter_id, payload)
    submitted = Submitted(valid, datetime.fromtimestamp(int(now), tz=timezone.utc), source, crm_review_id)  # whole seconds: a retry within the second is one event
    changed = submitted_to_changed(submitted)
    return submitted, Received(submitted.delivery_key(tenant.id), tenant.id, source_for(tenant), raw_json(changed), changed)


def record_received(rubric: Rubric, ledger: ReviewLedger, tenant: Tenant, values: Mapping[str, Any], received_at: float) -> Received:
    """A `Call_Review__c` record's fields as the review event to store; SubmissionError (naming
    the form's fields) or RecordError (the record's) when it is not a valid review."""
    ref = record_review(rubric, values)
    task, _ = task_by_assignment(ledger, tenant.id, ref.call_external_id, ref.kind, ref.reviewer_id, field=CALL_FIELD)
    when = ref.modified_at if ref.modified_at is not None else received_at
    return accept_submission(rubric, tenant, task, ref.reviewer_id, ref.payload, when, FROM_SALESFORCE_RECORD, ref.record_id)[1]


def review_event(source: str, key: str, tenant_id: str, raw: Mapping[str, Any]) -> Event:
    """The `Event` of a stored review (the worker's side of the ack)."""
    submitted = submitted_from_changed(raw)
    return Event(
        key=key,
        tenant=tenant_id,
        crm=source.rpartition("-")[0],
        object_type=REVIEW_OBJECT,
        object_id=submitted.review_id,
        kind=ev.CREATED,
        occurred_at=submitted.submitted_at.astimezone(timezone.utc),
        source_id=submitted.crm_review_id or submitted.review_id,
        changed=dict(raw),
        raw=raw,
    )
