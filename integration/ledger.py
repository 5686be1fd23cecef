"""The review ledger port: what the product remembers about recordings and review assignments
between events (the CRM holds the calls and tasks; this holds the loop's own state).

Kept beside the event store (same SQLite file / same DynamoDB table), behind its own narrow
interface, with one contract suite for both backends. Everything the rotation decides is
written by `assign` atomically, so two workers assigning at once never pick past a cap, and a
second call for the same recording answers the first call's reviewers (idempotent).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

# Recording statuses.
REC_ATTACHED = "attached"  # matched (or explicit) and attached: the review loop runs
REC_UNMATCHED = "unmatched"  # no deal yet: matched again daily, up to 7 days
REC_PRIVATE = "private"  # no consent: attached for the rep only; never peers, never digests
REC_GAVE_UP = "gave_up"  # unmatched after the last retry
RECORDING_STATUSES = (REC_ATTACHED, REC_UNMATCHED, REC_PRIVATE, REC_GAVE_UP)

# Assignment kinds and statuses.
SELF = "self"
PEER = "peer"
OPEN = "open"
DONE = "done"
CANCELLED = "cancelled"  # e.g. the reviewer was deactivated


@dataclass(frozen=True)
class RecordingEntry:
    """One recording as the loop tracks it (keyed by tenant + external_id)."""

    tenant: str
    external_id: str
    status: str
    rep_user_id: str | None = None
    deal_id: str | None = None
    recording_url: str = ""
    title: str = ""
    started_at: float = 0.0
    match_attempts: int = 0
    next_match_at: float = 0.0  # unmatched: when to try matching again (0: never)
    peers_due_at: float = 0.0  # attached: when peers are assigned if the self-assessment is not done (0: done / none)
    updated_at: float = 0.0
    # The whole recording (`recordings.recording_to_changed`): participants and all, so an
    # unmatched one can be matched again on a later day and tasks can be rebuilt.
    recording: Mapping[str, Any] = field(default_factory=dict)

    def due_at(self) -> float | None:
        """When the loop must look at it again (`recordings_due`): None when nothing is due."""
        if self.status == REC_UNMATCHED and self.next_match_at > 0:
            return self.next_match_at
        if self.status == REC_ATTACHED and self.peers_due_at > 0:
            return self.peers_due_at
        return None


@dataclass(frozen=True)
class Assignment:
    """One review task: the rep's self-assessment or one peer's review of one recording."""

    tenant: str
    external_id: str  # the recording
    reviewer_id: str
    kind: str  # SELF | PEER
    task_key: str  # the CreateTask command's key (its outbox row holds the CRM task id)
    due_at: float
    status: str = OPEN
    assigned_at: float = 0.0
    task_id: str | None = None  # CRM task id, once known
    last_nudged_day: str | None = None  # YYYY-MM-DD of the last reminder (one a day at most)
    completed_at: float | None = None


@dataclass(frozen=True)
class ReviewerStats:
    """What the rotation decides on, per reviewer of a tenant."""

    reviewer_id: str
    last_assigned_at: float = 0.0
    week: str = ""  # ISO week (YYYY-Www) that `week_count` counts
    week_count: int = 0
    reviewed_calls: int = 0  # own calls that received a completed peer review ("took a turn in the barrel")
    overdue_since: float | None = None  # oldest open overdue task, when any
    assigned_total: int = 0  # peer reviews assigned ever: the rotation's fairness counter


# Stored review statuses: a valid one counts; a rejected one is kept with its reason (the audit).
REVIEW_VALID = "valid"
REVIEW_REJECTED = "rejected"


@dataclass(frozen=True)
class ReviewEntry:
    """One submitted review as stored (keyed by tenant + review_id). `review` is the whole
    submission (`review.submitted.submitted_to_changed`): scores, strengths, suggestions."""

    tenant: str
    review_id: str
    rep_id: str
    deal_id: str | None
    submitted_at: float
    status: str  # REVIEW_VALID | REVIEW_REJECTED
    review: Mapping[str, Any] = field(default_factory=dict)
    reason: str = ""  # rejected: why


@dataclass(frozen=True)
class Standing:
    """A rep's graduation status as last decided (scoring.ENROLLED | scoring.GRADUATED)."""

    tenant: str
    rep_id: str
    status: str
    reason: str
    since: float  # when this status began (epoch seconds)


