"""Deal value threshold: when a deal's amount, in the corporate currency, reaches a tier's
threshold, that tier's leaders join the deal (HubSpot collaborators / Salesforce team).

The decision is made on the deal as read at processing time, never on the event's value:
deliveries are late, duplicated and out of order, and the current record is the truth.
- Only leaders not already on the deal are added; the owner is never their own collaborator.
- Nobody is ever removed: dropping below the threshold changes nothing, and crossing it again
  adds nobody twice. One command per (tier, deal, leader), keyed by that intent: once done, a
  leader a person removed afterwards is not forced back by the same tier; the tier's note is
  keyed by (tier, deal) and written once.
- Closed deals are left alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from integration import events as ev
from integration.commands import AddCollaborators, AddNote, Command, Deal
from integration.events import Event
from integration.gateway import CrmGateway, Finding
from integration.rules.base import Needs, Rule, State

if TYPE_CHECKING:  # rules need no config at run time (config validates rule settings)
    from integration.config import Tenant

# Property changes that can move a deal across a threshold or into a tier's scope.
_HUBSPOT_TRIGGERS = {"amount", "deal_currency_code", "pipeline", "dealstage", "hubspot_owner_id", "hs_is_closed"}
_DEAL_TYPES = ("deal", "opportunity")


class MissingRate(Exception):
    """No exchange rate for the deal's currency: the admin must add one (config or CRM)."""


@dataclass(frozen=True)
class Tier:
    name: str
    amount: Decimal  # in the tenant's corporate currency
    leaders: tuple[str, ...]
    manager_levels: int
    pipelines: frozenset[str]  # HubSpot pipeline ids / Salesforce RecordTypeIds; empty = all
    stages: frozenset[str]  # empty = all
    role: str | None
    access_level: str | None
    note: bool

    def in_scope(self, deal: Deal) -> bool:
        return (not self.pipelines or deal.pipeline in self.pipelines) and (not self.stages or deal.stage in self.stages)


class _TierSchema(Schema):
    name = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$"))
    amount = fields.Decimal(required=True, validate=validate.Range(min=0, min_inclusive=False))
    leaders = fields.List(fields.String(validate=validate.Regexp(r"^[A-Za-z0-9]{1,18}$")), load_default=list)
    manager_levels = fields.Integer(load_default=0, validate=validate.Range(min=0, max=5))
    pipelines = fields.List(fields.String(), load_default=list)
    stages = fields.List(fields.String(), load_default=list)
    role = fields.String(load_default=None)
    access_level = fields.String(load_default=None, validate=validate.OneOf(["Read", "Edit", "All"]))
    note = fields.Boolean(load_default=False)

    @validates_schema
    def _someone_to_add(self, data: dict, **_: Any) -> None:
        if not data.get("leaders") and not data.get("manager_levels"):
            raise ValidationError("name leaders, or manager_levels >= 1 (the owner's managers)", "leaders")

    @post_load
    def _make(self, data: dict, **_: Any) -> Tier:
        return Tier(
            name=data["name"],
            amount=data["amount"],
            leaders=tuple(data["leaders"]),
            manager_levels=data["manager_levels"],
            pipelines=frozenset(data["pipelines"]),
            stages=frozenset(data["stages"]),
            role=data["role"],
            access_level=data["access_level"],
            note=data["note"],
        )


def to_corporate(amount: Decimal, currency: str | None, corporate: str, rates: Mapping[str, Decimal]) -> Decimal:
    """Convert with `rates` = corporate units per unit of `currency` (a missing code means
    the record is in the corporate currency, as in single-currency portals and orgs)."""
    if not currency or currency == corporate:
        return amount
    if currency not in rates:
        raise MissingRate(f"no exchange rate from {currency} to {corporate}: add it to currency_rates or the CRM")
    return amount * rates[currency]


