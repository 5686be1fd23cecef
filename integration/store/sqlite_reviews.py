"""The review ledger's reviews and rep standings on SQLite (mixed into `SqliteLedger`).

A review row is replaced only by a version submitted at the same time or later (an edit),
so a late redelivery of an older version never wins. Reviews are read by rep (the rolling
window) and by deal (the roll-ups) through one index each.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Sequence

from integration.ledger import REVIEW_VALID, ReviewEntry, Standing
from integration.store import payload_to_json
from integration.store.sqlite_pool import PooledStatements, Transaction
from integration.store.sqlite_rows import select_in_and as _select_in

REVIEWS_SCHEMA = """
CREATE TABLE IF NOT EXISTS review_scores (
    tenant TEXT NOT NULL,
    review_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    deal_id TEXT,
    submitted_at REAL NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    review TEXT NOT NULL,
    PRIMARY KEY (tenant, review_id)
);
CREATE INDEX IF NOT EXISTS review_scores_rep ON review_scores (tenant, rep_id);
CREATE INDEX IF NOT EXISTS review_scores_deal ON review_scores (tenant, deal_id);
CREATE TABLE IF NOT EXISTS rep_standings (
    tenant TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    since REAL NOT NULL,
    PRIMARY KEY (tenant, rep_id)
);
"""

_COLUMNS = "tenant, review_id, rep_id, deal_id, submitted_at, status, review, reason"


class SqliteReviews:
    _tx: Callable[[], Transaction]
    _conn: Callable[[], PooledStatements]

    def put_reviews(self, reviews: Sequence[ReviewEntry]) -> None:
        if not reviews:
            return
        rows = [(r.tenant, r.review_id, r.rep_id, r.deal_id, r.submitted_at, r.status, payload_to_json(r.review), r.reason) for r in reviews]
        with self._tx() as db:
            db.executemany(
                f"INSERT INTO review_scores ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (tenant, review_id) DO UPDATE SET rep_id = excluded.rep_id, deal_id = excluded.deal_id,"
                " submitted_at = excluded.submitted_at, status = excluded.status, review = excluded.review, reason = excluded.reason"
                " WHERE excluded.submitted_at >= review_scores.submitted_at",
                rows,
            )

    def get_reviews(self, tenant: str, review_ids: Sequence[str]) -> dict[str, ReviewEntry]:
        rows = _select_in(self._conn(), f"SELECT {_COLUMNS} FROM review_scores WHERE tenant = ?", [tenant], "review_id", review_ids)
        return {r[1]: _review(r) for r in rows}

    def reviews_of_reps(self, tenant: str, rep_ids: Sequence[str]) -> list[ReviewEntry]:
        sql = f"SELECT {_COLUMNS} FROM review_scores WHERE tenant = ? AND status = ?"
        return sorted((_review(r) for r in _select_in(self._conn(), sql, [tenant, REVIEW_VALID], "rep_id", rep_ids)), key=_order)

    def reviews_of_deals(self, tenant: str, deal_ids: Sequence[str]) -> list[ReviewEntry]:
        sql = f"SELECT {_COLUMNS} FROM review_scores WHERE tenant = ? AND status = ?"
        return sorted((_review(r) for r in _select_in(self._conn(), sql, [tenant, REVIEW_VALID], "deal_id", deal_ids)), key=_order)

    def put_standings(self, standings: Sequence[Standing]) -> None:
        if not standings:
            return
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO rep_standings (tenant, rep_id, status, reason, since) VALUES (?, ?, ?, ?, ?)",
                [(s.tenant, s.rep_id, s.status, s.reason, s.since) for s in standings],
            )

    def standings(self, tenant: str) -> dict[str, Standing]:
        rows = self._conn().execute("SELECT tenant, rep_id, status, reason, since FROM rep_standings WHERE tenant = ?", (tenant,)).fetchall()
        return {r[1]: Standing(*r) for r in rows}


def _review(row: tuple) -> ReviewEntry:
    tenant, review_id, rep, deal, submitted_at, status, review, reason = row
    return ReviewEntry(tenant, review_id, rep, deal, submitted_at, status, json.loads(review or "{}"), reason)


def _order(r: ReviewEntry) -> tuple[float, str]:
    return (r.submitted_at, r.review_id)
