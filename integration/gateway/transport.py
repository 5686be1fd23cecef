"""Timeouts and the retry policy, shared by both CRM adapters and the worker.

One rule decides whether a failed request may be sent again inside the adapter:
- a failure before the request reached the CRM (connection refused, connect timeout, 429,
  an auth refresh) is safe to resend, whatever the request;
- a failure after it was sent (5xx, connection dropped, read timeout) is *ambiguous*: the CRM
  may have applied it. Idempotent requests (reads, updates, upserts on an external id) are
  resent; non-idempotent ones (creates) are not: they come back to the worker as unknown and
  are looked up (`CrmGateway.reconcile`) before anything is sent again.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Timeouts:
    """Seconds to connect and to wait for each read; a hanging CRM costs at most these."""

    connect: float = 5.0
    read: float = 30.0

    def as_tuple(self) -> tuple[float, float]:
        return (self.connect, self.read)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with equal jitter (half fixed, half random), capped."""

    attempts: int = 4  # resends after the first try
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait before resend number `attempt` (1-based); a server's Retry-After wins."""
        if retry_after is not None and retry_after >= 0:
            return retry_after
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(0, attempt - 1))
        return ceiling / 2 + rng() * ceiling / 2

    def may_resend(self, attempt: int, *, transient: bool, ambiguous: bool, idempotent: bool) -> bool:
        """Resend number `attempt` (1-based) is allowed: transient, budget left, and never an
        ambiguous failure of a non-idempotent request."""
        return transient and attempt <= self.attempts and (idempotent or not ambiguous)
