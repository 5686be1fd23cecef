"""Fakes for our own interfaces (the CRM SDKs are tested for real in test_gateway_*)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Sequence

from integration.commands import Command, Contact, CreateTask, Deal, Outcome, UpsertCall, User
from integration.gateway import CommandHandler, CrmError, CrmGateway
from integration.recordings import CallActivity, TaskState


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeCrm(CrmGateway):
    """A CRM in memory. `calls` lists (operation, size) in order; `fail_next` raises once.

    The org for recordings and reviews: `contacts` (by id), `deal_contacts` (contact id -> deal
    ids it has a role on), `domains` (email domain -> account ids), `activities` (calls by id,
    upserted by UpsertCall on their external id) and `tasks` (created by CreateTask)."""

    crm: str = "hubspot"
    deals: dict[str, Deal] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    calls: list[tuple[str, int]] = field(default_factory=list)
    written: list = field(default_factory=list)
    fail_next: list[CrmError] = field(default_factory=list)
    reject_keys: dict[str, Outcome] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)
    deal_contacts: dict[str, list[str]] = field(default_factory=dict)
    domains: dict[str, list[str]] = field(default_factory=dict)
    activities: dict[str, CallActivity] = field(default_factory=dict)
    tasks: dict[str, TaskState] = field(default_factory=dict)
    id_prefix: str = "crm-"  # "": numeric ids, as HubSpot webhooks carry them

    def _call(self, op: str, n: int) -> None:
        self.calls.append((op, n))
        if self.fail_next:
            raise self.fail_next.pop(0)

    def read_deals(self, ids: Sequence[str]) -> dict[str, Deal]:
        self._call("read_deals", len(ids))
        return {i: self.deals[i] for i in ids if i in self.deals}

    def read_users(self, ids: Sequence[str]) -> dict[str, User]:
        self._call("read_users", len(ids))
        return {i: self.users[i] for i in ids if i in self.users}

    def find_contacts(self, emails: Sequence[str]) -> dict[str, Contact]:
        self._call("find_contacts", len(emails))
        wanted = {e.lower() for e in emails}
        return {c.email.lower(): c for c in self.contacts.values() if c.email and c.email.lower() in wanted}

    def find_users_by_email(self, emails: Sequence[str]) -> dict[str, User]:
        self._call("find_users_by_email", len(emails))
        wanted = {e.lower() for e in emails}
        return {u.email.lower(): u for u in self.users.values() if u.email and u.email.lower() in wanted}

    def find_accounts_by_domain(self, domains: Sequence[str]) -> dict[str, list[str]]:
        self._call("find_accounts_by_domain", len(domains))
        return {d: list(self.domains[d]) for d in domains if d in self.domains}

    def deals_for_contacts(self, contact_ids: Sequence[str], closed_since: datetime) -> dict[str, list[Deal]]:
        self._call("deals_for_contacts", len(contact_ids))
        return {c: [self.deals[d] for d in self.deal_contacts.get(c, []) if d in self.deals and _live(self.deals[d], closed_since)]
                for c in contact_ids}  # fmt: skip

    def deals_for_accounts(self, account_ids: Sequence[str], closed_since: datetime) -> dict[str, list[Deal]]:
        self._call("deals_for_accounts", len(account_ids))
        return {a: [d for d in self.deals.values() if d.account_id == a and _live(d, closed_since)] for a in account_ids}

    def read_calls(self, ids: Sequence[str]) -> dict[str, CallActivity]:
        self._call("read_calls", len(ids))
        return {i: self.activities[i] for i in ids if i in self.activities}

    def read_tasks(self, ids: Sequence[str]) -> dict[str, TaskState]:
        self._call("read_tasks", len(ids))
        return {i: self.tasks[i] for i in ids if i in self.tasks}

    def complete_task(self, task_id: str, at: datetime | None = None) -> None:
        self.tasks[task_id] = replace(self.tasks[task_id], completed=True, completed_at=at or datetime.now(timezone.utc))

    def _apply(self, command: Command, crm_id: str) -> str:
        """What a write does to the org; the CRM id it answers."""
        if isinstance(command, UpsertCall):
            existing = next((a for a in self.activities.values() if a.external_id == command.external_id), None)
            call = existing or (self.activities.get(command.call_id) if command.call_id else None)
            call_id = call.id if call else f"call-{len(self.activities) + 1}"
            deals = call.deal_ids if call else ()
            if command.associate_deal and command.record_id and command.record_id not in deals:
                deals = (*deals, command.record_id)
            self.activities[call_id] = CallActivity(
                call_id, command.recording_url, command.title, command.owner_id,
                datetime.fromtimestamp(command.occurred_at_ms / 1000, tz=timezone.utc), command.duration_ms, deals,
                tuple(dict.fromkeys([*(call.contact_ids if call else ()), *command.contact_ids])), command.external_id,
            )  # fmt: skip
            return call_id
        if isinstance(command, CreateTask):
            self.tasks[crm_id] = TaskState(crm_id, False, command.owner_id, command.due)
        return crm_id

    def open_deals_for_contacts(self, contact_ids: Sequence[str]) -> dict[str, list[Deal]]:
        self._call("open_deals_for_contacts", len(contact_ids))
        return {}

    def _write(self, op: str, commands: Sequence) -> list[Outcome]:
        self._call(op, len(commands))
        out = []
        for c in commands:
            if c.key in self.reject_keys:
                out.append(self.reject_keys[c.key])
            else:
                self.written.append(c)
                out.append(Outcome(key=c.key, ok=True, crm_id=self._apply(c, f"{self.id_prefix}{len(self.written)}")))
        return out

    def handler_for(self, kind: type[Command]) -> CommandHandler[Any]:
        """Every command type is handled alike: recorded in `written`, answered ok."""
        op = _snake(kind.__name__)
        return CommandHandler(
            send=lambda commands: self._write(op, commands),
            find=lambda commands: {c.key: next((f"{self.id_prefix}{i + 1}" for i, w in enumerate(self.written) if w.key == c.key), None) for c in commands},
        )


def _live(deal: Deal, closed_since: datetime) -> bool:
    return not deal.closed or (deal.closed_at is not None and deal.closed_at >= closed_since)


def _snake(name: str) -> str:
    """AddNote -> add_notes (the names FakeCrm.calls has always used)."""
    known = {"UpdateFields": "update_fields", "AddCollaborators": "add_collaborators", "CreateTask": "create_tasks", "LogCall": "log_calls", "AddNote": "add_notes"}
    return known.get(name, name)
