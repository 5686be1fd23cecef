"""Processing after the ack: claim stored events, run rules, execute commands once.

`Worker.process(keys)` serves the CLI and the SQS-triggered Lambda; `BackgroundWorker`
(integration.background) runs claimed batches side by side. Per batch and tenant:
- an event whose outbox already has rows (an earlier attempt, a crash) resumes them and is not
  planned again: the plan made then is the intent, whatever the CRM looks like now;
- the other events have their state read once for all (batched), are planned, and their
  commands are written to the outbox before anything is sent (integration.outbox); rules that
  keep store-backed state or need other reads (`Rule.prepares`) get one `prepare` call per batch
  first, with the gateway and the review ledger, whose answer reaches their `plan`;
- each event is settled on its own (integration.settle): an exception while reading, planning
  or executing settles only the events it concerns, never the whole batch.
Store writes of a batch (per tenant): one claim, one plan, one marking what is sent, one
settling the events together with the outcomes of their actions.
"""
from __future__ import annotations

import logging
import random
import time
from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timezone
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Mapping, Sequence

from integration import events as ev
from integration.commands import Command
from integration.config import Config, Tenant
from integration.events import CREATED, Event, Received, StoredEvent
from integration.gateway import CrmError, CrmGateway, RecordDataError
from integration.gateway.transport import RetryPolicy
from integration.outbox import Outbox
from integration.ledger import ReviewLedger
from integration.rules import Needs, Rule, State, merge_needs, registry, rules_for
from integration.rules.base import TICK_OBJECT, Batch
from integration.settle import BatchReport, Settler
from integration.store import ACTION_DONE, Action, ActionUpdate, Store

log = logging.getLogger(__name__)

