"""Command handlers for field updates and for the records we create (tasks, calls, notes).

Exactly once, per command type:
- UpdateFields: a batch update sets values, so it is resent after an ambiguous failure.
- CreateTask, LogCall, AddNote: batch create, never resent after an ambiguous failure (5xx,
  dropped connection, read timeout): the outcome says `ambiguous` and the worker calls
  `find`. Each record carries its command's marker as the last line of its body
  ("Game Film ref gf-…"); `find` lists the records of that type associated with the
  commands' deals (associations v4, one request per 100 deals, every page) and reads their
  bodies (one request per 100 records). HubSpot's batch upsert would need a unique-value
  property installed on each engagement type; the marker works on every portal as it is.
- A review task about a call: the call is `call_id` when the command carries it (the id its
  UpsertCall answered, from the outbox: no request), else the one this gateway just upserted
  for `call_external_id` (`KnownCalls`), else found by its recording id (one batch read per
  100 tasks, idProperty `gamefilm_recording_id`), and the task is associated
  with it when the portal defines a task -> call association type (labels API); otherwise,
  or while the call is not attached yet, the task body names the call instead.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Sequence

from integration.commands import AddNote, Command, CreateTask, LogCall, Outcome, UpdateFields
from integration.gateway import CrmError
from integration.gateway.hubspot.association_types import AssociationTypes
from integration.gateway.hubspot.known_calls import KnownCalls
from integration.gateway.hubspot.mapping import (
    BATCH_SIZE,
    OBJECT_TYPES,
    RECORDING_ID,
    TASK_PRIORITY,
    created_ids,
    due_ms,
    errors_by_key,
    outcome,
    property_value,
    rich_text,
    unique,
)
from integration.gateway.hubspot.records import Link, Records

_MARKER = re.compile(r"gf-[0-9a-f]{20}")
BODY = {"tasks": "hs_task_body", "calls": "hs_call_body", "notes": "hs_note_body"}


def in_chunks(commands: Sequence[Any], run: Callable[[Sequence[Any]], list[Outcome]]) -> list[Outcome]:
    """Run a write per chunk of 100; a chunk that fails becomes failed outcomes (ambiguous
    if HubSpot may have applied it) and done chunks keep theirs. After a transient failure
    the later chunks are not sent: they fail as retryable and certainly not applied."""
    outcomes: list[Outcome] = []
    for start in range(0, len(commands), BATCH_SIZE):
        chunk = commands[start : start + BATCH_SIZE]
        try:
            outcomes.extend(run(chunk))
        except CrmError as exc:
            outcomes.extend(Outcome.failed(c, str(exc), retryable=exc.retryable, ambiguous=exc.ambiguous) for c in chunk)
            if exc.retryable:
                outcomes.extend(Outcome.failed(c, f"not sent: {exc}", retryable=True) for c in commands[start + BATCH_SIZE :])
                break
    return outcomes


class Writes:
    def __init__(self, records: Records, wall_clock: Callable[[], float], types: AssociationTypes | None = None, known: KnownCalls | None = None) -> None:
        self.records = records
        self._wall_clock = wall_clock
        self.types = types or AssociationTypes(records.transport)
        self.known = known or KnownCalls()

    def update_fields(self, commands: Sequence[UpdateFields]) -> list[Outcome]:
        return in_chunks(commands, self._update_fields_chunk)

    def create_tasks(self, commands: Sequence[CreateTask]) -> list[Outcome]:
        return in_chunks(commands, self._create_tasks_chunk)

    def _create_tasks_chunk(self, commands: Sequence[CreateTask]) -> list[Outcome]:
        recordings = unique(c.call_external_id for c in commands if c.call_external_id and not c.call_id)
        calls = self.call_ids(recordings) if recordings else {}
        to_call = self.types.find("tasks", "calls") if calls or any(c.call_id for c in commands) else None
        to_deal = self.types.require("tasks", "deals")
        to_contact = self.types.require("tasks", "contacts") if any(c.contact_id for c in commands) else 0

        def inputs(command: CreateTask) -> tuple[dict[str, str], list[Link]]:
            body = command.body
            links = [(command.record_id, to_deal)]
            if command.contact_id:
                links.append((command.contact_id, to_contact))
            call_id = command.call_id or calls.get(command.call_external_id or "")
            if call_id and to_call is not None:
                links.append((call_id, to_call))
            elif command.call_external_id:
                where = f"HubSpot call {call_id}" if call_id else "not attached to a HubSpot call yet"
                body = f"{body}\nRecording {command.call_external_id}: {where}"
            elif call_id:
                body = f"{body}\nHubSpot call {call_id}"
            properties = {
                "hs_timestamp": str(due_ms(command.due)),
                "hs_task_subject": command.subject,
                "hs_task_body": rich_text(body, command.marker),
                "hs_task_status": "NOT_STARTED",
                "hs_task_priority": TASK_PRIORITY.get(command.priority.upper(), "MEDIUM"),
                "hs_task_type": "TODO",
                "hubspot_owner_id": command.owner_id,
            }
            return properties, links

        return self._create_chunk("tasks", commands, inputs)

    def call_ids(self, recording_ids: Sequence[str]) -> dict[str, str]:
        """Recording id -> HubSpot call id: those this gateway just upserted, the others by one
        batch read per 100 (idProperty)."""
        found = self.known.known(recording_ids)
        missing = [r for r in recording_ids if r not in found]
        records = self.records.read("calls", missing, (RECORDING_ID,), id_property=RECORDING_ID) if missing else []
        found.update({str((r.properties or {}).get(RECORDING_ID)): str(r.id) for r in records if (r.properties or {}).get(RECORDING_ID)})
        return found

    def log_calls(self, commands: Sequence[LogCall]) -> list[Outcome]:
        def inputs(command: LogCall) -> tuple[dict[str, str], list[Link]]:
            properties = {
                "hs_timestamp": str(command.occurred_at_ms),
                "hs_call_title": command.title,
                "hs_call_body": rich_text(command.body, command.marker),
                "hs_call_status": "COMPLETED",
                "hs_call_recording_url": command.recording_url,
            }
            if command.duration_ms is not None:
                properties["hs_call_duration"] = str(command.duration_ms)
            if command.owner_id:
                properties["hubspot_owner_id"] = command.owner_id
            return properties, [(command.record_id, self.types.require("calls", "deals"))]

        return in_chunks(commands, lambda chunk: self._create_chunk("calls", chunk, inputs))

    def add_notes(self, commands: Sequence[AddNote]) -> list[Outcome]:
        def inputs(command: AddNote) -> tuple[dict[str, str], list[Link]]:
            properties = {"hs_timestamp": str(int(self._wall_clock() * 1000)), "hs_note_body": rich_text(command.body, command.marker)}
            return properties, [(command.record_id, self.types.require("notes", "deals"))]

        return in_chunks(commands, lambda chunk: self._create_chunk("notes", chunk, inputs))

    def find(self, object_type: str, commands: Sequence[Command]) -> dict[str, str | None]:
        """key -> id of the record carrying the command's marker on its deal, or None.
        Raises CrmError (HubSpotError) when HubSpot cannot be read: then nobody can tell."""
        linked = self.records.associated_ids("deals", object_type, unique(c.record_id for c in commands))
        ids = unique(i for c in commands for i in linked.get(c.record_id, []))
        by_marker: dict[str, str] = {}
        for record in self.records.read(object_type, ids, (BODY[object_type],)):
            for marker in _MARKER.findall((record.properties or {}).get(BODY[object_type]) or ""):
                by_marker.setdefault(marker, str(record.id))
        return {c.key: by_marker.get(c.marker) for c in commands}

    def _update_fields_chunk(self, commands: Sequence[UpdateFields]) -> list[Outcome]:
        """Commands on the same record merge into one input: batch inputs must have unique ids."""
        types = [OBJECT_TYPES.get(c.object_type.lower(), c.object_type) for c in commands]
        by_type: dict[str, dict[str, dict[str, str]]] = {}
        for object_type, c in zip(types, commands):
            by_type.setdefault(object_type, {}).setdefault(c.record_id, {}).update({k: property_value(v) for k, v in c.fields.items()})
        results = {(t, i): error for t, changes in by_type.items() for i, error in self.records.update(t, changes).items()}
        return [outcome(c, c.record_id, results[(t, c.record_id)]) for t, c in zip(types, commands)]

    def _create_chunk(self, object_type: str, commands: Sequence[Any], inputs: Callable[[Any], tuple[dict[str, str], list[Link]]]) -> list[Outcome]:
        """Results are matched to commands by objectWriteTraceId."""
        response = self.records.create(object_type, [inputs(c) for c in commands])
        trace_ids = [str(i) for i in range(len(commands))]
        errors = errors_by_key(response, trace_ids)
        created = created_ids(response.results or [], [t for t in trace_ids if t not in errors])
        return [
            outcome(c, created.get(t), errors.get(t) or (None if t in created else "HubSpot returned no result for this record"))
            for t, c in zip(trace_ids, commands)
        ]
