"""Salesforce records <-> the product's records and commands: pure functions, no I/O."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Iterator, Mapping

from integration.commands import AddNote, CreateTask, Deal, LogCall, Outcome, User
from integration.gateway import RecordDataError

IN_LIST_SIZE = 200  # values per SOQL `IN (...)`
IN_LIST_CHARS = 6000  # quoted `IN` list budget: keeps the GET URL far below Salesforce's 16 KB
TEAM_RELATIONSHIP = "OpportunityTeamMembers"
ALREADY_MEMBER_CODES = frozenset({"DUPLICATE_VALUE"})
RETRYABLE_CODES = frozenset({"UNABLE_TO_LOCK_ROW"})
DESCRIPTION_CHARS = 32000  # Task.Description
FEED_BODY_CHARS = 10000  # FeedItem.Body
_PRIORITY = {"HIGH": "High", "NORMAL": "Normal", "LOW": "Low"}


@dataclass(frozen=True)
class Saved:
    """One record's result in a collection call (or the failure of the call that carried it)."""

    id: str | None
    code: str | None = None  # None: success
    error: str | None = None
    retryable: bool = False
    ambiguous: bool = False  # the call carrying it may have been applied

    @property
    def ok(self) -> bool:
        return self.code is None


def deal_from_record(record: Mapping[str, Any], collaborators: frozenset[str] = frozenset()) -> Deal:
    """A deal from an Opportunity: REST JSON values, or an outbound message's text ones
    ("false", "" for nil) in a dry run. An Amount that is not a finite number (a text value
    from a formula or an integration) raises RecordDataError naming the field."""
    return Deal(
        id=record["Id"],
        amount=_amount(record),
        currency=record.get("CurrencyIsoCode") or None,
        owner_id=record.get("OwnerId") or None,
        stage=record.get("StageName") or None,
        pipeline=record.get("RecordTypeId") or None,
        closed=record.get("IsClosed") in (True, "true"),
        name=record.get("Name") or None,
        collaborators=collaborators,
        fields={k: v for k, v in record.items() if k not in ("attributes", TEAM_RELATIONSHIP)},
        account_id=record.get("AccountId") or None,
        closed_at=sf_date(record.get("CloseDate")) if record.get("IsClosed") in (True, "true") else None,
        modified_at=sf_datetime(record.get("LastModifiedDate")),
    )


def _amount(record: Mapping[str, Any]) -> Decimal | None:
    value = record.get("Amount")
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise RecordDataError(record["Id"], "Amount", "expected a number, got a boolean")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise RecordDataError(record["Id"], "Amount", "expected a number, got text") from None
    if not amount.is_finite():
        raise RecordDataError(record["Id"], "Amount", "expected a finite number")
    return amount


def user_from_record(record: Mapping[str, Any]) -> User:
    return User(id=record["Id"], name=record.get("Name"), email=record.get("Email"), manager_id=record.get("ManagerId"), active=bool(record.get("IsActive")))


def in_chunks(values: Iterable[str], *, size: int = IN_LIST_SIZE, overhead: int = 3) -> Iterator[list[str]]:
    """Distinct non-empty values in groups that keep a SOQL `IN` list (or an `OR` of clauses
    costing `overhead` characters each besides the value) short enough for a GET URL."""
    chunk: list[str] = []
    chars = 0
    for value in dict.fromkeys(v for v in values if v):
        cost = len(value) + overhead
        if chunk and (len(chunk) >= size or chars + cost > IN_LIST_CHARS):
            yield chunk
            chunk, chars = [], 0
        chunk.append(value)
        chars += cost
    if chunk:
        yield chunk


def quoted(value: str | list[str]) -> str:
    """A SOQL string literal, or an `IN` list of them, escaped."""
    from simple_salesforce.format import quote_soql_value

    return str(quote_soql_value(value))


def sf_datetime(value: Any) -> datetime | None:
    """A REST dateTime value ("2026-11-02T10:15:00.000+0000") as an aware datetime; None if
    absent or unreadable (a dry run takes values from outbound messages)."""
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def sf_date(value: Any) -> datetime | None:
    """A REST date value ("2026-11-20") as midnight UTC; None if absent or unreadable."""
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.combine(date.fromisoformat(value[:10]), time.min, tzinfo=timezone.utc)
    except ValueError:
        return None


