"""Client-side request budget for CRM APIs limited per rolling window (HubSpot: per 10 s).

Staying under the limit ourselves is cheaper than collecting 429s: HubSpot wants error
responses under 5 % of requests, and every 429 still counts against the daily allowance.
Clock and sleep are injected so tests can check the pacing without waiting.
"""
from __future__ import annotations

import threading
from collections import deque
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
        self._sent: deque[float] = deque()
        self._resume_at = float("-inf")
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Reserve the earliest slot that keeps every window within `limit` (slots are taken
        in order), then sleep until it outside the lock: `observe` and `pause` from other
        threads never wait behind a sleeper."""
        with self._lock:
            now = self._clock()
            self._forget_before(now - self.window)
            slot = max(now, self._resume_at, self._sent[-1] if self._sent else now)
            if len(self._sent) >= self.limit:
                slot = max(slot, self._sent[-self.limit] + self.window)
            self._sent.append(slot)
        if slot > now:
            self._sleep(slot - now)

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
        while self._sent and self._sent[0] <= moment:
            self._sent.popleft()


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
