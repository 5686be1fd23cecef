"""The store port: durable events and the action log (which doubles as the effect ledger).

Status logic lives here once; each backend (SQLite, DynamoDB) implements a few primitives,
and one contract test suite (`tests/store_contract.py`) runs on both.

Event lifecycle:  pending --claim--> processing --> done | pending (retry later) | dead
A `processing` event whose lease has expired (the worker died) is due again.

The outbox (one action row per command idempotency key; the action log states the truth):
  planned --> sent --> done | failed | unknown
- Planning writes every command as `planned` before anything is sent; a key that exists
  already is left as it is (the same intent is never planned twice).
- Only the event that planned an action (`event_key`) sends it, and only while it holds that
  event's claim: the event lease guards the outbox, actions need no lease of their own.
- `sent` is written before the CRM call. A `sent` row found later (the process died) is
  treated like `unknown`: the CRM may have applied it. Idempotent commands are sent again;
  creates are looked up first (reconciled) and sent again only if the CRM does not have them.
- `failed` rows are sent again when their event is retried or replayed; `done` never.
"""
from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Collection, Mapping, Sequence

from integration.events import DEAD, DONE, PENDING, SOURCE_HUBSPOT, UNKNOWN, Event, Received, StoredEvent, event_from_json, event_to_json

if TYPE_CHECKING:
    from integration.ledger import ReviewLedger

log = logging.getLogger(__name__)

ACTION_PLANNED = "planned"
ACTION_SENT = "sent"
ACTION_DONE = "done"
ACTION_FAILED = "failed"
ACTION_UNKNOWN = "unknown"
ACTION_STATUSES = (ACTION_PLANNED, ACTION_SENT, ACTION_DONE, ACTION_FAILED, ACTION_UNKNOWN)


@dataclass(frozen=True)
class Action:
    """One CRM command, keyed by its idempotency key, with the rule that caused it."""

    key: str
    tenant: str
    event_key: str
    rule: str
    op: str
    record_id: str
    reason: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    dry_run: bool = False
    status: str = ACTION_PLANNED
    crm_id: str | None = None
    error: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    sends: int = 0  # how many times it was sent to the CRM


@dataclass(frozen=True)
class ActionUpdate:
    """A new status for one action; `sends` grows by one when the status is `sent`."""

    key: str
    status: str
    crm_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Settlement:
    """The end of one processing attempt of an event: its new status and schedule."""

    key: str
    status: str  # done | pending (retry at next_attempt_at) | dead | ignored
    attempts: int
    next_attempt_at: float = 0.0
    last_error: str | None = None
    # The claim this attempt ran under: written only while the event is still held under it,
    # so a worker whose lease ran out never overwrites the outcome of the worker that took over.
    lease_until: float | None = None


class Store(ABC):
    """Narrow persistence interface. Every write is durable when the call returns, except the
    worker's progress (claim, plan, settle; never events, never `sent` marks), which a backend
    may leave to its next durable write (SQLite does: see integration.store.sqlite)."""

    # --- events -------------------------------------------------------------------------
    @abstractmethod
    def add_events(self, events: Sequence[Event | Received], now: float) -> list[bool]:
        """Insert each event as pending unless its key exists; True where it was new.

        The ack hands over `Received` (stored raw, one copy: `stored_body`); readers get an
        `Event` either way (`decode_event`)."""

    @abstractmethod
    def get_event(self, key: str) -> StoredEvent | None: ...

    @abstractmethod
    def list_events(
        self, *, status: str | None = None, tenant: str | None = None, limit: int = 50
    ) -> list[StoredEvent]:
        """Newest first."""

    @abstractmethod
    def due_events(self, now: float, limit: int = 100, skip_tenants: Collection[str] = ()) -> list[tuple[str, str]]:
        """(key, tenant) of pending events whose retry time has come and of processing ones
        whose lease expired, oldest first; `skip_tenants` lets a dispatcher pass over tenants
        that hold enough threads already, so one tenant's backlog never hides another's."""

    def due_event_keys(self, now: float, limit: int = 100) -> list[str]:
        return [key for key, _ in self.due_events(now, limit)]

    @abstractmethod
    def _claim(self, key: str, now: float, lease_until: float) -> StoredEvent | None:
        """Atomically set status=processing + lease if the event is pending-and-due or its
        lease expired; return the updated event, or None if someone else holds it / done."""

    @abstractmethod
    def _set_event_state(
        self,
        key: str,
        *,
        status: str,
        attempts: int,
        next_attempt_at: float,
        last_error: str | None,
        now: float,
    ) -> None: ...

    def claim_events(self, keys: Sequence[str], now: float, lease_seconds: float = 300.0) -> list[StoredEvent]:
        """Claim several events (backends may do it in one round trip); those held elsewhere
        or already finished are left out."""
        claimed = (self._claim(key, now, now + lease_seconds) for key in dict.fromkeys(keys))
        return [stored for stored in claimed if stored is not None]

    @abstractmethod
    def settle_events(self, settlements: Sequence[Settlement], now: float, actions: Sequence[ActionUpdate] = ()) -> None:
        """Write the outcome of one attempt for several events at once and release their
        claims, together with the outcomes of the actions they sent (`actions`, applied first;
        one transaction where the backend has them)."""

    # --- actions (the outbox) -------------------------------------------------------------
    @abstractmethod
    def plan_actions(self, actions: Sequence[Action], now: float) -> list[Action]:
        """Insert each action as `planned` unless its key exists; answer the stored row for
        each input, in order (the existing row, unchanged, where the key was known)."""

    @abstractmethod
    def update_actions(self, updates: Sequence[ActionUpdate], now: float) -> None:
        """Set status, crm id and error of several actions at once (one transaction where the
        backend has them); `sent` also counts one more send."""

    @abstractmethod
    def actions_for_events(self, event_keys: Sequence[str]) -> dict[str, list[Action]]:
        """The actions each event planned (its outbox), oldest first; events with none are absent."""

    @abstractmethod
    def get_action(self, key: str) -> Action | None: ...

    @abstractmethod
    def list_actions(
        self, *, tenant: str | None = None, event_key: str | None = None, limit: int = 50
    ) -> list[Action]:
        """Newest first."""

    def close(self) -> None:
        """Release connections (tests and CLI)."""

    def ledger(self) -> ReviewLedger:
        """The review ledger kept beside this store's events (same file / same table)."""
        raise NotImplementedError(f"the {type(self).__name__} backend has no review ledger")

    # --- shared status logic --------------------------------------------------------------
    def claim_event(self, key: str, now: float, lease_seconds: float = 300.0) -> StoredEvent | None:
        return self._claim(key, now, now + lease_seconds)

    def complete_event(self, stored: StoredEvent, now: float) -> None:
        self.settle_events([Settlement(stored.key, DONE, stored.attempts + 1)], now)

    def ignore_event(self, stored: StoredEvent, now: float, status: str) -> None:
        self.settle_events([Settlement(stored.key, status, stored.attempts)], now)

    def fail_event(self, stored: StoredEvent, error: str, now: float, retry_at: float | None) -> None:
        """Record a failed attempt: pending again at `retry_at`, or dead when None."""
        self.settle_events([failed(stored, error, retry_at)], now)

    def replay_event(self, key: str, now: float) -> bool:
        """Make an event (dead, done or ignored) pending again; its done actions stay done."""
        stored = self.get_event(key)
        if stored is None:
            return False
        self._set_event_state(key, status=PENDING, attempts=0, next_attempt_at=now, last_error=None, now=now)
        return True


