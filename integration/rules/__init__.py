"""Rules: pure functions from (event, current CRM state, settings) to planned commands.

A rule runs for a tenant when the tenant's config has a `[tenants.rules.<name>]` table; its
settings are validated at start by the rule's schema. The worker batches what rules need to
read (`Needs`) across all events of a batch, reads it in as few CRM calls as possible, then
calls `plan` for each event. `plan` never does I/O; a rule that needs more (the review loop:
batched match reads, the ledger's atomic assignment) does it once per batch in `prepare`, and
a rule that `ticks` gets one synthetic event per tenant per hour.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Iterator, Mapping, MutableMapping

from integration.rules.base import Needs, Rule, State, merge_needs

if TYPE_CHECKING:
    from integration.config import Tenant

__all__ = ["Needs", "Rule", "State", "merge_needs", "registry", "registry_validators", "rules_for"]

# Config name -> (module, class). A rule's module is imported only when a tenant's config names
# it: every process (a Lambda cold start included) validates the config, and the review loop
# alone (game_film: schemas, rubric, rotation, review form) costs ~30 ms to import.
_RULES: dict[str, tuple[str, str]] = {
    "noop": ("integration.rules.demo", "NoOpRule"),
    "note_on_change": ("integration.rules.demo", "NoteOnChangeRule"),
    "threshold": ("integration.rules.threshold", "ThresholdRule"),
    "game_film": ("integration.rules.game_film", "GameFilmRule"),
}


class _Registry(MutableMapping[str, Rule]):
    """Every rule the product knows, by config name; each built on first use. A rule set
    here (a test's, or one built with other arguments) is used as it is."""

    def __init__(self) -> None:
        self._names = dict.fromkeys(_RULES)
        self._built: dict[str, Rule] = {}

    def __getitem__(self, name: str) -> Rule:
        if name not in self._built:
            if name not in self._names:
                raise KeyError(name)
            module, cls = _RULES[name]
            self._built[name] = getattr(importlib.import_module(module), cls)()
        return self._built[name]

    def __setitem__(self, name: str, rule: Rule) -> None:
        self._names[name] = None
        self._built[name] = rule

    def __delitem__(self, name: str) -> None:
        del self._names[name]
        self._built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class _Validators(Mapping[str, Any]):
    """Each rule's `load_settings`, importing only the rules asked for."""

    def __init__(self, rules: Mapping[str, Rule]) -> None:
        self._rules = rules

    def __getitem__(self, name: str) -> Any:
        return self._rules[name].load_settings

    def __iter__(self) -> Iterator[str]:
        return iter(self._rules)

    def __len__(self) -> int:
        return len(self._rules)


def registry() -> MutableMapping[str, Rule]:
    """Every rule the product knows, by config name (modules imported on first use)."""
    return _Registry()


def registry_validators() -> Mapping[str, Any]:
    return _Validators(registry())


def rules_for(tenant: Tenant, rules: Mapping[str, Rule] | None = None) -> list[tuple[Rule, Any]]:
    """The tenant's enabled rules with their validated settings, in config order."""
    known = rules if rules is not None else registry()
    return [(known[name], known[name].load_settings(raw, tenant)) for name, raw in tenant.rules.items() if name in known]
