"""Salesforce command handlers: one per command type, each a batch of sObject Collections calls.

Exactly once, per command type:
- UpdateFields: PATCH of the records (idempotent): resent after an ambiguous failure.
- AddCollaborators: OpportunityTeamMember inserts (idempotent: a user already on the team
  answers DUPLICATE_VALUE, which counts as added): resent after an ambiguous failure.
- CreateTask, LogCall: upserted on the External ID field GameFilm_Key__c where the org has
  it (idempotent, resent); else created with the marker in Description and never resent
  after an ambiguous failure: the worker reconciles them through `find` (see lookup.py).
- AddNote: a Chatter FeedItem created with the marker in Body (never resent; `find`).
- UpsertCall, RemindTask (and CreateTask's link to its call): recording_writes.py.
- UpsertRecord: a collections upsert on the record's External ID field (idempotent, resent).
- ShareRecord: `<Object>__Share` inserts (idempotent: a second manual share of the same record
  and user updates the first), see shares.py.
Whether GameFilm_Key__c exists is learned once: from the doctor's describe of Task or from
the first upsert Salesforce refuses because the field is unknown (or not writable). An upsert
resent after an ambiguous failure sets the task's fields again: within the gateway's retry
window a person's edit in between would be overwritten.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping, Sequence

from integration.commands import AddCollaborators, AddNote, Command, CreateTask, LogCall, Outcome, RemindTask, ShareRecord, UpdateFields, UpsertCall, UpsertRecord
from integration.gateway import CommandHandler, CrmError
from integration.gateway.salesforce.collections import save, upsert
from integration.gateway.salesforce.lookup import CreatedLookup, key_field_missing
from integration.gateway.salesforce.mapping import (
    DESCRIPTION_CHARS,
    TEAM_RELATIONSHIP,
    Saved,
    call_record,
    collaborators_outcome,
    json_value,
    note_record,
    outcome,
    sobject_type,
    task_record,
    with_marker,
)
from integration.gateway.salesforce.org import TASK_KEY_FIELD, OrgShape
from integration.gateway.salesforce.recording_writes import RecordingCommands
from integration.gateway.salesforce.shares import share_records
from integration.gateway.salesforce.transport import SalesforceCallFailed, SalesforceTransport

log = logging.getLogger(__name__)

ENABLE_TEAMS = "Enable Opportunity Teams: Setup → Opportunity Team Settings → Enable Team Selling"
UPSERT_TASKS = f"composite/sobjects/Task/{TASK_KEY_FIELD}"
KEY_FIELD_REFUSALS = frozenset({"INVALID_FIELD", "INVALID_FIELD_FOR_INSERT_UPDATE"})


class SalesforceCommands:
    """The handlers of one org's gateway; `lookup` finds what an unknown create made."""

    def __init__(
        self, transport: SalesforceTransport, org: OrgShape, lookup: CreatedLookup, recordings: RecordingCommands, *, team_role: str, team_access_level: str,
    ):  # fmt: skip
        self._transport = transport
        self._org = org
        self._lookup = lookup
        self._recordings = recordings
        self._team_role = team_role
        self._team_access_level = team_access_level

    def handlers(self) -> Mapping[type[Command], CommandHandler[Any]]:
        return {
            UpdateFields: CommandHandler(self.update_fields),
            AddCollaborators: CommandHandler(self.add_collaborators),
            CreateTask: CommandHandler(self.create_tasks, self._lookup.find_tasks),
            LogCall: CommandHandler(self.log_calls, self._lookup.find_tasks),
            AddNote: CommandHandler(self.add_notes, self._lookup.find_notes),
            UpsertCall: CommandHandler(self._recordings.upsert_calls),
            RemindTask: CommandHandler(self._recordings.remind_tasks),
            UpsertRecord: CommandHandler(self.upsert_records),
            ShareRecord: CommandHandler(lambda commands: share_records(self._transport, commands)),
        }

    def update_fields(self, commands: Sequence[UpdateFields]) -> list[Outcome]:
        records = [
            {"attributes": {"type": sobject_type(c.object_type)}, "id": c.record_id, **{k: json_value(v) for k, v in c.fields.items()}}
            for c in commands
        ]
        # A collection is processed in chunks per object type (at most 10): group types together.
        order = sorted(range(len(records)), key=lambda i: records[i]["attributes"]["type"])
        saved_in_order = save(self._transport, "PATCH", [records[i] for i in order], idempotent=True)
        saved: list[Saved] = [Saved(id=None)] * len(records)
        for position, i in enumerate(order):
            saved[i] = saved_in_order[position]
        return [outcome(c.key, s, default_id=c.record_id) for c, s in zip(commands, saved)]

    def upsert_records(self, commands: Sequence[UpsertRecord]) -> list[Outcome]:
        """A collections upsert per (object, External ID field): `composite/sobjects/<type>/<field>`."""
        outcomes: dict[int, Outcome] = {}
        groups: dict[tuple[str, str], list[int]] = {}
        for i, c in enumerate(commands):
            groups.setdefault((c.object_type, c.id_field), []).append(i)
        for (object_type, id_field), indexes in sorted(groups.items()):
            records = [{"attributes": {"type": object_type}, id_field: commands[i].id_value,
                        **{k: json_value(v) for k, v in commands[i].fields.items()}} for i in indexes]  # fmt: skip
            for i, s in zip(indexes, upsert(self._transport, records, path=f"composite/sobjects/{object_type}/{id_field}")):
                outcomes[i] = outcome(commands[i].key, s)
        return [outcomes[i] for i in range(len(commands))]

    def add_collaborators(self, commands: Sequence[AddCollaborators]) -> list[Outcome]:
        """One OpportunityTeamMember per (command, user); a user already on the team counts as added."""
        if TEAM_RELATIONSHIP in self._org.absent:
            raise self._teams_disabled()
        members = [(i, user_id) for i, c in enumerate(commands) for user_id in dict.fromkeys(c.user_ids)]
        saved = self._save_team_members([self._team_member(commands[i], user_id) for i, user_id in members])
        per_command: list[dict[str, Saved]] = [{} for _ in commands]
        for (i, user_id), result in zip(members, saved):
            per_command[i][user_id] = result
        return [collaborators_outcome(c.key, per_command[i]) for i, c in enumerate(commands)]

    def create_tasks(self, commands: Sequence[CreateTask]) -> list[Outcome]:
        records = [task_record(c) for c in commands]
        self._recordings.link_calls(commands, records)
        return self._create_tasks(commands, records)

    def log_calls(self, commands: Sequence[LogCall]) -> list[Outcome]:
        return self._create_tasks(commands, [call_record(c) for c in commands])

    def add_notes(self, commands: Sequence[AddNote]) -> list[Outcome]:
        """Chatter posts on the record's feed (FeedItem bodies hold up to 10,000 characters)."""
        self._lookup.sending(commands)
        saved = save(self._transport, "POST", [note_record(c) for c in commands], idempotent=False)
        return [outcome(c.key, s) for c, s in zip(commands, saved)]

    def _create_tasks(self, commands: Sequence[CreateTask | LogCall], records: list[dict[str, Any]]) -> list[Outcome]:
        """Upsert on GameFilm_Key__c where the org has it, else create with the marker in Description."""
        self._lookup.sending(commands)
        saved: list[Saved | None] = [None] * len(commands)
        if self._org.task_key_field is not False:
            keyed = [{**r, TASK_KEY_FIELD: c.marker} for c, r in zip(commands, records)]
            try:
                saved = list(upsert(self._transport, keyed, path=UPSERT_TASKS))
            except SalesforceCallFailed as exc:
                if not key_field_missing(exc):
                    raise
                self._key_field_unusable()
            else:
                # A field the integration user may not write (field-level security) fails each
                # record, which was therefore not created: those are created with a marker.
                refused = [i for i, s in enumerate(saved) if s and s.code in KEY_FIELD_REFUSALS and TASK_KEY_FIELD in (s.error or "")]
                if len(refused) < len(saved):
                    self._org.task_key_field = True
                for i in refused:
                    saved[i] = None
                if refused:
                    self._key_field_unusable()
        unsent = [i for i, s in enumerate(saved) if s is None]
        if unsent:
            marked = [{**records[i], "Description": with_marker(records[i]["Description"], commands[i].marker, DESCRIPTION_CHARS)} for i in unsent]
            for i, result in zip(unsent, save(self._transport, "POST", marked, idempotent=False)):
                saved[i] = result
        return [outcome(c.key, s) for c, s in zip(commands, saved) if s is not None]

    def _key_field_unusable(self) -> None:
        log.info("Salesforce org has no usable Task.%s; creating tasks with a marker in Description", TASK_KEY_FIELD)
        self._org.task_key_field = False

    def _save_team_members(self, records: list[dict[str, Any]]) -> list[Saved]:
        """Create team members; where the org's sharing model makes OpportunityAccessLevel
        read-only, resend the rejected members without it (they get the org's default access)."""
        try:
            saved = save(self._transport, "POST", records, idempotent=True)
        except SalesforceCallFailed as exc:
            if _mentions_team_object(exc.code, exc.sf_message):
                raise self._teams_disabled() from None
            raise
        if any(_mentions_team_object(s.code, s.error) for s in saved):
            raise self._teams_disabled()
        rejected = [i for i, s in enumerate(saved) if s.code == "INVALID_FIELD_FOR_INSERT_UPDATE" and "OpportunityAccessLevel" in (s.error or "")]
        if rejected:
            log.info("OpportunityAccessLevel is read-only in this org; adding team members with the default access")
            self._org.access_level_settable = False
            for i, result in zip(rejected, save(self._transport, "POST", [self._team_member_record(records[i]) for i in rejected], idempotent=True)):
                saved[i] = result
        return saved

    def _teams_disabled(self) -> CrmError:
        """Remember the org has no teams (no more team subqueries or writes) and explain the fix."""
        self._org.absent.add(TEAM_RELATIONSHIP)
        return CrmError(f"This Salesforce org has no Opportunity Teams, so leaders cannot join deals. {ENABLE_TEAMS}.", retryable=False)

    def _team_member(self, command: AddCollaborators, user_id: str) -> dict[str, Any]:
        return self._team_member_record({
            "attributes": {"type": "OpportunityTeamMember"},
            "OpportunityId": command.record_id,
            "UserId": user_id,
            "TeamMemberRole": command.role or self._team_role,
            "OpportunityAccessLevel": command.access_level or self._team_access_level,
        })

    def _team_member_record(self, record: dict[str, Any]) -> dict[str, Any]:
        if self._org.access_level_settable:
            return record
        return {k: v for k, v in record.items() if k != "OpportunityAccessLevel"}


def _mentions_team_object(code: str | None, message: str | None) -> bool:
    return code in ("INVALID_TYPE", "NOT_FOUND") and "OpportunityTeamMember" in (message or "")
