"""HubSpot owners (the CRM's users), listed once per gateway and hour for every read of users.

Both `read_users` (by id: reviewers, reps, leaders on every hourly tick) and
`find_users_by_email` (matching recordings) answer from one list: `GET /crm/v3/owners`
(500 per page), archived owners then active ones, re-read after `max_age`. An id the list
lacks is a new owner more often than a wrong one, so such an id triggers one re-read, once
per id until the next hourly read: a stale id in the config costs two requests an hour,
not two a tick. Thread-safe: one gateway serves the worker's threads.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterator, Sequence

from integration.commands import User
from integration.gateway.hubspot.mapping import unique, user_from_owner
from integration.gateway.hubspot.records import Records

MAX_AGE = 3600.0  # seconds: a rep added in HubSpot is known within the hour


class Owners:
    def __init__(self, records: Records, clock: Callable[[], float] = time.monotonic, max_age: float = MAX_AGE) -> None:
        self.records = records
        self._clock = clock
        self._max_age = max_age
        self._by_id: dict[str, User] = {}
        self._by_email: dict[str, User] = {}
        self._read_at: float | None = None
        self._missed: set[str] = set()  # ids re-read for since the last read and still unknown
        self._lock = threading.Lock()

    def by_email(self, emails: Sequence[str]) -> dict[str, User]:
        """Owners by lower-cased email, archived ones inactive; an active owner wins over an
        archived one with the same email."""
        wanted = unique(e.strip().lower() for e in emails if e and e.strip())
        with self._lock:
            self._fresh()
            known = self._by_email
        return {e: known[e] for e in wanted if e in known}

    def by_id(self, ids: Sequence[str]) -> dict[str, User]:
        wanted = unique(str(i) for i in ids if i)
        with self._lock:
            just_read = self._fresh()
            unseen = [i for i in wanted if i not in self._by_id and i not in self._missed]
            if unseen and not just_read:
                self._read()
            self._missed.update(i for i in unseen if i not in self._by_id)
            known = self._by_id
        return {i: known[i] for i in wanted if i in known}

    def _fresh(self) -> bool:
        """Read the list when it is older than `max_age`; True when it was read now."""
        if self._read_at is None or self._clock() - self._read_at > self._max_age:
            self._read()
            self._read_at = self._clock()
            self._missed = set()
            return True
        return False

    def _read(self) -> None:
        """The whole list; a re-read for an unseen id keeps the hour's clock and misses."""
        by_id: dict[str, User] = {}
        by_email: dict[str, User] = {}
        for archived in (True, False):  # active last: it replaces an archived namesake
            for owner in owners(self.records, archived):
                user = user_from_owner(owner)
                by_id[user.id] = user
                if owner.email:
                    by_email[owner.email.strip().lower()] = user
        self._by_id, self._by_email = by_id, by_email


def owners(records: Records, archived: bool) -> Iterator[Any]:
    """Every owner page (`GET /crm/v3/owners`, 500 per page) of active or archived owners."""
    flag = "true" if archived else "false"  # the SDK would send Python's "False"
    after = None
    while True:
        page = records.transport.sdk("crm.owners.owners_api", "get_page", limit=500, archived=flag, **({"after": after} if after else {}))
        yield from page.results or []
        after = page.paging.next.after if page.paging and page.paging.next else None
        if not after:
            return
