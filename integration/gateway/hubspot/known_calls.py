"""Recording id -> HubSpot call id, as this gateway's own upserts just answered them.

A review task about a call is created right after the call is upserted (the same worker pass);
remembering the id the upsert answered saves the task's look-up of its call by recording id.
Entries expire after `max_age` seconds, so a call deleted in HubSpot later is looked up again.
Thread-safe: one gateway serves the worker's threads.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Iterable

MAX_AGE = 600.0  # seconds: one worker pass and its retries


class KnownCalls:
    def __init__(self, clock: Callable[[], float] = time.monotonic, max_age: float = MAX_AGE, max_entries: int = 10_000) -> None:
        self._clock = clock
        self._max_age = max_age
        self._max_entries = max_entries
        self._ids: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def remember(self, pairs: Iterable[tuple[str, str]]) -> None:
        now = self._clock()
        with self._lock:
            for recording_id, call_id in pairs:
                self._ids.pop(recording_id, None)
                self._ids[recording_id] = (call_id, now)
            while len(self._ids) > self._max_entries:
                del self._ids[next(iter(self._ids))]

    def known(self, recording_ids: Iterable[str]) -> dict[str, str]:
        oldest = self._clock() - self._max_age
        with self._lock:
            found = {r: self._ids.get(r) for r in recording_ids}
        return {r: hit[0] for r, hit in found.items() if hit is not None and hit[1] >= oldest}
