"""Execution from the outbox: every command is written as an action row before it is sent, and
sent from that row, so a command once planned is finished even if the rule would no longer
plan it, and never issued twice.

Per batch (one tenant): one write for the new plans, one marking what is sent (and what a
lookup found); the outcomes go with the events' settlements: three store transactions.
- `done` rows are never sent again.
- `sent` (the process died after marking it) and `unknown` (the CRM answered ambiguously) rows
  of creates are looked up first (`CrmGateway.reconcile`); sent again only when the CRM
  certainly does not have them. Idempotent commands are sent again, flagged `resend` (a handler
  with a cheaper first-time path takes its safe one).
- One command type failing (even with an unexpected exception) never discards the outcomes
  of another: each type is executed on its own.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping, Sequence

from integration.commands import Command, Outcome, command_from_row, command_payload
from integration.gateway import CrmGateway
from integration.gateway.dry_run import DryRunGateway
from integration.store import (
    ACTION_DONE,
    ACTION_FAILED,
    ACTION_PLANNED,
    ACTION_SENT,
    ACTION_UNKNOWN,
    Action,
    ActionUpdate,
    Store,
)

log = logging.getLogger(__name__)

_DOUBTFUL = (ACTION_SENT, ACTION_UNKNOWN)


@dataclass(frozen=True)
class Problem:
    """Why one event's attempt did not finish; `retryable` False parks it at once."""

    error: str
    retryable: bool = True
    retry_after: float | None = None


@dataclass
class OutboxResult:
    """Per event: the problems that keep it from being done (none: it is done). `finished`:
    the outcomes of what was sent, written by the caller with the events' settlements (one
    transaction); until then the rows say `sent`, which a later attempt reconciles."""

    problems: dict[str, list[Problem]] = field(default_factory=lambda: defaultdict(list))
    finished: list[ActionUpdate] = field(default_factory=list)
    planned: int = 0
    sent: int = 0


def to_action(tenant_id: str, event_key: str, command: Command, dry_run: bool, now: float = 0.0) -> Action:
    """The outbox row of `command`, planned at `now` (as `Store.plan_actions` writes it)."""
    return Action(
        key=command.key,
        tenant=tenant_id,
        event_key=event_key,
        rule=command.rule,
        op=command.op,
        record_id=command.record_id,
        reason=command.reason,
        payload=command_payload(command),
        dry_run=dry_run,
        status=ACTION_PLANNED,
        created_at=now,
        updated_at=now,
    )


def to_command(action: Action) -> Command:
    return command_from_row(
        action.op, key=action.key, rule=action.rule, reason=action.reason, record_id=action.record_id, payload=action.payload
    )


