"""HubSpot owners (the CRM's users), listed once per gateway and day for every read of users.

Both `read_users` (by id: reviewers, reps, leaders on every hourly tick) and
`find_users_by_email` (matching recordings, the pool's emails) answer from one list:
`GET /crm/v3/owners` (500 per page), archived owners then active ones, re-read after `max_age`.
An id the list lacks is a new owner more often than a wrong one, so such an id triggers one
re-read, once per id until the next daily read: a stale id in the config costs two requests
a day, not two a tick. An email the list lacks is re-read for only when it is at an owner's
domain (a new rep's first recording; a buyer's email never) and the list is over an hour old
(`EMAIL_MAX_AGE`): staff without a HubSpot seat are on many calls, and re-reading for each
would cost more than the hourly list did; so a new rep is found by email within the hour, as
before, and no tick reads owners.

The cost of reading once a day: an owner deactivated in HubSpot stays active here, so can
still be chosen as a reviewer, for up to a day after (their new tasks then wait until the
overdue rule skips them).
Thread-safe: one gateway serves the worker's threads.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterator, Sequence

from integration.commands import User
from integration.gateway.hubspot.mapping import unique, user_from_owner
from integration.gateway.hubspot.records import Records

MAX_AGE = 86400.0  # seconds: a deactivated owner is known within the day
EMAIL_MAX_AGE = 3600.0  # seconds: an unseen email at an owner's domain is looked for in a list at most this old


class Owners:
    def __init__(self, records: Records, clock: Callable[[], float] = time.monotonic, max_age: float = MAX_AGE, email_max_age: float = EMAIL_MAX_AGE) -> None:
        self.records = records
        self._clock = clock
        self._max_age = max_age
        self._email_max_age = email_max_age
        self._by_id: dict[str, User] = {}
        self._by_email: dict[str, User] = {}
        self._domains: set[str] = set()  # the owners' email domains
        self._read_at: float | None = None
        self._listed_at: float | None = None  # the last read, daily or not
        self._missed: set[str] = set()  # ids and emails re-read for since the last read and still unknown
        self._lock = threading.Lock()

    def by_email(self, emails: Sequence[str]) -> dict[str, User]:
        """Owners by lower-cased email, archived ones inactive; an active owner wins over an
        archived one with the same email. An unseen email at an owner's domain reads the list
        again when it is over `email_max_age` old, once per email until the next daily read."""
        wanted = unique(e.strip().lower() for e in emails if e and e.strip())
        with self._lock:
            self._fresh()
            unseen = [e for e in wanted if e not in self._by_email and e not in self._missed and _domain(e) in self._domains]
            stale = self._listed_at is not None and self._clock() - self._listed_at > self._email_max_age
            if unseen and stale:
                self._read()
            elif unseen:
                unseen = []  # looked for in the next read over an hour old
            self._missed.update(e for e in unseen if e not in self._by_email)
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
        """The whole list; a re-read for an unseen id or email keeps the day's clock and misses."""
        by_id: dict[str, User] = {}
        by_email: dict[str, User] = {}
        for archived in (True, False):  # active last: it replaces an archived namesake
            for owner in owners(self.records, archived):
                user = user_from_owner(owner)
                by_id[user.id] = user
                if owner.email:
                    by_email[owner.email.strip().lower()] = user
        self._by_id, self._by_email = by_id, by_email
        self._domains = {_domain(e) for e in by_email}
        self._listed_at = self._clock()


def _domain(email: str) -> str:
    return email.rpartition("@")[2]


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
