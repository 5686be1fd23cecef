"""Processing after the ack: claim stored events, run rules, execute commands once.

One entry point, `Worker.process(keys)`, serves the local background thread, the CLI and an
SQS-triggered Lambda alike. Per batch and tenant: read the current CRM state once for all
events (batched), plan, reserve each command's idempotency key, execute the reserved commands
in one batched gateway call per operation, then settle each event:
done / retried later with exponential backoff and jitter / dead after `max_attempts`.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping, Sequence

from integration import events as ev
from integration.commands import Command, Outcome
from integration.config import Config, Tenant
from integration.events import StoredEvent
from integration.gateway import CrmError, CrmGateway
from integration.rules import Needs, Rule, State, merge_needs, registry, rules_for
from integration.store import ACTION_DONE, ACTION_SENT, ACTION_UNKNOWN, ACTION_FAILED, Action, ActionUpdate, Store

log = logging.getLogger(__name__)


@dataclass
class BatchReport:
    """What one `process` call did, by event key (for the CLI, SQS batchItemFailures, tests)."""

    done: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # not claimable: done already or held elsewhere
    commands: int = 0
    executed: int = 0

    @property
    def failed(self) -> list[str]:
        return self.retrying + self.dead


class Worker:
    def __init__(
        self,
        store: Store,
        config: Config,
        gateway_for: Callable[[Tenant], CrmGateway],
        *,
        rules: Mapping[str, Rule] | None = None,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
    ):
        self.store = store
        self.config = config
        self.gateway_for = gateway_for
        self.rules = dict(rules) if rules is not None else registry()
        self.clock = clock
        self.rng = rng
        self._tenant_rules: dict[str, list[tuple[Rule, Any]]] = {}

    # --- entry points -------------------------------------------------------------------
    def run_due(self, limit: int | None = None) -> BatchReport:
        keys = self.store.due_event_keys(self.clock(), limit or self.config.worker.batch_size)
        return self.process(keys)

    def process(self, keys: Sequence[str]) -> BatchReport:
        report = BatchReport()
        now = self.clock()
        by_tenant: dict[str, list[StoredEvent]] = defaultdict(list)
        for key in dict.fromkeys(keys):
            stored = self.store.claim_event(key, now, self.config.worker.lease_seconds)
            if stored is None:
                report.skipped.append(key)
            else:
                by_tenant[stored.event.tenant].append(stored)
        for tenant_id, batch in by_tenant.items():
            tenant = self.config.tenant(tenant_id)
            if tenant is None:
                for stored in batch:
                    self._fail(stored, f"tenant {tenant_id!r} is no longer configured", report, retryable=False)
                continue
            self._process_tenant(tenant, batch, report)
        return report

    # --- one tenant's slice of a batch ----------------------------------------------------
    def _process_tenant(self, tenant: Tenant, batch: list[StoredEvent], report: BatchReport) -> None:
        rules = self._rules(tenant)
        wanted: dict[str, list[tuple[Rule, Any]]] = {}
        needs: list[Needs] = []
        for stored in batch:
            matching = []
            for rule, settings in rules:
                need = rule.needs(stored.event, settings)
                if need is not None:
                    matching.append((rule, settings))
                    needs.append(need)
            if matching:
                wanted[stored.key] = matching
            else:
                self.store.ignore_event(stored, self.clock(), ev.IGNORED)
                report.ignored.append(stored.key)
        active = [s for s in batch if s.key in wanted]
        if not active:
            return
        try:
            gateway = self.gateway_for(tenant)
            gateway.learn([s.event for s in active])
            state = self._read_state(gateway, merge_needs(needs))
        except CrmError as exc:
            for stored in active:
                self._fail(stored, f"reading CRM state: {exc}", report, retryable=exc.retryable, retry_after=exc.retry_after)
            return

        planned: dict[str, list[Command]] = {}
        for stored in active:
            try:
                planned[stored.key] = [
                    cmd for rule, settings in wanted[stored.key] for cmd in rule.plan(stored.event, settings, state, tenant)
                ]
            except Exception as exc:  # a rule bug must not take the batch down: park the event
                log.exception("rule failed for event %s", stored.key)
                self._fail(stored, f"rule error: {type(exc).__name__}: {exc}", report, retryable=False)
        self._execute(tenant, gateway, [s for s in active if s.key in planned], planned, report)

    def _execute(
        self,
        tenant: Tenant,
        gateway: CrmGateway,
        batch: list[StoredEvent],
        planned: dict[str, list[Command]],
        report: BatchReport,
    ) -> None:
        """Write the plan to the outbox, then send what this batch owns and has not finished."""
        actions = [self._action(tenant, stored, command) for stored in batch for command in planned[stored.key]]
        report.commands += len(actions)
        rows = self.store.plan_actions(actions, self.clock())
        commands = {c.key: c for cs in planned.values() for c in cs}
        owned = {s.key for s in batch}
        pending = [
            (row, commands[row.key]) for row in {r.key: r for r in rows}.values()
            if row.event_key in owned and row.status != ACTION_DONE
        ]
        # An unknown (or sent-then-crashed) create is looked up before it is sent again.
        doubtful = [c for row, c in pending if row.status in (ACTION_SENT, ACTION_UNKNOWN) and not c.idempotent]
        found = gateway.reconcile(doubtful) if doubtful else {}
        updates: list[ActionUpdate] = []
        to_send: list[Command] = []
        outcomes: dict[str, Outcome] = {}
        for row, command in pending:
            if command in doubtful and found.get(command.key):
                updates.append(ActionUpdate(command.key, ACTION_DONE, crm_id=found[command.key]))
                outcomes[command.key] = Outcome(key=command.key, ok=True, crm_id=found[command.key])
            elif command in doubtful and command.key not in found:
                outcomes[command.key] = Outcome.failed(command, "outcome unknown; the lookup failed", ambiguous=True)
            else:
                to_send.append(command)
        self.store.update_actions(updates + [ActionUpdate(c.key, ACTION_SENT) for c in to_send], self.clock())
        if to_send:
            report.executed += len(to_send)
            results = gateway.execute(to_send)
            finished = []
            for command, outcome in zip(to_send, results):
                outcomes[command.key] = outcome
                status = ACTION_DONE if outcome.ok else ACTION_UNKNOWN if outcome.ambiguous else ACTION_FAILED
                finished.append(ActionUpdate(command.key, status, crm_id=outcome.crm_id, error=outcome.error))
            self.store.update_actions(finished, self.clock())
        for stored in batch:
            failures = [outcomes[c.key] for c in planned[stored.key] if c.key in outcomes and not outcomes[c.key].ok]
            if failures:
                retryable = all(f.retryable for f in failures)
                self._fail(stored, "; ".join(f"{f.key}: {f.error}" for f in failures), report, retryable=retryable)
            else:
                self.store.complete_event(stored, self.clock())
                report.done.append(stored.key)

    # --- helpers ----------------------------------------------------------------------------
    def _read_state(self, gateway: CrmGateway, needs: Needs) -> State:
        deals = gateway.read_deals(list(needs.deal_ids)) if needs.deal_ids else {}
        wanted_users = set(needs.user_ids)
        if needs.owner_manager_levels:
            wanted_users |= {d.owner_id for d in deals.values() if d.owner_id}
        users: dict[str, Any] = {}
        # Manager chains are read level by level: one batched call per level, not per user.
        for _ in range(needs.owner_manager_levels + 1):
            missing = sorted(wanted_users - set(users))
            if not missing:
                break
            users.update(gateway.read_users(missing))
            wanted_users = {u.manager_id for u in users.values() if u.manager_id}
        rates = gateway.read_currency_rates() if needs.currency_rates else {}
        return State(deals=deals, users=users, rates=rates)

    def _rules(self, tenant: Tenant) -> list[tuple[Rule, Any]]:
        if tenant.id not in self._tenant_rules:
            self._tenant_rules[tenant.id] = rules_for(tenant, self.rules)
        return self._tenant_rules[tenant.id]

    def _action(self, tenant: Tenant, stored: StoredEvent, command: Command) -> Action:
        payload = {k: v for k, v in asdict(command).items() if k not in ("key", "rule", "reason", "record_id")}
        return Action(
            key=command.key,
            tenant=tenant.id,
            event_key=stored.key,
            rule=command.rule,
            op=command.op,
            record_id=command.record_id,
            reason=command.reason,
            payload=payload,
            dry_run=tenant.dry_run,
        )

    def _fail(
        self, stored: StoredEvent, error: str, report: BatchReport, *, retryable: bool, retry_after: float | None = None
    ) -> None:
        attempts = stored.attempts + 1
        if retryable and attempts < self.config.worker.max_attempts:
            delay = max(self.backoff(attempts), retry_after or 0.0)
            self.store.fail_event(stored, error, self.clock(), retry_at=self.clock() + delay)
            report.retrying.append(stored.key)
        else:
            self.store.fail_event(stored, error, self.clock(), retry_at=None)
            report.dead.append(stored.key)
        log.warning("event %s failed (attempt %d): %s", stored.key, attempts, error)

    def backoff(self, attempts: int) -> float:
        """Exponential backoff with equal jitter: half fixed, half random, capped."""
        cfg = self.config.worker
        ceiling = min(cfg.max_delay_seconds, cfg.base_delay_seconds * 2 ** (attempts - 1))
        return ceiling / 2 + self.rng() * ceiling / 2


class BackgroundWorker:
    """The embedded default: a daemon thread that drains due events, woken on intake."""

    def __init__(self, worker: Worker, poll_seconds: float):
        self.worker = worker
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gamefilm-worker", daemon=True)

    def start(self) -> "BackgroundWorker":
        self._thread.start()
        return self

    def notify(self, keys: Sequence[str] = ()) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                report = self.worker.run_due()
            except Exception:  # keep the thread alive; the event stays due and is retried
                log.exception("worker batch failed")
                report = BatchReport()
            if not (report.done or report.ignored or report.failed):
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
