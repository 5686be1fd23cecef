"""The review ledger's DynamoDB items <-> the port's dataclasses (pure; keys documented in
integration/store/dynamodb_ledger.py)."""
from __future__ import annotations

import json

from dataclasses import asdict
from typing import Any

from integration.ledger import OPEN, Assignment, RecordingEntry, ReviewerStats
from integration.store import payload_to_json
from integration.store.dynamodb_table import Item, _attrs, _num, _str

REC = "REC#"
REC_DUE = "RECDUE#"
ASG = "ASG#"
ASG_SET = "ASGSET#"
ASG_OPEN = "ASGOPEN#"
ASG_TASK = "ASGTASK#"
REVIEWER = "REVIEWER#"
ROTATION = "ROTATION#"


def rec_pk(tenant: str, external_id: str) -> str:
    return f"{REC}{tenant}#{external_id}"


def set_pk(tenant: str, external_id: str, kind: str) -> str:
    return f"{ASG_SET}{tenant}#{external_id}#{kind}"


def asg_pk(tenant: str, external_id: str, kind: str, reviewer_id: str) -> str:
    return f"{ASG}{tenant}#{external_id}#{kind}#{reviewer_id}"


def task_pk(tenant: str, task_id: str) -> str:
    return f"{ASG_TASK}{tenant}#{task_id}"


def reviewer_pk(tenant: str, reviewer_id: str) -> str:
    return f"{REVIEWER}{tenant}#{reviewer_id}"


def recording_item(entry: RecordingEntry, now: float, due_at: float | None, expires_at: int) -> Item:
    fields: dict[str, Any] = asdict(entry) | {"updated_at": now}
    fields["recording"] = payload_to_json(entry.recording) if entry.recording else None  # JSON: any shape, one attribute
    fields = {name: (None if value == "" else value) for name, value in fields.items()}  # no empty strings
    return _attrs(
        fields
        | {
            "pk": rec_pk(entry.tenant, entry.external_id),
            "tenant_scope": REC + entry.tenant,
            "status_scope": REC + entry.status,
            "ts": entry.started_at,
            "due_scope": REC_DUE + entry.tenant if due_at is not None else None,
            "due_at": due_at,
            "expires_at": expires_at,
        }
    )


def recording_from_item(item: Item) -> RecordingEntry:
    return RecordingEntry(
        tenant=item["tenant"]["S"],
        external_id=item["external_id"]["S"],
        status=item["status"]["S"],
        rep_user_id=_str(item, "rep_user_id"),
        deal_id=_str(item, "deal_id"),
        recording_url=_str(item, "recording_url") or "",
        title=_str(item, "title") or "",
        started_at=_num(item, "started_at"),
        match_attempts=int(_num(item, "match_attempts")),
        next_match_at=_num(item, "next_match_at"),
        peers_due_at=_num(item, "peers_due_at"),
        updated_at=_num(item, "updated_at"),
        recording=json.loads(_str(item, "recording") or "{}"),
    )


def assignment_fields(a: Assignment, now: float) -> dict[str, Any]:
    """The mutable part, with the sparse `due` index keys present only while the task is open."""
    return {
        "status": a.status,
        "task_id": a.task_id,
        "last_nudged_day": a.last_nudged_day,
        "completed_at": a.completed_at,
        "updated_at": now,
        "due_scope": ASG_OPEN + a.tenant if a.status == OPEN else None,
        "due_at": a.due_at if a.status == OPEN else None,
    }


def assignment_item(a: Assignment, now: float, expires_at: int) -> Item:
    return _attrs(
        {
            "pk": asg_pk(a.tenant, a.external_id, a.kind, a.reviewer_id),
            "tenant": a.tenant,
            "external_id": a.external_id,
            "reviewer_id": a.reviewer_id,
            "kind": a.kind,
            "task_key": a.task_key,
            "due": a.due_at,  # `due_at` is the index key, removed once the task is no longer open
            "assigned_at": a.assigned_at,
            "expires_at": expires_at,
            **assignment_fields(a, now),
        }
    )


def assignment_from_item(item: Item) -> Assignment:
    return Assignment(
        tenant=item["tenant"]["S"],
        external_id=item["external_id"]["S"],
        reviewer_id=item["reviewer_id"]["S"],
        kind=item["kind"]["S"],
        task_key=item["task_key"]["S"],
        due_at=_num(item, "due"),
        status=item["status"]["S"],
        assigned_at=_num(item, "assigned_at"),
        task_id=_str(item, "task_id"),
        last_nudged_day=_str(item, "last_nudged_day"),
        completed_at=_num(item, "completed_at") if "completed_at" in item else None,
    )


def stats_from_item(item: Item) -> ReviewerStats:
    return ReviewerStats(
        reviewer_id=item["reviewer_id"]["S"],
        last_assigned_at=_num(item, "last_assigned_at") if "last_assigned_at" in item else 0.0,
        week=_str(item, "week") or "",
        week_count=int(_num(item, "week_count")) if "week_count" in item else 0,
        reviewed_calls=int(_num(item, "reviewed_calls")) if "reviewed_calls" in item else 0,
        overdue_since=_num(item, "overdue_since") if "overdue_since" in item else None,
        assigned_total=int(_num(item, "assigned_total")) if "assigned_total" in item else 0,
    )
