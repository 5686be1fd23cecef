"""The CRM port: one narrow interface, a Salesforce, a HubSpot and a dry-run adapter.

Reads take many records at once so adapters can batch (HubSpot: 100 per call; Salesforce
sObject Collections: 200 per call, Composite: 25 subrequests per call).

Writes are commands handled by type (cosmicpython's COMMAND_HANDLERS): each adapter maps each
`Command` class it supports to one `CommandHandler` (batching inside the handler). Adding a
CRM operation is the command dataclass plus one handler per CRM; `execute` and `reconcile`
are written once, here. A handler answers one `Outcome` per command, in order; a failure of
one command type never discards the outcomes of another.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Generic, Mapping, Sequence, TypeVar

from integration.commands import Command, Contact, Deal, Outcome, User
from integration.events import Event
from integration.recordings import CallActivity, TaskState

C = TypeVar("C", bound=Command)


class CrmError(Exception):
    """A whole call failed. `retryable`: back off and try again later. `ambiguous`: the CRM
    may have applied the request (5xx or connection lost after sending, read timeout)."""

    def __init__(self, message: str, *, retryable: bool = False, retry_after: float | None = None, ambiguous: bool = False):
        super().__init__(message)
        self.retryable = retryable or ambiguous
        self.retry_after = retry_after
        self.ambiguous = ambiguous


class CrmLimitReached(CrmError):
    """The org/portal's API allowance is (nearly) used up: non-urgent work waits."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message, retryable=True, retry_after=retry_after)


class RecordDataError(CrmError):
    """A record's value could not be converted (e.g. a non-numeric amount): only the events
    about that record are parked, with a message naming the field."""

    def __init__(self, record_id: str, field_name: str, message: str):
        super().__init__(f"record {record_id}: field {field_name}: {message}", retryable=False)
        self.record_id = record_id
        self.field_name = field_name


@dataclass(frozen=True)
class Finding:
    """One doctor check: what was checked, whether it passed, and how to fix it if not."""

    check: str
    ok: bool
    message: str


