"""The review loop's per-batch step: everything that needs I/O before planning.

For one tenant's batch of events it reads the CRM in batches (calls, match facts, users,
tasks), writes the ledger (recording entries, the rotation's atomic `assign`, task ids and
nudge days), and answers, per event key, the `Decision`s `plan` turns into commands (pure,
`integration.review.tasks`). Every decision is derived again the same way on a retry or a
redelivery (the ledger entry, once written, is the decision; `assign` answers its first
reviewers), so the command keys, and with them the effects, are the same: once.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Mapping, Sequence, Union

from integration.commands import Command
from integration.config_model import Tenant
from integration.events import Event
from integration.gateway import CrmGateway
from integration.ledger import (
    PEER,
    REC_ATTACHED,
    REC_GAVE_UP,
    REC_PRIVATE,
    REC_UNMATCHED,
    SELF,
    Assignment,
    RecordingEntry,
    ReviewLedger,
)
from integration.match_reads import read_facts
from integration.matching import Match, match
from integration.recordings import (
    CALL_OBJECT,
    RECORDING_OBJECT,
    SOURCE_CRM_CALL,
    SOURCE_ZOOM,
    TASK_OBJECT,
    CallActivity,
    Recording,
    recording_from_changed,
    recording_to_changed,
)
from integration.review import tasks
from integration.review.settings import MATCH_RETRY_DAYS, GameFilmSettings
from integration.rotation import choose, iso_week
from integration.scoring import GRADUATED

if TYPE_CHECKING:
    from integration.store import Action

DAY = 86400.0

# Zoom: the meeting's participant emails (past-meeting participants API) when the tenant has
# Zoom credentials, else None (host only). Injected so tests and tenants without Zoom need none.
ZoomParticipants = Callable[[Tenant, Recording], Union[Sequence[str], None]]


@dataclass(frozen=True)
class Attach:
    """A matched recording: the call on its deal, and the rep's self-assessment."""

    recording: Recording
    entry: RecordingEntry
    reason: str
    step: str
    contact_ids: tuple[str, ...]
    associate_deal: bool
    self_assignment: Assignment | None
    review_url: str | None = None  # the self-assessment's signed review page link


@dataclass(frozen=True)
class ReviewTask:
    """A review task to create (self or peer); `skipped`: why the rotation passed others over."""

    entry: RecordingEntry
    assignment: Assignment
    skipped: Mapping[str, str] = field(default_factory=dict)
    call_id: str | None = None  # the call's CRM id when its attach was sent already
    review_url: str | None = None  # the signed review page link (None: no public base URL or link secret)


@dataclass(frozen=True)
class Nudge:
    entry: RecordingEntry | None
    assignment: Assignment
    now: float  # the tick's time: the reminder's time and the day in its key


@dataclass(frozen=True)
class Writes:
    """Commands the per-batch step decided in full (score write-backs, the weekly digest)."""

    commands: tuple[Command, ...]


Decision = Union[Attach, ReviewTask, Nudge, Writes]


def commands_for(tenant: str, decisions: Sequence[Decision], settings: GameFilmSettings, crm: str = "") -> list[Command]:
    """`plan`'s half: the commands of an event's decisions (pure)."""
    out: list[Command] = []
    for d in decisions:
        if isinstance(d, Attach):
            evidence = {"recording": d.recording.external_id, "step": d.step, "source": d.recording.source}
            out.append(tasks.upsert_call(tenant, d.recording, d.entry.deal_id or "", d.entry.rep_user_id, d.contact_ids,
                                         d.reason, evidence, associate_deal=d.associate_deal))  # fmt: skip
            if d.self_assignment is not None:
                out.append(tasks.self_task(tenant, d.entry, d.self_assignment, settings, review_url=d.review_url, crm=crm))
        elif isinstance(d, ReviewTask):
            if d.assignment.kind == SELF:
                out.append(tasks.self_task(tenant, d.entry, d.assignment, settings, d.call_id, d.review_url, crm))
            else:
                out.append(tasks.peer_task(tenant, d.entry, d.assignment, settings, d.skipped, d.call_id, d.review_url, crm))
        elif isinstance(d, Writes):
            out.extend(d.commands)
        else:
            out.append(tasks.reminder(tenant, d.entry, d.assignment, d.now))
    return out


