"""Planned CRM commands and the records rules decide on: plain data, no I/O.

Rules return commands; the worker writes each to the outbox (the action log) under its
idempotency `key` before a gateway sends it, so a re-run of an event never issues the same
command twice and a command once planned is finished even if the rule would no longer plan it.
Every command carries the rule that planned it and a human-readable reason (the audit trail).

Exactly once, per kind of command:
- `idempotent = True` (setting fields, adding a team member/collaborator): sending twice has
  the effect of sending once, so a command whose outcome is unknown is simply sent again.
- `idempotent = False` (creates: tasks, calls, notes): a command whose outcome is unknown is
  looked up first (`CrmGateway.reconcile`, by external id or by the `marker` it wrote), and
  sent again only when the CRM certainly does not have it.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Mapping


@dataclass(frozen=True)
class Deal:
    """An opportunity (Salesforce) or deal (HubSpot), read at processing time.

    `collaborators` are HubSpot collaborator owner ids or Salesforce team member user ids.
    `amount` is in `currency` (the record's own); conversion is the rules' business.
    """

    id: str
    amount: Decimal | None = None
    currency: str | None = None
    owner_id: str | None = None
    stage: str | None = None
    pipeline: str | None = None  # HubSpot pipeline id; Salesforce RecordTypeId
    closed: bool = False
    name: str | None = None
    collaborators: frozenset[str] = frozenset()
    fields: Mapping[str, Any] = field(default_factory=dict)
    account_id: str | None = None  # Salesforce AccountId; HubSpot primary associated company id
    closed_at: datetime | None = None  # close date of a closed deal (matching keeps those closed <= 14 days before a call)
    modified_at: datetime | None = None  # last modified (matching's last tie-break)


@dataclass(frozen=True)
class User:
    """A CRM user (Salesforce User / HubSpot owner)."""

    id: str
    name: str | None = None
    email: str | None = None
    manager_id: str | None = None
    active: bool = True


@dataclass(frozen=True)
class Contact:
    id: str
    email: str | None = None
    name: str | None = None
    account_id: str | None = None  # Salesforce AccountId; HubSpot primary company (associatedcompanyid)


@dataclass(frozen=True, kw_only=True)
class Command:
    """Base of every planned CRM command."""

    idempotent: ClassVar[bool] = False  # True: safe to resend when the outcome is unknown

    key: str  # deterministic idempotency key naming the intent, e.g. "threshold#<tenant>#<deal>#<tier>#<leader>"
    rule: str  # name of the rule that planned it
    reason: str  # one sentence a rep can read: why this happened
    record_id: str  # the deal/opportunity the command is about
    evidence: Mapping[str, Any] = field(default_factory=dict)  # what the rule saw (audit trail)
    # Set by the outbox, never stored: an idempotent command sent before whose outcome is unknown.
    # A handler with a cheaper first-time path (e.g. a create that relies on the CRM refusing a
    # repeat) takes its safe path for these.
    resend: bool = field(default=False, compare=False, repr=False)

    @property
    def op(self) -> str:
        return type(self).__name__

    @property
    def marker(self) -> str:
        """A short, stable reference derived from the key, written into what a create makes
        (an external id field, or the body's last line) so an unknown outcome can be looked up."""
        return marker_for(self.key)


def marker_for(key: str) -> str:
    return "gf-" + hashlib.sha256(key.encode()).hexdigest()[:20]


@dataclass(frozen=True, kw_only=True)
class UpdateFields(Command):
    idempotent: ClassVar[bool] = True

    object_type: str  # "deal" | "opportunity" | custom object API name
    fields: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class AddCollaborators(Command):
    """Add users to a deal: HubSpot collaborators / Salesforce OpportunityTeamMember."""

    idempotent: ClassVar[bool] = True

    user_ids: tuple[str, ...]
    role: str | None = None  # Salesforce TeamMemberRole
    access_level: str | None = None  # Salesforce OpportunityAccessLevel: Read | Edit | All


@dataclass(frozen=True, kw_only=True)
class CreateTask(Command):
    owner_id: str
    subject: str
    body: str
    due: date
    priority: str = "NORMAL"  # HIGH | NORMAL | LOW (mapped per CRM)
    contact_id: str | None = None
    # The Game Film recording id of a call this task is about (review tasks): the gateway
    # associates the task with that call (HubSpot) / links it in the body (Salesforce).
    call_external_id: str | None = None
    # The call's CRM id when already known (its attach command's outcome): no lookup by call_external_id.
    call_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class UpsertCall(Command):
    """Attach a recording to a deal as a call activity, once: upserted on the recording's
    external id (HubSpot unique property `gamefilm_recording_id`; Salesforce External ID
    `GameFilm_Recording_Id__c` on Task), then associated with the deal and contacts. Sending it
    twice has the effect of sending it once, so it is idempotent. `record_id` is the deal.

    `call_id` set: the call already exists in the CRM (it came from a CRM call activity); it is
    updated (recording id stamped) and associated with the deal only when `associate_deal`."""

    idempotent: ClassVar[bool] = True

    external_id: str
    owner_id: str | None
    title: str
    recording_url: str
    occurred_at_ms: int
    duration_ms: int | None = None
    body: str = ""
    contact_ids: tuple[str, ...] = ()
    call_id: str | None = None
    associate_deal: bool = True


@dataclass(frozen=True, kw_only=True)
class RemindTask(Command):
    """One in-CRM reminder on an open review task (HubSpot task reminder / Salesforce task
    reminder), with the rule and reason appended to the task so the nudge explains itself.
    Idempotent: setting the same reminder twice is one reminder. `record_id` is the deal."""

    idempotent: ClassVar[bool] = True

    task_id: str
    remind_at_ms: int
    note: str


@dataclass(frozen=True, kw_only=True)
class UpsertRecord(Command):
    """Insert or update one record of `object_type` matched on an External ID field (e.g. a
    Salesforce `Rep_Scorecard__c` per rep on `GameFilm_Rep_Key__c`). Sending it twice has the
    effect of sending it once, so it is idempotent. `record_id` is the record it is about."""

    idempotent: ClassVar[bool] = True

    object_type: str
    id_field: str
    id_value: str
    fields: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class ShareRecord(Command):
    """Give one user access to one record of a Private object (a Salesforce manual share:
    `<Object>__Share` with ParentId = `record_id`, UserOrGroupId = `user_id`, RowCause Manual),
    e.g. a rep reading the `Call_Review__c` of their own call. Salesforce updates the existing
    manual share of the same record and user instead of adding a second, so it is idempotent."""

    idempotent: ClassVar[bool] = True

    share_object: str  # the share object's API name, e.g. "Call_Review__Share"
    user_id: str
    access_level: str = "Read"  # Read | Edit


@dataclass(frozen=True, kw_only=True)
class LogCall(Command):
    owner_id: str | None
    title: str
    recording_url: str
    occurred_at_ms: int
    duration_ms: int | None = None
    body: str = ""


@dataclass(frozen=True, kw_only=True)
class AddNote(Command):
    """A note (HubSpot) or Chatter post (Salesforce) on the record, so the rep sees why."""

    body: str


@dataclass(frozen=True)
class Outcome:
    """What happened to one command.

    `retryable` failures are tried again later. `ambiguous` failures (a 5xx or a dropped
    connection after the request was sent, a read timeout) may have been applied by the CRM:
    a create is reconciled before it is sent again, never blindly re-sent.
    """

    key: str
    ok: bool
    crm_id: str | None = None
    error: str | None = None
    retryable: bool = False
    ambiguous: bool = False
    detail: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def failed(cls, command: "Command", error: str, *, retryable: bool = False, ambiguous: bool = False) -> "Outcome":
        return cls(key=command.key, ok=False, error=error, retryable=retryable or ambiguous, ambiguous=ambiguous)


# --- the outbox codec: a command <-> the JSON payload of its action row --------------------
# A command is rebuilt from its action row (never re-planned), so every field must survive the
# trip. Values that JSON has no type for are tagged ({"$decimal": "1.5"}); plain JSON stays plain,
# so the action log stays readable. `key`, `rule`, `reason`, `record_id` live in their own columns.
_ROW_FIELDS = ("key", "rule", "reason", "record_id")


def command_types() -> dict[str, type[Command]]:
    """Every concrete command class by its `op` (the class name), subclasses included."""
    found: dict[str, type[Command]] = {}
    pending = list(Command.__subclasses__())
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


_LAYOUTS: dict[type, tuple[tuple[str, ...], frozenset[str]]] = {}


def _layout(cls: type[Command]) -> tuple[tuple[str, ...], frozenset[str]]:
    """(payload field names, those typed as tuples) of a command class, worked out once."""
    if cls not in _LAYOUTS:
        names = tuple(f.name for f in fields(cls) if f.name not in _ROW_FIELDS and f.name != "resend")
        _LAYOUTS[cls] = names, frozenset(f.name for f in fields(cls) if str(f.type).startswith("tuple["))
    return _LAYOUTS[cls]


def command_payload(command: Command) -> dict[str, Any]:
    """The fields of `command` that are not row columns, as JSON-ready values (a field typed
    as a tuple is stored as a plain list: its type says how to read it back)."""
    names, tuples = _layout(type(command))
    payload = {}
    for name in names:
        value = getattr(command, name)
        payload[name] = [_encode(v) for v in value] if name in tuples and type(value) is tuple else _encode(value)
    return payload


def command_from_row(op: str, *, key: str, rule: str, reason: str, record_id: str, payload: Mapping[str, Any]) -> Command:
    """Rebuild a command from its action row; ValueError names an unknown op."""
    cls = command_types().get(op)
    if cls is None:
        raise ValueError(f"unknown command op {op!r}")
    _, tuples = _layout(cls)
    values = {name: _decode(value) for name, value in payload.items()}
    values.update({name: tuple(v) for name, v in values.items() if name in tuples and isinstance(v, list)})
    return cls(key=key, rule=rule, reason=reason, record_id=record_id, **values)


_PLAIN = (str, int, float, bool, type(None))


def _encode(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict or isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    if kind is list:
        return [_encode(v) for v in value]
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"$set": sorted((_encode(v) for v in value), key=repr)}
    if isinstance(value, (str, int, float)):  # subclasses (enums and the like)
        return value
    raise TypeError(f"cannot store a {kind.__name__} in a command payload")


_DECODERS: dict[str, Any] = {
    "$decimal": Decimal,
    "$datetime": datetime.fromisoformat,
    "$date": date.fromisoformat,
    "$tuple": lambda items: tuple(_decode(v) for v in items),
    "$set": lambda items: frozenset(_decode(v) for v in items),
}


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            (tag, inner), = value.items()
            if tag in _DECODERS:
                return _DECODERS[tag](inner)
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value
