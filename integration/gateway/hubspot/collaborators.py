"""AddCollaborators on HubSpot deals, and the repair of collaborators our write dropped.

`hs_all_collaborator_owner_ids` is written whole (the ";"-append syntax of multi-checkbox
properties is unconfirmed for it), so the handler merges the leaders into the value it
knows. Requests: the worker's state read (`read_deals`) already holds each deal's value;
the handler uses it when it is at most `max_state_age` seconds old and reads (with history)
only the deals it holds no fresh value for, right before writing. A 100-event batch thus
costs the state read and one batch update.

The race, and what is done about it: a person who adds a collaborator between our read and
our write loses it to our write. The window is at most `max_state_age` plus one request.
Every deal read asks HubSpot for the property's history; for each write of ours remembered
(`Ledger`, in memory, `verify_seconds` long) the version just before ours shows what our
write got wrong (`repair_for`): ids a person added that it dropped are re-added, unless a
later version shows them removed again; ids a person removed that it put back are removed
again while ours is still the latest version. The next read of the deal (or `verify`)
writes the repair.
What remains: a mistake is only seen by a later read of that deal, in the same process,
within `verify_seconds` (a restarted process forgets its writes); until then the deal shows
it. A removal is not undone once someone else has written the property after us.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping, Sequence

from integration.commands import AddCollaborators, Outcome
from integration.gateway import CrmError
from integration.gateway.hubspot.mapping import COLLABORATORS, outcome, split_ids, unique
from integration.gateway.hubspot.records import Records

log = logging.getLogger(__name__)
SKEW_MS = 60_000  # our clock vs HubSpot's when matching our write in the history
_MAX_SEEN = 20_000


@dataclass(frozen=True)
class Version:
    """One entry of the property's history."""

    ids: frozenset[str]
    at_ms: int


@dataclass(frozen=True)
class Write:
    """One of our writes: what we based it on and what we wrote, when (wall clock, ms)."""

    base: frozenset[str]
    written: frozenset[str]
    at_ms: int


@dataclass(frozen=True)
class Repair:
    """What to change so a write of ours no longer undoes a person's concurrent edit."""

    add: frozenset[str] = frozenset()
    remove: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.add or self.remove)

    def __or__(self, other: "Repair") -> "Repair":
        return Repair(self.add | other.add, self.remove | other.remove)

    def apply(self, ids: Sequence[str]) -> list[str]:
        kept = [i for i in ids if i not in self.remove]
        return kept + sorted(self.add - set(kept))


def repair_for(write: Write, history: Sequence[Version]) -> Repair | None:
    """Compare our write with the version just before it. Add: ids present then that it left
    out and no later version shows. Remove: ids of our base a person removed then that it put
    back, while ours is the latest version. None while the history does not show our write."""
    ordered = sorted(history, key=lambda v: v.at_ms)
    for i, version in enumerate(ordered):
        if version.ids == write.written and version.at_ms >= write.at_ms - SKEW_MS:
            if i == 0:
                return Repair()  # nothing before ours is shown: nothing to compare with
            before, later = ordered[i - 1].ids, ordered[i + 1 :]
            touched_later = frozenset().union(*(v.ids for v in later))
            return Repair(add=before - write.written - touched_later, remove=frozenset() if later else write.base - before)
    return None


@dataclass
class _Seen:
    ids: tuple[str, ...]
    at: float  # monotonic seconds


