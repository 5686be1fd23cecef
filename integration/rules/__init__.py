"""Rules: pure functions from (event, current CRM state, settings) to planned commands.

A rule runs for a tenant when the tenant's config has a `[tenants.rules.<name>]` table; its
settings are validated at start by the rule's schema. The worker batches what rules need to
read (`Needs`) across all events of a batch, reads it in as few CRM calls as possible, then
calls `plan` for each event. `plan` never does I/O; a rule that needs more (the review loop:
batched match reads, the ledger's atomic assignment) does it once per batch in `prepare`, and
a rule that `ticks` gets one synthetic event per tenant per hour.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from integration.rules.base import Needs, Rule, State, merge_needs
from integration.rules.demo import NoOpRule, NoteOnChangeRule
from integration.rules.game_film import GameFilmRule
from integration.rules.threshold import ThresholdRule

if TYPE_CHECKING:
    from integration.config import Tenant

__all__ = ["Needs", "Rule", "State", "merge_needs", "registry", "registry_validators", "rules_for"]


def registry() -> dict[str, Rule]:
    """Every rule the product knows, by config name."""
    rules: list[Rule] = [NoOpRule(), NoteOnChangeRule(), ThresholdRule(), GameFilmRule()]
    return {rule.name: rule for rule in rules}


def registry_validators() -> dict[str, Any]:
    return {name: rule.load_settings for name, rule in registry().items()}


def rules_for(tenant: Tenant, rules: Mapping[str, Rule] | None = None) -> list[tuple[Rule, Any]]:
    """The tenant's enabled rules with their validated settings, in config order."""
    known = rules if rules is not None else registry()
    return [(known[name], known[name].load_settings(raw, tenant)) for name, raw in tenant.rules.items() if name in known]
