"""Rows of the SQLite store: event and action rows <-> the store's dataclasses, and the small
query helpers every statement shares."""
from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any, Sequence

from integration.events import Event, StoredEvent
from integration.store import ACTION_PLANNED, Action, decode_event, decode_events, payload_to_json

if TYPE_CHECKING:
    from integration.store.sqlite_pool import PooledStatements


def select_in(db: "sqlite3.Connection | PooledStatements", select: str, column: str, values: list[str]) -> list[tuple]:
    """`select … WHERE column IN (values)`, in chunks that stay under SQLite's variable limit."""
    rows: list[tuple] = []
    for start in range(0, len(values), 500):
        chunk = values[start : start + 500]
        rows.extend(db.execute(f"{select} WHERE {column} IN ({', '.join('?' * len(chunk))})", chunk).fetchall())
    return rows


def select_in_and(db: Any, sql: str, args: Sequence[Any], column: str, values: Sequence[str]) -> list[tuple]:
    """`sql AND column IN (values)` (`sql` has a WHERE of its own, whose `?` take `args`), in
    chunks under SQLite's variable limit; each value asked once."""
    unique = list(dict.fromkeys(values))
    rows: list[tuple] = []
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        rows += db.execute(f"{sql} AND {column} IN ({', '.join('?' * len(chunk))})", (*args, *chunk)).fetchall()
    return rows


def filters(**columns: str | None) -> tuple[str, tuple[str, ...]]:
    used = {name: value for name, value in columns.items() if value is not None}
    if not used:
        return "", ()
    return "WHERE " + " AND ".join(f"{name} = ?" for name in used), tuple(used.values())


def event_from_row(row: tuple) -> StoredEvent:
    key, tenant, source, body, *_ = row
    return _stored(row, decode_event(body, source, key, tenant, row[6]))


def events_from_rows(rows: Sequence[tuple]) -> list[StoredEvent]:
    """`event_from_row` of each row, their events decoded together (`decode_events`)."""
    events = decode_events([(r[3], r[2], r[0], r[1], r[6]) for r in rows])  # (body, source, key, tenant, received_at)
    return list(map(_stored, rows, events))


def _stored(row: tuple, event: Event) -> StoredEvent:
    """The row (in `_EVENT_COLUMNS` order) with its body decoded as `event`."""
    _, _, _, _, status, attempts, received_at, next_attempt_at, updated_at, lease_until, last_error = row
    return StoredEvent(
        event=event,
        status=status,
        attempts=attempts,
        received_at=received_at,
        next_attempt_at=next_attempt_at,
        updated_at=updated_at,
        lease_until=lease_until,
        last_error=last_error,
    )


def planned_row(a: Action, now: float) -> Action:
    """`a` as a new outbox row (dataclasses.replace costs several times more per row); `a`
    itself when it is one already (the outbox builds its rows so)."""
    if a.status == ACTION_PLANNED and a.created_at == now == a.updated_at and a.crm_id is None and a.error is None and not a.sends:
        return a
    return Action(a.key, a.tenant, a.event_key, a.rule, a.op, a.record_id, a.reason, a.payload, a.dry_run, ACTION_PLANNED, None, None, now, now, 0)


def row_of(a: Action) -> tuple:
    return (
        a.key, a.tenant, a.event_key, a.rule, a.op, a.record_id, a.reason, payload_to_json(a.payload),
        int(a.dry_run), a.status, a.crm_id, a.error, a.created_at, a.updated_at, a.sends,
    )  # fmt: skip


def action_from_row(row: tuple) -> Action:
    (key, tenant, event_key, rule, op, record_id, reason, payload, dry_run, status, crm_id, error,
     created_at, updated_at, sends) = row  # fmt: skip
    return Action(
        key=key, tenant=tenant, event_key=event_key, rule=rule, op=op, record_id=record_id, reason=reason,
        payload=json.loads(payload), dry_run=bool(dry_run), status=status, crm_id=crm_id, error=error,
        created_at=created_at, updated_at=updated_at, sends=sends,
    )  # fmt: skip
