"""One group-commit writer for intake.

Why: one fsync per request capped throughput and stretched tails. Here concurrent requests
hand their rows to a single writer thread, which inserts everything queued in one
transaction and one durable commit; each request returns only after the commit that holds
its rows. WAL checkpoints run elsewhere (`sqlite_checkpoint`), so no request pays for one.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import deque
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Callable, ContextManager, Iterator, Sequence

import orjson

log = logging.getLogger(__name__)

ROWS_PER_STATEMENT = 500  # 7 parameters a row: far below SQLite's 32,766 variable limit


class WriterError(RuntimeError):
    """The events were not stored (the write or its commit failed, or the store is closing)."""


@dataclass
class _Request:
    rows: Sequence[tuple]
    done: threading.Event = field(default_factory=threading.Event)
    inserted: set[str] | None = None
    error: BaseException | None = None


class GroupWriter:
    """The one writer of new events: every request queued while a commit runs joins the next.

    `insert(rows)` blocks until the rows are committed durably and answers the keys that were
    new; rows whose key exists are left alone (`ON CONFLICT DO NOTHING`). If the group's
    insert fails, it is redone with a savepoint per request, so only the request at fault
    fails; a failed commit fails every request of the group. Nobody is told "stored" before COMMIT
    has returned.

    Other writers in the process (the worker) take `turn()`: they never wait in SQLite's busy
    handler against the writer (which sleeps in growing steps and let a busy worker starve
    the acks: p99 3 s at one sender). Intake goes first; after each group commit, one waiting
    turn runs, so the worker still progresses under a flood and an ack waits at most one
    short worker transaction.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        table: str,
        columns: Sequence[str],
        *,
        max_group_rows: int = 20_000,
        lock: Callable[[], ContextManager[None]] = nullcontext,
    ):
        if columns[0] != "key":
            raise ValueError("the first column must be the unique `key`")
        self._conn = conn
        self._table = table
        self._columns = ", ".join(columns)
        self._row_marks = "(" + ", ".join("?" * len(columns)) + ")"
        self._sql_cache: dict[int, str] = {}
        self._max_group_rows = max_group_rows
        self._lock = lock  # held around each group's transaction: writers in other processes wait
        self._pending: deque[_Request] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self.commits = 0  # for benches and tests: how many requests shared each commit
        self.requests = 0
        self._committing = 0
        self._others_waiting = 0
        self._other_busy = False
        self._other_turn = False
        self._other_owner: int | None = None
        self._thread = threading.Thread(target=self._run, name="gamefilm-sqlite-writer", daemon=True)
        self._thread.start()

    def insert(self, rows: Sequence[tuple], timeout: float | None = None) -> set[str]:
        request = _Request(rows)
        with self._cond:
            if self._stopping:
                raise WriterError("the store is closing: events not stored")
            self._pending.append(request)
            self._cond.notify_all()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not request.done.wait(1.0):
            if not self._thread.is_alive():
                raise WriterError("the writer thread has stopped: events not acknowledged")
            if deadline is not None and time.monotonic() > deadline:
                raise WriterError("the write did not complete in time: events not acknowledged")
        if request.error is not None:
            raise WriterError(f"events not stored: {type(request.error).__name__}: {request.error}") from request.error
        assert request.inserted is not None
        return request.inserted

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Exclusive use of the database for one transaction of another in-process writer
        (re-entrant: a write statement inside that transaction's thread does not wait)."""
        me = threading.get_ident()
        if self._other_owner == me:
            yield
            return
        with self._cond:
            self._others_waiting += 1
            while self._other_busy or self._committing or (self._pending and not self._other_turn):
                self._cond.wait()
            self._others_waiting -= 1
            self._other_busy, self._other_turn, self._other_owner = True, False, me
        try:
            yield
        finally:
            with self._cond:
                self._other_busy, self._other_owner = False, None
                self._cond.notify_all()

    def waiting(self) -> int:
        """Requests not yet answered: queued, or in the commit under way."""
        with self._cond:
            return len(self._pending) + self._committing

    def close(self, timeout: float = 30.0) -> None:
        """Refuse new requests, commit everything already queued, then close the connection."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._conn.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if not self._pending:
                    return
                while self._other_busy or self._other_turn:
                    self._cond.wait()
                group = [self._pending.popleft()]
                rows = len(group[0].rows)
                while self._pending and rows + len(self._pending[0].rows) <= self._max_group_rows:
                    rows += len(self._pending[0].rows)
                    group.append(self._pending.popleft())
                self._committing = len(group)
            self._commit(group)
            with self._cond:
                self._committing = 0
                self._other_turn = self._others_waiting > 0
                self._cond.notify_all()

    def _commit(self, group: list[_Request]) -> None:
        # Few statements per group, because the GIL is released and re-taken around every
        # SQLite step and, with 32 busy request threads, each re-take can wait a whole switch
        # interval: no RETURNING (one step per returned row) and no savepoint per request
        # unless a write fails. When the insert's change count says some row was not new, the
        # new keys come back in one row (rowids above the maximum read first: we hold the write
        # lock) and are matched to the rows in insert order.
        try:
            with self._lock():
                new_keys = self._transaction(group)
        except BaseException as exc:  # noqa: BLE001 - every waiter must hear of it, then we go on
            for request in group:
                request.error = request.error or exc
                request.done.set()
            if not isinstance(exc, Exception):
                raise
            return
        self.commits += 1
        self.requests += len(group)
        at = 0
        for request in group:
            if new_keys is None:  # every row was new
                request.inserted = {row[0] for row in request.rows}
            elif request.error is None:
                inserted = set()
                for row in request.rows:
                    if at < len(new_keys) and row[0] == new_keys[at]:
                        inserted.add(row[0])
                        at += 1
                request.inserted = inserted
            request.done.set()

    def _transaction(self, group: list[_Request]) -> list[str] | None:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                new_keys = self._write(group, isolate=False)
            except sqlite3.Error:  # find the request(s) at fault; the others still commit
                conn.execute("ROLLBACK")
                conn.execute("BEGIN IMMEDIATE")
                new_keys = self._write(group, isolate=True)
            conn.execute("COMMIT")
            return new_keys
        except BaseException:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    log.exception("rollback after a failed group commit failed")
            raise

    def _write(self, group: list[_Request], *, isolate: bool) -> list[str] | None:
        """Insert the group's rows in the open transaction: the new keys in insert order, None if all are."""
        conn = self._conn
        (start,) = conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {self._table}").fetchone()
        if not isolate:
            rows = [row for request in group for row in request.rows]
            if self._insert(rows) == len(rows):
                return None
        else:
            for request in group:
                conn.execute("SAVEPOINT request")
                try:
                    self._insert(request.rows)
                except sqlite3.Error as exc:
                    conn.execute("ROLLBACK TO request")
                    request.error = exc
                conn.execute("RELEASE request")
        (new_keys,) = conn.execute(
            f"SELECT json_group_array(key) FROM (SELECT key FROM {self._table} WHERE rowid > ? ORDER BY rowid)", (start,)
        ).fetchone()
        return orjson.loads(new_keys)

    def _insert(self, rows: Sequence[tuple]) -> int:
        """Insert the rows whose key is new; answer how many were."""
        inserted = 0
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start : start + ROWS_PER_STATEMENT]
            sql = self._sql_cache.get(len(chunk))
            if sql is None:
                values = ", ".join([self._row_marks] * len(chunk))
                sql = f"INSERT INTO {self._table} ({self._columns}) VALUES {values} ON CONFLICT(key) DO NOTHING"
                self._sql_cache[len(chunk)] = sql
            inserted += self._conn.execute(sql, [value for row in chunk for value in row]).rowcount
        return inserted
