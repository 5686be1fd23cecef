"""`gamefilm serve`: the app on waitress, one process, with a graceful stop.

Why waitress: the local product is one process by design (one SQLite writer, one in-process
worker), and waitress serves it from a fixed thread pool behind one event loop; keep-alive
connections cost no thread. At 32 senders gunicorn's gthread worker (1 process x 32 threads)
measured the same within noise, 2 processes less (two writers and two workers contend), and
gunicorn needs a master process plus fork hooks to run the worker thread.

Stop (SIGTERM or SIGINT): close the listening socket, let requests already received finish
and their responses flush (up to `grace_seconds`), then stop the worker thread and close the
store, whose writer commits whatever it still holds.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType
from typing import Any, Callable

log = logging.getLogger(__name__)


class Server:
    def __init__(self, app: Any, host: str, port: int, *, threads: int = 32, grace_seconds: float = 10.0):
        from waitress.server import create_server

        self.app = app
        self.grace_seconds = grace_seconds
        self._stop = threading.Event()
        self._map: dict = {}
        self._server = create_server(
            app,
            map=self._map,
            host=host,
            port=port,
            threads=threads,
            connection_limit=512,
            backlog=1024,
            channel_timeout=60,
            asyncore_use_poll=True,  # select() fails past fd 1024
            ident="gamefilm",
        )
        listen = getattr(self._server, "effective_listen", None)  # several sockets ("localhost")
        self.port: int = listen[0][1] if listen else self._server.effective_port  # type: ignore[union-attr]

    def stop(self, *_: Any) -> None:
        """Ask the loop to stop; safe from a signal handler or another thread."""
        self._stop.set()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: finishing in-flight requests, then stopping", signum)
        self.stop()

    def serve_forever(self, on_ready: Callable[[], None] | None = None) -> None:
        from waitress import wasyncore
        from waitress.server import BaseWSGIServer

        if on_ready is not None:
            on_ready()
        while not self._stop.is_set():
            wasyncore.loop(timeout=0.2, map=self._map, use_poll=True, count=1)
        for listener in [d for d in self._map.values() if isinstance(d, BaseWSGIServer)]:
            wasyncore.dispatcher.close(listener)  # no new connections; the wake-up triggers stay
        deadline = time.monotonic() + self.grace_seconds
        while self._busy() and time.monotonic() < deadline:
            wasyncore.loop(timeout=0.05, map=self._map, use_poll=True, count=1)
        if self._busy():
            log.warning("stopping with requests still in flight after %.0f s", self.grace_seconds)
        self._server.task_dispatcher.shutdown(cancel_pending=False, timeout=self.grace_seconds)
        wasyncore.close_all(self._map)
        self._close_app()

    def _busy(self) -> bool:
        dispatcher = self._server.task_dispatcher
        if dispatcher.queue or dispatcher.active_count:
            return True
        return any(getattr(ch, "requests", None) or getattr(ch, "total_outbufs_len", 0) for ch in self._map.values())

    def _close_app(self) -> None:
        services = self.app.extensions.get("gamefilm")
        if services is None:
            return
        if services.background is not None:
            services.background.stop()
        services.store.close()
        log.info("stopped: worker thread joined, store closed")
