"""WAL checkpoints off the request path: a background `Checkpointer` beside the intake writer,
or `CheckpointAfterWrites` where none runs.

Why a module of its own: how a checkpoint shares the disk and the write lock with the acks
decides their tails (see `checkpoint`).
"""
from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from contextlib import nullcontext
from typing import Callable, ContextManager

log = logging.getLogger(__name__)

class Checkpointer:
    """Copies the WAL back into the database every `interval` seconds, off the request path.

    PASSIVE never waits for readers or blocks the writer; once a checkpoint has caught up,
    SQLite restarts the WAL from its beginning, so the file stays bounded. While it runs it
    holds a shared `flock` on `announce`, so other processes writing the file (`gamefilm serve`'s
    worker) leave checkpoints to it (see `CheckpointAfterWrites`).
    """

    def __init__(
        self, conn: sqlite3.Connection, interval: float = 0.5, announce: str | None = None,
        exclusive: Callable[[], ContextManager[None]] = nullcontext,
    ):  # fmt: skip
        self._conn = conn
        self._interval = interval
        self._exclusive = exclusive  # the write lock, for `checkpoint`'s second pass
        self._announce = -1
        if announce is not None:
            self._announce = os.open(announce, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(self._announce, fcntl.LOCK_SH)  # never waits: others only probe it
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gamefilm-sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                checkpoint(self._conn, self._exclusive)
            except sqlite3.Error:
                log.warning("WAL checkpoint failed; retrying in %.1f s", self._interval, exc_info=True)

    def close(self) -> None:
        """Stop, then truncate the WAL once (best effort: a reader elsewhere may hold it)."""
        self._stop.set()
        self._thread.join()
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error:
            log.warning("final WAL checkpoint failed", exc_info=True)
        self._conn.close()
        if self._announce >= 0:
            os.close(self._announce)  # and with it the flock
            self._announce = -1


def checkpoint(conn: sqlite3.Connection, exclusive: Callable[[], ContextManager[None]]) -> None:
    """A PASSIVE checkpoint while writers go on (the bulk of the copy and its fsync), then once
    more holding the write lock (`exclusive`) for what they appended meanwhile, so the copy is
    complete and the next writer restarts the WAL from its beginning. Without that second,
    short pass a checkpoint under steady writes never caught up: the WAL grew 350 MiB in
    `bench/soak.py`. (The first pass reports the WAL as it was when it began: it cannot tell.)

    Measured and not kept: more unlocked passes until one is quick, so the locked pass copies
    less. Its hold fell from ~23 ms to ~2 ms in most runs, but the acks' p99/p99.9 did not
    move: the time is in the database file's fsync, which stalls the acks' WAL fsync whether
    or not the lock is held. Intervals of 0.25 s or 0.1 s cut p99.9 and raised p99."""
    busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    if frames > 0:
        with exclusive():
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


class CheckpointAfterWrites:
    """Bounds the WAL where no `Checkpointer` runs (`gamefilm worker` alone, the CLI): after a
    write has let go of the write lock, at most every `interval` seconds, a PASSIVE checkpoint
    (it never waits for, nor blocks, a writer).

    Why not SQLite's autocheckpoint: it runs inside COMMIT, so inside the write lock; in `gamefilm
    serve`'s worker process it held the acks up to ~70 ms. And none while a `Checkpointer` runs
    in another process (it holds a shared `flock` on `announce`): a checkpoint's burst of writes
    and its fsync slow every fsync on the disk, and the worker's, right after its writes, just
    when the next ack commits, put 40-60 ms on the acks' p99 commit."""

    def __init__(self, announce: str, interval: float):
        self.announce = announce
        self._interval = interval
        self._last = time.monotonic()
        self._busy = threading.Lock()
        self._probe = -1  # the announce file, opened on the first check

    def after_write(
        self, connection: Callable[[], ContextManager[sqlite3.Connection]], exclusive: Callable[[], ContextManager[None]]
    ) -> None:
        """`exclusive`: the store's write turn (whose end calls this again: `_busy` returns at once)."""
        if time.monotonic() - self._last < self._interval or not self._busy.acquire(blocking=False):
            return
        try:
            self._last = time.monotonic()
            if self._probe < 0:
                self._probe = os.open(self.announce, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(self._probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # a Checkpointer runs
            fcntl.flock(self._probe, fcntl.LOCK_UN)
            with connection() as conn:
                checkpoint(conn, exclusive)
        except Exception:  # noqa: BLE001 - the write is committed; the next one tries again
            log.warning("WAL checkpoint failed", exc_info=True)
        finally:
            self._busy.release()

    def close(self) -> None:
        with self._busy:
            if self._probe >= 0:
                os.close(self._probe)
                self._probe = -1
