"""The review ledger on SQLite: three tables in the event store's file, written through its pool.

`assign` runs in one BEGIN IMMEDIATE transaction (the database write lock is held from the
first statement), so the check for an existing set, the stats `choose` reads and the writes
that follow are one step: two workers never both take a reviewer's last weekly slot.
"""
from __future__ import annotations

import json
import sqlite3
from typing import Any, Callable, Sequence

from integration.ledger import (
    OPEN,
    PEER,
    Assignment,
    Chooser,
    RecordingEntry,
    ReviewerStats,
    ReviewLedger,
    SELF,
)
from integration.store import payload_to_json
from integration.store.sqlite_pool import PooledStatements, Transaction
from integration.store.sqlite_rows import select_in_and as _select_in
from integration.store.sqlite_reviews import REVIEWS_SCHEMA, SqliteReviews

# `due_at` of a recording is when the loop must look at it again (a match retry while
# unmatched, the peers' turn while attached), NULL when nothing is due: `recordings_due` walks
# a partial index of only those. Assignments are keyed by (recording, kind, reviewer): a
# reviewer appears at most once per recording and kind. `review_counted` remembers which
# recordings already counted towards their rep's `reviewed_calls` (counted once).
LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS review_recordings (
    tenant TEXT NOT NULL,
    external_id TEXT NOT NULL,
    status TEXT NOT NULL,
    rep_user_id TEXT,
    deal_id TEXT,
    recording_url TEXT NOT NULL,
    title TEXT NOT NULL,
    started_at REAL NOT NULL,
    match_attempts INTEGER NOT NULL,
    next_match_at REAL NOT NULL,
    peers_due_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    due_at REAL,
    recording TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant, external_id)
);
CREATE INDEX IF NOT EXISTS review_recordings_due ON review_recordings (tenant, due_at) WHERE due_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS review_recordings_recent ON review_recordings (started_at);
CREATE TABLE IF NOT EXISTS review_assignments (
    tenant TEXT NOT NULL,
    external_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    reviewer_id TEXT NOT NULL,
    task_key TEXT NOT NULL,
    due_at REAL NOT NULL,
    status TEXT NOT NULL,
    assigned_at REAL NOT NULL,
    task_id TEXT,
    last_nudged_day TEXT,
    completed_at REAL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (tenant, external_id, kind, reviewer_id)
);
CREATE INDEX IF NOT EXISTS review_assignments_open ON review_assignments (tenant, due_at) WHERE status = 'open';
CREATE INDEX IF NOT EXISTS review_assignments_task ON review_assignments (tenant, task_id) WHERE task_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS reviewer_stats (
    tenant TEXT NOT NULL,
    reviewer_id TEXT NOT NULL,
    last_assigned_at REAL NOT NULL DEFAULT 0,
    week TEXT NOT NULL DEFAULT '',
    week_count INTEGER NOT NULL DEFAULT 0,
    reviewed_calls INTEGER NOT NULL DEFAULT 0,
    overdue_since REAL,
    assigned_total INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, reviewer_id)
);
CREATE TABLE IF NOT EXISTS review_counted (
    tenant TEXT NOT NULL,
    external_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    PRIMARY KEY (tenant, external_id)
);
""" + REVIEWS_SCHEMA

_REC_COLUMNS = (
    "tenant, external_id, status, rep_user_id, deal_id, recording_url, title, started_at, match_attempts,"
    " next_match_at, peers_due_at, updated_at, recording"
)
_ASG_COLUMNS = "tenant, external_id, reviewer_id, kind, task_key, due_at, status, assigned_at, task_id, last_nudged_day, completed_at"
_STATS_COLUMNS = "reviewer_id, last_assigned_at, week, week_count, reviewed_calls, overdue_since, assigned_total"


class SqliteLedger(SqliteReviews, ReviewLedger):
    """The ledger port on the SQLite store's pool (`SqliteStore.ledger()`)."""

    def __init__(self, tx: Callable[[], Transaction], conn: Callable[[], PooledStatements]):
        self._tx = tx
        self._conn = conn

    # --- recordings -----------------------------------------------------------------------
    def put_recordings(self, entries: Sequence[RecordingEntry], now: float) -> None:
        if not entries:
            return
        rows = [
            (e.tenant, e.external_id, e.status, e.rep_user_id, e.deal_id, e.recording_url, e.title, e.started_at,
             e.match_attempts, e.next_match_at, e.peers_due_at, now, payload_to_json(e.recording), e.due_at())
            for e in entries
        ]  # fmt: skip
        with self._tx() as db:
            db.executemany(f"INSERT OR REPLACE INTO review_recordings ({_REC_COLUMNS}, due_at) VALUES ({', '.join('?' * 14)})", rows)

    def get_recordings(self, tenant: str, external_ids: Sequence[str]) -> dict[str, RecordingEntry]:
        rows = _select_in(self._conn(), f"SELECT {_REC_COLUMNS} FROM review_recordings WHERE tenant = ?", [tenant], "external_id", external_ids)
        return {r[1]: _recording(r) for r in rows}

    def recordings_due(self, tenant: str, now: float, limit: int = 100) -> list[RecordingEntry]:
        rows = self._conn().execute(
            f"SELECT {_REC_COLUMNS} FROM review_recordings WHERE tenant = ? AND due_at IS NOT NULL AND due_at <= ?"
            " ORDER BY due_at, external_id LIMIT ?",
            (tenant, now, limit),
        ).fetchall()
        return [_recording(r) for r in rows]

    def list_recordings(self, *, tenant: str | None = None, status: str | None = None, limit: int = 50) -> list[RecordingEntry]:
        where = [f"{name} = ?" for name, value in (("tenant", tenant), ("status", status)) if value is not None]
        args = [value for value in (tenant, status) if value is not None]
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._conn().execute(
            f"SELECT {_REC_COLUMNS} FROM review_recordings {clause} ORDER BY started_at DESC, external_id DESC LIMIT ?",
            (*args, limit),
        ).fetchall()
        return [_recording(r) for r in rows]

    # --- assignments ----------------------------------------------------------------------
    def assign(
        self, tenant: str, external_id: str, kind: str, candidates: Sequence[str], choose: Chooser,
        make: Callable[[str], Assignment], now: float, week: str,
    ) -> list[Assignment]:  # fmt: skip
        with self._tx() as db:
            existing = _assignment_set(db, tenant, external_id, kind)
            if existing:
                return existing
            stats = _stats(db, tenant, list(dict.fromkeys(candidates)))
            chosen = list(dict.fromkeys(choose(stats)))
            made = [make(reviewer) for reviewer in chosen]
            db.executemany(
                f"INSERT INTO review_assignments ({_ASG_COLUMNS}, updated_at) VALUES ({', '.join('?' * 12)})",
                [(tenant, external_id, a.reviewer_id, kind, a.task_key, a.due_at, a.status, a.assigned_at or now,
                  a.task_id, a.last_nudged_day, a.completed_at, now) for a in made],
            )  # fmt: skip
            if kind == PEER:  # a rep's self-assessment is no turn in the peer rotation
                db.executemany(
                    "INSERT INTO reviewer_stats (tenant, reviewer_id, last_assigned_at, week, week_count, assigned_total) VALUES (?, ?, ?, ?, 1, 1)"
                    " ON CONFLICT (tenant, reviewer_id) DO UPDATE SET last_assigned_at = excluded.last_assigned_at,"
                    " assigned_total = assigned_total + 1,"
                    " week_count = CASE WHEN week = excluded.week THEN week_count + 1 ELSE 1 END, week = excluded.week",
                    [(tenant, reviewer, now, week) for reviewer in chosen],
                )
            return _assignment_set(db, tenant, external_id, kind)

    def assignments_for(self, tenant: str, external_ids: Sequence[str]) -> dict[str, list[Assignment]]:
        rows = _select_in(self._conn(), f"SELECT {_ASG_COLUMNS}, rowid FROM review_assignments WHERE tenant = ?", [tenant], "external_id", external_ids)
        found: dict[str, list[Assignment]] = {}
        for row in sorted(rows, key=lambda r: (r[1], r[3] != SELF, r[11])):  # self first, then in the order chosen
            found.setdefault(row[1], []).append(_assignment(row))
        return found

    def assignments_by_task(self, tenant: str, task_ids: Sequence[str]) -> dict[str, Assignment]:
        sql = f"SELECT {_ASG_COLUMNS} FROM review_assignments WHERE tenant = ? AND task_id IS NOT NULL"  # the partial index
        return {a.task_id: a for a in map(_assignment, _select_in(self._conn(), sql, [tenant], "task_id", task_ids)) if a.task_id}

    def open_assignments(self, tenant: str, due_before: float, limit: int = 500) -> list[Assignment]:
        rows = self._conn().execute(
            f"SELECT {_ASG_COLUMNS} FROM review_assignments WHERE tenant = ? AND status = '{OPEN}' AND due_at < ?"
            " ORDER BY due_at, external_id, kind, reviewer_id LIMIT ?",  # the literal status: the partial index applies
            (tenant, due_before, limit),
        ).fetchall()
        return [_assignment(r) for r in rows]

    def update_assignments(self, assignments: Sequence[Assignment], now: float) -> None:
        if not assignments:
            return
        with self._tx() as db:
            db.executemany(
                "UPDATE review_assignments SET status = ?, task_id = ?, last_nudged_day = ?, completed_at = ?, updated_at = ?"
                " WHERE tenant = ? AND external_id = ? AND kind = ? AND reviewer_id = ?",
                [(a.status, a.task_id, a.last_nudged_day, a.completed_at, now, a.tenant, a.external_id, a.kind, a.reviewer_id)
                 for a in assignments],
            )  # fmt: skip

    # --- reviewers ------------------------------------------------------------------------
    def reviewer_stats(self, tenant: str, reviewer_ids: Sequence[str]) -> dict[str, ReviewerStats]:
        return _stats(self._conn(), tenant, list(dict.fromkeys(reviewer_ids)))

    def count_reviewed(self, tenant: str, rep_id: str, external_id: str) -> None:
        with self._tx() as db:
            counted = db.execute(
                "INSERT OR IGNORE INTO review_counted (tenant, external_id, rep_id) VALUES (?, ?, ?)", (tenant, external_id, rep_id)
            ).rowcount
            if counted:
                db.execute(
                    "INSERT INTO reviewer_stats (tenant, reviewer_id, reviewed_calls) VALUES (?, ?, 1)"
                    " ON CONFLICT (tenant, reviewer_id) DO UPDATE SET reviewed_calls = reviewed_calls + 1",
                    (tenant, rep_id),
                )

    def set_overdue(self, tenant: str, reviewer_id: str, since: float | None) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO reviewer_stats (tenant, reviewer_id, overdue_since) VALUES (?, ?, ?)"
                " ON CONFLICT (tenant, reviewer_id) DO UPDATE SET overdue_since = excluded.overdue_since",
                (tenant, reviewer_id, since),
            )


def _stats(db: Any, tenant: str, reviewer_ids: list[str]) -> dict[str, ReviewerStats]:
    rows = _select_in(db, f"SELECT {_STATS_COLUMNS} FROM reviewer_stats WHERE tenant = ?", [tenant], "reviewer_id", reviewer_ids)
    return {r[0]: ReviewerStats(*r) for r in rows}


def _assignment_set(db: sqlite3.Connection, tenant: str, external_id: str, kind: str) -> list[Assignment]:
    rows = db.execute(
        f"SELECT {_ASG_COLUMNS} FROM review_assignments WHERE tenant = ? AND external_id = ? AND kind = ? ORDER BY rowid",
        (tenant, external_id, kind),
    ).fetchall()
    return [_assignment(r) for r in rows]


def _recording(row: tuple) -> RecordingEntry:
    tenant, external_id, status, rep, deal, url, title, started, attempts, next_match, peers_due, updated, recording = row
    return RecordingEntry(tenant, external_id, status, rep, deal, url, title, started, attempts, next_match, peers_due, updated,
                          recording=json.loads(recording or "{}"))  # fmt: skip


def _assignment(row: tuple) -> Assignment:
    return Assignment(*row[:11])
