"""Structured JSON logs: one line per request, one per settled event.

The lines carry names, ids we assigned, counts and durations, never a secret, a signature
or a value from a payload: callers pass only those, and exception text (which may quote a
payload) is reduced to the exception's class and its frames.
"""
from __future__ import annotations

import functools
import json
import logging
import sys
import traceback
from datetime import datetime, timezone
from typing import IO, Any

REQUEST_LOGGER = "gamefilm.request"
EVENT_LOGGER = "gamefilm.event"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"})
_FIELDS = "gamefilm_fields"  # LogRecord attribute holding a structured line's fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, then the line's fields (or `msg`)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        fields = getattr(record, _FIELDS, None)
        if fields is not None:
            line.update(fields)
        else:
            line["msg"] = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            line["exception"] = safe_traceback(record.exc_info[1])
        return json.dumps(line, default=str, separators=(",", ":"))


def configure(level: str | int = "INFO", stream: IO[str] | None = None) -> None:
    """Send every log record to `stream` (stderr) as JSON lines; replaces other root handlers.
    An unknown level name falls back to INFO with a warning rather than failing a request."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    known = isinstance(level, int) or level.upper() in logging.getLevelNamesMapping()
    root.setLevel(level.upper() if isinstance(level, str) and known else level if known else logging.INFO)
    if not known:
        logging.getLogger(__name__).warning("unknown log level %r: using INFO", level)


def safe_traceback(exc: BaseException) -> str:
    """The exception's class and stack, without its message (which may quote payload values)."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    return f"{frames}{type(exc).__module__}.{type(exc).__qualname__}"


class _Summary:
    """`key=value ...` for non-JSON handlers (pytest's), built only if one formats it."""

    def __init__(self, fields: dict[str, Any]):
        self.fields = fields

    def __str__(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.fields.items())


_logger = functools.cache(logging.getLogger)  # getLogger takes the logging module's lock on each call


def _emit(logger: str, level: int, fields: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in fields.items() if v is not None}
    log = _logger(logger)
    if log.isEnabledFor(level):
        log.log(level, "%s", _Summary(fields), extra={_FIELDS: fields})
    return fields


def request_line(
    *,
    method: str,
    endpoint: str,
    status: int,
    duration_ms: float,
    tenant: str | None = None,
    accepted: int | None = None,
    duplicates: int | None = None,
    rejected: int | None = None,
    dropped: int | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Log one finished request. `endpoint` is the route (not the raw path) and `reason`
    (4xx/5xx) names the error and field, never a value. Returns the fields logged."""
    level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
    return _emit(
        REQUEST_LOGGER,
        level,
        {
            "event": "request",
            "method": method if method in _METHODS else "(other)",  # any token is a valid method: it is input
            "endpoint": endpoint,
            "status": status,
            "tenant": tenant,
            "accepted": accepted,
            "duplicates": duplicates,
            "rejected": rejected,
            "dropped": dropped,
            "duration_ms": round(duration_ms, 2),
            "reason": reason,
        },
    )


def settled_event_logged(outcome: str) -> bool:
    """Whether `settled_event` would write a line for `outcome` (the worker builds none when not)."""
    return _logger(EVENT_LOGGER).isEnabledFor(_settled_level(outcome))


def _settled_level(outcome: str) -> int:
    return logging.WARNING if outcome in ("dead", "retry") else logging.INFO


def settled_event(
    *,
    key: str,
    rule: str | None,
    outcome: str,
    attempts: int,
    duration_ms: float,
    tenant: str | None = None,
    error: BaseException | str | None = None,
    retry_in_s: float | None = None,
) -> dict[str, Any]:
    """Log one event the worker has finished with (done, retry, dead, ignored).

    `key` is the delivery key (ids only); `error` is reduced to its class name when it is an
    exception, as CRM error messages may echo record values. Returns the fields logged.
    """
    error_name = type(error).__name__ if isinstance(error, BaseException) else error
    return _emit(
        EVENT_LOGGER,
        _settled_level(outcome),
        {
            "event": "settled",
            "key": key,
            "tenant": tenant,
            "rule": rule,
            "outcome": outcome,
            "attempts": attempts,
            "duration_ms": round(duration_ms, 2),
            "error": error_name,
            "retry_in_s": retry_in_s,
        },
    )
