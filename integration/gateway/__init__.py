"""The CRM port: one narrow interface, a Salesforce, a HubSpot and a dry-run adapter.

Every operation takes many records at once so adapters can batch (HubSpot: 100 per call;
Salesforce sObject Collections: 200 per call, Composite: 25 subrequests per call).
Write operations answer one `Outcome` per command, in order: a per-record failure is
reported per record, never as a failure of the whole batch.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

from integration.events import Event
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


class CrmError(Exception):
    """A whole call failed. `retryable` tells the worker to back off and try again later."""

    def __init__(self, message: str, *, retryable: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class CrmLimitReached(CrmError):
    """The org/portal's API allowance is (nearly) used up: non-urgent work waits."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message, retryable=True, retry_after=retry_after)


@dataclass(frozen=True)
class Finding:
    """One doctor check: what was checked, whether it passed, and how to fix it if not."""

    check: str
    ok: bool
    message: str


class CrmGateway(ABC):
    """What the product needs from a CRM, batched."""

    crm: str

    @abstractmethod
    def read_deals(self, ids: Sequence[str]) -> dict[str, Deal]:
        """Current state of deals/opportunities; ids not found are absent from the result."""

    @abstractmethod
    def read_users(self, ids: Sequence[str]) -> dict[str, User]:
        """Users/owners by id (with manager where the CRM knows it)."""

    @abstractmethod
    def find_contacts(self, emails: Sequence[str]) -> dict[str, Contact]:
        """Contacts by (lower-cased) email address."""

    @abstractmethod
    def open_deals_for_contacts(self, contact_ids: Sequence[str]) -> dict[str, list[Deal]]:
        """Open deals/opportunities each contact is associated with (contact roles in SF)."""

    def read_pipelines(self) -> dict[str, str] | None:
        """Deal pipelines (HubSpot) / Opportunity record types (Salesforce): id -> label.
        None when this adapter cannot tell (the doctor then skips the check)."""
        return None

    def read_currency_rates(self) -> dict[str, Decimal]:
        """Units of corporate currency per unit of each ISO code, where the CRM keeps rates
        (Salesforce multi-currency orgs); empty when it keeps none."""
        return {}

    @abstractmethod
    def update_fields(self, commands: Sequence[UpdateFields]) -> list[Outcome]: ...

    @abstractmethod
    def add_collaborators(self, commands: Sequence[AddCollaborators]) -> list[Outcome]: ...

    @abstractmethod
    def create_tasks(self, commands: Sequence[CreateTask]) -> list[Outcome]: ...

    @abstractmethod
    def log_calls(self, commands: Sequence[LogCall]) -> list[Outcome]: ...

    @abstractmethod
    def add_notes(self, commands: Sequence[AddNote]) -> list[Outcome]: ...

    def learn(self, events: Sequence[Event]) -> None:
        """Adapters that cannot read the CRM (dry run without credentials) take record
        state from the events instead; real adapters ignore this."""

    def check(self) -> list[Finding]:
        """Doctor: authenticate and check the permissions and objects the product needs."""
        return []

    def execute(self, commands: Sequence[Command]) -> list[Outcome]:
        """Run mixed commands, one batch call per operation, outcomes in input order."""
        by_op: dict[str, list[int]] = defaultdict(list)
        for i, command in enumerate(commands):
            by_op[command.op].append(i)
        outcomes: list[Outcome | None] = [None] * len(commands)
        for op, indexes in by_op.items():
            batch = [commands[i] for i in indexes]
            for i, outcome in zip(indexes, self._dispatch(op, batch)):
                outcomes[i] = outcome
        return [o for o in outcomes if o is not None]

    def _dispatch(self, op: str, batch: list) -> list[Outcome]:
        methods = {
            UpdateFields.__name__: self.update_fields,
            AddCollaborators.__name__: self.add_collaborators,
            CreateTask.__name__: self.create_tasks,
            LogCall.__name__: self.log_calls,
            AddNote.__name__: self.add_notes,
        }
        if op not in methods:
            raise ValueError(f"unknown command type {op}")
        outcomes = methods[op](batch)
        if len(outcomes) != len(batch):
            raise RuntimeError(f"{type(self).__name__}.{op}: {len(outcomes)} outcomes for {len(batch)} commands")
        return outcomes