@dataclass(frozen=True)
class CommandHandler(Generic[C]):
    """How one CRM carries out one command type.

    `send` runs a batch and answers one Outcome per command, in order.
    `find` (required for non-idempotent commands) looks commands up in the CRM after an unknown
    outcome: key -> CRM id where the effect exists, None where it certainly does not; it raises
    CrmError when it cannot tell (the command then stays unknown and is looked up again later).
    """

    send: Callable[[Sequence[C]], list[Outcome]]
    find: Callable[[Sequence[C]], dict[str, str | None]] | None = None


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

    # ---- reads for matching recordings and running reviews (batched: one search per kind,
    # never one per recording). Adapters that cannot answer raise CrmError.

    def find_users_by_email(self, emails: Sequence[str]) -> dict[str, User]:
        """Active and inactive users/owners by (lower-cased) email."""
        raise CrmError(f"{self.crm}: finding users by email is not supported")

    def find_accounts_by_domain(self, domains: Sequence[str]) -> dict[str, list[str]]:
        """Account (Salesforce) / company (HubSpot) ids by lower-cased email domain."""
        raise CrmError(f"{self.crm}: finding accounts by domain is not supported")

    def deals_for_contacts(self, contact_ids: Sequence[str], closed_since: datetime) -> dict[str, list[Deal]]:
        """Deals each contact has a role on (Salesforce OpportunityContactRole) / is associated
        with (HubSpot), open or closed on/after `closed_since`; with owner, team, account,
        close and modified dates."""
        raise CrmError(f"{self.crm}: reading deals of contacts is not supported")

    def deals_for_accounts(self, account_ids: Sequence[str], closed_since: datetime) -> dict[str, list[Deal]]:
        """Deals of each account/company, open or closed on/after `closed_since`."""
        raise CrmError(f"{self.crm}: reading deals of accounts is not supported")

    def deals_for_matching(
        self, contact_ids: Sequence[str], account_ids: Sequence[str], deal_ids: Sequence[str], closed_since: datetime
    ) -> tuple[dict[str, list[Deal]], dict[str, list[Deal]], dict[str, Deal]]:
        """Every deal matching a batch of recordings may look at, asked at once: by contact and by
        account (as the two reads above) and the explicit ids (as `read_deals`). Adapters that can
        read them together override it (HubSpot: one deals read for all three)."""
        by_contact = self.deals_for_contacts(contact_ids, closed_since) if contact_ids else {}
        by_account = self.deals_for_accounts(account_ids, closed_since) if account_ids else {}
        return by_contact, by_account, (self.read_deals(deal_ids) if deal_ids else {})

    def read_calls(self, ids: Sequence[str]) -> dict[str, CallActivity]:
        """Call activities by id (HubSpot calls / Salesforce call Tasks), with associations."""
        raise CrmError(f"{self.crm}: reading calls is not supported")

    def read_tasks(self, ids: Sequence[str]) -> dict[str, TaskState]:
        """Tasks by id: completed or not, owner, due date."""
        raise CrmError(f"{self.crm}: reading tasks is not supported")

    def read_changed_records(self, sobject: str, fields: Sequence[str], since: datetime, limit: int) -> list[dict[str, Any]]:
        """Records of `sobject` modified at or after `since` (SystemModstamp), oldest first: the
        poll for editions without outbound messages (e.g. `Call_Review__c`)."""
        raise CrmError(f"{self.crm}: polling changed records is not supported")

    def handlers(self) -> Mapping[type[Command], CommandHandler[Any]]:
        """The command types this CRM supports, each with its handler (empty: none)."""
        return {}

    def handler_for(self, kind: type[Command]) -> CommandHandler[Any] | None:
        """The handler `execute` and `reconcile` use for a command type. Adapters that treat
        every type alike (the dry run, test fakes) override this instead of `handlers`."""
        return self.handlers().get(kind)

    def read_pipelines(self) -> dict[str, str] | None:
        """Deal pipelines (HubSpot) / Opportunity record types (Salesforce): id -> label.
        None when this adapter cannot tell (the doctor then skips the check)."""
        return None

    def read_currency_rates(self) -> dict[str, Decimal]:
        """Units of corporate currency per unit of each ISO code, where the CRM keeps rates
        (Salesforce multi-currency orgs); empty when it keeps none."""
        return {}

    def learn(self, events: Sequence[Event]) -> None:
        """Adapters that cannot read the CRM (dry run without credentials) take record
        state from the events instead; real adapters ignore this."""

    def check(self) -> list[Finding]:
        """Doctor: authenticate and check the permissions and objects the product needs."""
        return []

    def close(self) -> None:
        """Drop pooled connections (tests and short-lived CLI runs)."""

    # ---- written once for every adapter ------------------------------------------------

    def execute(self, commands: Sequence[Command]) -> list[Outcome]:
        """Run mixed commands, one handler call per command type, outcomes in input order.

        A handler that raises fails only its own commands (ambiguous if the error says the
        CRM may have applied them); the other types' outcomes are kept."""
        outcomes: list[Outcome | None] = [None] * len(commands)
        for kind, indexes in _by_type(commands).items():
            batch = [commands[i] for i in indexes]
            handler = self.handler_for(kind)
            if handler is None:
                results = [Outcome.failed(c, f"{self.crm} cannot carry out {c.op}") for c in batch]
            else:
                try:
                    results = handler.send(batch)
                except CrmError as exc:
                    results = [Outcome.failed(c, str(exc), retryable=exc.retryable, ambiguous=exc.ambiguous) for c in batch]
                if len(results) != len(batch):
                    raise RuntimeError(f"{type(self).__name__}: {len(results)} outcomes for {len(batch)} {kind.__name__} commands")
            for i, outcome in zip(indexes, results):
                outcomes[i] = outcome
        return [o for o in outcomes if o is not None]

    def reconcile(self, commands: Sequence[Command]) -> dict[str, str | None]:
        """After an unknown outcome: key -> CRM id if the effect exists, None if it does not.

        Idempotent commands are never looked up (they are simply sent again: None). Keys of
        types whose lookup failed are left out: they stay unknown and are looked up later."""
        found: dict[str, str | None] = {}
        for kind, indexes in _by_type(commands).items():
            batch = [commands[i] for i in indexes]
            handler = self.handler_for(kind)
            if kind.idempotent or handler is None:
                found.update({c.key: None for c in batch})
                continue
            if handler.find is None:
                raise RuntimeError(f"{type(self).__name__}: {kind.__name__} creates records but has no lookup")
            try:
                found.update(handler.find(batch))
            except CrmError:
                continue
        return found


def _by_type(commands: Sequence[Command]) -> dict[type[Command], list[int]]:
    by_type: dict[type[Command], list[int]] = defaultdict(list)
    for i, command in enumerate(commands):
        by_type[type(command)].append(i)
    return by_type