__all__ = ["BatchReport", "Worker"]


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
        ledger: ReviewLedger | None = None,
        environ: Mapping[str, str] | None = None,
    ):
        self.store = store
        self.ledger = ledger
        self.environ = environ or {}  # the deployment's secrets (env/SSM), for rules that sign links
        self.config = config
        self.gateway_for = gateway_for
        self.rules = dict(rules) if rules is not None else registry()
        self.clock = clock
        self.rng = rng
        self.outbox = Outbox(store, clock)
        cfg = config.worker
        self.policy = RetryPolicy(attempts=cfg.max_attempts - 1, base_delay=cfg.base_delay_seconds, max_delay=cfg.max_delay_seconds)
        self._tenant_rules: dict[str, list[tuple[Rule, Any]]] = {}
        self._ticked = ""  # the hour this process added its ticks for (the store dedups across processes)

    # --- entry points -------------------------------------------------------------------
    def run_due(self, limit: int | None = None) -> BatchReport:
        keys = self.store.due_event_keys(self.clock(), limit or self.config.worker.batch_size)
        return self.process(keys)

    def process(self, keys: Sequence[str]) -> BatchReport:
        """Claim what is due among `keys` (one store call) and process it."""
        keys = list(dict.fromkeys(keys))
        claimed = self.claim(keys)
        report = BatchReport()
        held = {s.key for s in claimed}
        for key in keys:
            if key not in held:
                (report.skipped if self.store.get_event(key) is not None else report.missing).append(key)
        report.merge(self.process_claimed(claimed))
        return report

    def claim(self, keys: Sequence[str]) -> list[StoredEvent]:
        return self.store.claim_events(keys, self.clock(), self.config.worker.lease_seconds)

    def process_claimed(self, claimed: Sequence[StoredEvent]) -> BatchReport:
        """Process events this worker holds the claim of. Each tenant's slice runs on its own
        thread and is settled on its own (one store call), so a tenant whose CRM hangs never
        holds up another's events, even inside one SQS batch."""
        report = BatchReport()
        if not claimed:
            return report
        outboxes = self.store.actions_for_events([s.key for s in claimed])
        by_tenant: dict[str, list[StoredEvent]] = defaultdict(list)
        for stored in claimed:
            by_tenant[stored.event.tenant].append(stored)
        if len(by_tenant) == 1:
            [(tenant_id, batch)] = by_tenant.items()
            report.merge(self._process_slice(tenant_id, batch, outboxes))
            return report
        with ThreadPoolExecutor(min(len(by_tenant), self.config.worker.concurrency), thread_name_prefix="gamefilm-tenant") as pool:
            slices = [pool.submit(self._process_slice, tenant_id, batch, outboxes) for tenant_id, batch in by_tenant.items()]
            for done in slices:
                report.merge(done.result())
        return report

    def _process_slice(self, tenant_id: str, batch: list[StoredEvent], outboxes: Mapping[str, list[Action]]) -> BatchReport:
        report = BatchReport()
        settler = Settler(self.policy, self.clock, self.rng, report)
        finished: list[ActionUpdate] = []
        tenant = self.config.tenant(tenant_id)
        if tenant is None:
            for stored in batch:
                settler.fail(stored, f"tenant {tenant_id!r} is no longer configured", retryable=False)
        else:
            try:
                finished = self._process_tenant(tenant, batch, outboxes, settler, report)
            except Exception as exc:  # e.g. the store failed mid-way: these events only, retried later
                log.exception("processing %d events of tenant %s failed", len(batch), tenant_id)
                for stored in batch:
                    settler.fail(stored, f"processing failed: {type(exc).__name__}: {exc}")
        settler.write(self.store, finished)
        return report

    # --- one tenant's slice of a batch ----------------------------------------------------
    def _process_tenant(
        self,
        tenant: Tenant,
        batch: list[StoredEvent],
        outboxes: Mapping[str, list[Action]],
        settler: Settler,
        report: BatchReport,
    ) -> list[ActionUpdate]:
        """Settle (in `settler`) the tenant's events; answer the outcomes of what was sent."""
        resumed = [s for s in batch if s.key in outboxes]
        wanted: list[tuple[StoredEvent, list[tuple[Rule, Any]], list[Needs]]] = []
        tenant_rules = self._rules(tenant)
        for stored in batch:
            key, event = stored.key, stored.event
            if key in outboxes:
                continue
            try:
                matching = [(rule, settings, rule.needs(event, settings)) for rule, settings in tenant_rules]
            except Exception as exc:  # a rule bug or invalid settings: this event only
                settler.fail(stored, f"rule error: {type(exc).__name__}: {exc}")
                continue
            rules = [(rule, settings) for rule, settings, need in matching if need is not None]
            if rules:
                settler.rules[key] = ",".join(rule.name for rule, _ in rules)
                wanted.append((stored, rules, [need for _, _, need in matching if need is not None]))
            else:
                settler.ignore(stored, ev.IGNORED)
        if not wanted and all(row.status == ACTION_DONE for s in resumed for row in outboxes[s.key]):
            for stored in resumed:  # finished before (e.g. settled by a crash-free replay): nothing to send
                settler.done(stored)
            return []
        try:
            gateway = self.gateway_for(tenant)
        except Exception as exc:
            for stored in batch:
                settler.fail(stored, f"connecting to the CRM: {type(exc).__name__}: {exc}")
            return []
        state = self._read_for(gateway, wanted, settler) if wanted else State()
        if any(rule.prepares for _, rules, _ in wanted for rule, _ in rules):
            state = self._prepare(tenant, gateway, wanted, state, settler)
        plans: dict[str, list[Command]] = {}
        for stored, rules, _ in wanted:
            if settler.settled(stored.key):
                continue
            try:
                plans[stored.key] = [c for rule, settings in rules for c in rule.plan(stored.event, settings, state, tenant)]
            except Exception as exc:  # a rule bug or a missing rate: this event only
                log.warning("rule failed for event %s: %s", stored.key, type(exc).__name__)
                settler.fail(stored, f"rule error: {type(exc).__name__}: {exc}")
        existing = {s.key: outboxes[s.key] for s in resumed}
        if self.clock() > min(s.lease_until for s in batch) - self.config.worker.lease_seconds / 2:
            # Reading took half the lease: sending now could race a worker that claims these
            # events when it runs out. Send nothing; the next attempt resumes from here.
            for stored in batch:
                settler.fail(stored, "the CRM read took more than half the lease; nothing was sent")
            return []
        result = self.outbox.run(gateway, tenant.id, tenant.dry_run, existing, plans)
        report.commands += result.planned
        report.executed += result.sent
        for stored in [*resumed, *(s for s, _, _ in wanted if s.key in plans)]:
            problems = result.problems.get(stored.key)
            if not problems:
                settler.done(stored)
                continue
            retryable = all(p.retryable for p in problems)
            settler.fail(stored, "; ".join(p.error for p in problems), retryable=retryable)
        return result.finished

    def _read_for(
        self, gateway: CrmGateway, wanted: list[tuple[StoredEvent, list[tuple[Rule, Any]], list[Needs]]], settler: Settler
    ) -> State:
        """Read what the events need in one batched pass. A record whose data cannot be
        converted parks only the events about it, and the read is retried without it."""
        active = [(stored, needs) for stored, _, needs in wanted]
        gateway.learn([stored.event for stored, _ in active])
        while active:
            try:
                return self._read_state(gateway, merge_needs([n for _, needs in active for n in needs]))
            except RecordDataError as exc:
                about = [stored for stored, _ in active if stored.event.object_id == exc.record_id]
                if not about:  # not one of the events' records (e.g. a user): all wait
                    about = [stored for stored, _ in active]
                for stored in about:
                    settler.fail(stored, f"reading CRM state: {exc}")
                active = [(s, n) for s, n in active if not settler.settled(s.key)]
            except CrmError as exc:
                for stored, _ in active:
                    settler.fail(stored, f"reading CRM state: {exc}", retryable=exc.retryable, retry_after=exc.retry_after)
                active = []
            except Exception as exc:  # an adapter bug or an unexpected answer: retried, counted
                log.warning("reading CRM state failed: %s", type(exc).__name__)
                for stored, _ in active:
                    settler.fail(stored, f"reading CRM state: {type(exc).__name__}: {exc}")
                active = []
        return State()

    def _prepare(
        self, tenant: Tenant, gateway: CrmGateway, wanted: list[tuple[StoredEvent, list[tuple[Rule, Any]], list[Needs]]],
        state: State, settler: Settler,
    ) -> State:  # fmt: skip
        """Each preparing rule's per-batch step (`Rule.prepare`) over its unsettled events; a
        failure settles only those events."""
        by_rule: dict[str, tuple[Rule, Any, list[StoredEvent]]] = {}
        for stored, rules, _ in wanted:
            if settler.settled(stored.key):
                continue
            for rule, settings in rules:
                if rule.prepares:
                    by_rule.setdefault(rule.name, (rule, settings, []))[2].append(stored)
        prepared = dict(state.prepared)
        for name, (rule, settings, stored_events) in by_rule.items():
            held = {s.key: s for s in stored_events}

            def fail(key: str, error: str, retryable: bool, held: dict[str, StoredEvent] = held) -> None:
                if key in held:
                    settler.fail(held[key], error, retryable=retryable)

            batch = Batch(tenant, [s.event for s in stored_events], gateway, self.ledger, self.store.get_action, self.clock(), fail,
                          self.config.intake.public_base_url, self._secret, self._store_events)  # fmt: skip
            try:
                prepared[name] = rule.prepare(batch, settings)
            except CrmError as exc:
                for stored in stored_events:
                    settler.fail(stored, f"{name}: {exc}", retryable=exc.retryable, retry_after=exc.retry_after)
            except Exception as exc:  # a rule bug or the ledger failing: these events only, retried
                log.warning("rule %s failed preparing %d events: %s", name, len(stored_events), type(exc).__name__)
                for stored in stored_events:
                    settler.fail(stored, f"{name}: {type(exc).__name__}: {exc}")
        return replace(state, prepared=prepared)

    def _secret(self, name: str) -> str | None:
        return self.environ.get(name) or None

    def _store_events(self, events: Sequence[Event | Received]) -> int:
        return sum(self.store.add_events(events, self.clock()))

    def insert_ticks(self) -> int:
        """Add this hour's synthetic event for every tenant with a rule that `ticks`; its key
        (`tick#<tenant>#<YYYY-MM-DDTHH>`) makes it once per hour however many processes add it.
        Answers how many were new."""
        now = self.clock()
        hour = datetime.fromtimestamp(now, tz=timezone.utc).replace(minute=0, second=0, microsecond=0)
        label = hour.strftime("%Y-%m-%dT%H")
        if label == self._ticked:
            return 0
        ticks = [
            Event(key=f"tick#{t.id}#{label}", tenant=t.id, crm=t.crm, object_type=TICK_OBJECT, object_id=label,
                  kind=CREATED, occurred_at=hour, source_id="tick")
            for t in self.config.tenants
            if any(rule.ticks for rule, _ in self._rules(t))
        ]  # fmt: skip
        added = sum(self.store.add_events(ticks, now)) if ticks else 0
        self._ticked = label
        return added

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

    def backoff(self, attempts: int) -> float:
        """Seconds before retry number `attempts` (the worker's RetryPolicy, equal jitter)."""
        return self.policy.delay(attempts, None, self.rng)
