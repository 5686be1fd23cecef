"""HubSpot records <-> the port's plain data, and HubSpot's batch answers -> outcomes. No I/O.

Unconvertible values: `amount` is the value rules decide on, so a non-numeric amount raises
`RecordDataError(deal, "amount", ...)` (the worker parks only the events about that deal)
rather than reading as "no amount" and silently planning nothing; so does an `hs_is_closed`
that is neither true nor false (planning on a closed deal would be wrong). The other deal
properties are free text or ids HubSpot validates itself and are taken as they are.
"""
from __future__ import annotations

import html
from dataclasses import replace
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Iterator, Mapping, Sequence, TypeVar

from integration.commands import Command, Deal, Outcome, User
from integration.gateway import RecordDataError
from integration.recordings import CallActivity, TaskState

BATCH_SIZE = 100
COLLABORATORS = "hs_all_collaborator_owner_ids"
DEAL_PROPERTIES = (
    "dealname",
    "amount",
    "deal_currency_code",
    "hubspot_owner_id",
    "dealstage",
    "pipeline",
    "hs_is_closed",
    COLLABORATORS,
)
# Deals matching reads: the rules' properties plus what matching tie-breaks and windows need.
MATCH_DEAL_PROPERTIES = (*DEAL_PROPERTIES, "closedate", "hs_lastmodifieddate")
RECORDING_ID = "gamefilm_recording_id"  # unique-value call property: a recording is attached once
CALL_PROPERTIES = ("hs_call_recording_url", "hs_call_title", "hubspot_owner_id", "hs_timestamp", "hs_call_duration", RECORDING_ID)
TASK_PROPERTIES = ("hs_task_status", "hubspot_owner_id", "hs_timestamp", "hs_task_completion_date")
OBJECT_TYPES = {"deal": "deals", "contact": "contacts", "company": "companies", "task": "tasks", "call": "calls", "note": "notes"}
TASK_PRIORITY = {"HIGH": "HIGH", "NORMAL": "MEDIUM", "MEDIUM": "MEDIUM", "LOW": "LOW"}
MARKER_PREFIX = "Game Film ref "

T = TypeVar("T")


def deal_from_properties(deal_id: str, p: Mapping[str, Any]) -> Deal:
    """A deal from HubSpot property values (the API's, or a webhook's in a dry run)."""
    closed = str(p.get("hs_is_closed") or "").strip().lower()
    if closed not in ("", "true", "false"):
        raise RecordDataError(str(deal_id), "hs_is_closed", f"expected true or false, got {_shape(closed)}")
    return Deal(
        id=str(deal_id),
        amount=_amount(str(deal_id), p.get("amount")),
        currency=p.get("deal_currency_code") or None,
        owner_id=p.get("hubspot_owner_id") or None,
        stage=p.get("dealstage") or None,
        pipeline=p.get("pipeline") or None,
        closed=closed == "true",
        name=p.get("dealname") or None,
        collaborators=frozenset(split_ids(p.get(COLLABORATORS))),
        fields=dict(p),
    )


def match_deal(deal_id: str, p: Mapping[str, Any], account_id: str | None = None) -> Deal | None:
    """A deal with the dates matching needs (close date, last modified) and its company.
    Matching never decides on the amount, so an unreadable one reads as none; a deal whose
    open/closed state is unreadable is left out (None) rather than failing the whole batch."""
    try:
        deal = deal_from_properties(deal_id, p)
    except RecordDataError as exc:
        if exc.field_name != "amount":
            return None
        deal = deal_from_properties(deal_id, {**p, "amount": None})
    return replace(deal, account_id=account_id, closed_at=timestamp(p.get("closedate")), modified_at=timestamp(p.get("hs_lastmodifieddate")))


def call_from_record(record: Any, deal_ids: Sequence[str] = (), contact_ids: Sequence[str] = ()) -> CallActivity:
    p = record.properties or {}
    duration = str(p.get("hs_call_duration") or "").strip()
    return CallActivity(
        id=str(record.id),
        recording_url=p.get("hs_call_recording_url") or None,
        title=p.get("hs_call_title") or None,
        owner_id=p.get("hubspot_owner_id") or None,
        started_at=timestamp(p.get("hs_timestamp")),
        duration_ms=int(duration) if duration.isdigit() else None,
        deal_ids=tuple(deal_ids),
        contact_ids=tuple(contact_ids),
        external_id=p.get(RECORDING_ID) or None,
    )


