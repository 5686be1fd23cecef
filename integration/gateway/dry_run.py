"""Dry-run adapter: plans are recorded (by the worker, in the action log), never sent.

With a `reader` (a real adapter for a connection with credentials) reads hit the CRM, so a
dry run decides on real records. Without one, it keeps the latest field values seen in the
tenant's events as the record state: enough to show on a fresh machine what would happen;
the batched reads of the review loop then answer nothing found (never "not supported"), so
recordings stay unmatched and hourly ticks settle instead of failing.
"""
from __future__ import annotations

import threading
from datetime import datetime
from typing import Any, Sequence

from integration.commands import Command, Contact, Deal, Outcome, User
from integration.events import Event
from integration.gateway import CommandHandler, CrmGateway
from integration.recordings import CallActivity, TaskState


class DryRunGateway(CrmGateway):
    def __init__(self, crm: str, reader: CrmGateway | None = None):
        self.crm = crm
        self.reader = reader
        self._seen: dict[str, dict[str, Any]] = {}
        # Deals built from `_seen`, until an event changes their fields: the same deal is
        # read batch after batch, its mapping (amount parsing & co.) was most of the read.
        self._deals: dict[str, Deal] = {}
        # Batches of one tenant may run side by side: a deal built from fields another batch
        # is changing must never be kept after that change.
        self._lock = threading.Lock()

    # --- reads ---------------------------------------------------------------------------
    def learn(self, events: Sequence[Event]) -> None:
        if self.reader is not None:
            return
        with self._lock:
            for event in sorted(events, key=lambda e: e.occurred_at):
                if event.object_type in ("deal", "opportunity"):
                    seen = self._seen.setdefault(event.object_id, {})
                    if not all(_same(seen.get(name, _ABSENT), value) for name, value in event.changed.items()):
                        self._deals.pop(event.object_id, None)
                    seen.update(event.changed)

    def read_deals(self, ids: Sequence[str]) -> dict[str, Deal]:
        if self.reader is not None:
            return self.reader.read_deals(ids)
        with self._lock:
            deals = self._deals
            for i in ids:
                if i in self._seen and i not in deals:
                    deals[i] = self._deal(i, self._seen[i])  # a RecordDataError is raised (and not kept) each time
            return {i: deals[i] for i in ids if i in deals}

    def _deal(self, deal_id: str, seen: dict[str, Any]) -> Deal:
        if self.crm == "hubspot":
            from integration.gateway.hubspot import deal_from_properties

            return deal_from_properties(deal_id, seen)
        from integration.gateway.salesforce import deal_from_record

        return deal_from_record({**seen, "Id": deal_id})

    def read_users(self, ids: Sequence[str]) -> dict[str, User]:
        return self.reader.read_users(ids) if self.reader else {}

    def find_contacts(self, emails: Sequence[str]) -> dict[str, Contact]:
        return self.reader.find_contacts(emails) if self.reader else {}

    def open_deals_for_contacts(self, contact_ids: Sequence[str]) -> dict[str, list[Deal]]:
        return self.reader.open_deals_for_contacts(contact_ids) if self.reader else {}

    def find_users_by_email(self, emails: Sequence[str]) -> dict[str, User]:
        return self.reader.find_users_by_email(emails) if self.reader else {}

    def find_accounts_by_domain(self, domains: Sequence[str]) -> dict[str, list[str]]:
        return self.reader.find_accounts_by_domain(domains) if self.reader else {}

    def deals_for_contacts(self, contact_ids: Sequence[str], closed_since: datetime) -> dict[str, list[Deal]]:
        return self.reader.deals_for_contacts(contact_ids, closed_since) if self.reader else {}

    def deals_for_accounts(self, account_ids: Sequence[str], closed_since: datetime) -> dict[str, list[Deal]]:
        return self.reader.deals_for_accounts(account_ids, closed_since) if self.reader else {}

    def read_calls(self, ids: Sequence[str]) -> dict[str, CallActivity]:
        return self.reader.read_calls(ids) if self.reader else {}

    def read_tasks(self, ids: Sequence[str]) -> dict[str, TaskState]:
        return self.reader.read_tasks(ids) if self.reader else {}

    # --- writes: nothing leaves the building -----------------------------------------------
    def handler_for(self, kind: type[Command]) -> CommandHandler[Any]:
        """Every command type is recorded (by the worker, in the action log) and never sent;
        a lookup finds nothing, so an unknown outcome is simply recorded again."""
        return _RECORDED


_ABSENT = object()


def _same(old: Any, new: Any) -> bool:
    """Whether learning `new` over `old` leaves the field as it was: only text or nulls are
    compared (1 == True == 1.0, and containers may hide such pairs: those always count as new)."""
    return (type(old) is type(new) is str and old == new) or (old is None and new is None)


def _planned(commands: Sequence[Command]) -> list[Outcome]:
    return [Outcome(key=c.key, ok=True, detail={"dry_run": True}) for c in commands]


_RECORDED: CommandHandler[Any] = CommandHandler(send=_planned, find=lambda commands: {c.key: None for c in commands})