# `choose(stats of every candidate) -> reviewer ids` runs inside the ledger's atomic step.
Chooser = Callable[[Mapping[str, ReviewerStats]], Sequence[str]]


class ReviewLedger(ABC):
    @abstractmethod
    def put_recordings(self, entries: Sequence[RecordingEntry], now: float) -> None:
        """Insert or replace each entry (idempotent: the same entry twice is one entry)."""

    @abstractmethod
    def get_recordings(self, tenant: str, external_ids: Sequence[str]) -> dict[str, RecordingEntry]: ...

    @abstractmethod
    def recordings_due(self, tenant: str, now: float, limit: int = 100) -> list[RecordingEntry]:
        """Unmatched ones whose next match is due, and attached ones whose peers are due."""

    @abstractmethod
    def list_recordings(self, *, tenant: str | None = None, status: str | None = None, limit: int = 50) -> list[RecordingEntry]:
        """Newest first (the CLI)."""

    @abstractmethod
    def assign(
        self, tenant: str, external_id: str, kind: str, candidates: Sequence[str], choose: Chooser,
        make: Callable[[str], Assignment], now: float, week: str,
    ) -> list[Assignment]:  # fmt: skip
        """Atomically: if (external_id, kind) has assignments, answer them unchanged; else read
        the candidates' stats, call `choose`, store `make(reviewer)` for each chosen reviewer
        and, for PEER assignments, bump their stats (last_assigned_at = now; week_count for
        `week`; assigned_total): a rep's self-assessment is no turn in the peer rotation and uses no slot of
        the weekly cap. Answers the assignments in the order `choose` named the reviewers."""

    @abstractmethod
    def assignments_for(self, tenant: str, external_ids: Sequence[str]) -> dict[str, list[Assignment]]: ...

    @abstractmethod
    def assignments_by_task(self, tenant: str, task_ids: Sequence[str]) -> dict[str, Assignment]:
        """The assignments whose CRM task is one of `task_ids`, by task id (a review submitted
        from the task's card or link is checked against its assignment at request time)."""

    @abstractmethod
    def open_assignments(self, tenant: str, due_before: float, limit: int = 500) -> list[Assignment]:
        """Open assignments due before `due_before` (overdue: the alarm clock's work list)."""

    @abstractmethod
    def update_assignments(self, assignments: Sequence[Assignment], now: float) -> None:
        """Write status / task_id / last_nudged_day / completed_at of existing assignments."""

    @abstractmethod
    def reviewer_stats(self, tenant: str, reviewer_ids: Sequence[str]) -> dict[str, ReviewerStats]: ...

    @abstractmethod
    def count_reviewed(self, tenant: str, rep_id: str, external_id: str) -> None:
        """A peer review of `external_id` (the rep's call) was completed: the rep has taken a
        turn in the barrel (counted once per recording) and may now review others."""

    @abstractmethod
    def set_overdue(self, tenant: str, reviewer_id: str, since: float | None) -> None:
        """Record (or clear, with None) the reviewer's oldest overdue open task."""

    # --- reviews and standings (issue 10) -----------------------------------------------------
    @abstractmethod
    def put_reviews(self, reviews: Sequence[ReviewEntry]) -> None:
        """Insert or replace each review; a stored version with a later `submitted_at` is kept
        (an edit replaces itself, a late redelivery of the older version does not)."""

    @abstractmethod
    def get_reviews(self, tenant: str, review_ids: Sequence[str]) -> dict[str, ReviewEntry]: ...

    @abstractmethod
    def reviews_of_reps(self, tenant: str, rep_ids: Sequence[str]) -> list[ReviewEntry]:
        """Every valid review of these reps (the rolling window and graduation replay them)."""

    @abstractmethod
    def reviews_of_deals(self, tenant: str, deal_ids: Sequence[str]) -> list[ReviewEntry]:
        """Every valid review of calls on these deals (the deal roll-ups)."""

    @abstractmethod
    def put_standings(self, standings: Sequence[Standing]) -> None:
        """Insert or replace each rep's standing."""

    @abstractmethod
    def standings(self, tenant: str) -> dict[str, Standing]:
        """Every rep's standing in the tenant (few: one per rep who was ever reviewed)."""
