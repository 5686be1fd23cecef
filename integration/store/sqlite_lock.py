"""One SQLite writer at a time across processes, handed over without SQLite's busy sleeps.

Why: `gamefilm serve` runs the worker in its own process (off the server's GIL). Two
processes writing one SQLite file otherwise meet in SQLite's busy handler, which retries after
sleeps of 1, 2, 5, 10 ... ms: an ack waiting on a worker transaction paid up to the next retry,
not the end of that transaction. Every writer here first takes an exclusive `flock` on a file
beside the database: a waiter is woken by the kernel the moment the holder lets go, and the
busy handler never runs. Re-entrant within a thread (a write statement inside a held
transaction does not wait for itself).
"""
from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager
from typing import Iterator


class WriteLock:
    def __init__(self, database: str):
        self.path = f"{database}-writer.lock"
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._mutex = threading.RLock()  # threads of this process take turns first: flock is per open file
        self._depth = 0

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._mutex:
            if self._depth == 0:
                fcntl.flock(self._fd, fcntl.LOCK_EX)  # releases the GIL while it waits
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._mutex:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