class Outbox:
    def __init__(self, store: Store, clock: Callable[[], float]):
        self.store = store
        self.clock = clock

    def run(
        self,
        gateway: CrmGateway,
        tenant_id: str,
        dry_run: bool,
        existing: Mapping[str, Sequence[Action]],
        plans: Mapping[str, Sequence[Command]],
    ) -> OutboxResult:
        """Persist `plans` (event key -> new commands), then finish every unfinished row the
        events own: `existing` (their outbox from earlier attempts) and the rows just planned.
        A key planned already by another event stays that event's to send."""
        result = OutboxResult()
        now = self.clock()
        fresh: list[Action] = []
        # Rows planned just now carry the very commands planned (the first one where two events
        # of the batch planned one key, as the store kept); older ones are rebuilt.
        planned_now: dict[str, Command] = {}
        for event_key, commands in plans.items():
            for c in commands:
                fresh.append(to_action(tenant_id, event_key, c, dry_run, now))
                planned_now.setdefault(c.key, c)
        result.planned = len(fresh)
        owned: dict[str, Action] = {}
        for event_key, rows in existing.items():
            owned.update({row.key: row for row in rows if row.event_key == event_key})
        for row in self.store.plan_actions(fresh, now):
            if row.event_key in plans:
                owned.setdefault(row.key, row)
        pending: list[tuple[Action, Command]] = []
        for row in owned.values():
            if row.status == ACTION_DONE:
                continue
            try:
                pending.append((row, planned_now[row.key] if row.event_key in plans else to_command(row)))
            except Exception as exc:  # a row this version cannot read: keep it, park its event
                result.problems[row.event_key].append(Problem(f"{row.key}: cannot rebuild {row.op}: {exc}", retryable=False))
        updates, to_send, outcomes = self._reconcile(gateway, pending)
        # `sent` is durable before the CRM call. The dry-run adapter sends nothing: no marker.
        sends = not isinstance(gateway, DryRunGateway)
        marks = updates + [ActionUpdate(c.key, ACTION_SENT) for c in to_send] if sends else updates
        self.store.update_actions(marks, self.clock())
        result.sent = len(to_send)
        for outcome in self._execute(gateway, to_send):
            outcomes[outcome.key] = outcome
            status = ACTION_DONE if outcome.ok else ACTION_UNKNOWN if outcome.ambiguous else ACTION_FAILED
            result.finished.append(ActionUpdate(outcome.key, status, crm_id=outcome.crm_id, error=outcome.error))
        for row, _ in pending:
            outcome = outcomes[row.key]
            if not outcome.ok:
                result.problems[row.event_key].append(Problem(f"{row.key}: {outcome.error}", outcome.retryable))
        return result

    def _reconcile(
        self, gateway: CrmGateway, pending: list[tuple[Action, Command]]
    ) -> tuple[list[ActionUpdate], list[Command], dict[str, Outcome]]:
        """Look up creates that may have been applied; decide what is (re)sent."""
        doubtful = [c for row, c in pending if row.status in _DOUBTFUL and not c.idempotent]
        found: dict[str, str | None] = {}
        if doubtful:
            try:
                found = gateway.reconcile(doubtful)
            except Exception as exc:  # cannot tell: they stay unknown and are looked up next time
                log.warning("lookup of %d unknown creates failed: %s", len(doubtful), type(exc).__name__)
        updates: list[ActionUpdate] = []
        to_send: list[Command] = []
        outcomes: dict[str, Outcome] = {}
        doubtful_keys = {c.key for c in doubtful}
        for row, command in pending:
            if command.key not in doubtful_keys:
                to_send.append(replace(command, resend=True) if row.status in _DOUBTFUL else command)
            elif found.get(command.key):
                updates.append(ActionUpdate(command.key, ACTION_DONE, crm_id=found[command.key]))
                outcomes[command.key] = Outcome(key=command.key, ok=True, crm_id=found[command.key])
            elif command.key in found:  # certainly not in the CRM: send it
                to_send.append(command)
            else:
                error = "outcome unknown; the lookup could not tell"
                updates.append(ActionUpdate(command.key, ACTION_UNKNOWN, error=error))
                outcomes[command.key] = Outcome.failed(command, error, ambiguous=True)
        return updates, to_send, outcomes

    def _execute(self, gateway: CrmGateway, commands: list[Command]) -> list[Outcome]:
        """One gateway call per command type; an unexpected exception makes only that type's
        commands unknown (the CRM may have applied them)."""
        by_type: dict[type[Command], list[Command]] = defaultdict(list)
        for command in commands:
            by_type[type(command)].append(command)
        outcomes: list[Outcome] = []
        for kind, batch in by_type.items():
            try:
                results = gateway.execute(batch)
                if [o.key for o in results] != [c.key for c in batch]:
                    raise RuntimeError(f"{len(results)} outcomes for {len(batch)} commands, or out of order")
            except Exception as exc:
                log.warning("%s of %d %s failed: %s", type(gateway).__name__, len(batch), kind.__name__, type(exc).__name__)
                error = f"{type(exc).__name__}: {exc}"
                results = [Outcome.failed(c, error, ambiguous=True) for c in batch]
            outcomes.extend(results)
        return outcomes
