"""The dispatcher asks the store what is due only when something may be: after a wake-up, a
poll, or a due query that filled its limit; and a wake-up during a due query is never lost."""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from integration.background import BackgroundWorker


class CountingWorker:
    """Enough of Worker for the dispatcher: a store of due events, batches held until released."""

    def __init__(self, due: list[tuple[str, str]]) -> None:
        self.config = SimpleNamespace(worker=SimpleNamespace(concurrency=2, batch_size=2))
        self.store = SimpleNamespace(due_events=self.due_events)
        self.clock = lambda: 0.0
        self.due = list(due)
        self.asked = 0
        self.in_due_query = threading.Event()
        self.hold_due_query = threading.Event()
        self.hold_due_query.set()
        self.release = threading.Event()
        self.processed: list[str] = []

    def due_events(self, now, limit, skip_tenants=()):
        self.asked += 1
        self.in_due_query.set()
        self.hold_due_query.wait(5)
        return [(k, t) for k, t in self.due if t not in skip_tenants][:limit]

    def claim(self, keys):
        self.due = [(k, t) for k, t in self.due if k not in keys]
        return [SimpleNamespace(key=k) for k in keys]

    def process_claimed(self, claimed) -> None:
        self.release.wait(5)
        self.processed.extend(c.key for c in claimed)


def eventually(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def test_a_dispatch_that_claimed_all_that_was_due_waits_for_the_next_wake_up():
    worker = CountingWorker([("k1", "t1")])  # 1 due, limit 4 (2 threads x batches of 2)
    background = BackgroundWorker(worker, poll_seconds=30).start()  # type: ignore[arg-type]
    try:
        assert eventually(lambda: worker.asked == 1)
        time.sleep(0.1)
        assert worker.asked == 1  # not asked again while its batch runs
        worker.release.set()  # the batch ends: that is a wake-up
        assert eventually(lambda: worker.asked == 2 and worker.processed == ["k1"])
        time.sleep(0.1)
        assert worker.asked == 2
    finally:
        worker.release.set()
        background.stop(1)


def test_a_full_due_answer_is_followed_at_once_by_another_question():
    # 2 threads, batches of 2, a tenant holds 1 thread: t1's first batch takes one thread and
    # the answer was full (4 of 4 asked), so the dispatcher asks again for the other thread.
    worker = CountingWorker([(f"a{i}", "t1") for i in range(4)] + [("b0", "t2")])
    background = BackgroundWorker(worker, poll_seconds=30).start()  # type: ignore[arg-type]
    try:
        assert eventually(lambda: worker.asked == 2)  # without any wake-up from outside
        worker.release.set()
        assert eventually(lambda: sorted(worker.processed) == ["a0", "a1", "a2", "a3", "b0"])
    finally:
        worker.release.set()
        background.stop(1)


def test_a_wake_up_during_the_due_query_is_not_lost():
    worker = CountingWorker([])
    worker.hold_due_query.clear()
    background = BackgroundWorker(worker, poll_seconds=30).start()  # type: ignore[arg-type]
    try:
        assert worker.in_due_query.wait(5)
        background.notify()  # new events stored while the store is being asked
        worker.hold_due_query.set()
        assert eventually(lambda: worker.asked == 2, timeout=2)  # asked again at once, not after the 30 s poll
    finally:
        background.stop(1)
