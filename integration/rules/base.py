"""What every rule is made of: the `Rule` interface, what it needs read (`Needs`) and the
state it decides on (`State`). Pure data and interfaces; no I/O, no config at run time."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from marshmallow import Schema

from integration.events import Event, Received

if TYPE_CHECKING:  # commands are what rules return at run time, not what loading one needs
    from integration.commands import Command, Deal, User
    from integration.config import Tenant
    from integration.gateway import CrmGateway, Finding
    from integration.ledger import ReviewLedger
    from integration.store import Action

# Event.object_type of the synthetic hourly event of rules that run on a clock (`Rule.ticks`).
TICK_OBJECT = "tick"


@dataclass(frozen=True)
class Needs:
    """What a rule must read before planning: deals, users, and how far up manager chains."""

    deal_ids: tuple[str, ...] = ()
    user_ids: tuple[str, ...] = ()
    owner_manager_levels: int = 0  # read each deal owner's managers this many levels up
    currency_rates: bool = False  # read the CRM's exchange rates


@dataclass(frozen=True)
class State:
    """Current CRM records, read at processing time (never the event's possibly stale values)."""

    deals: Mapping[str, Deal] = field(default_factory=dict)
    users: Mapping[str, User] = field(default_factory=dict)
    rates: Mapping[str, Decimal] = field(default_factory=dict)  # corporate units per unit of ISO code
    prepared: Mapping[str, Any] = field(default_factory=dict)  # rule name -> what its `prepare` answered

    def managers(self, user_id: str | None, levels: int) -> list[str]:
        """The user's manager chain, nearest first, as far as it was read."""
        chain: list[str] = []
        current = self.users.get(user_id or "")
        while current and current.manager_id and len(chain) < levels:
            chain.append(current.manager_id)
            current = self.users.get(current.manager_id)
        return chain


@dataclass(frozen=True)
class Batch:
    """What a rule's `prepare` works with: one tenant's events of one batch, the CRM, the
    store-backed review ledger (None when the store has none), the outbox's rows by key (read
    only: e.g. the CRM id a create got), the time, and `fail(event_key, error, retryable)` to
    settle one event as failed without failing the others; `public_base_url` and `secret(name)`
    (the deployment's secrets, env/SSM) let a rule put signed links to this app in CRM text;
    `store_events` stores events a rule found by polling (duplicates by key), answering how
    many were new: the worker processes them like any delivery."""

    tenant: Tenant
    events: Sequence[Event]
    gateway: CrmGateway
    ledger: ReviewLedger | None
    action: Callable[[str], Action | None]
    now: float
    fail: Callable[[str, str, bool], None]
    public_base_url: str | None = None
    secret: Callable[[str], str | None] = field(default=lambda _: None)
    store_events: Callable[[Sequence[Received]], int] | None = None


class Rule(ABC):
    name: str
    schema: type[Schema] | None = None  # validates `[tenants.rules.<name>]`
    ticks: bool = False  # True: the worker gets one TICK_OBJECT event per tenant per hour
    prepares: bool = False  # True: `prepare` runs once per batch before `plan`

    def load_settings(self, raw: Mapping[str, Any], tenant: Tenant) -> Any:
        """Validate and convert settings; raise marshmallow.ValidationError naming the key."""
        return dict(raw) if self.schema is None else self.schema().load(raw)

    def check(self, settings: Any, gateway: "CrmGateway") -> list["Finding"]:
        """Doctor: what this rule's settings assume about the CRM (ids exist, ...)."""
        return []

    @abstractmethod
    def needs(self, event: Event, settings: Any) -> Needs | None:
        """None when the rule has nothing to do with this event."""

    def prepare(self, batch: Batch, settings: Any) -> Any:
        """Rules with `prepares`: the per-batch step for reads `Needs` cannot say and for the
        store-backed state a rule keeps (e.g. an atomic assignment), done before planning so
        `plan` stays pure. Its answer reaches `plan` as `state.prepared[rule.name]`. An
        exception fails the batch's events of this rule (CrmError: as retryable as it says)."""
        return None

    @abstractmethod
    def plan(self, event: Event, settings: Any, state: State, tenant: Tenant) -> list[Command]: ...


def merge_needs(all_needs: Sequence[Needs]) -> Needs:
    deal_ids = sorted({d for n in all_needs for d in n.deal_ids})
    user_ids = sorted({u for n in all_needs for u in n.user_ids})
    levels = max((n.owner_manager_levels for n in all_needs), default=0)
    return Needs(tuple(deal_ids), tuple(user_ids), levels, any(n.currency_rates for n in all_needs))