class Run:
    """One prepare pass for one tenant: its reads are batched, its decisions collected."""

    def __init__(self, tenant: Tenant, gateway: CrmGateway, ledger: ReviewLedger, settings: GameFilmSettings, now: float,
                 fail: Callable[[str, str, bool], None], zoom: ZoomParticipants | None = None,
                 action: Callable[[str], Action | None] | None = None,
                 link: Callable[[Assignment], str | None] | None = None):  # fmt: skip
        self.tenant = tenant
        self.gateway = gateway
        self.ledger = ledger
        self.settings = settings
        self.now = now
        self.fail = fail
        self.zoom = zoom
        self.action = action  # the outbox row of a command key (the attach's outcome: the call's CRM id)
        self.link = link or (lambda _: None)  # an assignment's signed review page URL, for its task's text
        self.decisions: dict[str, list[Decision]] = defaultdict(list)
        self.entries: dict[str, RecordingEntry] = {}  # to write, by external id
        self._people: dict[str, str] | None = None
        self._inactive: set[str] | None = None
        self._graduated: set[str] | None = None

    # --- people: pool emails -> user ids, inactive users (one read each, when first needed) ---
    def people(self) -> dict[str, str]:
        if self._people is None:
            emails = self.settings.emails()
            found = self.gateway.find_users_by_email(emails) if emails else {}
            self._people = {email: user.id for email, user in found.items()}
        return self._people

    def _id(self, person: str) -> str:
        return self.people().get(person.lower(), person) if "@" in person else person

    def pool(self) -> list[str]:
        return sorted({self._id(p) for p in self.settings.pool})

    def graduated(self) -> set[str]:
        """Reps with no mandatory peer reviews: graduated by their scores (the ledger's
        standings), plus those the config names."""
        if self._graduated is None:
            scored = {rep for rep, s in self.ledger.standings(self.tenant.id).items() if s.status == GRADUATED}
            self._graduated = {self._id(p) for p in self.settings.graduated} | scored
        return self._graduated

    def standings_changed(self) -> None:
        self._graduated = None

    def inactive(self) -> set[str]:
        if self._inactive is None:
            pool = self.pool()
            users = self.gateway.read_users(pool) if pool else {}
            self._inactive = {u for u in pool if u not in users or not users[u].active}
        return self._inactive

    # --- recordings: match and attach ------------------------------------------------------
    def recordings_from_events(self, events: Sequence[Event]) -> list[tuple[str, Recording]]:
        """(event key, recording) of recording events and of CRM calls that carry a recording
        and are not attached yet (a call we stamped has its external id set)."""
        found: list[tuple[str, Recording]] = []
        for event in events:
            if event.object_type == RECORDING_OBJECT:
                try:
                    found.append((event.key, recording_from_changed(event.changed)))
                except (KeyError, TypeError, ValueError) as exc:
                    self.fail(event.key, f"the recording event cannot be read: {type(exc).__name__}: {exc}", False)
        # A Salesforce call is a Task (TaskSubtype Call): a task event may be one; `read_calls`
        # answers only call Tasks, so review tasks (our own) drop out.
        sf_tasks = self.tenant.crm == "salesforce"
        calls = [e for e in events if e.object_type == CALL_OBJECT or (sf_tasks and e.object_type == TASK_OBJECT)]
        read = self.gateway.read_calls(sorted({e.object_id for e in calls})) if calls else {}
        for event in calls:
            call = read.get(event.object_id)
            if call is not None and call.recording_url and not call.external_id:
                found.append((event.key, self._from_call(call, event)))
        out = []
        for key, recording in found:
            try:
                out.append((key, self._with_participants(recording)))
            except Exception as exc:  # Zoom unreachable, say: this recording waits, the others go on
                self.fail(key, f"reading the Zoom meeting's participants: {type(exc).__name__}", True)
        return out

    def refreshed(self, retry: Sequence[tuple[str, Recording]]) -> list[tuple[str, Recording]]:
        """Unmatched recordings of CRM calls are read again before a retry (one batched read):
        a person may have put the call on a deal since, and that deal is then kept."""
        ids = sorted({r.call_id for _, r in retry if r.call_id})
        calls = self.gateway.read_calls(ids) if ids else {}
        out = []
        for key, r in retry:
            call = calls.get(r.call_id or "")
            if call is not None and call.deal_ids:
                r = replace(r, deal_id=call.deal_ids[0], contact_ids=tuple(dict.fromkeys([*r.contact_ids, *call.contact_ids])))
            out.append((key, r))
        return out

    def _from_call(self, call: CallActivity, event: Event) -> Recording:
        prefix = "hubspot-call" if self.tenant.crm == "hubspot" else "sf-task"
        return Recording(
            external_id=f"{prefix}:{call.id}", source=SOURCE_CRM_CALL, recording_url=call.recording_url or "",
            title=call.title or "Recorded call", started_at=call.started_at or event.occurred_at,
            duration_ms=call.duration_ms, rep_user_id=call.owner_id,
            deal_id=call.deal_ids[0] if call.deal_ids else None,  # a person's association: explicit, kept
            call_id=call.id, contact_ids=call.contact_ids,
        )  # fmt: skip

    def _with_participants(self, recording: Recording) -> Recording:
        if recording.source != SOURCE_ZOOM or self.zoom is None:
            return recording
        emails = self.zoom(self.tenant, recording)
        if not emails:
            return recording
        rep = (recording.rep_email or "").lower()
        merged = tuple(dict.fromkeys([*recording.participants, *(e.lower() for e in emails if e.lower() != rep)]))
        return replace(recording, participants=merged)

    def attach(self, found: Sequence[tuple[str, Recording]], known: Mapping[str, RecordingEntry]) -> None:
        """Match what is not decided yet (one batched read for all), then attach or keep unmatched.
        A recording with an entry attached/private is planned again from the entry, unchanged."""
        to_match = []
        for key, recording in found:
            entry = known.get(recording.external_id)
            if entry is None or (entry.status == REC_UNMATCHED and entry.next_match_at <= self.now):
                to_match.append((key, recording, entry))
            elif entry.status in (REC_ATTACHED, REC_PRIVATE):
                self._attach_again(key, recording, entry)
        if not to_match:
            return
        facts = read_facts(self.gateway, [r for _, r, _ in to_match])
        for key, recording, entry in to_match:
            self._decide(key, recording, entry, match(recording, facts))

    def _decide(self, key: str, recording: Recording, entry: RecordingEntry | None, found: Match) -> None:
        base = RecordingEntry(
            tenant=self.tenant.id, external_id=recording.external_id, status=REC_UNMATCHED, rep_user_id=found.rep_user_id,
            deal_id=found.deal_id, recording_url=recording.recording_url, title=recording.title,
            started_at=recording.started_at.timestamp(), match_attempts=(entry.match_attempts if entry else 0),
            updated_at=self.now, recording=recording_to_changed(recording),
        )  # fmt: skip
        if found.deal_id is None:
            attempts = base.match_attempts + 1
            if attempts > MATCH_RETRY_DAYS:
                self.entries[base.external_id] = replace(base, status=REC_GAVE_UP, match_attempts=attempts, next_match_at=0.0)
            else:
                self.entries[base.external_id] = replace(base, match_attempts=attempts, next_match_at=self.now + DAY)
            return
        shared = self.settings.consented(recording.consent)
        peers = shared and bool(found.rep_user_id) and found.rep_user_id not in self.graduated()
        grace = self.settings.grace_hours * 3600
        attached = replace(base, status=REC_ATTACHED if shared else REC_PRIVATE, next_match_at=0.0,
                           peers_due_at=self.now + grace if peers else 0.0)  # fmt: skip
        self.entries[attached.external_id] = attached
        self._add_attach(key, recording, attached, found.reason, found.step, found.contact_ids)

    def _attach_again(self, key: str, recording: Recording, entry: RecordingEntry) -> None:
        self._add_attach(key, recording, entry, "Recording attached (delivered again).", "known", recording.contact_ids)

    def _add_attach(self, key: str, recording: Recording, entry: RecordingEntry, reason: str, step: str, contacts: Sequence[str]) -> None:
        own = None
        if entry.rep_user_id:
            due = tasks.end_of(tasks.utc_day(self.now + self.settings.grace_hours * 3600))
            own = self._assign(entry, SELF, [entry.rep_user_id], lambda stats: [entry.rep_user_id or ""], due)
        explicit_by_person = recording.call_id is not None and recording.deal_id == entry.deal_id
        contact_ids = tuple(dict.fromkeys([*recording.contact_ids, *contacts]))
        self.decisions[key].append(Attach(recording, entry, f"Recording attached: {reason}", step, contact_ids,
                                          not explicit_by_person, own[0] if own else None, self.link(own[0]) if own else None))  # fmt: skip

    # --- reviews ------------------------------------------------------------------------------
    def _assign(self, entry: RecordingEntry, kind: str, candidates: Sequence[str],
                chooser: Callable[[Mapping], Sequence[str]], due_at: float) -> list[Assignment]:  # fmt: skip
        ext, tenant = entry.external_id, self.tenant.id

        def make(reviewer: str) -> Assignment:
            key = tasks.self_key(tenant, ext) if kind == SELF else tasks.peer_key(tenant, ext, reviewer)
            return Assignment(tenant, ext, reviewer, kind, key, due_at, assigned_at=self.now)

        return self.ledger.assign(tenant, ext, kind, candidates, chooser, make, self.now, iso_week(self.now))

    def peers(self, key: str, entry: RecordingEntry) -> None:
        """Assign the recording's peers by rotation (atomic, idempotent) and plan their tasks.
        Nobody eligible: tried again in a day."""
        if entry.status != REC_ATTACHED or not entry.rep_user_id or entry.rep_user_id in self.graduated():
            self.entries[entry.external_id] = replace(entry, peers_due_at=0.0, updated_at=self.now)
            return
        pool, inactive, rep = self.pool(), self.inactive(), entry.rep_user_id
        policy = self.settings.policy(self.people())
        skipped: dict[str, str] = {}

        def chooser(stats: Mapping) -> Sequence[str]:
            picked = choose(pool, stats, rep=rep, inactive=inactive, policy=policy, now=self.now)
            skipped.update(picked.skipped)
            return picked.reviewers

        due = tasks.end_of(tasks.business_days_after(tasks.utc_day(self.now), self.settings.due_business_days))
        chosen = self._assign(entry, PEER, pool, chooser, due)
        self.entries[entry.external_id] = replace(entry, peers_due_at=0.0 if chosen else self.now + DAY, updated_at=self.now)
        for assignment in chosen:
            self.decisions[key].append(ReviewTask(entry, assignment, skipped, self.call_id(entry), self.link(assignment)))

    def call_id(self, entry: RecordingEntry) -> str | None:
        """The CRM id of the recording's call, from its attach command's outbox row (None
        until it was sent): review tasks then link the call without looking it up."""
        row = self.action(tasks.call_key(self.tenant.id, entry.external_id)) if self.action else None
        return str(row.crm_id) if row is not None and row.crm_id else None

    def write(self) -> None:
        if self.entries:
            self.ledger.put_recordings(list(self.entries.values()), self.now)
