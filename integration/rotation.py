"""Who reviews a call: the fair rotation. Pure and deterministic for the same inputs; the
ledger runs `choose` inside its atomic step (`ReviewLedger.assign`), so two workers never
both take the last slot of a reviewer's weekly cap.

Eligible: in the pool, not the rep, active, has had a call of their own reviewed (or is on the
seed list: the loop has to start somewhere), under the weekly cap, and not skipped for an
overdue task older than the configured days. Among the eligible, the fewest reviews assigned
so far first, then the least recently assigned, then id.

Why the count before recency: least-recently-assigned alone drifts once the rep is excluded.
Whoever stands in for a skipped rep takes a turn early, and the order keeps no memory of it:
over 1,000 calls in a 12-person pool the spread reached 5-8 reviews (bench/rotation.py).
Ordering by the running count keeps max - min at 1. The cost: a reviewer who joins late
(first call reviewed, or new hire) is preferred until caught up, bounded by the weekly cap.
Every pool member not chosen gets a reason in `Choice.skipped`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Collection, Mapping

from integration.ledger import ReviewerStats


@dataclass(frozen=True)
class RotationPolicy:
    reviewers_per_call: int = 2
    weekly_cap: int = 5
    overdue_skip_seconds: float = 3 * 86400.0  # an overdue task older than this skips the reviewer
    seed: frozenset[str] = frozenset()  # may review before a call of their own was reviewed


@dataclass(frozen=True)
class Choice:
    reviewers: tuple[str, ...]
    skipped: Mapping[str, str] = field(default_factory=dict)  # reviewer -> why (the rotation explains itself)


def iso_week(ts: float) -> str:
    year, week, _ = datetime.fromtimestamp(ts, tz=timezone.utc).isocalendar()
    return f"{year}-W{week:02d}"


def choose(
    pool: Collection[str], stats: Mapping[str, ReviewerStats], *, rep: str | None, inactive: Collection[str],
    policy: RotationPolicy, now: float,
) -> Choice:  # fmt: skip
    """Pick up to `policy.reviewers_per_call` reviewers from `pool` for a call by `rep`."""
    week = iso_week(now)
    skipped: dict[str, str] = {}
    eligible: list[ReviewerStats] = []
    for reviewer in sorted(set(pool)):
        s = stats.get(reviewer) or ReviewerStats(reviewer)
        count = s.week_count if s.week == week else 0
        if reviewer == rep:
            skipped[reviewer] = "never reviews their own call"
        elif reviewer in inactive:
            skipped[reviewer] = "inactive in the CRM"
        elif s.reviewed_calls < 1 and reviewer not in policy.seed:
            skipped[reviewer] = "has not yet had a call of their own reviewed"
        elif count >= policy.weekly_cap:
            skipped[reviewer] = f"reached the weekly cap of {policy.weekly_cap} reviews"
        elif s.overdue_since is not None and now - s.overdue_since > policy.overdue_skip_seconds:
            days = int((now - s.overdue_since) // 86400)
            skipped[reviewer] = f"has a review task overdue for {days} days"
        else:
            eligible.append(s)
    eligible.sort(key=lambda s: (s.assigned_total, s.last_assigned_at, s.reviewer_id))
    chosen = eligible[: policy.reviewers_per_call]
    for s in eligible[policy.reviewers_per_call :]:
        skipped[s.reviewer_id] = (
            f"waits for their turn: {s.assigned_total} reviews assigned so far; those chosen had fewer or waited longer"
        )
    return Choice(tuple(s.reviewer_id for s in chosen), skipped)
