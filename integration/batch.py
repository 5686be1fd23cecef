"""A webhook batch after validation: what is kept, rejected or dropped, and each event's place.

Shared by the HubSpot and Salesforce normalisers (`integration.normalize`, `integration.outbound`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import orjson

from integration import limits
from integration.events import Received


@dataclass
class Rejected:
    """One notification of an otherwise accepted batch that was not stored, and why."""

    index: int
    reason: str
    detail: Any = None


@dataclass
class Normalized:
    events: list[Any] = field(default_factory=list)  # `Event`s, or `Received` from the *_received functions
    rejected: list[Rejected] = field(default_factory=list)
    dropped: list[Rejected] = field(default_factory=list)  # valid, but for no tenant of ours
    indexes: list[int] = field(default_factory=list)  # each event's position in the batch
    key_field: str = "id"  # the payload field a delivery key is built from (for its limit)
    within_limits: bool = False  # its maker measured every event as storable: nothing to enforce

    def add(self, index: int, event: Any) -> None:
        self.events.append(event)
        self.indexes.append(index)

    def enforce_limits(self, body_size: int) -> Normalized:
        """Move events no store could keep identically (key or size limits) to `rejected`."""
        if self.within_limits:
            return self
        if self.events and type(self.events[0]) is Received:  # sizes are known exactly
            if not limits.any_received_may_exceed(self.events):
                return self  # the usual batch: nothing can be over a limit
            problem_of: Callable[[Any], tuple[str, str] | None] = lambda r: limits.received_problem(r, self.key_field)  # noqa: E731
        else:
            measure = limits.needs_measuring(body_size)
            if not measure and not limits.keys_may_be_too_long(e.key for e in self.events):
                return self
            problem_of = lambda e: limits.event_problem(e, self.key_field, measure=measure)  # noqa: E731
        kept: list[tuple[int, Any]] = []
        for index, event in zip(self.indexes, self.events):
            problem = problem_of(event)
            if problem is None:
                kept.append((index, event))
            else:
                self.rejected.append(Rejected(index, "event exceeds a storage limit", {problem[0]: [problem[1]]}))
        if len(kept) != len(self.events):
            self.indexes, self.events = [i for i, _ in kept], [e for _, e in kept]
            self.rejected.sort(key=lambda r: r.index)
        return self


def raw_json(value: Any) -> str:
    """Compact JSON of a raw notification (orjson; the standard library for what it refuses)."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, default=str, separators=(",", ":"))


def describe(rejected: Iterable[Rejected]) -> list[dict[str, Any]]:
    """JSON-safe list for responses and logs (reasons and field names, never values)."""
    return [{"index": r.index, "reason": r.reason, "fields": r.detail} for r in rejected]
