"""Two small rules that exercise the pipeline end to end before the product rules exist.

- `noop`: matches nothing; a tenant with only this rule stores and acknowledges events.
- `note_on_change`: when a watched deal property changes, leave a note on the deal saying
  what changed (once per event). It shows, in dry-run mode, what the worker would do.
"""
from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from marshmallow import Schema, fields, validate

from integration import events as ev
from integration.events import Event
from integration.rules.base import Needs, Rule, State

if TYPE_CHECKING:  # rules need no config at run time (config validates rule settings)
    from integration.commands import AddNote, Command
    from integration.config import Tenant

_DEAL_TYPES = ("deal", "opportunity")


class NoOpRule(Rule):
    name = "noop"

    def needs(self, event: Event, settings: Any) -> Needs | None:
        return None

    def plan(self, event: Event, settings: Any, state: State, tenant: Tenant) -> list[Command]:
        return []


class _NoteSettings(Schema):
    properties = fields.List(fields.String(), load_default=lambda: ["amount", "Amount"], validate=validate.Length(min=1))


class NoteOnChangeRule(Rule):
    name = "note_on_change"
    schema = _NoteSettings

    def needs(self, event: Event, settings: Any) -> Needs | None:
        if event.object_type not in _DEAL_TYPES or event.kind not in (ev.CREATED, ev.UPDATED):
            return None
        if not set(event.changed).intersection(settings["properties"]):
            return None
        return Needs(deal_ids=(event.object_id,))

    def plan(self, event: Event, settings: Any, state: State, tenant: Tenant) -> list[Command]:
        add_note = _add_note()
        deal = state.deals.get(event.object_id)
        watched = sorted(set(event.changed).intersection(settings["properties"]))
        current = ", ".join(f"{name} is now {deal.fields.get(name, '?') if deal else event.changed[name]}" for name in watched)
        return [
            add_note(
                key=f"{self.name}#{event.key}",
                rule=self.name,
                reason=f"{', '.join(watched)} changed on {event.object_type} {event.object_id}",
                record_id=event.object_id,
                body=f"Game Film noticed a change: {current}.",
            )
        ]


@cache
def _add_note() -> type[AddNote]:
    """Imported on the first plan, not with the module: validating config (a cold start) needs no commands."""
    from integration.commands import AddNote

    return AddNote
