"""The one internal shape every accepted CRM notification is normalised into.

Handlers turn HubSpot event arrays, Salesforce outbound messages and signed JSON posts into
`Event`s; everything after intake (store, worker, rules) sees only this shape.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Mapping, NamedTuple

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

# Where a stored raw notification came from: says how to build its `Event` when it is read.
SOURCE_HUBSPOT = "hubspot"
SOURCE_OUTBOUND = "salesforce-outbound"  # Salesforce outbound message (SOAP) notification
SOURCE_SALESFORCE_JSON = "salesforce-json"  # signed JSON from a Flow or Apex callout
SOURCES = (SOURCE_HUBSPOT, SOURCE_OUTBOUND, SOURCE_SALESFORCE_JSON)
# Recordings are stored as `<crm>-recorder` / `<crm>-zoom` (integration.recording_intake): the
# tenant's CRM first, so `Received.crm` is the CRM the recording is attached in.


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


class Received(NamedTuple):
    """An accepted notification as the ack stores it: validated and keyed, kept raw (one copy).

    Building the `Event` cannot reject it, so that waits for the reader (the worker, CLI):
    `integration.normalize.from_raw` does it from `source`, `key`, `tenant` and `body`.
    A named tuple: the ack makes 100 per request, a frozen dataclass costs 10x more to build.
    """

    key: str
    tenant: str
    source: str  # one of SOURCES
    body: str  # the raw notification, compact JSON
    raw: Mapping[str, Any] = {}  # parsed `body`, to name the field of an oversized event; never mutated

    @property
    def crm(self) -> str:
        return self.source.partition("-")[0]


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


# --- serialisation of a normalised event (the store's format before events were kept raw) -----------
def event_to_json(event: Event) -> str:
    """Compact JSON of the event. orjson encodes the dataclass (datetimes as ISO 8601)
    natively, about 4x faster than the standard library on the intake path; the standard
    library remains the fallback for what orjson refuses (e.g. integers beyond 64 bits)."""
    import orjson

    try:
        return orjson.dumps(event, default=str).decode()
    except orjson.JSONEncodeError:
        data: dict[str, Any] = {f.name: getattr(event, f.name) for f in fields(Event)}
        data["occurred_at"] = event.occurred_at.isoformat()
        return json.dumps(data, default=str, separators=(",", ":"))


def event_from_json(text: str) -> Event:
    data = json.loads(text)
    data["occurred_at"] = datetime.fromisoformat(data["occurred_at"])
    return Event(**data)
