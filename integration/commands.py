"""Planned CRM commands and the records rules decide on: plain data, no I/O.

Rules return commands; the worker reserves each command's idempotency `key` in the store
before a gateway executes it, so a re-run of an event never issues the same command twice.
Every command carries the rule that planned it and a human-readable reason (the audit trail).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Mapping


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

    key: str  # deterministic idempotency key, e.g. "threshold#<tenant>#<deal>#<leader>"
    rule: str  # name of the rule that planned it
    reason: str  # one sentence a rep can read: why this happened
    record_id: str  # the deal/opportunity the command is about
    evidence: Mapping[str, Any] = field(default_factory=dict)  # what the rule saw (audit trail)

    @property
    def op(self) -> str:
        return type(self).__name__


@dataclass(frozen=True, kw_only=True)
class UpdateFields(Command):
    object_type: str  # "deal" | "opportunity" | custom object API name
    fields: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class AddCollaborators(Command):
    """Add users to a deal: HubSpot collaborators / Salesforce OpportunityTeamMember."""

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
    """What happened to one command. `retryable` failures are tried again later."""

    key: str
    ok: bool
    crm_id: str | None = None
    error: str | None = None
    retryable: bool = False
    detail: Mapping[str, Any] = field(default_factory=dict)
