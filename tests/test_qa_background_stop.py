"""Stopping the in-process worker while a dispatch is still claiming (a slow store under a
backlog, found by the 32-sender load run): no traceback, nothing handed to the shut-down pool."""
from __future__ import annotations

import logging
import threading
from types import SimpleNamespace

from integration.background import BackgroundWorker


class SlowClaimWorker:
    """Enough of Worker for the dispatcher: one due event whose claim outlasts stop()."""

    def __init__(self) -> None:
        self.config = SimpleNamespace(worker=SimpleNamespace(concurrency=2, batch_size=10))
        self.store = SimpleNamespace(due_events=lambda now, limit, skip_tenants=(): [("k1", "t1")])
        self.clock = lambda: 0.0
        self.claiming = threading.Event()
        self.release = threading.Event()
        self.processed: list = []

    def claim(self, keys):
        self.claiming.set()
        self.release.wait(5)
        return [SimpleNamespace(key=k) for k in keys]

    def process_claimed(self, claimed) -> None:
        self.processed.extend(claimed)


def test_a_claim_that_outlasts_stop_is_not_submitted_to_the_stopped_pool(caplog):
    worker = SlowClaimWorker()
    background = BackgroundWorker(worker, poll_seconds=0.01).start()  # type: ignore[arg-type]
    assert worker.claiming.wait(5)
    background.stop(timeout=0.1)  # the dispatcher is still inside claim(): join times out
    with caplog.at_level(logging.WARNING, logger="integration.background"):
        worker.release.set()
        background._thread.join(5)
    assert not background._thread.is_alive()
    assert worker.processed == []
    assert [r.levelname for r in caplog.records] == ["WARNING"]  # "stopped while claiming", no exception
    assert "wait for their lease" in caplog.records[0].getMessage()
