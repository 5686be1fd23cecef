"""The embedded default: batches processed side by side, one tenant never holding up another.

A dispatcher thread claims due events and hands each claimed batch to a pool of
`worker.concurrency` threads. Claims go round the tenants, and a tenant may hold at most
`per_tenant` batches in flight (half the pool by default): a tenant whose CRM is slow or hangs
fills its share and is then passed over by the due query (`skip_tenants`), so every other
tenant still gets a thread. Woken on intake and whenever a batch finishes; otherwise it polls.
Once an hour it adds the hourly events of rules that run on a clock (`Worker.insert_ticks`).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

from integration.events import StoredEvent
from integration.worker import Worker

log = logging.getLogger(__name__)


class BackgroundWorker:
    def __init__(
        self, worker: Worker, poll_seconds: float, *, concurrency: int | None = None, per_tenant: int | None = None,
        ticks: Callable[[], int] | None = None,
    ):  # fmt: skip
        """`ticks`: adds this hour's clock events (`Worker.insert_ticks`), called once an hour."""
        self.worker = worker
        self.ticks = ticks
        self.poll_seconds = poll_seconds
        self.concurrency = concurrency or worker.config.worker.concurrency
        self.per_tenant = per_tenant or max(1, self.concurrency // 2)
        self.batch_size = worker.config.worker.batch_size
        self._in_flight: Counter[str] = Counter()
        self._lock = threading.Condition()
        self._wake = threading.Event()
        self._limit_reached = False  # the last due query answered as many as it asked for
        self._stop = threading.Event()
        self._closed = False  # set under _lock once the pool stops taking batches
        self._ticked_hour = -1
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="gamefilm-batch")
        self._thread = threading.Thread(target=self._run, name="gamefilm-dispatch", daemon=True)

    def start(self) -> "BackgroundWorker":
        self._thread.start()
        return self

    def notify(self, keys: Sequence[str] = ()) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop claiming, then wait (up to `timeout`) for the batches in flight to settle."""
        deadline = time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        with self._lock:
            self._lock.wait_for(lambda: not any(self._in_flight.values()), max(0.0, deadline - time.monotonic()))
            self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)

    def in_flight(self) -> dict[str, int]:
        with self._lock:
            return {t: n for t, n in self._in_flight.items() if n}

    def _run(self) -> None:
        while not self._stop.is_set():
            self._tick()
            self._wake.clear()  # before the due query: a wake-up while it runs makes the wait below return at once
            try:
                # Again at once only when the due query filled its limit: else all that was due
                # is claimed or waits for a thread, and the next wake-up (intake, a batch ending)
                # or poll finds the rest. Asking again found nothing, but walked the leases of
                # the batch just claimed: ~0.3 ms of CPU per 100-event request in `gamefilm serve`.
                dispatched = self.dispatch() and self._limit_reached
            except Exception:  # the store is down, say: keep the thread, try again after a poll
                log.exception("dispatching due events failed")
                dispatched = False
            if not dispatched:
                self._wake.wait(self.poll_seconds)

    def _tick(self) -> None:
        hour = int(self.worker.clock() // 3600)
        if self.ticks is None or hour == self._ticked_hour:
            return
        try:
            self.ticks()
            self._ticked_hour = hour
        except Exception:  # the store is down, say: tried again on the next loop
            log.exception("adding the hourly events failed")

    def dispatch(self) -> bool:
        """Claim due batches for the free threads, round the tenants; True if any started."""
        with self._lock:
            free = self.concurrency - sum(self._in_flight.values())
            room = {t: self.per_tenant - n for t, n in self._in_flight.items() if n}
        if free <= 0:
            return False
        full = {t for t, r in room.items() if r <= 0}
        due = self.worker.store.due_events(self.worker.clock(), self.batch_size * free, skip_tenants=full)
        self._limit_reached = len(due) >= self.batch_size * free
        by_tenant: dict[str, list[str]] = defaultdict(list)
        for key, tenant in due:
            by_tenant[tenant].append(key)
        batches: list[tuple[str, list[str]]] = []
        while free > 0 and by_tenant:
            for tenant in list(by_tenant):
                keys = by_tenant[tenant]
                if free <= 0 or room.get(tenant, self.per_tenant) <= 0 or not keys:
                    del by_tenant[tenant]
                    continue
                batches.append((tenant, keys[: self.batch_size]))
                del keys[: self.batch_size]
                room[tenant] = room.get(tenant, self.per_tenant) - 1
                free -= 1
        started = False
        for tenant, keys in batches:
            if self._stop.is_set():
                break  # the rest stay due, unclaimed, for the next start
            claimed = self.worker.claim(keys)
            if not claimed:
                continue
            with self._lock:
                # A dispatch outlasting stop()'s join once hit the shut-down pool (a traceback
                # on every slow stop). Claimed events come back when their lease runs out.
                if self._closed:
                    log.warning("stopped while claiming: %d claimed events wait for their lease to end", len(claimed))
                    return started
                self._in_flight[tenant] += 1
                self._pool.submit(self._work, tenant, claimed)
            started = True
        return started

    def _work(self, tenant: str, claimed: list[StoredEvent]) -> None:
        try:
            self.worker.process_claimed(claimed)
        except Exception:  # unsettled events come back when their lease runs out
            log.exception("a batch of tenant %s failed", tenant)
        finally:
            with self._lock:
                self._in_flight[tenant] -= 1
                self._lock.notify_all()
            self._wake.set()
