"""The review ledger in memory, honouring the port's contract (integration.ledger): `assign`
is atomic (one lock around read-choose-write) and idempotent per (recording, kind)."""
from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Callable, Mapping, Sequence

from integration.ledger import (
    OPEN,
    PEER,
    REVIEW_VALID,
    Assignment,
    Chooser,
    RecordingEntry,
    ReviewEntry,
    ReviewerStats,
    ReviewLedger,
    Standing,
)


class FakeLedger(ReviewLedger):
    def __init__(self, assign_delay: float = 0.0) -> None:
        self.recordings: dict[tuple[str, str], RecordingEntry] = {}
        self.assignments: dict[tuple[str, str, str, str], Assignment] = {}  # (tenant, recording, kind, reviewer)
        self.stats: dict[tuple[str, str], ReviewerStats] = {}
        self.counted: set[tuple[str, str, str]] = set()
        self.reviews: dict[tuple[str, str], ReviewEntry] = {}
        self.rep_standings: dict[tuple[str, str], Standing] = {}
        self.assign_calls = 0
        self.assign_delay = assign_delay  # widens the read-choose-write window (race tests)
        self._lock = threading.RLock()

    def put_recordings(self, entries: Sequence[RecordingEntry], now: float) -> None:
        with self._lock:
            for e in entries:
                self.recordings[(e.tenant, e.external_id)] = replace(e, updated_at=now)

    def get_recordings(self, tenant: str, external_ids: Sequence[str]) -> dict[str, RecordingEntry]:
        with self._lock:
            return {x: self.recordings[(tenant, x)] for x in external_ids if (tenant, x) in self.recordings}

    def recordings_due(self, tenant: str, now: float, limit: int = 100) -> list[RecordingEntry]:
        with self._lock:
            due = [
                e for (t, _), e in self.recordings.items()
                if t == tenant and ((e.status == "unmatched" and 0 < e.next_match_at <= now) or (e.status == "attached" and 0 < e.peers_due_at <= now))
            ]  # fmt: skip
            return sorted(due, key=lambda e: (e.updated_at, e.external_id))[:limit]

    def list_recordings(self, *, tenant: str | None = None, status: str | None = None, limit: int = 50) -> list[RecordingEntry]:
        with self._lock:
            found = [e for e in self.recordings.values() if (tenant is None or e.tenant == tenant) and (status is None or e.status == status)]
            return sorted(found, key=lambda e: (-e.started_at, e.external_id))[:limit]

    def assign(
        self, tenant: str, external_id: str, kind: str, candidates: Sequence[str], choose: Chooser,
        make: Callable[[str], Assignment], now: float, week: str,
    ) -> list[Assignment]:  # fmt: skip
        with self._lock:
            self.assign_calls += 1
            existing = [a for (t, x, k, _), a in sorted(self.assignments.items()) if (t, x, k) == (tenant, external_id, kind)]
            if existing:
                return existing
            stats = {c: self.stats.get((tenant, c)) or ReviewerStats(c) for c in candidates}
            if self.assign_delay:
                time.sleep(self.assign_delay)
            made = []
            for reviewer in choose(stats):
                a = make(reviewer)
                self.assignments[(tenant, external_id, kind, reviewer)] = a
                made.append(a)
                if kind != PEER:  # a self-assessment is no turn in the rotation
                    continue
                s = self.stats.get((tenant, reviewer)) or ReviewerStats(reviewer)
                count = s.week_count if s.week == week else 0
                self.stats[(tenant, reviewer)] = replace(
                    s, last_assigned_at=now, week=week, week_count=count + 1, assigned_total=s.assigned_total + 1
                )
            return made

    def assignments_for(self, tenant: str, external_ids: Sequence[str]) -> dict[str, list[Assignment]]:
        with self._lock:
            out: dict[str, list[Assignment]] = {}
            for (t, x, _, _), a in sorted(self.assignments.items()):
                if t == tenant and x in external_ids:
                    out.setdefault(x, []).append(a)
            return out

    def assignments_by_task(self, tenant: str, task_ids: Sequence[str]) -> dict[str, Assignment]:
        with self._lock:
            return {a.task_id: a for (t, *_), a in self.assignments.items() if t == tenant and a.task_id and a.task_id in task_ids}

    def open_assignments(self, tenant: str, due_before: float, limit: int = 500) -> list[Assignment]:
        with self._lock:
            found = [a for a in self.assignments.values() if a.tenant == tenant and a.status == OPEN and a.due_at < due_before]
            return sorted(found, key=lambda a: (a.due_at, a.task_key))[:limit]

    def update_assignments(self, assignments: Sequence[Assignment], now: float) -> None:
        with self._lock:
            for a in assignments:
                key = (a.tenant, a.external_id, a.kind, a.reviewer_id)
                if key in self.assignments:
                    old = self.assignments[key]
                    self.assignments[key] = replace(old, status=a.status, task_id=a.task_id, last_nudged_day=a.last_nudged_day,
                                                    completed_at=a.completed_at)  # fmt: skip

    def reviewer_stats(self, tenant: str, reviewer_ids: Sequence[str]) -> dict[str, ReviewerStats]:
        with self._lock:
            return {r: self.stats[(tenant, r)] for r in reviewer_ids if (tenant, r) in self.stats}

    def count_reviewed(self, tenant: str, rep_id: str, external_id: str) -> None:
        with self._lock:
            if (tenant, rep_id, external_id) in self.counted:
                return
            self.counted.add((tenant, rep_id, external_id))
            s = self.stats.get((tenant, rep_id)) or ReviewerStats(rep_id)
            self.stats[(tenant, rep_id)] = replace(s, reviewed_calls=s.reviewed_calls + 1)

    def set_overdue(self, tenant: str, reviewer_id: str, since: float | None) -> None:
        with self._lock:
            s = self.stats.get((tenant, reviewer_id)) or ReviewerStats(reviewer_id)
            self.stats[(tenant, reviewer_id)] = replace(s, overdue_since=since)

    def put_reviews(self, reviews: Sequence[ReviewEntry]) -> None:
        with self._lock:
            for r in reviews:
                kept = self.reviews.get((r.tenant, r.review_id))
                if kept is None or kept.submitted_at <= r.submitted_at:
                    self.reviews[(r.tenant, r.review_id)] = r

    def get_reviews(self, tenant: str, review_ids: Sequence[str]) -> dict[str, ReviewEntry]:
        with self._lock:
            return {i: self.reviews[(tenant, i)] for i in review_ids if (tenant, i) in self.reviews}

    def reviews_of_reps(self, tenant: str, rep_ids: Sequence[str]) -> list[ReviewEntry]:
        with self._lock:
            return [r for (t, _), r in sorted(self.reviews.items()) if t == tenant and r.status == REVIEW_VALID and r.rep_id in rep_ids]

    def reviews_of_deals(self, tenant: str, deal_ids: Sequence[str]) -> list[ReviewEntry]:
        with self._lock:
            return [r for (t, _), r in sorted(self.reviews.items()) if t == tenant and r.status == REVIEW_VALID and r.deal_id in deal_ids]

    def put_standings(self, standings: Sequence[Standing]) -> None:
        with self._lock:
            self.rep_standings.update({(s.tenant, s.rep_id): s for s in standings})

    def standings(self, tenant: str) -> dict[str, Standing]:
        with self._lock:
            return {rep: s for (t, rep), s in self.rep_standings.items() if t == tenant}

    # --- for assertions ----------------------------------------------------------------------
    def of(self, tenant: str, external_id: str, kind: str | None = None) -> list[Assignment]:
        with self._lock:
            return [a for (t, x, k, _), a in sorted(self.assignments.items()) if (t, x) == (tenant, external_id) and kind in (None, k)]

    def seed(self, tenant: str, stats: Mapping[str, ReviewerStats]) -> None:
        with self._lock:
            for reviewer, s in stats.items():
                self.stats[(tenant, reviewer)] = s
