"""Command handlers for recordings and reviews: UpsertCall and RemindTask. Both idempotent.

UpsertCall, new calls: ONE `calls/batch/create` per 100 commands whose inputs carry the
recording id (`gamefilm_recording_id`, a unique-value property) and their associations inline
(deal and contacts, type ids from the labels API: `AssociationTypes`). HubSpot refuses a create
that repeats a unique value, for the whole batch (a 4xx: 400 VALIDATION_ERROR "already has that
value" for custom unique properties, 409 CONFLICT for contacts' email), and creates nothing.
The create is only a first attempt's path. On ANY refusal (a 4xx other than 401/403/429), on an
answer lost after sending (5xx, dropped connection: HubSpot may have created the calls), for
inputs a 207 reports failed, and for commands the outbox resends after an unknown outcome
(`resend`: the process died after sending), the chunk takes the path that is right whether or
not the call exists: `calls/batch/upsert` on `gamefilm_recording_id` (creates the call or
updates the one holding the value), then one associations v4 batch create per 100 pairs for
call -> deal and call -> contacts (creating an association that exists changes nothing). So
nothing is created twice even where a repeated create would not be refused.
Calls that already exist in HubSpot (`call_id`): one batch update stamping the recording id,
then the associations. The call ids are remembered (`KnownCalls`) for the review tasks created
next about them.

RemindTask: one batch read of the tasks (body, reminder, status), then one batch update of
those that change: `hs_task_reminders` (epoch ms) and the note appended to the body with the
command's marker. A task that already has that reminder and note is not written again; one
completed since the nudge was planned is left alone.
"""
from __future__ import annotations

import html
from typing import Any, Mapping, Sequence

from integration.commands import Outcome, RemindTask, UpsertCall
from integration.gateway.hubspot.association_types import AssociationTypes
from integration.gateway.hubspot.known_calls import KnownCalls
from integration.gateway.hubspot.mapping import MARKER_PREFIX, RECORDING_ID, created_ids, errors_by_key, outcome, timestamp, unique
from integration.gateway.hubspot.records import Link, Records
from integration.gateway.hubspot.transport import HubSpotError
from integration.gateway.hubspot.writes import in_chunks

REMINDER = "hs_task_reminders"


