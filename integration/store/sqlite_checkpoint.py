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

CATCH_UP_PASSES = 6  # unlocked passes at most, each copying what writers appended during the last
QUICK_PASS_SECONDS = 0.003  # writers append little during a pass this short: the locked one is short


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
        self._exclusive = exclusive  # the write lock, for `checkpoint`'s last pass
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


def checkpoint(
    conn: sqlite3.Connection, exclusive: Callable[[], ContextManager[None]], clock: Callable[[], float] = time.perf_counter
) -> None:
    """PASSIVE checkpoints while writers go on, then a last one holding the write lock
    (`exclusive`), so the copy is complete and the next writer restarts the WAL from its
    beginning.

    Why the last pass: a pass copies the WAL as it was when the pass began, and under steady
    writes the WAL restarts only if a writer begins just after a pass that missed nothing:
    without it the WAL grew 350 MiB in `bench/soak.py`. Why unlocked passes until one is quick:
    each copies what writers appended during the one before, so the locked pass copies and
    fsyncs only what came during a short one. With a single pass before it, the locked pass
    copied everything appended during the whole first copy: ~21 ms holding every ack back,
    every interval (1-2 ms now)."""
    started = clock()
    if _passive(conn) <= 0:
        return
    for _ in range(CATCH_UP_PASSES):
        if clock() - started <= QUICK_PASS_SECONDS:
            break
        started = clock()
        _passive(conn)
    with exclusive():
        _passive(conn)


def _passive(conn: sqlite3.Connection) -> int:
    """One PASSIVE pass; answers the WAL's frames when the pass began (-1: not in WAL mode)."""
    busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(frames)


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
