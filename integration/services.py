"""What handlers and the CLI use, built by `integration.app.build_services`.

Its own module so handlers can name the type without importing the app that registers them.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping

from integration.config import Config
from integration.intake import Intake
from integration.store import Store

if TYPE_CHECKING:
    from integration.background import BackgroundWorker
    from integration.ledger import ReviewLedger
    from integration.worker_process import WorkerProcess
    from integration.worker import Worker


@dataclass
class Services:
    """Everything handlers and the CLI use; tests replace any part through overrides."""

    config: Config
    store: Store
    make_worker: Callable[[], Worker]  # called once, on first use of `worker`
    intake: Intake
    clock: Callable[[], float]
    environ: Mapping[str, str]
    background: BackgroundWorker | WorkerProcess | None = None
    make_ledger: Callable[[], ReviewLedger | None] = lambda: None  # memoized by its maker (build_services)
    _worker: Worker | None = field(default=None, init=False, repr=False)
    _ledger: tuple[ReviewLedger | None] | None = field(default=None, init=False, repr=False)  # set by a test
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    @property
    def ledger(self) -> ReviewLedger | None:
        """The review loop's state (`Store.ledger()`), None if the store has none. Built on first
        use, like `worker`: a cold start that only takes webhooks never imports it."""
        return self._ledger[0] if self._ledger is not None else self.make_ledger()

    @ledger.setter
    def ledger(self, value: ReviewLedger | None) -> None:
        self._ledger = (value,)

    @property
    def worker(self) -> Worker:
        """Built on first use: a process that only takes webhooks (a Lambda cold start) never loads the engine."""
        with self._lock:
            if self._worker is None:
                self._worker = self.make_worker()
            return self._worker

    def secret(self, env_name: str | None) -> str | None:
        return self.environ.get(env_name) or None if env_name else None
