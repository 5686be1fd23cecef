"""SQLite store: the embedded default (WAL, one file, safe across threads and processes).

Connections are bounded: new events go through one group-commit writer (see
`sqlite_writer`), everything else borrows one of a few pooled connections for a statement
or a short transaction. `synchronous=FULL` makes a commit durable before the webhook is
acknowledged.

Which commits pay their own fsync: the acks' group commits, the `sent` marks (durable before
the CRM call, see integration.outbox), and admin writes (`replay_event`, the ledger). The
worker's other writes (claim, plan, settle with the outcomes of its actions) commit with
synchronous=NORMAL: the WAL is appended in order, so the next fsynced commit by anyone (the
next ack's group commit, the next `sent` marks, a checkpoint) makes them durable too. A power
cut can only lose worker progress, never an acknowledged event: a lost claim or settlement
leaves the event pending or processing, claimed again after its lease; a lost plan is planned
again; a lost outcome leaves its row `sent`, which the outbox reconciles (creates looked up,
idempotent commands resent). With the dry-run gateway nothing is marked sent, so its worker
never fsyncs: on a shared disk every fsync it spared is one the next ack does not queue behind.
"""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Collection, Iterator, Sequence

from integration.events import PENDING, PROCESSING, Event, Received, StoredEvent
from integration.store import (
    ACTION_SENT,
    Action,
    ActionUpdate,
    Settlement,
    Store,
    stored_body,
)
from integration.store.sqlite_ledger import SqliteLedger
from integration.store.sqlite_schema import create_schema
from integration.store.sqlite_rows import action_from_row, event_from_row, events_from_rows, filters, planned_row, row_of, select_in
from integration.store.sqlite_lock import WriteLock
from integration.store.sqlite_pool import ConnectionPool, PooledStatements, Transaction, connect
from integration.store.sqlite_checkpoint import CheckpointAfterWrites, Checkpointer
from integration.store.sqlite_writer import GroupWriter, WriterError

_EVENT_COLUMNS = "key, tenant, source, body, status, attempts, received_at, next_attempt_at, updated_at, lease_until, last_error"
_ACTION_COLUMNS = (
    "key, tenant, event_key, rule, op, record_id, reason, payload, dry_run, status, crm_id, error, "
    "created_at, updated_at, sends"
)
_INSERT_ACTION = f"INTO actions ({_ACTION_COLUMNS}) VALUES ({', '.join('?' * 15)})"  # after INSERT [OR IGNORE]


# "Still due" when claiming given keys. The unary `+` keeps these terms off the events_due
# index: with them indexable, SQLite planned a MULTI-INDEX OR that walked every pending and
# processing row (a claim of 100 took 19 ms with 20k pending, holding the write lock the
# acks wait on); by the unique key index it is ~100 lookups, whatever the backlog.
_DUE_UNINDEXED = "((+status = ? AND +next_attempt_at <= ?) OR (+status = ? AND +lease_until < ?))"

_INSERT_COLUMNS = ("key", "tenant", "source", "body", "status", "received_at", "next_attempt_at", "updated_at")


