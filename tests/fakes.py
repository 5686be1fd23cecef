"""Fakes for our own interfaces (the CRM SDKs are tested for real in test_gateway_*)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from integration.commands import Command, Contact, Deal, Outcome, User
from integration.gateway import CommandHandler, CrmError, CrmGateway


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeCrm(CrmGateway):
    """A CRM in memory. `calls` lists (operation, size) in order; `fail_next` raises once."""

    crm: str = "hubspot"
    deals: dict[str, Deal] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    calls: list[tuple[str, int]] = field(default_factory=list)
    written: list = field(default_factory=list)
    fail_next: list[CrmError] = field(default_factory=list)
    reject_keys: dict[str, Outcome] = field(default_factory=dict)

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
        return {}

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
                out.append(Outcome(key=c.key, ok=True, crm_id=f"crm-{len(self.written)}"))
        return out

    def handler_for(self, kind: type[Command]) -> CommandHandler[Any]:
        """Every command type is handled alike: recorded in `written`, answered ok."""
        op = _snake(kind.__name__)
        return CommandHandler(
            send=lambda commands: self._write(op, commands),
            find=lambda commands: {c.key: next((f"crm-{i + 1}" for i, w in enumerate(self.written) if w.key == c.key), None) for c in commands},
        )


def _snake(name: str) -> str:
    """AddNote -> add_notes (the names FakeCrm.calls has always used)."""
    known = {"UpdateFields": "update_fields", "AddCollaborators": "add_collaborators", "CreateTask": "create_tasks", "LogCall": "log_calls", "AddNote": "add_notes"}
    return known.get(name, name)
