"""Writes for recordings and reviews: call Tasks, links from review tasks, reminders.

Exactly once, per command type (all idempotent, so an unknown outcome is simply sent again):
- UpsertCall: a collections upsert on Task.GameFilm_Recording_Id__c; a resend finds the
  Task its first send made and updates it instead of creating a second one (TaskSubtype,
  create-only, is then dropped: collections.upsert). An existing call (`call_id`) is
  updated by id.
- RemindTask: a Salesforce task reminder (IsReminderSet, ReminderDateTime) with the note
  appended to Description unless the note is there already (read in the same batch).
- CreateTask with `call_external_id`: the review task's Description links the call Task.
  Its Task id comes with the command (`call_id`, once the call was attached) or from the
  calls this gateway upserted (remembered: the self-assessment planned with its call costs
  no read); the others are found by recording id (one query per 200). The create itself stays with the existing handler (upsert on
  GameFilm_Key__c, or marker).
"""
from __future__ import annotations

import itertools
import logging
from datetime import datetime, timezone
from typing import Any, Sequence

from integration.commands import CreateTask, Outcome, RemindTask, UpsertCall
from integration.gateway import CrmError
from integration.gateway.salesforce.calls import (
    RECORDING_ID_FIELD,
    URL_FIELD_CHARS,
    call_link,
    reminded_description,
    stamp_call_record,
    upsert_call_record,
    with_call_link,
)
from integration.gateway.salesforce.collections import save, upsert
from integration.gateway.salesforce.mapping import Saved, in_chunks, json_value, outcome, quoted
from integration.gateway.salesforce.recording_reads import RecordingReads, missing_task_field
from integration.gateway.salesforce.transport import SalesforceCallFailed, SalesforceTransport

log = logging.getLogger(__name__)

UPSERT_CALLS = f"composite/sobjects/Task/{RECORDING_ID_FIELD}"
REMEMBERED_CALLS = 10_000  # upserted calls kept for linking; the oldest are forgotten first


