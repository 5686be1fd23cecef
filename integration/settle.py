"""The end of one processing attempt, per event: done, ignored, retried later, or dead.

Outcomes of a whole batch are collected and written in one `settle_events` call. Every failure
counts an attempt and backs off with the one retry rule (`transport.RetryPolicy`), so a poison
event never loops hot and is dead after `max_attempts`, with its last error.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from integration import logs
from integration.events import DONE, StoredEvent
from integration.gateway.transport import RetryPolicy
from integration.store import ActionUpdate, Settlement, Store, failed


@dataclass
class BatchReport:
    """What one `process` call did, by event key (for the CLI, SQS batchItemFailures, tests)."""

    done: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # not claimable: finished already or held elsewhere
    missing: list[str] = field(default_factory=list)  # no such event in the store
    commands: int = 0
    executed: int = 0

    @property
    def failed(self) -> list[str]:
        return self.retrying + self.dead

    def merge(self, other: "BatchReport") -> None:
        for name in ("done", "ignored", "retrying", "dead", "skipped", "missing"):
            getattr(self, name).extend(getattr(other, name))
        self.commands += other.commands
        self.executed += other.executed


class Settler:
    """Collects one batch's settlements; each event is settled once (the first word wins).
    `policy.attempts` is the number of retries: `max_attempts - 1`.

    Each settled event gets one structured log line (key, tenant, rules, outcome, attempts,
    duration): never the error text, which may quote CRM values; that stays in the store."""

    def __init__(self, policy: RetryPolicy, clock: Callable[[], float], rng: Callable[[], float], report: BatchReport):
        self.policy = policy
        self.clock = clock
        self.rng = rng
        self.report = report
        self.rules: dict[str, str] = {}  # event key -> the rules that matched it (for the log line)
        self._settlements: dict[str, Settlement] = {}
        self._started = time.perf_counter()

    def settled(self, key: str) -> bool:
        return key in self._settlements

    def done(self, stored: StoredEvent) -> None:
        key = stored.key
        if self._add(Settlement(key, DONE, stored.attempts + 1, lease_until=stored.lease_until)):
            self.report.done.append(key)
            self._log(stored, "done", stored.attempts + 1)

    def ignore(self, stored: StoredEvent, status: str) -> None:
        key = stored.key
        if self._add(Settlement(key, status, stored.attempts, lease_until=stored.lease_until)):
            self.report.ignored.append(key)
            self._log(stored, status, stored.attempts)

    def fail(self, stored: StoredEvent, error: str, *, retryable: bool = True, retry_after: float | None = None) -> None:
        attempts = stored.attempts + 1
        # An event is safe to try again (its outbox guards the effects): only the budget decides.
        if self.policy.may_resend(attempts, transient=retryable, ambiguous=False, idempotent=True):
            # The later of our backoff and the CRM's Retry-After: a CRM answering "retry after 0"
            # over and over must not make the worker spin.
            retry_at = self.clock() + max(self.policy.delay(attempts, None, self.rng), retry_after or 0.0)
            if self._add(self._held(stored, failed(stored, error, retry_at))):
                self.report.retrying.append(stored.key)
                self._log(stored, "retry", attempts, retry_in_s=round(retry_at - self.clock(), 1))
        elif self._add(self._held(stored, failed(stored, error, None))):
            self.report.dead.append(stored.key)
            self._log(stored, "dead", attempts)

    def write(self, store: Store, actions: Sequence[ActionUpdate] = ()) -> None:
        """One store call for the whole batch, with the outcomes of the actions it sent."""
        store.settle_events(list(self._settlements.values()), self.clock(), actions)
        self._settlements.clear()

    def _add(self, settlement: Settlement) -> bool:
        if settlement.key in self._settlements:
            return False
        self._settlements[settlement.key] = settlement
        return True

    def _log(self, stored: StoredEvent, outcome: str, attempts: int, retry_in_s: float | None = None) -> None:
        if not logs.settled_event_logged(outcome):  # nothing is built for a line nobody writes
            return
        logs.settled_event(
            key=stored.key,
            tenant=stored.event.tenant,
            rule=self.rules.get(stored.key),
            outcome=outcome,
            attempts=attempts,
            duration_ms=(time.perf_counter() - self._started) * 1000,
            retry_in_s=retry_in_s,
        )

    def _held(self, stored: StoredEvent, settlement: Settlement) -> Settlement:
        """`settlement` under the claim `stored` was processed with (no dataclasses.replace:
        several times the cost of building it)."""
        s = settlement
        return Settlement(s.key, s.status, s.attempts, s.next_attempt_at, s.last_error, lease_until=stored.lease_until)