def soql_datetime(moment: datetime) -> str:
    """A SOQL dateTime literal (unquoted, UTC)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- commands -> records ---------------------------------------------------------------


def with_marker(text: str, marker: str, limit: int) -> str:
    """`text` cut to fit `limit` with the command's marker as its last line (how a create
    without an external id is found again)."""
    room = limit - len(marker) - 2
    return f"{text[:room]}\n\n{marker}" if text else marker


def marker_of(text: str | None) -> str | None:
    """The last non-empty line of a Description or Body (where `with_marker` put it)."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else None


def task_record(command: CreateTask) -> dict[str, Any]:
    record: dict[str, Any] = {
        "attributes": {"type": "Task"},
        "WhatId": command.record_id,
        "OwnerId": command.owner_id,
        "Subject": command.subject[:255],
        "Description": command.body[:DESCRIPTION_CHARS],
        "ActivityDate": command.due.isoformat(),
        "Status": "Not Started",
        "Priority": _PRIORITY.get(command.priority.upper(), "Normal"),
    }
    if command.contact_id:
        record["WhoId"] = command.contact_id
    return record


def call_record(command: LogCall) -> dict[str, Any]:
    """A call log: a completed Task with TaskSubtype 'Call' on the opportunity's timeline."""
    record: dict[str, Any] = {
        "attributes": {"type": "Task"},
        "WhatId": command.record_id,
        "Subject": command.title[:255],
        "TaskSubtype": "Call",
        "Status": "Completed",
        "ActivityDate": datetime.fromtimestamp(command.occurred_at_ms / 1000, tz=timezone.utc).date().isoformat(),
        "Description": _call_description(command),
    }
    if command.owner_id:
        record["OwnerId"] = command.owner_id
    if command.duration_ms is not None:
        record["CallDurationInSeconds"] = round(command.duration_ms / 1000)
    return record


def note_record(command: AddNote) -> dict[str, Any]:
    """A Chatter text post on the record's feed, its marker as the last line of the Body."""
    return {"attributes": {"type": "FeedItem"}, "ParentId": command.record_id, "Body": with_marker(command.body, command.marker, FEED_BODY_CHARS)}


def _call_description(call: LogCall) -> str:
    recording = f"Recording: {call.recording_url}"
    body = call.body[: DESCRIPTION_CHARS - len(recording) - 2]
    return f"{body}\n\n{recording}" if body else recording


def sobject_type(object_type: str) -> str:
    return "Opportunity" if object_type.lower() in ("opportunity", "deal") else object_type


def json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


# ---- results -> outcomes -----------------------------------------------------------------


def saved_from(result: Mapping[str, Any]) -> Saved:
    """A SaveResult / UpsertResult of sObject Collections."""
    if result.get("success"):
        return Saved(id=result.get("id"))
    errors = result.get("errors") or [{"statusCode": "UNKNOWN_ERROR", "message": "no error detail"}]
    code = errors[0].get("statusCode", "UNKNOWN_ERROR")
    text = "; ".join(f"{e.get('statusCode')}: {e.get('message')}" for e in errors)
    return Saved(id=result.get("id"), code=code, error=text, retryable=code in RETRYABLE_CODES)


def outcome(key: str, saved: Saved, default_id: str | None = None) -> Outcome:
    if saved.ok:
        return Outcome(key=key, ok=True, crm_id=saved.id or default_id)
    return Outcome(key=key, ok=False, error=saved.error, retryable=saved.retryable, ambiguous=saved.ambiguous)


def collaborators_outcome(key: str, members: Mapping[str, Saved]) -> Outcome:
    """Ok only if every user is on the team now (already being a member counts)."""
    failed = {u: s for u, s in members.items() if not s.ok and s.code not in ALREADY_MEMBER_CODES}
    ids = {u: s.id for u, s in members.items()}
    if failed:
        error = "; ".join(f"user {u}: {s.error}" for u, s in failed.items())
        return Outcome(
            key=key, ok=False, error=error, retryable=all(s.retryable for s in failed.values()),
            ambiguous=any(s.ambiguous for s in failed.values()), detail={"members": ids},
        )  # fmt: skip
    only_id = next(iter(ids.values())) if len(ids) == 1 else None
    return Outcome(key=key, ok=True, crm_id=only_id, detail={"members": ids})
