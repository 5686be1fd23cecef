"""What every rule is made of: the `Rule` interface, what it needs read (`Needs`) and the
state it decides on (`State`). Pure data and interfaces; no I/O, no config at run time."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from marshmallow import Schema

from integration.commands import Command, Deal, User
from integration.events import Event

if TYPE_CHECKING:
    from integration.config import Tenant
    from integration.gateway import CrmGateway, Finding


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

    def managers(self, user_id: str | None, levels: int) -> list[str]:
        """The user's manager chain, nearest first, as far as it was read."""
        chain: list[str] = []
        current = self.users.get(user_id or "")
        while current and current.manager_id and len(chain) < levels:
            chain.append(current.manager_id)
            current = self.users.get(current.manager_id)
        return chain


class Rule(ABC):
    name: str
    schema: type[Schema] | None = None  # validates `[tenants.rules.<name>]`

    def load_settings(self, raw: Mapping[str, Any], tenant: Tenant) -> Any:
        """Validate and convert settings; raise marshmallow.ValidationError naming the key."""
        return dict(raw) if self.schema is None else self.schema().load(raw)

    def check(self, settings: Any, gateway: "CrmGateway") -> list["Finding"]:
        """Doctor: what this rule's settings assume about the CRM (ids exist, ...)."""
        return []

    @abstractmethod
    def needs(self, event: Event, settings: Any) -> Needs | None:
        """None when the rule has nothing to do with this event."""

    @abstractmethod
    def plan(self, event: Event, settings: Any, state: State, tenant: Tenant) -> list[Command]: ...


def merge_needs(all_needs: Sequence[Needs]) -> Needs:
    deal_ids = sorted({d for n in all_needs for d in n.deal_ids})
    user_ids = sorted({u for n in all_needs for u in n.user_ids})
    levels = max((n.owner_manager_levels for n in all_needs), default=0)
    return Needs(tuple(deal_ids), tuple(user_ids), levels, any(n.currency_rates for n in all_needs))
