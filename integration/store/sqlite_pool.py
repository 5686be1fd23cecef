"""Bounded SQLite connections: a small pool lent per statement or per transaction.

Why: the store used to keep a connection per thread for ever, and a server that answers each
request on a new thread leaked ~2 fds and ~0.8 MiB per request. Here every connection but the
intake writer's and the checkpointer's comes from one pool of a few.
"""
from __future__ import annotations

import queue
import sqlite3
import threading
from contextlib import contextmanager, nullcontext
from typing import Any, Callable, ContextManager, Iterator, Sequence

from integration.store.sqlite_writer import WriterError

BUSY_TIMEOUT_MS = 30_000


def connect(path: str, *, autocheckpoint: bool = True) -> sqlite3.Connection:
    """A connection in WAL mode where a commit is durable when it returns (synchronous=FULL).

    The store's connections turn automatic checkpoints off: one runs inside a COMMIT, so
    inside the write lock every other writer waits on. The `Checkpointer` (beside the intake
    writer) or the store after a write (`sqlite_checkpoint.CheckpointAfterWrites`) does them instead.
    """
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    if not autocheckpoint:
        conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("PRAGMA journal_size_limit=67108864")  # truncate a WAL reset after a burst to 64 MiB
    return conn


class ConnectionPool:
    """At most `size` connections, lent for one statement or one transaction at a time."""

    def __init__(self, factory: Callable[[], sqlite3.Connection], size: int = 4):
        self._factory = factory
        self._size = size
        self._idle: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        conn = self._borrow()
        try:
            yield conn
        finally:
            if conn.in_transaction:  # an exception escaped mid-statement: never lend a dirty one
                conn.rollback()
            with self._lock:
                closed = self._closed
            if closed:
                conn.close()
            else:
                self._idle.put(conn)

    def _borrow(self) -> sqlite3.Connection:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._closed:
                raise WriterError("the store is closed")
            if len(self._opened) < self._size:
                conn = self._factory()
                self._opened.append(conn)
                return conn
        return self._idle.get(timeout=BUSY_TIMEOUT_MS / 1000)

    @property
    def opened(self) -> int:
        return len(self._opened)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                break


class Transaction:
    """BEGIN IMMEDIATE … COMMIT on a pooled connection, in this writer's turn, so concurrent
    writers queue instead of failing mid-way; the connection goes back to the pool after."""

    def __init__(self, pool: ConnectionPool, turn: ContextManager[None], *, durable: bool = True):
        self._lease = pool.connection()
        self._turn = turn
        self._durable = durable

    def __enter__(self) -> sqlite3.Connection:
        self._turn.__enter__()
        try:
            self.conn = self._lease.__enter__()
            if not self._durable:  # COMMIT without its own fsync (see SqliteStore.claim_events)
                self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._turn.__exit__(None, None, None)
            raise
        return self.conn

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            try:
                self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
            finally:
                if not self._durable:
                    self.conn.execute("PRAGMA synchronous=FULL")
        finally:
            try:
                self._lease.__exit__(exc_type, exc, tb)
            finally:
                self._turn.__exit__(None, None, None)


class Rows:
    """The fetched result of one pooled statement (the connection is already back)."""

    def __init__(self, rows: list[tuple], rowcount: int):
        self._rows = rows
        self.rowcount = rowcount

    def fetchone(self) -> tuple | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[tuple]:
        return self._rows

    def __iter__(self) -> Any:
        return iter(self._rows)


class PooledStatements:
    """Runs each statement on a connection borrowed from the pool for just that statement."""

    def __init__(self, pool: ConnectionPool, write_turn: Callable[[], ContextManager[None]]):
        self._pool = pool
        self._write_turn = write_turn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        reads = sql.lstrip()[:6].upper() in ("SELECT", "PRAGMA")
        with nullcontext() if reads else self._write_turn(), self._pool.connection() as conn:
            cursor = conn.execute(sql, params)
            return Rows(cursor.fetchall(), cursor.rowcount)
