"""Persist before ack: store accepted events durably, then tell the worker (best effort).

If the notification fails (the thread is gone, SQS is briefly unreachable) nothing is lost:
the event is already stored as pending, and the worker's sweep of due events picks it up.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from itertools import compress
from operator import attrgetter
from typing import Callable, Sequence

from integration.events import Event
from integration.store import Store

log = logging.getLogger(__name__)
_KEY = attrgetter("key")


class StoreUnavailable(Exception):
    """The store did not confirm the write: answer 503 so the sender retries (never a 2xx)."""

    def __init__(self, cause: BaseException):
        super().__init__(describe_failure(cause))
        self.cause = cause


def describe_failure(exc: BaseException) -> str:
    """Exception class plus a machine code where the library has one, never its message:
    messages can quote the values being written."""
    response = getattr(exc, "response", None)  # botocore's ClientError carries the error code
    code = getattr(exc, "sqlite_errorname", None) or (
        response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    )
    return f"{type(exc).__name__}({code})" if code else type(exc).__name__


@dataclass(frozen=True)
class Accepted:
    new: int
    duplicates: int


class Intake:
    def __init__(self, store: Store, notify: Callable[[Sequence[str]], None], clock: Callable[[], float]):
        self.store = store
        self.notify = notify
        self.clock = clock

    def accept(self, events: Sequence[Event]) -> Accepted:
        if not events:
            return Accepted(0, 0)
        try:
            inserted = self.store.add_events(events, self.clock())
        except Exception as exc:  # any failure means "not known to be stored"
            raise StoreUnavailable(exc) from exc
        new_keys = list(compress(map(_KEY, events), inserted))
        if new_keys:
            try:
                self.notify(new_keys)
            except Exception:  # stored already; the due-event sweep will process it
                log.exception("could not notify the worker of %d new events", len(new_keys))
        return Accepted(len(new_keys), len(events) - len(new_keys))
