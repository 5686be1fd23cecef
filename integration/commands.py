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
from dataclasses import dataclass, field
from datetime import date
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


@dataclass(frozen=True, kw_only=True)
class Command:
    """Base of every planned CRM command."""

    idempotent: ClassVar[bool] = False  # True: safe to resend when the outcome is unknown

    key: str  # deterministic idempotency key naming the intent, e.g. "threshold#<tenant>#<deal>#<tier>#<leader>"
    rule: str  # name of the rule that planned it
    reason: str  # one sentence a rep can read: why this happened
    record_id: str  # the deal/opportunity the command is about
    evidence: Mapping[str, Any] = field(default_factory=dict)  # what the rule saw (audit trail)

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