class ThresholdRule(Rule):
    name = "threshold"

    def load_settings(self, raw: Any, tenant: Tenant) -> tuple[Tier, ...]:
        """`[[tenants.rules.threshold]]`: a list of tiers with unique names."""
        tiers = _TierSchema(many=True).load(raw if isinstance(raw, list) else [raw])
        names = [t.name for t in tiers]
        if len(set(names)) != len(names):
            raise ValidationError("tier names must be unique", "name")
        if not tiers:
            raise ValidationError("at least one tier is needed", "amount")
        return tuple(tiers)

    def check(self, tiers: Sequence[Tier], gateway: CrmGateway) -> list[Finding]:
        """Tiers name pipelines and leaders by id: catch typos before a deal needs them."""
        findings = []
        pipelines = gateway.read_pipelines() if any(t.pipelines for t in tiers) else {}
        leaders = sorted({leader for t in tiers for leader in t.leaders})
        users = gateway.read_users(leaders) if leaders else {}
        for tier in tiers:
            unknown = sorted(tier.pipelines - set(pipelines or {})) if pipelines is not None else []
            if unknown:
                known = ", ".join(f"{k} ({v})" for k, v in sorted((pipelines or {}).items())) or "none"
                findings.append(Finding(f"threshold:{tier.name}", False,
                                        f"Tier '{tier.name}' names pipelines {', '.join(unknown)} that the CRM does not have; use one of: {known}."))  # fmt: skip
            missing = [u for u in tier.leaders if u not in users]
            inactive = [u for u in tier.leaders if u in users and not users[u].active]
            if missing or inactive:
                problems = (["no user " + ", ".join(missing)] if missing else []) + (["inactive " + ", ".join(inactive)] if inactive else [])
                findings.append(Finding(f"threshold:{tier.name}", False,
                                        f"Tier '{tier.name}' leaders are wrong ({'; '.join(problems)}): fix the ids in [[tenants.rules.threshold]]."))  # fmt: skip
            if not unknown and not missing and not inactive:
                findings.append(Finding(f"threshold:{tier.name}", True, f"Tier '{tier.name}': pipelines and leaders exist."))
        return findings

    def needs(self, event: Event, tiers: Sequence[Tier]) -> Needs | None:
        if event.object_type not in _DEAL_TYPES or event.kind not in (ev.CREATED, ev.UPDATED):
            return None
        if event.crm == "hubspot" and event.kind == ev.UPDATED and not set(event.changed) & _HUBSPOT_TRIGGERS:
            return None
        return Needs(
            deal_ids=(event.object_id,),
            owner_manager_levels=max(t.manager_levels for t in tiers),
            currency_rates=True,
        )

    def plan(self, event: Event, tiers: Sequence[Tier], state: State, tenant: Tenant) -> list[Command]:
        deal = state.deals.get(event.object_id)
        if deal is None or deal.closed or deal.amount is None:
            return []
        rates = {**{k: Decimal(str(v)) for k, v in tenant.currency_rates.items()}, **state.rates}
        value = to_corporate(deal.amount, deal.currency, tenant.corporate_currency, rates)
        crossed = [t for t in tiers if t.in_scope(deal) and value >= t.amount]
        # Each leader to add, once, by the highest crossed tier naming them (its role and access).
        assigned: dict[str, Tier] = {}
        for tier in sorted(crossed, key=lambda t: t.amount, reverse=True):
            for leader in (*tier.leaders, *state.managers(deal.owner_id, tier.manager_levels)):
                user = state.users.get(leader)
                if leader == deal.owner_id or leader in deal.collaborators or leader in assigned or (user and not user.active):
                    continue
                assigned[leader] = tier
        commands: list[Command] = []
        for tier in crossed:
            leaders = sorted(leader for leader, by in assigned.items() if by is tier)
            if leaders:
                commands.extend(self._commands(event, tenant, deal, value, tier, leaders))
        return commands

    def _commands(
        self, event: Event, tenant: Tenant, deal: Deal, value: Decimal, tier: Tier, leaders: list[str]
    ) -> list[Command]:
        """One command per leader, keyed by (tier, deal, leader): the intent, not the deal's
        current team, so a leader a person removed later is not forced back by this tier.
        The tier's note (if asked) is keyed by (tier, deal): written once."""
        seen = _money(deal.amount or Decimal(0), deal.currency or tenant.corporate_currency)
        if deal.currency and deal.currency != tenant.corporate_currency:
            seen += f" ({_money(value, tenant.corporate_currency)})"
        reason = (
            f"Amount {seen} reached the threshold of '{tier.name}' ({_money(tier.amount, tenant.corporate_currency)}):"
            f" adding {', '.join(leaders)}"
        )
        evidence = {
            "tier": tier.name,
            "threshold": str(tier.amount),
            "amount": str(deal.amount),
            "currency": deal.currency or tenant.corporate_currency,
            "amount_corporate": str(value),
            "corporate_currency": tenant.corporate_currency,
            "owner_id": deal.owner_id,
            "already_present": sorted(deal.collaborators),
            "event": event.key,
        }
        scope = f"{tenant.id}#{deal.id}#{tier.name}"
        common: dict[str, Any] = {"rule": f"{self.name}:{tier.name}", "reason": reason, "record_id": deal.id, "evidence": evidence}
        commands: list[Command] = [
            AddCollaborators(
                key=f"threshold#{scope}#{leader}",
                **common,
                user_ids=(leader,),
                role=tier.role or tenant.team_role,
                access_level=tier.access_level or tenant.team_access_level,
            )
            for leader in leaders
        ]
        if tier.note:
            body = f"Game Film: {reason}. Rule set by your RevOps admin; leaders are never removed automatically."
            commands.append(AddNote(key=f"threshold-note#{scope}", **common, body=body))
        return commands


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,} {currency}"