class RecordingCommands:
    def __init__(self, transport: SalesforceTransport, reads: RecordingReads):
        self._transport = transport
        self._reads = reads
        self._upserted: dict[str, tuple[str, str | None]] = {}  # recording id -> (call Task id, recording URL)

    def upsert_calls(self, commands: Sequence[UpsertCall]) -> list[Outcome]:
        url_field = self._reads.recording_url_field
        new = [i for i, c in enumerate(commands) if c.call_id is None]
        known = [i for i, c in enumerate(commands) if c.call_id is not None]
        saved: dict[int, Saved] = {}
        if new:
            saved.update(zip(new, self._upsert([upsert_call_record(commands[i], url_field) for i in new])))
        if known:
            records = [stamp_call_record(commands[i]) for i in known]
            saved.update(zip(known, self._save("PATCH", records, path="composite/sobjects")))
        outcomes = [outcome(c.key, saved[i], default_id=c.call_id) for i, c in enumerate(commands)]
        self._remember(commands, outcomes)
        return outcomes

    def _remember(self, commands: Sequence[UpsertCall], outcomes: Sequence[Outcome]) -> None:
        for command, done in zip(commands, outcomes):
            if done.ok and done.crm_id:
                in_url_field = len(command.recording_url) <= URL_FIELD_CHARS  # a longer link is in Description only
                self._upserted.pop(command.external_id, None)
                self._upserted[command.external_id] = (str(done.crm_id), command.recording_url if in_url_field else None)
        for stale in list(itertools.islice(self._upserted, max(0, len(self._upserted) - REMEMBERED_CALLS))):
            del self._upserted[stale]

    def remind_tasks(self, commands: Sequence[RemindTask]) -> list[Outcome]:
        """A task reminder rather than a Chatter @mention: setting the same reminder again is
        one reminder (a mention posted twice is two posts, and a post cannot carry an external
        id to look it up by), it pops up for the task's assignee only, not on the deal's feed
        for everyone, and it opens the task itself: one click to act."""
        current = self._tasks_now([c.task_id for c in commands])
        outcomes: dict[int, Outcome] = {}
        writes: list[tuple[int, dict[str, Any]]] = []
        for i, command in enumerate(commands):
            task = current.get(command.task_id)
            if task is None:
                outcomes[i] = Outcome.failed(command, f"task {command.task_id} not found (deleted, or not visible to the integration user)")
            elif task.get("IsClosed"):
                outcomes[i] = Outcome(key=command.key, ok=True, crm_id=command.task_id, detail={"skipped": "the task is closed"})
            else:
                writes.append((i, _reminder_record(command, task.get("Description"))))
        for (i, _), result in zip(writes, self._save("PATCH", [r for _, r in writes], path="composite/sobjects") if writes else []):
            outcomes[i] = outcome(commands[i].key, result, default_id=commands[i].task_id)
        return [outcomes[i] for i in range(len(commands))]

    def link_calls(self, commands: Sequence[CreateTask], records: list[dict[str, Any]]) -> None:
        """Put a link to each review task's call (and its recording URL) into its Description.
        A call not attached yet is left out (the task still says what to review); so are all
        links in an org that cannot be searched by recording id (the doctor says how to fix
        it), rather than holding the review tasks back."""
        wanted = [c.call_external_id for c in commands if c.call_external_id]
        if not wanted:
            return
        calls = {w: self._upserted[w] for w in wanted if w in self._upserted}
        for command in commands:  # the call's Task id came with the command: its link needs no read
            if command.call_external_id and command.call_id and command.call_external_id not in calls:
                calls[command.call_external_id] = (command.call_id, None)
        rest = [w for w in wanted if w not in calls]
        if rest:
            try:
                calls.update(self._calls_by_recording_id(rest))
            except CrmError as exc:
                if exc.retryable:
                    raise
                log.warning("review tasks created without links to their calls: %s", exc)
        if not calls:
            return
        instance = "https://" + self._transport.call("instance", lambda sf: str(sf.sf_instance), guard=False)
        for command, record in zip(commands, records):
            found = calls.get(command.call_external_id or "")
            if found is None:
                if command.call_external_id:
                    log.info("review task %s: its call is not in Salesforce yet; created without a link to it", command.marker)
                continue
            task_id, recording_url = found
            record["Description"] = with_call_link(record["Description"], call_link(instance, task_id), recording_url)

    def _calls_by_recording_id(self, external_ids: list[str]) -> dict[str, tuple[str, str | None]]:
        url_field = self._reads.recording_url_field
        found: dict[str, tuple[str, str | None]] = {}
        for chunk in in_chunks(external_ids):
            soql = f"SELECT Id, {RECORDING_ID_FIELD}, {url_field} FROM Task WHERE {RECORDING_ID_FIELD} IN {quoted(chunk)}"
            for record in self._reads.task_query(soql):
                found[record[RECORDING_ID_FIELD]] = (record["Id"], record.get(url_field))
        return found

    def _tasks_now(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        tasks: dict[str, dict[str, Any]] = {}
        for chunk in in_chunks(ids):
            for record in self._transport.query(f"SELECT Id, IsClosed, Description FROM Task WHERE Id IN {quoted(chunk)}"):
                tasks[record["Id"]] = record
        return tasks

    def _upsert(self, records: list[dict[str, Any]]) -> list[Saved]:
        return self._save("PATCH", records, path=UPSERT_CALLS)

    def _save(self, method: str, records: list[dict[str, Any]], *, path: str) -> list[Saved]:
        try:
            if path == UPSERT_CALLS:
                return upsert(self._transport, records, path=path)
            return save(self._transport, method, records, path=path, idempotent=True)
        except SalesforceCallFailed as exc:
            clear = missing_task_field(exc, self._reads.recording_url_field, upsert=path == UPSERT_CALLS)
            if clear is not None:
                raise clear from None
            raise


def _reminder_record(command: RemindTask, description: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "attributes": {"type": "Task"},
        "id": command.task_id,
        "IsReminderSet": True,
        "ReminderDateTime": json_value(datetime.fromtimestamp(command.remind_at_ms / 1000, tz=timezone.utc)),
    }
    text = reminded_description(description, command)
    if text is not None:
        record["Description"] = text
    return record