def task_from_record(record: Any) -> TaskState:
    p = record.properties or {}
    due = timestamp(p.get("hs_timestamp"))
    return TaskState(
        id=str(record.id),
        completed=str(p.get("hs_task_status") or "").upper() == "COMPLETED",
        owner_id=p.get("hubspot_owner_id") or None,
        due=due.date() if due else None,
        completed_at=timestamp(p.get("hs_task_completion_date")),
    )


def timestamp(value: Any) -> datetime | None:
    """A HubSpot datetime value (ISO 8601, or epoch ms as some properties hold) in UTC; None
    when empty or unreadable (dates only order and window matches, they never plan writes)."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromtimestamp(int(text) / 1000, timezone.utc) if text.isdigit() else datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def user_from_owner(owner: Any) -> User:
    name = " ".join(n for n in (owner.first_name, owner.last_name) if n) or None
    return User(id=str(owner.id), name=name, email=owner.email, active=not owner.archived)


def property_value(value: Any) -> str:
    """HubSpot property values are strings; dates as YYYY-MM-DD, datetimes as epoch ms."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return str(int(moment.timestamp() * 1000))
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def rich_text(text: str, marker: str) -> str:
    """Task, call and note bodies are rich text: escaped, line breaks kept, and the command's
    marker as the last line so an unknown outcome can be looked up (`find`)."""
    lines = [html.escape(text).replace("\n", "<br>")] if text else []
    return "<br>".join(lines + [MARKER_PREFIX + marker])


def due_ms(due: date) -> int:
    """Noon UTC on the due date, so the task shows on that calendar day in UTC-11..UTC+11."""
    return int(datetime(due.year, due.month, due.day, 12, tzinfo=timezone.utc).timestamp() * 1000)


def split_ids(value: str | None) -> list[str]:
    return unique(v.strip() for v in (value or "").split(";") if v.strip())


def unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values))


def chunks(items: Sequence[T], size: int = BATCH_SIZE) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def errors_by_key(response: Any, keys: Sequence[str]) -> dict[str, str]:
    """207 errors -> input key (record id or objectWriteTraceId) -> message.

    HubSpot names the failed inputs in `context` (`ids`, `objectWriteTraceId`, ...); an
    error naming none of our keys is charged to every input without a result."""
    errors: dict[str, str] = {}
    wanted = set(keys)
    unattributed: list[str] = []
    for error in getattr(response, "errors", None) or []:
        message = f"{error.category}: {error.message}" if error.category else str(error.message)
        named = {str(v) for values in (error.context or {}).values() for v in values} | ({str(error.id)} if error.id else set())
        hits = named & wanted
        for key in hits:
            errors[key] = message
        if not hits:
            unattributed.append(message)
    if unattributed:
        results = response.results or []
        ok = {str(getattr(r, "id", "")) for r in results} | {str(getattr(r, "object_write_trace_id", "")) for r in results}
        for key in keys:
            if key not in ok and key not in errors:
                errors[key] = "; ".join(unattributed)
    return errors


def created_ids(results: Sequence[Any], trace_ids: Sequence[str]) -> dict[str, str]:
    """Trace id -> new record id; results without a trace id fill the remaining inputs in order."""
    created = {str(r.object_write_trace_id): str(r.id) for r in results if r.object_write_trace_id in trace_ids}
    untraced = iter(str(r.id) for r in results if r.object_write_trace_id not in trace_ids)
    for trace_id in trace_ids:
        if trace_id not in created:
            record_id = next(untraced, None)
            if record_id is None:
                break
            created[trace_id] = record_id
    return created


def outcome(command: Command, crm_id: str | None, error: str | None, detail: Mapping[str, Any] | None = None) -> Outcome:
    if error:
        return Outcome(key=command.key, ok=False, crm_id=crm_id, error=error)
    return Outcome(key=command.key, ok=True, crm_id=crm_id, detail=detail or {})


def _amount(deal_id: str, value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise RecordDataError(deal_id, "amount", f"not a number ({_shape(value)})")
    return amount


def _shape(value: Any) -> str:
    """What a bad value looks like, without the value itself (payload values stay out of logs)."""
    text = str(value)
    return f"{len(text)} characters" if text else "empty"
