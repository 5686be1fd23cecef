"""Dry-run adapter: plans are recorded (by the worker, in the action log), never sent.

With a `reader` (a real adapter for a connection with credentials) reads hit the CRM, so a
dry run decides on real records. Without one, it keeps the latest field values seen in the
tenant's events as the record state: enough to show on a fresh machine what would happen.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Sequence

from integration.commands import (
    AddCollaborators,
    AddNote,
    Command,
    Contact,
    CreateTask,
    Deal,
    LogCall,
    Outcome,
    UpdateFields,
    User,
)
from integration.events import Event
from integration.gateway import CrmGateway

# CRM field name -> Deal attribute, for both CRMs.
_DEAL_FIELDS = {
    "amount": "amount", "Amount": "amount",
    "deal_currency_code": "currency", "CurrencyIsoCode": "currency",
    "hubspot_owner_id": "owner_id", "OwnerId": "owner_id",
    "dealstage": "stage", "StageName": "stage",
    "pipeline": "pipeline", "RecordTypeId": "pipeline",
    "dealname": "name", "Name": "name",
    "hs_is_closed": "closed", "IsClosed": "closed",
    "hs_all_collaborator_owner_ids": "collaborators",
}  # fmt: skip


class DryRunGateway(CrmGateway):
    def __init__(self, crm: str, reader: CrmGateway | None = None):
        self.crm = crm
        self.reader = reader
        self._seen: dict[str, dict[str, Any]] = {}

    # --- reads ---------------------------------------------------------------------------
    def learn(self, events: Sequence[Event]) -> None:
        if self.reader is not None:
            return
        for event in sorted(events, key=lambda e: e.occurred_at):
            if event.object_type in ("deal", "opportunity"):
                self._seen.setdefault(event.object_id, {}).update(event.changed)

    def read_deals(self, ids: Sequence[str]) -> dict[str, Deal]:
        if self.reader is not None:
            return self.reader.read_deals(ids)
        return {i: _deal(i, self._seen[i]) for i in ids if i in self._seen}

    def read_users(self, ids: Sequence[str]) -> dict[str, User]:
        return self.reader.read_users(ids) if self.reader else {}

    def find_contacts(self, emails: Sequence[str]) -> dict[str, Contact]:
        return self.reader.find_contacts(emails) if self.reader else {}

    def open_deals_for_contacts(self, contact_ids: Sequence[str]) -> dict[str, list[Deal]]:
        return self.reader.open_deals_for_contacts(contact_ids) if self.reader else {}

    # --- writes: nothing leaves the building -----------------------------------------------
    def update_fields(self, commands: Sequence[UpdateFields]) -> list[Outcome]:
        return _planned(commands)

    def add_collaborators(self, commands: Sequence[AddCollaborators]) -> list[Outcome]:
        return _planned(commands)

    def create_tasks(self, commands: Sequence[CreateTask]) -> list[Outcome]:
        return _planned(commands)

    def log_calls(self, commands: Sequence[LogCall]) -> list[Outcome]:
        return _planned(commands)

    def add_notes(self, commands: Sequence[AddNote]) -> list[Outcome]:
        return _planned(commands)


def _planned(commands: Sequence[Command]) -> list[Outcome]:
    return [Outcome(key=c.key, ok=True, detail={"dry_run": True}) for c in commands]


def _deal(deal_id: str, values: dict[str, Any]) -> Deal:
    attrs: dict[str, Any] = {}
    for name, value in values.items():
        attr = _DEAL_FIELDS.get(name)
        if attr == "amount":
            attrs[attr] = _decimal(value)
        elif attr == "closed":
            attrs[attr] = str(value).lower() == "true"
        elif attr == "collaborators":
            attrs[attr] = frozenset(v for v in str(value or "").split(";") if v)
        elif attr:
            attrs[attr] = value or None
    return Deal(id=deal_id, fields=dict(values), **attrs)


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None
