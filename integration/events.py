"""The one internal shape every accepted CRM notification is normalised into.

Handlers turn HubSpot event arrays, Salesforce outbound messages and signed JSON posts into
`Event`s; everything after intake (store, worker, rules) sees only this shape.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

# Event kinds the rules understand; anything else is stored as UNKNOWN and ignored.
CREATED = "created"
UPDATED = "updated"
DELETED = "deleted"
MERGED = "merged"
ASSOCIATED = "associated"
UNKNOWN = "unknown"
KINDS = (CREATED, UPDATED, DELETED, MERGED, ASSOCIATED, UNKNOWN)

# Event statuses in the store.
PENDING = "pending"
PROCESSING = "processing"
DONE = "done"
DEAD = "dead"
IGNORED = "ignored"
STATUSES = (PENDING, PROCESSING, DONE, DEAD, IGNORED)


@dataclass(frozen=True)
class Event:
    """A single CRM change, de-duplicated on `key` (which survives redelivery).

    `key` is explicit and tenant-scoped: `hubspot#<portal>#...` or `salesforce#<org>#<id>`.
    `changed` holds the field values the notification carried; rules must not trust them
    as current (deliveries arrive late and out of order) and read the record instead.
    """

    key: str
    tenant: str
    crm: str
    object_type: str
    object_id: str
    kind: str
    occurred_at: datetime
    source_id: str
    changed: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredEvent:
    """An event plus its processing state, as the store keeps it."""

    event: Event
    status: str
    attempts: int
    received_at: float
    next_attempt_at: float
    updated_at: float
    last_error: str | None = None
    lease_until: float = 0.0

    @property
    def key(self) -> str:
        return self.event.key