@dataclass
class Ledger:
    """What this process knows about collaborator values: the latest read of each deal and
    our writes not yet verified against the history. Thread-safe."""

    verify_seconds: float = 3600.0
    _seen: dict[str, _Seen] = field(default_factory=dict)
    _writes: dict[str, list[Write]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fresh(self, deal_id: str, now: float, max_age: float) -> tuple[str, ...] | None:
        with self._lock:
            seen = self._seen.get(deal_id)
            return seen.ids if seen is not None and now - seen.at <= max_age else None

    def read(self, deal_id: str, ids: Iterable[str], history: Sequence[Version], now: float, now_ms: int) -> Repair:
        """Remember a read; answers what our earlier writes got wrong on this deal."""
        repair = Repair()
        with self._lock:
            self._remember(deal_id, ids, now)
            pending = []
            for write in self._writes.get(deal_id, []):
                found = repair_for(write, history) if history else None
                # Kept while unseen, and while its repair is not written (the repair's own
                # version then shows it, and the next read settles it).
                if (found is None or found) and now_ms - write.at_ms < self.verify_seconds * 1000:
                    pending.append(write)
                repair |= found or Repair()
            self._set_writes(deal_id, pending)
        return repair

    def wrote(self, deal_id: str, base: Iterable[str], written: Sequence[str], now: float, now_ms: int) -> None:
        with self._lock:
            self._remember(deal_id, written, now)
            self._set_writes(deal_id, [*self._writes.get(deal_id, []), Write(frozenset(base), frozenset(written), now_ms)])

    def unverified(self, now_ms: int, older_than_ms: int = 0) -> list[str]:
        with self._lock:
            return [d for d, writes in self._writes.items() if any(now_ms - w.at_ms >= older_than_ms for w in writes)]

    def _remember(self, deal_id: str, ids: Iterable[str], now: float) -> None:
        if len(self._seen) >= _MAX_SEEN:  # values older than a minute are never fresh enough
            self._seen = {d: s for d, s in self._seen.items() if now - s.at < 60}
        self._seen[deal_id] = _Seen(tuple(ids), now)

    def _set_writes(self, deal_id: str, writes: list[Write]) -> None:
        if writes:
            self._writes[deal_id] = writes
        else:
            self._writes.pop(deal_id, None)


def history_of(record: Any) -> list[Version]:
    """The collaborators' history versions of a read record (SDK model)."""
    versions = (getattr(record, "properties_with_history", None) or {}).get(COLLABORATORS) or []
    return [Version(frozenset(split_ids(v.value)), _ms(v.timestamp)) for v in versions if v.timestamp is not None]


class Collaborators:
    def __init__(self, records: Records, ledger: Ledger, *, max_state_age: float, clock: Callable[[], float], wall_clock: Callable[[], float]) -> None:
        self.records = records
        self.ledger = ledger
        self.max_state_age = max_state_age
        self._clock = clock
        self._wall_clock = wall_clock

    def observe(self, records: Sequence[Any]) -> dict[str, Repair]:
        """Remember deals just read (with history); deal id -> what our writes got wrong."""
        now, now_ms = self._clock(), self.now_ms()
        repairs = {}
        for record in records:
            current = split_ids((record.properties or {}).get(COLLABORATORS))
            repair = self.ledger.read(str(record.id), current, history_of(record), now, now_ms)
            if repair.apply(current) != current:
                repairs[str(record.id)] = repair
        return repairs

    def repair(self, records: Sequence[Any]) -> dict[str, list[str]]:
        """Write the repairs these freshly read deals need: one batch update per 100 deals,
        only when something needs it. Answers deal id -> repaired value."""
        repairs = self.observe(records)
        current = {str(r.id): split_ids((r.properties or {}).get(COLLABORATORS)) for r in records if str(r.id) in repairs}
        merged = {d: repair.apply(current[d]) for d, repair in repairs.items()}
        try:
            results = self._write(current, merged)
        except CrmError as exc:  # the writes stay in the ledger: the next read tries again
            log.warning("repairing collaborators on %d deals failed: %s", len(merged), exc)
            return {}
        return {d: merged[d] for d, error in results.items() if error is None}

    def add(self, commands: Sequence[AddCollaborators]) -> list[Outcome]:
        """One chunk of ≤100 commands: several on one deal merge into one input."""
        deal_ids = unique(c.record_id for c in commands)
        now = self._clock()
        current: dict[str, list[str]] = {}
        stale = []
        for deal_id in deal_ids:
            fresh = self.ledger.fresh(deal_id, now, self.max_state_age)
            if fresh is None:
                stale.append(deal_id)
            else:
                current[deal_id] = list(fresh)
        repairs: Mapping[str, Repair] = {}
        if stale:
            records = self.records.read("deals", stale, (COLLABORATORS,), history=(COLLABORATORS,))
            repairs = self.observe(records)
            current.update({str(r.id): split_ids((r.properties or {}).get(COLLABORATORS)) for r in records})
        merged = {d: repairs[d].apply(ids) if d in repairs else list(ids) for d, ids in current.items()}
        for c in commands:
            if c.record_id in merged:
                merged[c.record_id].extend(u for u in c.user_ids if u not in merged[c.record_id])
        results = self._write(current, merged)
        outcomes = []
        for c in commands:
            if c.record_id not in current:
                outcomes.append(Outcome(key=c.key, ok=False, error=f"deal {c.record_id} not found in HubSpot"))
            elif c.record_id in results:
                outcomes.append(outcome(c, c.record_id, results[c.record_id], {"collaborators": merged[c.record_id]}))
            else:
                outcomes.append(Outcome(key=c.key, ok=True, crm_id=c.record_id, detail={"unchanged": True}))
        return outcomes

    def _write(self, current: Mapping[str, list[str]], merged: Mapping[str, list[str]]) -> dict[str, str | None]:
        changes = {d: {COLLABORATORS: ";".join(ids)} for d, ids in merged.items() if ids != current[d]}
        results = self.records.update("deals", changes)
        now, now_ms = self._clock(), self.now_ms()
        for deal_id, error in results.items():
            if error is None:
                self.ledger.wrote(deal_id, current[deal_id], merged[deal_id], now, now_ms)
        return results

    def now_ms(self) -> int:
        return int(self._wall_clock() * 1000)


def _ms(moment: datetime | str) -> int:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return int(moment.timestamp() * 1000)
