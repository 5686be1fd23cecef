"""Rules: pure functions from (event, current CRM state, settings) to planned commands.

A rule runs for a tenant when the tenant's config has a `[tenants.rules.<name>]` table; its
settings are validated at start by the rule's schema. The worker batches what rules need to
read (`Needs`) across all events of a batch, reads it in as few CRM calls as possible, then
calls `plan` for each event. Rules never do I/O.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from marshmallow import Schema

from integration.commands import Command, Deal, User
from integration.config import Tenant
from integration.events import Event

if TYPE_CHECKING:
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


def registry() -> dict[str, Rule]:
    """Every rule the product knows, by config name."""
    from integration.rules.demo import NoOpRule, NoteOnChangeRule

    rules: list[Rule] = [NoOpRule(), NoteOnChangeRule()]
    try:
        from integration.rules.threshold import ThresholdRule
    except ImportError:  # pragma: no cover - threshold rule lands with its own issue
        pass
    else:
        rules.append(ThresholdRule())
    return {rule.name: rule for rule in rules}


def registry_validators() -> dict[str, Any]:
    return {name: rule.load_settings for name, rule in registry().items()}


def rules_for(tenant: Tenant, rules: Mapping[str, Rule] | None = None) -> list[tuple[Rule, Any]]:
    """The tenant's enabled rules with their validated settings, in config order."""
    known = rules if rules is not None else registry()
    return [(known[name], known[name].load_settings(raw, tenant)) for name, raw in tenant.rules.items() if name in known]


def merge_needs(all_needs: Sequence[Needs]) -> Needs:
    deal_ids = sorted({d for n in all_needs for d in n.deal_ids})
    user_ids = sorted({u for n in all_needs for u in n.user_ids})
    levels = max((n.owner_manager_levels for n in all_needs), default=0)
    return Needs(tuple(deal_ids), tuple(user_ids), levels, any(n.currency_rates for n in all_needs))
