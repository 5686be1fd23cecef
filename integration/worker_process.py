"""`gamefilm serve`'s worker, in a child process of its own.

Why: in the server's process the worker's Python (~165 us of CPU an event) and its commits
shared the GIL with the request threads: with it on, one sender's p99 ack went from 9.6 to
21 ms. In its own process it runs on the other core; the two meet only at the SQLite write
lock, handed over by `WriteLock` (never in SQLite's busy sleeps).

The server writes one byte down a pipe per acknowledged batch (never blocking: a full pipe
already holds a wake-up); the child's `BackgroundWorker` claims what is due, and polls every
`worker.poll_seconds` anyway, so a lost byte delays nothing for long. The pipe is also the
child's lifeline: at end of file (the server closed it on a graceful stop, or died, even by
SIGKILL) the child stops claiming, lets the batches in flight settle, and exits. Events it
never claimed stay pending; claimed ones come back when their lease ends.

The child's side is `integration.worker_child` (it builds the app's services; this module
must not, since the app imports it).
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from typing import Sequence

log = logging.getLogger("integration.worker_process")  # also when run as __main__

STOP_SECONDS = 10.0  # the child's batches in flight get this long to settle on a stop


class WorkerProcess:
    """The parent's handle: `start`, `notify` (from the ack path), `stop` (graceful)."""

    kind = "process"

    def __init__(self, config_file: str, log_level: int | str = logging.INFO):
        self.config_file = config_file
        self.log_level = logging.getLevelName(log_level) if isinstance(log_level, int) else log_level
        self._proc: subprocess.Popen[bytes] | None = None
        self._pipe = -1
        self._lock = threading.Lock()

    def start(self) -> "WorkerProcess":
        read, write = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "integration.worker_child", self.config_file, str(read), str(self.log_level)],
                pass_fds=(read,),
                stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(read)
        os.set_blocking(write, False)
        self._pipe = write
        return self

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def notify(self, keys: Sequence[str] = ()) -> None:
        with self._lock:
            if self._pipe < 0:
                return
            try:
                os.write(self._pipe, b"\x01")
            except BlockingIOError:
                pass  # the pipe is full of wake-ups the child has yet to read
            except BrokenPipeError:
                log.error("the worker process has exited (code %s): events wait, pending, for a restart",
                          self._proc.poll() if self._proc else None)  # fmt: skip
                os.close(self._pipe)
                self._pipe = -1

    def stop(self, timeout: float = STOP_SECONDS + 5) -> None:
        """Close the pipe (the child drains its batches and exits); kill it after `timeout`."""
        with self._lock:
            if self._pipe >= 0:
                os.close(self._pipe)
                self._pipe = -1
        if self._proc is None:
            return
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("the worker process did not stop in %.0f s: killed; its claimed events return after their lease", timeout)
            self._proc.kill()
            self._proc.wait()
