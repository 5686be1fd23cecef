"""`gamefilm serve`: the app on waitress, one server process, with a graceful stop.

Why waitress: the local product is one process by design (one SQLite writer, one worker
worker), and waitress serves it from a fixed thread pool behind one event loop; keep-alive
connections cost no thread. At 32 senders gunicorn's gthread worker (1 process x 32 threads)
measured the same within noise, 2 processes less (two writers and two workers contend), and
gunicorn needs a master process plus fork hooks to run the worker. The worker runs in a child
process of its own (integration.worker_process), so its CPU does not share the GIL with acks.

Hostile clients: what waitress refuses itself is answered in the app's JSON error shape (never
text, never a 5xx); it buffers at most twice the body limit; a connection silent for
`idle_seconds` is closed; and only as many connections are accepted as file descriptors allow.

Stop (SIGTERM or SIGINT): close the listening socket, let requests already received finish
and their responses flush (up to `grace_seconds`), then stop the worker process and close the
store, whose writer commits whatever it still holds.
"""
from __future__ import annotations

import json
import logging
import math
import signal
import threading
import time
from types import FrameType
from typing import Any, Callable

from waitress.channel import HTTPChannel
from waitress.task import ErrorTask

log = logging.getLogger(__name__)

# What waitress refuses before the app sees the request, as (status, error, field, message):
# keyed by waitress's status code, then by the start of its message. Fixed sentences, since
# waitress quotes the offending header line, which may carry a signature or payload.
_FRAMING_ERRORS: dict[int, list[tuple[str, tuple[int, str, str, str]]]] = {
    400: [
        ("Content-Length", (400, "invalid_content_length", "Content-Length", "Content-Length must be one run of ASCII digits")),
        ("Invalid chunk", (400, "malformed_chunked_body", "Transfer-Encoding", "the chunked body is malformed")),
        ("Chunk not", (400, "malformed_chunked_body", "Transfer-Encoding", "the chunked body is malformed")),
        ("Bad URI", (400, "invalid_request_line", "path", "the request path is not a valid URI")),
        ("Start line", (400, "invalid_request_line", "request line", "the request line is not METHOD PATH HTTP/1.x")),
        ("Malformed HTTP method", (400, "invalid_request_line", "method", "the request method is malformed")),
        ("", (400, "invalid_headers", "headers", "the request headers are malformed")),
    ],
    413: [("", (413, "request_entity_too_large", "body", ""))],  # message: the app's limit, below
    431: [("", (431, "request_header_fields_too_large", "headers", "the request headers are too large"))],
    # RFC 9112 says 501 for a transfer coding the server does not know; the README promises
    # no input gets a 5xx, and the sender can fix this one.
    501: [("", (400, "unsupported_transfer_encoding", "Transfer-Encoding", "Transfer-Encoding must be chunked or absent"))],
}
_INTERNAL = (500, "internal_error", "request", "unexpected error; the events were not acknowledged")


class _JsonErrorTask(ErrorTask):
    """Requests waitress refuses itself (framing, sizes, request line) are answered in the
    app's JSON error shape, logged like any request, and stored nothing."""

    def execute(self) -> None:
        from integration import logs

        error: Any = getattr(self.request, "error")  # waitress's stubs type the parser loosely
        status, name, field, message = next(
            (v for prefix, v in _FRAMING_ERRORS.get(error.code, []) if str(error.body).startswith(prefix)), _INTERNAL
        )
        if status == 413:
            message = f"body is larger than {getattr(self.channel.server, 'gamefilm_body_limit')} bytes"
        body = json.dumps({"error": name, "message": message, "field": field}).encode()
        self.status = f"{status} {name.replace('_', ' ').capitalize()}"
        self.response_headers = [*self.response_headers, ("Content-Type", "application/json")]
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)
        command = getattr(self.request, "command", None)  # unset when the request line did not parse
        logs.request_line(method=command if isinstance(command, str) else "-", endpoint="(refused by the server)", status=status,
                          duration_ms=0.0, reason=f"{name} ({field})")  # fmt: skip


class _JsonErrorChannel(HTTPChannel):
    error_task_class = _JsonErrorTask


def connection_budget(wanted: int, reserve: int = 64) -> int:
    """How many connections fit in the process's file descriptors, after raising the soft
    limit to the hard one. A connection can hold two: its socket, and a temporary file once
    its body passes waitress's 512 KiB in-memory buffer. 520 such uploads at the usual soft
    limit of 1,024 ran out: waitress dropped connections and valid webhooks got 503 because
    SQLite could not open a file. `reserve` covers the store, the worker and the listener."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = 65_536 if hard == resource.RLIM_INFINITY else min(hard, 65_536)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(8, min(wanted, (soft - reserve) // 2))


class Server:
    def __init__(
        self, app: Any, host: str, port: int, *, threads: int = 32, grace_seconds: float = 10.0, idle_seconds: int = 15
    ):
        from waitress.server import create_server

        self.app = app
        self.grace_seconds = grace_seconds
        self._stop = threading.Event()
        self._map: dict = {}
        body_limit = int(app.config.get("MAX_CONTENT_LENGTH") or 1024 * 1024)
        services = app.extensions.get("gamefilm")
        trust_forwarded = bool(services and services.config.intake.trust_forwarded)
        self._server = create_server(
            app,
            map=self._map,
            host=host,
            port=port,
            threads=threads,
            connection_limit=connection_budget(512),
            backlog=1024,
            # A connection that sends nothing for this long, between requests or inside an
            # unfinished one, is closed: 512 silent sockets otherwise held every slot for 60-90 s
            # and the server answered no one. (CRMs give up after 5-10 s anyway.)
            channel_timeout=idle_seconds,
            cleanup_interval=max(1, idle_seconds // 3),
            # Buffer at most this much before the app sees a request (waitress reads the whole
            # body first; its default is 1 GiB). Twice the limit leaves room for chunk framing:
            # the app itself answers 413 for anything between the limit and this.
            max_request_body_size=2 * body_limit + 64 * 1024,
            asyncore_use_poll=True,  # select() fails past fd 1024
            # waitress deletes X-Forwarded-* unless told a proxy is trusted; `intake.trust_forwarded`
            # decides instead, so behind ngrok/nginx the HubSpot URI is rebuilt as HubSpot signed it.
            clear_untrusted_proxy_headers=not trust_forwarded,
            ident="gamefilm",
        )
        for dispatcher in self._map.values():
            if hasattr(dispatcher, "channel_class"):  # each listening socket
                dispatcher.channel_class = _JsonErrorChannel
                dispatcher.gamefilm_body_limit = body_limit
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
        self._server.task_dispatcher.shutdown(cancel_pending=False, timeout=math.ceil(self.grace_seconds))
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
        log.info("stopped: worker stopped, store closed")
