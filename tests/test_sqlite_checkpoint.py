"""WAL checkpoints: they catch up with steady writes (the WAL restarts), and the pass that holds
the write lock, which every ack waits behind, copies only a little."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Callable, Iterator

from integration.store.sqlite import SqliteStore
from integration.store.sqlite_checkpoint import CATCH_UP_PASSES, QUICK_PASS_SECONDS, checkpoint
from integration.store.sqlite_pool import connect
from tests.store_contract import T0, make_event


def events(prefix: str, n: int) -> list:
    return [replace(make_event(), key=f"{prefix}-{i:04d}", object_id=str(i)) for i in range(n)]


def _wal_restarts(path: str) -> int:
    """The WAL header's checkpoint sequence number: SQLite adds one each time the WAL restarts."""
    with open(f"{path}-wal", "rb") as fh:
        return int.from_bytes(fh.read(16)[12:16], "big")


class WritesBetweenPasses:
    """The checkpointer's connection, with writers appending after each PASSIVE pass (as they do
    while a pass copies), and a record of every pass: (frames when it began, lock held?).
    `clock` advances by each pass's duration in `seconds` (default: 1 ms, a quick pass)."""

    def __init__(self, conn: Any, after_pass: Callable[[int], None], seconds: Callable[[int], float] = lambda n: 0.001):
        self.conn = conn
        self.after_pass = after_pass
        self.seconds = seconds
        self.now = 0.0
        self.locked = False
        self.passes: list[tuple[int, bool]] = []

    def clock(self) -> float:
        return self.now

    def execute(self, sql: str) -> Any:
        row = self.conn.execute(sql).fetchone()
        self.passes.append((row[1], self.locked))
        self.now += self.seconds(len(self.passes))
        if not self.locked:
            self.after_pass(len(self.passes))
        return _Rows(row)


class _Rows:
    def __init__(self, row: tuple) -> None:
        self.row = row

    def fetchone(self) -> tuple:
        return self.row

    def fetchall(self) -> list[tuple]:
        return [self.row]


def _checkpoint_with(store: SqliteStore, conn: WritesBetweenPasses) -> None:
    @contextmanager
    def exclusive() -> Iterator[None]:
        with store._file_lock.held():
            conn.locked = True
            try:
                yield
            finally:
                conn.locked = False

    checkpoint(conn, exclusive, conn.clock)  # type: ignore[arg-type]


def test_a_checkpoint_catches_up_with_writes_made_while_it_copied_so_the_wal_restarts(tmp_path):
    """What writers appended while the passes copied is copied by a last pass holding the write
    lock, so the next write starts the WAL from its beginning (under steady writes, passes
    without the lock never caught up: 350 MiB of WAL in the soak)."""
    store = SqliteStore(tmp_path / "g.db", checkpoint_seconds=3600)
    raw = connect(store.path)
    try:
        store.add_events(events("before", 200), T0)
        conn = WritesBetweenPasses(raw, lambda n: store.add_events(events(f"during{n}", 200), T0) if n == 1 else None)
        _checkpoint_with(store, conn)
        restarts = _wal_restarts(store.path)
        store.add_events(events("after", 1), T0)
        assert _wal_restarts(store.path) == restarts + 1  # the WAL started again from its beginning
        assert conn.passes[-1][1] and not any(locked for _, locked in conn.passes[:-1])
    finally:
        raw.close()
        store.close()


def test_the_pass_holding_the_write_lock_copies_only_what_came_during_a_quick_pass(tmp_path):
    """Each unlocked pass copies what writers appended during the pass before; they go on until
    one is quick, so the locked pass (every ack waits behind it) copies little, not everything
    appended during the first, long copy (that was ~21 ms held every 0.5 s)."""
    store = SqliteStore(tmp_path / "g.db", checkpoint_seconds=3600)
    raw = connect(store.path)
    appended = {1: 2000, 2: 1000, 3: 2}  # events written while pass n copied: fewer each time
    seconds = {1: 0.050, 2: 0.020, 3: 0.010, 4: QUICK_PASS_SECONDS / 2}
    try:
        store.add_events(events("before", 1000), T0)
        conn = WritesBetweenPasses(raw, lambda n: store.add_events(events(f"during{n}", appended[n]), T0) if n in appended else None,
                                   seconds=lambda n: seconds.get(n, 0.0))  # fmt: skip
        _checkpoint_with(store, conn)
        assert [locked for _, locked in conn.passes] == [False, False, False, False, True]
        assert conn.passes[4][0] == conn.passes[3][0]  # the locked pass found nothing new to copy
        restarts = _wal_restarts(store.path)
        store.add_events(events("after", 1), T0)
        assert _wal_restarts(store.path) == restarts + 1
    finally:
        raw.close()
        store.close()


def test_when_no_pass_is_quick_the_lock_is_taken_after_a_bounded_number(tmp_path):
    store = SqliteStore(tmp_path / "g.db", checkpoint_seconds=3600)
    raw = connect(store.path)
    try:
        store.add_events(events("before", 100), T0)
        conn = WritesBetweenPasses(raw, lambda n: store.add_events(events(f"during{n}", 50), T0), seconds=lambda n: 1.0)
        _checkpoint_with(store, conn)
        assert [locked for _, locked in conn.passes] == [False] * (1 + CATCH_UP_PASSES) + [True]
    finally:
        raw.close()
        store.close()


def test_an_idle_wal_needs_no_pass_and_never_takes_the_lock(tmp_path):
    store = SqliteStore(tmp_path / "g.db", checkpoint_seconds=3600)
    raw = connect(store.path)
    try:
        store.add_events(events("before", 10), T0)
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        conn = WritesBetweenPasses(raw, lambda n: None)
        _checkpoint_with(store, conn)
        assert conn.passes == [(0, False)]
    finally:
        raw.close()
        store.close()