class RecordingWrites:
    def __init__(self, records: Records, types: AssociationTypes, known: KnownCalls | None = None) -> None:
        self.records = records
        self.types = types
        self.known = known or KnownCalls()

    def upsert_calls(self, commands: Sequence[UpsertCall]) -> list[Outcome]:
        return in_chunks(commands, self._upsert_chunk)

    def remind_tasks(self, commands: Sequence[RemindTask]) -> list[Outcome]:
        return in_chunks(commands, self._remind_chunk)

    def _upsert_chunk(self, commands: Sequence[UpsertCall]) -> list[Outcome]:
        new = {c.external_id: call_properties(c) for c in commands if not c.call_id}  # a repeated recording is one input
        stamps = {c.call_id: {RECORDING_ID: c.external_id} for c in commands if c.call_id}
        call_ids: dict[str, str] = {}  # command key -> call id
        errors: dict[str, str] = {}
        resent = {c.external_id for c in commands if c.resend}  # sent before, outcome unknown: the safe path
        first = {k: p for k, p in new.items() if k not in resent}
        created = self._create(commands, first) if first else {}
        fallback = {k: p for k, p in new.items() if k not in created}
        if fallback:
            response = self.records.upsert("calls", RECORDING_ID, fallback)
            failed = errors_by_key(response, list(fallback))
            created.update({k: i for k, i in upserted_ids(response.results or [], list(fallback)).items() if k not in failed})
            for c in commands:
                if not c.call_id and c.external_id not in created:
                    errors[c.key] = failed.get(c.external_id) or ""
        call_ids.update({c.key: created[c.external_id] for c in commands if not c.call_id and c.external_id in created})
        if stamps:
            updated = self.records.update("calls", stamps)
            for c in commands:
                if c.call_id:
                    error = updated.get(c.call_id)
                    if error:
                        errors[c.key] = error
                    else:
                        call_ids[c.key] = c.call_id
        self.known.remember((c.external_id, call_ids[c.key]) for c in commands if c.key in call_ids)
        unlinked = [c for c in commands if c.key in call_ids and (c.call_id or c.external_id in fallback)]  # created inline: linked already
        linked = self._associate(unlinked, call_ids)
        outcomes = []
        for c in commands:
            if c.key in errors:
                # no result and no error: HubSpot's answer left it out; upserting again is safe
                outcomes.append(Outcome.failed(c, errors[c.key]) if errors[c.key] else Outcome.failed(c, "HubSpot returned no result for this call", retryable=True))
            else:
                call_id = call_ids[c.key]
                outcomes.append(outcome(c, call_id, linked.get(call_id), {"call_id": call_id}))
        return outcomes

    def _create(self, commands: Sequence[UpsertCall], new: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
        """Recording id -> id of the call one batch create made with its associations inline.
        Inputs HubSpot did not create are left out (the caller upserts them): all of them when it
        refused the batch with a 4xx (a recording id a call already holds, or any input it finds
        invalid) or its answer was lost after sending (5xx, dropped connection: created or not,
        the upsert finds out), those its 207 names otherwise. Other failures raise."""
        links: dict[str, list[Link]] = {k: [] for k in new}
        for c in commands:
            if c.call_id:
                continue
            if c.associate_deal and c.record_id:
                links[c.external_id].append((c.record_id, self.types.require("calls", "deals")))
            if c.contact_ids:
                type_id = self.types.require("calls", "contacts")
                links[c.external_id].extend((contact, type_id) for contact in c.contact_ids)
        keys = list(new)
        try:
            response = self.records.create("calls", [(new[k], list(dict.fromkeys(links[k]))) for k in keys])
        except HubSpotError as exc:
            if refused(exc) or exc.ambiguous:
                return {}
            raise
        traces = [str(n) for n in range(len(keys))]
        failed = errors_by_key(response, traces)
        return {keys[int(t)]: call_id for t, call_id in created_ids(response.results or [], [t for t in traces if t not in failed]).items()}

    def _associate(self, commands: Sequence[UpsertCall], call_ids: Mapping[str, str]) -> dict[str, str]:
        """call id -> error of the associations HubSpot refused."""
        deals = [(call_ids[c.key], c.record_id) for c in commands if c.associate_deal and c.record_id]
        contacts = [(call_ids[c.key], contact) for c in commands for contact in c.contact_ids]
        errors: dict[str, str] = {}
        if deals:
            errors.update(self.records.associate("calls", "deals", deals, self.types.require("calls", "deals")))
        if contacts:
            for call_id, error in self.records.associate("calls", "contacts", contacts, self.types.require("calls", "contacts")).items():
                errors.setdefault(call_id, error)
        return errors

    def _remind_chunk(self, commands: Sequence[RemindTask]) -> list[Outcome]:
        read = self.records.read("tasks", unique(c.task_id for c in commands), ("hs_task_body", REMINDER, "hs_task_status"))
        current = {str(r.id): {"hs_task_body": (r.properties or {}).get("hs_task_body") or "", REMINDER: (r.properties or {}).get(REMINDER) or ""} for r in read}
        completed = {str(r.id) for r in read if str((r.properties or {}).get("hs_task_status") or "").upper() == "COMPLETED"}
        wanted = {task_id: dict(p) for task_id, p in current.items()}
        for c in commands:
            if c.task_id in wanted and c.task_id not in completed:
                wanted[c.task_id] = with_reminder(wanted[c.task_id], c)
        changed = {task_id: p for task_id, p in wanted.items() if p != current[task_id]}
        results = self.records.update("tasks", changed) if changed else {}
        outcomes = []
        for c in commands:
            if c.task_id not in current:
                outcomes.append(Outcome.failed(c, f"HubSpot has no task {c.task_id} (deleted?)"))
            elif c.task_id in completed:
                outcomes.append(outcome(c, c.task_id, None, {"skipped": "the task was completed before the reminder"}))
            else:
                outcomes.append(outcome(c, c.task_id, results.get(c.task_id)))
        return outcomes


def refused(exc: HubSpotError) -> bool:
    """HubSpot answered and applied nothing for a reason other than access or rate: a 4xx
    other than 401, 403, 429 (e.g. 400 VALIDATION_ERROR or 409 CONFLICT for a unique value)."""
    return 400 <= exc.status < 500 and exc.status not in (401, 403, 429)


def call_properties(command: UpsertCall) -> dict[str, str]:
    properties = {
        RECORDING_ID: command.external_id,
        "hs_timestamp": str(command.occurred_at_ms),
        "hs_call_title": command.title,
        "hs_call_recording_url": command.recording_url,
        "hs_call_status": "COMPLETED",
    }
    if command.body:
        properties["hs_call_body"] = html.escape(command.body).replace("\n", "<br>")
    if command.duration_ms is not None:
        properties["hs_call_duration"] = str(command.duration_ms)
    if command.owner_id:
        properties["hubspot_owner_id"] = command.owner_id
    return properties


def upserted_ids(results: Sequence[Any], keys: Sequence[str]) -> dict[str, str]:
    """Recording id -> call id, by the echoed objectWriteTraceId or the recording id property."""
    wanted = set(keys)
    found: dict[str, str] = {}
    for r in results:
        key = r.object_write_trace_id if r.object_write_trace_id in wanted else (r.properties or {}).get(RECORDING_ID)
        if key in wanted:
            found[key] = str(r.id)
    return found


def with_reminder(task: Mapping[str, str], command: RemindTask) -> dict[str, str]:
    """The task's body and reminder once this command's reminder is set: the note is added
    once (found again by the command's marker), the reminder replaced unless it is the same moment."""
    body = task["hs_task_body"]
    if command.marker not in body:
        line = f"{html.escape(command.note)} ({MARKER_PREFIX}{command.marker})"
        body = f"{body}<br>{line}" if body else line
    reminder = task[REMINDER]
    at = str(command.remind_at_ms)
    if timestamp(reminder) != timestamp(at):
        reminder = at
    return {"hs_task_body": body, REMINDER: reminder}
