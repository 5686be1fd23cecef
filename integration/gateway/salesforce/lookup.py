"""Finding what a create made after its outcome was unknown (`CommandHandler.find`).

Which mechanism applies:
- Tasks and call logs (CreateTask, LogCall) in an org with the External ID field
  `GameFilm_Key__c` on Activity: they are *upserted* on it (the command's marker as value),
  so a resend cannot duplicate them, and they are found by `WHERE GameFilm_Key__c IN (...)`.
- Tasks and call logs in an org without it (before the installer deploys it): created with
  the marker as the last line of Description, found by the Tasks the integration user
  created on those opportunities since the command was first sent, matched client-side
  (Description is not filterable). Deleted Tasks count as found (queryAll): a person
  deleted it, the integration must not bring it back.
- Notes (AddNote, a Chatter FeedItem: no custom fields): the marker is the last line of Body,
  found the same way on FeedItem (ParentId, CreatedById, CreatedDate).

"Since first sent" is known for commands this process sent; for the others (a new process
after a crash) the lookback window applies: an effect older than it is not found.
Known gap: a Task created with a marker while the org had no GameFilm_Key__c, whose outcome
is still unknown when the field gets deployed, is looked up by the field and not found.
One query per 200 records for many commands; a key absent from the answer certainly has no
effect (the query either answers completely or raises).
"""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Callable, Sequence

from integration.commands import AddNote, Command, CreateTask, LogCall
from integration.gateway import CrmError
from integration.gateway.salesforce.mapping import in_chunks, marker_of, quoted, soql_datetime
from integration.gateway.salesforce.org import TASK_KEY_FIELD, OrgShape
from integration.gateway.salesforce.transport import SalesforceCallFailed, SalesforceTransport

CLOCK_SKEW = timedelta(minutes=5)  # between this host and Salesforce's CreatedDate
REMEMBERED = 50_000  # send times kept; an older one is forgotten and its lookup uses the lookback


class CreatedLookup:
    """Remembers when each marker was first sent, and looks markers up."""

    def __init__(self, transport: SalesforceTransport, org: OrgShape, *, now: Callable[[], datetime], lookback: timedelta):
        self._transport = transport
        self._org = org
        self._now = now
        self._lookback = lookback
        self._sent_at: dict[str, datetime] = {}

    def sending(self, commands: Sequence[Command]) -> None:
        """Note the first time each command is sent (the lower bound of its lookup)."""
        moment = self._now()
        for command in commands:
            self._sent_at.setdefault(command.marker, moment)
        for marker in list(itertools.islice(self._sent_at, max(0, len(self._sent_at) - REMEMBERED))):
            del self._sent_at[marker]  # the oldest first: dicts keep insertion order

    def find_tasks(self, commands: Sequence[CreateTask | LogCall]) -> dict[str, str | None]:
        if self._org.task_key_field is not False:
            try:
                return self._tasks_by_key(commands)
            except SalesforceCallFailed as exc:
                if not key_field_missing(exc):
                    raise
                self._org.task_key_field = False
        return self._by_marker("Task", "WhatId", "Description", commands, include_deleted=True)

    def find_notes(self, commands: Sequence[AddNote]) -> dict[str, str | None]:
        return self._by_marker("FeedItem", "ParentId", "Body", commands, include_deleted=False)

    def _tasks_by_key(self, commands: Sequence[CreateTask | LogCall]) -> dict[str, str | None]:
        keys = {c.marker: c.key for c in commands}
        found: dict[str, str | None] = dict.fromkeys(keys.values())
        for chunk in in_chunks(keys):
            soql = f"SELECT Id, {TASK_KEY_FIELD} FROM Task WHERE {TASK_KEY_FIELD} IN {quoted(chunk)}"
            for record in self._transport.query(soql, include_deleted=True):
                found[keys[record[TASK_KEY_FIELD]]] = record["Id"]
        self._org.task_key_field = True
        return found

    def _by_marker(self, sobject: str, parent: str, text: str, commands: Sequence[Command], *, include_deleted: bool) -> dict[str, str | None]:
        keys = {c.marker: c.key for c in commands}
        found: dict[str, str | None] = dict.fromkeys(keys.values())
        since, me = soql_datetime(self._since(commands)), quoted(self._user_id())
        for chunk in in_chunks(c.record_id for c in commands):
            soql = f"SELECT Id, {text} FROM {sobject} WHERE {parent} IN {quoted(chunk)} AND CreatedById = {me} AND CreatedDate >= {since}"
            for record in self._transport.query(soql, include_deleted=include_deleted):
                marker = marker_of(record.get(text))
                if marker in keys:
                    found[keys[marker]] = record["Id"]
        return found

    def _since(self, commands: Sequence[Command]) -> datetime:
        known = [self._sent_at.get(c.marker) for c in commands]
        if all(known):
            return min(m for m in known if m) - CLOCK_SKEW
        return self._now() - self._lookback

    def _user_id(self) -> str:
        """The integration user's id, from the OAuth userinfo endpoint (once per gateway)."""
        if self._org.user_id is None:
            info = self._transport.call("userinfo", lambda sf: sf.oauth2("userinfo")) or {}
            if not info.get("user_id"):
                raise CrmError("Salesforce userinfo did not name the integration user; cannot look up what it created")
            self._org.user_id = str(info["user_id"])
        return self._org.user_id


def key_field_missing(exc: SalesforceCallFailed) -> bool:
    """The org has no usable GameFilm_Key__c: the upsert URL names an unknown field (NOT_FOUND),
    or a query/upsert names a field that does not exist or is not an external id."""
    return exc.code == "NOT_FOUND" or (exc.code in ("INVALID_FIELD", "INVALID_FIELD_FOR_INSERT_UPDATE") and TASK_KEY_FIELD in exc.sf_message)
