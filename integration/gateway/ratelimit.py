"""Client-side request budget for CRM APIs limited per rolling window (HubSpot: per 10 s).

Staying under the limit ourselves is cheaper than collecting 429s: HubSpot wants error
responses under 5 % of requests, and every 429 still counts against the daily allowance.
Clock and sleep are injected so tests can check the pacing without waiting.
"""
from __future__ import annotations

import bisect
import threading
from typing import Callable, Mapping

REMAINING_HEADER = "X-HubSpot-RateLimit-Remaining"
INTERVAL_HEADER = "X-HubSpot-RateLimit-Interval-Milliseconds"


class SlidingWindowLimiter:
    """At most `limit` requests in any `window` seconds, and a pause when the server says so.

    `acquire()` before each request blocks (through `sleep`) until the request fits the window.
    `observe(headers)` reads HubSpot's counters from a response: when the server reports
    `reserve` or fewer requests left (other clients share the app's budget), the next request
    waits only until the oldest of our requests in the window leaves it (the server's rolling
    window frees a slot then), or one server interval when none of ours is in it.
    `pause(seconds)` holds every request, e.g. after a 429. Thread-safe: threads sharing a
    limiter share its budget.
    `answered(slot)` after each response: the server counts a request when it arrives, which
    may be as late as its answer, so the request keeps its place in the window until then
    (counted from the send, a request that reached the server late let the next window open
    early: a 429, and every thread paused for a whole interval).
    """

    def __init__(
        self,
        limit: int,
        window: float = 10.0,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        reserve: int = 1,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.window = window
        self.reserve = reserve
        self._clock = clock
        self._sleep = sleep
        self._sent: list[float] = []  # sorted: reserved slots, answered requests' answer times
        self._resume_at = float("-inf")
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Reserve the earliest slot that keeps every window within `limit` (slots are taken
        in order), then sleep until it outside the lock: `observe` and `pause` from other
        threads never wait behind a sleeper. Answers the slot (for `answered`)."""
        with self._lock:
            now = self._clock()
            self._forget_before(now - self.window)
            slot = max(now, self._resume_at, self._sent[-1] if self._sent else now)
            if len(self._sent) >= self.limit:
                slot = max(slot, self._sent[-self.limit] + self.window)
            bisect.insort(self._sent, slot)
        if slot > now:
            self._sleep(slot - now)
        return slot

    def answered(self, slot: float) -> None:
        """The request sent in `slot` got its answer (or failed) now: it stays in the window
        until a full window after this moment."""
        with self._lock:
            i = bisect.bisect_left(self._sent, slot)
            if i < len(self._sent) and self._sent[i] == slot:
                del self._sent[i]
            bisect.insort(self._sent, max(slot, self._clock()))

    def observe(self, headers: Mapping[str, str] | None) -> None:
        remaining = _int_header(headers, REMAINING_HEADER)
        interval_ms = _int_header(headers, INTERVAL_HEADER)
        if remaining is not None and interval_ms and remaining <= self.reserve:
            with self._lock:
                now = self._clock()
                window = interval_ms / 1000
                oldest = next((t for t in self._sent if now - window < t <= now), None)
                self._resume_at = max(self._resume_at, (oldest + window) if oldest is not None else now + window)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._resume_at = max(self._resume_at, self._clock() + seconds)

    def _forget_before(self, moment: float) -> None:
        del self._sent[: bisect.bisect_right(self._sent, moment)]


def _int_header(headers: Mapping[str, str] | None, name: str) -> int | None:
    """Header value as int; urllib3's HTTPHeaderDict is case-insensitive, plain dicts may not be."""
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