class SqliteStore(Store):
    def __init__(self, path: str | Path, *, pool_size: int = 4, checkpoint_seconds: float = 0.5):
        self.path = str(path)
        if self.path == ":memory:":
            raise ValueError("the SQLite store needs a file (its connections share it): use a temp path")
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._pool = ConnectionPool(lambda: connect(self.path, autocheckpoint=False), pool_size)
        self._file_lock = WriteLock(self.path)
        self._checkpoint_seconds = checkpoint_seconds
        self._writer: GroupWriter | None = None
        self._checkpointer: Checkpointer | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._turns = threading.local()  # this thread's nesting of write turns
        self._wal_bound = CheckpointAfterWrites(f"{self.path}-checkpointer.lock", checkpoint_seconds)
        with self._file_lock.held(), self._pool.connection() as conn:
            create_schema(conn)

    # --- connection handling ------------------------------------------------------------
    def _conn(self) -> PooledStatements:
        """For one statement: `self._conn().execute(sql, args).fetchall()`."""
        return PooledStatements(self._pool, self._write_turn)

    def _tx(self, *, durable: bool = True) -> Transaction:
        return Transaction(self._pool, self._write_turn(), durable=durable)

    @contextmanager
    def _write_turn(self) -> Iterator[None]:
        """Writes other than intake wait for their turn with the writer (see `GroupWriter.turn`),
        then for writers in other processes (see `WriteLock`)."""
        writer = self._writer
        depth = getattr(self._turns, "depth", 0)
        self._turns.depth = depth + 1
        try:
            with writer.turn() if writer is not None else nullcontext(), self._file_lock.held():
                yield
        finally:
            self._turns.depth = depth
        if depth == 0 and self._checkpointer is None:
            self._wal_bound.after_write(self._pool.connection, self._write_turn)

    def _group_writer(self) -> GroupWriter:
        """Started on the first write, so read-only users (the CLI) open no writer thread."""
        writer = self._writer
        if writer is None:
            with self._lock:
                if self._closed:
                    raise WriterError("the store is closed: events not stored")
                if self._writer is None:
                    self._checkpointer = Checkpointer(
                        connect(self.path), self._checkpoint_seconds, announce=self._wal_bound.announce, exclusive=self._write_turn
                    )
                    self._writer = GroupWriter(
                        connect(self.path, autocheckpoint=False), "events", _INSERT_COLUMNS, lock=self._file_lock.held
                    )
                writer = self._writer
        return writer

    def close(self) -> None:
        """Commit what the writer holds (in-flight requests get their ack), then close all."""
        with self._lock:
            self._closed = True
            writer, checkpointer = self._writer, self._checkpointer
            self._writer = self._checkpointer = None
        if writer is not None:
            writer.close()
        if checkpointer is not None:
            checkpointer.close()
        self._pool.close()
        self._file_lock.close()
        self._wal_bound.close()

    def ledger(self) -> SqliteLedger:
        """The review ledger in the same file, on the same pool and writer turns."""
        return SqliteLedger(self._tx, self._conn)

    # --- events -------------------------------------------------------------------------
    def add_events(self, events: Sequence[Event | Received], now: float) -> list[bool]:
        # The writer shares one durable commit among all concurrent requests and answers
        # which keys were new; a key repeated inside one batch is new only the first time.
        if not events:
            return []
        rows = [
            (e.key, e.tenant, e.source, e.body, PENDING, now, now, now)
            if type(e) is Received
            else (e.key, e.tenant, *stored_body(e)[::-1], PENDING, now, now, now)
            for e in events
        ]
        fresh = self._group_writer().insert(rows)
        if len(fresh) == len(events):  # all new (so no key twice): the usual batch
            return [True] * len(events)
        inserted = []
        for event in events:
            inserted.append(event.key in fresh)
            fresh.discard(event.key)
        return inserted

    def get_event(self, key: str) -> StoredEvent | None:
        row = self._conn().execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE key = ?", (key,)).fetchone()
        return event_from_row(row) if row else None

    def list_events(self, *, status: str | None = None, tenant: str | None = None, limit: int = 50) -> list[StoredEvent]:
        where, args = filters(status=status, tenant=tenant)
        rows = self._conn().execute(
            f"SELECT {_EVENT_COLUMNS} FROM events {where} ORDER BY rowid DESC LIMIT ?",
            (*args, limit),
        ).fetchall()
        return [event_from_row(r) for r in rows]

    def due_events(self, now: float, limit: int = 100, skip_tenants: Collection[str] = ()) -> list[tuple[str, str]]:
        # Two index walks in due order (pending by retry time; processing with an expired
        # lease), merged: an OR over both would sort every pending event on each poll.
        skip = sorted(skip_tenants)
        not_skipped = f"AND tenant NOT IN ({', '.join('?' * len(skip))})"
        db = self._conn()
        rows = db.execute(
            f"SELECT next_attempt_at, rowid, key, tenant FROM events WHERE status = ? AND next_attempt_at <= ? {not_skipped}"
            " ORDER BY next_attempt_at, rowid LIMIT ?",
            (PENDING, now, *skip, limit),
        ).fetchall()
        rows += db.execute(
            f"SELECT next_attempt_at, rowid, key, tenant FROM events WHERE status = ? AND lease_until < ? {not_skipped}"
            " ORDER BY next_attempt_at, rowid LIMIT ?",
            (PROCESSING, now, *skip, limit),
        ).fetchall()
        return [(key, tenant) for _, _, key, tenant in sorted(rows)[:limit]]

    def _claim(self, key: str, now: float, lease_until: float) -> StoredEvent | None:
        with self._tx() as db:
            cur = db.execute(
                f"UPDATE events SET status = ?, lease_until = ?, updated_at = ? WHERE key = ? AND {_DUE_UNINDEXED}",
                (PROCESSING, lease_until, now, key, PENDING, now, PROCESSING, now),
            )
            if cur.rowcount != 1:
                return None
            row = db.execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE key = ?", (key,)).fetchone()
        return event_from_row(row)

    def claim_events(self, keys: Sequence[str], now: float, lease_seconds: float = 300.0) -> list[StoredEvent]:
        """One transaction for the whole batch: claim what is due, read back what was claimed."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return []
        lease_until = now + lease_seconds
        rows: list[tuple] = []
        # No fsync of its own (see the module docstring): a claim lost to a power cut only
        # leaves the events pending, to be claimed again.
        with self._tx(durable=False) as db:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                rows += db.execute(
                    f"UPDATE events SET status = ?, lease_until = ?, updated_at = ? WHERE key IN ({marks}) AND"
                    f" {_DUE_UNINDEXED}"
                    f" RETURNING {_EVENT_COLUMNS}",
                    (PROCESSING, lease_until, now, *chunk, PENDING, now, PROCESSING, now),
                ).fetchall()
        # Decoded after COMMIT: decoding 100 events inside held the write lock (and so the
        # acks, in the server's process) ~5 ms. A row that cannot be read undoes the claim.
        try:
            claimed = events_from_rows(rows)
        except Exception:
            self._unclaim([r[0] for r in rows], lease_until, now)
            raise
        order = {k: i for i, k in enumerate(keys)}
        return sorted(claimed, key=lambda s: order[s.key])

    def _unclaim(self, keys: list[str], lease_until: float, now: float) -> None:
        """Give back what this claim took (still ours: our lease), due as before."""
        with self._tx() as db:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                db.execute(
                    f"UPDATE events SET status = ?, lease_until = 0, updated_at = ? WHERE key IN ({', '.join('?' * len(chunk))})"
                    " AND +status = ? AND +lease_until = ?",  # by key, never by a walk of events_due
                    (PENDING, now, *chunk, PROCESSING, lease_until),
                )

    def settle_events(self, settlements: Sequence[Settlement], now: float, actions: Sequence[ActionUpdate] = ()) -> None:
        """The worker's settlement: no fsync of its own unless it marks an action `sent`."""
        self._settle(settlements, now, actions, durable=_marks_sent(actions))

    def _settle(self, settlements: Sequence[Settlement], now: float, actions: Sequence[ActionUpdate], *, durable: bool) -> None:
        if not settlements and not actions:
            return
        settle = (
            "UPDATE events SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, updated_at = ?, lease_until = 0"
            " WHERE key = ?"
        )
        held = [s for s in settlements if s.lease_until is not None]
        with self._tx(durable=durable) as db:
            _update_actions(db, actions, now)
            db.executemany(settle, [(s.status, s.attempts, s.next_attempt_at, s.last_error, now, s.key) for s in settlements if s.lease_until is None])
            db.executemany(
                settle + " AND status = ? AND lease_until = ?",
                [(s.status, s.attempts, s.next_attempt_at, s.last_error, now, s.key, PROCESSING, s.lease_until) for s in held],
            )

    def _set_event_state(
        self, key: str, *, status: str, attempts: int, next_attempt_at: float, last_error: str | None, now: float
    ) -> None:
        # An admin's replay is acknowledged to a person: durable when it returns.
        self._settle([Settlement(key, status, attempts, next_attempt_at, last_error)], now, (), durable=True)

    # --- actions (the outbox) -------------------------------------------------------------
    def plan_actions(self, actions: Sequence[Action], now: float) -> list[Action]:
        """One transaction: insert the new keys, keep the rows of known ones (the write lock is
        held from BEGIN IMMEDIATE, so nobody inserts in between)."""
        if not actions:
            return []
        planned: dict[str, Action] = {}
        for a in actions:
            planned.setdefault(a.key, a)
        planned = {key: planned_row(a, now) for key, a in planned.items()}
        rows = {key: row_of(a) for key, a in planned.items()}  # encoded before: the write lock waits for SQL only
        existing: dict[str, Action] = {}
        with self._tx(durable=False) as db:  # a plan lost to a power cut is planned again
            # Usually every key is new: one statement. Where one was not (a resumed or replayed
            # plan), or any row failed, it is undone and done the careful way: read, then insert.
            db.execute("SAVEPOINT plan")
            if db.executemany(f"INSERT OR IGNORE {_INSERT_ACTION}", list(rows.values())).rowcount != len(rows):
                db.execute("ROLLBACK TO plan")
                existing = {r[0]: action_from_row(r) for r in select_in(db, f"SELECT {_ACTION_COLUMNS} FROM actions", "key", list(planned))}
                db.executemany(f"INSERT {_INSERT_ACTION}", [row for key, row in rows.items() if key not in existing])
            db.execute("RELEASE plan")
        stored = {**planned, **existing}
        return [stored[a.key] for a in actions]

    def update_actions(self, updates: Sequence[ActionUpdate], now: float) -> None:
        if not updates:
            return
        with self._tx(durable=_marks_sent(updates)) as db:
            _update_actions(db, updates, now)

    def actions_for_events(self, event_keys: Sequence[str]) -> dict[str, list[Action]]:
        found: dict[str, list[Action]] = {}
        rows = select_in(self._conn(), f"SELECT {_ACTION_COLUMNS} FROM actions", "event_key", list(dict.fromkeys(event_keys)))
        for row in sorted(rows, key=lambda r: (r[12], r[0])):
            action = action_from_row(row)
            found.setdefault(action.event_key, []).append(action)
        return found

    def get_action(self, key: str) -> Action | None:
        row = self._conn().execute(f"SELECT {_ACTION_COLUMNS} FROM actions WHERE key = ?", (key,)).fetchone()
        return action_from_row(row) if row else None

    def list_actions(self, *, tenant: str | None = None, event_key: str | None = None, limit: int = 50) -> list[Action]:
        where, args = filters(tenant=tenant, event_key=event_key)
        rows = self._conn().execute(
            f"SELECT {_ACTION_COLUMNS} FROM actions {where} ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (*args, limit),
        ).fetchall()
        return [action_from_row(r) for r in rows]


def _marks_sent(updates: Sequence[ActionUpdate]) -> bool:
    """`sent` must be on disk before the CRM call: the one worker write that pays an fsync."""
    return any(u.status == ACTION_SENT for u in updates)


def _update_actions(db: sqlite3.Connection, updates: Sequence[ActionUpdate], now: float) -> None:
    db.executemany(
        "UPDATE actions SET status = ?, crm_id = COALESCE(?, crm_id), error = ?, updated_at = ?,"
        " sends = sends + ? WHERE key = ?",
        [(u.status, u.crm_id, u.error, now, int(u.status == ACTION_SENT), u.key) for u in updates],
    )