def failed(stored: StoredEvent, error: str, retry_at: float | None) -> Settlement:
    """A failed attempt: pending again at `retry_at`, or dead when None."""
    return Settlement(stored.key, PENDING if retry_at is not None else DEAD, stored.attempts + 1, retry_at or 0.0, error)


# --- serialisation shared by the backends ---------------------------------------------------
def stored_body(event: Event | Received) -> tuple[str, str | None]:
    """(body, source) as a store keeps the event: raw with its source, or (an `Event`) normalised."""
    if type(event) is Received:
        return event.body, event.source
    return event_to_json(event), None  # type: ignore[arg-type]


def decode_event(body: str, source: str | None, key: str, tenant: str, received_at: float) -> Event:
    """The `Event` of a stored row. Rows written raw (with a source) are normalised here, as they
    are read; rows without one were stored normalised (before the ack stopped doing it)."""
    if source is None:
        return event_from_json(body)
    from integration.normalize import from_raw  # the store's one tie to the payload formats

    try:
        return from_raw(source, key, tenant, body, received_at)
    except Exception as exc:  # the edge validated it: a bug or a row from an incompatible version
        # An UNKNOWN event matches no rule: it is settled `ignored` and stays visible, never a
        # claim that fails on every poll. The log names the key, never the payload.
        log.warning("stored event %s cannot be normalised (%s): treated as unknown", key, type(exc).__name__)
        return Event(key=key, tenant=tenant, crm=source.partition("-")[0], object_type="unknown", object_id="",
                     kind=UNKNOWN, occurred_at=datetime.fromtimestamp(received_at, tz=timezone.utc), source_id="")  # fmt: skip


def decode_events(rows: Sequence[tuple[str, str | None, str, str, float]]) -> list[Event]:
    """`decode_event` of each (body, source, key, tenant, received_at), in order. The HubSpot
    rows of a claim usually share one shape: they are built together when they do
    (`normalize.hubspot_from_raw_batch`), one by one (`decode_event`) when they do not."""
    hubspot = [at for at, row in enumerate(rows) if row[1] == SOURCE_HUBSPOT]
    built: dict[int, Event] = {}
    if len(hubspot) > 1:
        from integration.normalize import hubspot_from_raw_batch

        try:
            picked = [rows[at] for at in hubspot]
            batch = hubspot_from_raw_batch([r[2] for r in picked], [r[3] for r in picked], [r[0] for r in picked])
        except Exception:  # whatever it is, `decode_event` of each row settles it as before
            batch = None
        if batch is not None:
            if len(batch) == len(rows):  # the usual claim: HubSpot rows only
                return batch
            built = dict(zip(hubspot, batch))
    return [built[at] if at in built else decode_event(*row) for at, row in enumerate(rows)]


def payload_to_json(payload: Mapping[str, Any]) -> str:
    """Compact JSON with sorted keys (orjson, several times faster on the worker's path; the
    standard library for what orjson refuses)."""
    import orjson

    try:
        return orjson.dumps(payload, default=str, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(payload, default=str, separators=(",", ":"), sort_keys=True)
