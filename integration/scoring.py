"""Scores from reviews: one review's weighted score, a deal's roll-up, a rep's rolling averages
and graduation. Pure functions of the set of reviews, so recomputing after any delivery
(a redelivery, two reviews at once, reviews arriving out of order) gives the same numbers.

Arithmetic is exact (fractions) and every number written to the CRM is rounded once, at the
end: half-up (ties away from zero) to 2 decimal places, as a Decimal (`rounded`). Decisions
(graduation, re-enrolment) compare that rounded value with the mastery bar, so the number a
rep sees is the number that decided.

Order: reviews are ordered by `reviewed_at`, ties by `review_id`; a review id seen twice counts
once (the later `reviewed_at` wins: an edited review replaces itself). Self-assessments never
count toward a deal's or a rep's numbers: those are peer-reviewed scores.

Graduation (the rolling average covers the rep's last `window` peer reviews, fewer at first):
- enrolled -> graduated when the rolling average, taken after each peer review, is >= the bar
  after `reviews_to_graduate` (N) consecutive peer reviews;
- graduated -> enrolled again when it is below the bar after `window` consecutive peer reviews
  (a whole window); the reason is recorded. Each change starts the count afresh.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from math import lcm
from typing import Iterable, Mapping, Sequence

from integration.rubric import Rubric

ENROLLED = "enrolled"
GRADUATED = "graduated"


@dataclass(frozen=True)
class Review:
    """One submitted review (or self-assessment) as scoring needs it."""

    review_id: str
    rep_id: str
    reviewer_id: str
    reviewed_at: datetime  # timezone-aware; when the review was submitted (or last edited)
    scores: Mapping[str, int]
    self_assessment: bool = False
    deal_id: str | None = None
    call_external_id: str | None = None

    def __post_init__(self) -> None:
        if self.reviewed_at.tzinfo is None:
            raise ValueError("reviewed_at must be timezone-aware")


@dataclass(frozen=True)
class DealRollup:
    """What the deal/opportunity carries: peer-reviewed scores of its calls."""

    deal_id: str
    count: int
    criteria: Mapping[str, Decimal | None]  # every rubric criterion; None: no review scored it
    weighted_average: Decimal
    last_score: Decimal
    last_reviewed_on: date  # UTC date of the latest review
    last_review_id: str


@dataclass(frozen=True)
class Transition:
    status: str  # GRADUATED | ENROLLED (re-enrolled)
    review_id: str  # the peer review after which the status changed
    at: datetime
    reason: str


@dataclass(frozen=True)
class RepStanding:
    """A rep's rolling averages and graduation status after all their peer reviews."""

    rep_id: str
    peer_reviews: int
    window_reviews: int  # how many reviews the rolling averages cover (<= rubric.window)
    criteria: Mapping[str, Decimal | None]
    overall: Decimal | None  # None: no peer review yet
    status: str  # ENROLLED | GRADUATED
    streak: int  # consecutive peer reviews counting toward the next change of status
    reason: str  # why the rep has this status now
    transitions: tuple[Transition, ...] = field(default=())
    last_reviewed_at: datetime | None = None


def rounded(value: Fraction | Decimal | int) -> Decimal:
    """The one rounding: half-up (ties away from zero) to 2 decimal places, exactly."""
    exact = Fraction(value)
    p, q = abs(exact.numerator), exact.denominator
    cents = (200 * p + q) // (2 * q)  # floor(|value| * 100 + 1/2), in integers
    return Decimal(cents if exact >= 0 else -cents).scaleb(-2)


@lru_cache(maxsize=32)
def _integer_weights(rubric: Rubric) -> tuple[tuple[str, int], ...]:
    """The weights scaled to integers with the same ratios, so scores are integer sums."""
    weights = [(c.key, Fraction(c.weight)) for c in rubric.criteria]
    scale = lcm(*(w.denominator for _, w in weights))
    return tuple((key, int(w * scale)) for key, w in weights)


def exact_score(rubric: Rubric, scores: Mapping[str, int]) -> Fraction | None:
    """sum(weight_i * score_i) / sum(weight_i) over the rubric's criteria the review scored
    (a review entered under an older rubric counts on the criteria both share); None if none."""
    total = weight_sum = 0
    for key, weight in _integer_weights(rubric):
        if key in scores:
            total += weight * scores[key]
            weight_sum += weight
    return Fraction(total, weight_sum) if weight_sum else None


def _mean(values: Sequence[Fraction]) -> Fraction:
    """Exact mean over a common denominator (integer arithmetic, no per-step normalising)."""
    common = lcm(*(v.denominator for v in values))
    return Fraction(sum(v.numerator * (common // v.denominator) for v in values), common * len(values))


def weighted_score(rubric: Rubric, scores: Mapping[str, int]) -> Decimal:
    """One review's weighted score, rounded; ValueError when it scores no rubric criterion."""
    exact = exact_score(rubric, scores)
    if exact is None:
        raise ValueError("the review scores none of the rubric's criteria")
    return rounded(exact)


def ordered(reviews: Iterable[Review]) -> list[Review]:
    """One review per id (the latest version), oldest first; ties by review id."""
    latest: dict[str, Review] = {}
    for review in reviews:
        kept = latest.get(review.review_id)
        if kept is None or _version(review) > _version(kept):
            latest[review.review_id] = review
    return sorted(latest.values(), key=lambda r: (r.reviewed_at, r.review_id))


def _version(review: Review) -> tuple:
    # Two copies with one id and one timestamp but different content: pick by content, so the
    # answer never depends on the order they were passed in.
    return (review.reviewed_at, sorted(review.scores.items()), review.rep_id, review.reviewer_id,
            review.deal_id or "", review.call_external_id or "", review.self_assessment)  # fmt: skip


def _peer_scored(rubric: Rubric, reviews: Iterable[Review]) -> list[tuple[Review, Fraction]]:
    out = []
    for review in ordered(reviews):
        exact = exact_score(rubric, review.scores)
        if not review.self_assessment and exact is not None:
            out.append((review, exact))
    return out


def _criteria_averages(rubric: Rubric, reviews: Sequence[Review]) -> dict[str, Decimal | None]:
    out: dict[str, Decimal | None] = {}
    for key in rubric.keys:
        values = [r.scores[key] for r in reviews if key in r.scores]
        out[key] = rounded(Fraction(sum(values), len(values))) if values else None
    return out


def deal_rollups(rubric: Rubric, reviews: Iterable[Review]) -> dict[str, DealRollup]:
    """Per deal: criterion averages, the average weighted score, the count and the latest review."""
    by_deal: dict[str, list[tuple[Review, Fraction]]] = {}
    for review, exact in _peer_scored(rubric, reviews):
        if review.deal_id:
            by_deal.setdefault(review.deal_id, []).append((review, exact))
    out = {}
    for deal_id, scored in sorted(by_deal.items()):
        last, last_exact = scored[-1]
        out[deal_id] = DealRollup(
            deal_id=deal_id,
            count=len(scored),
            criteria=_criteria_averages(rubric, [r for r, _ in scored]),
            weighted_average=rounded(_mean([e for _, e in scored])),
            last_score=rounded(last_exact),
            last_reviewed_on=last.reviewed_at.astimezone(timezone.utc).date(),
            last_review_id=last.review_id,
        )
    return out


def rep_standings(rubric: Rubric, reviews: Iterable[Review]) -> dict[str, RepStanding]:
    """Every rep's standing, from all reviews of every rep (any order, duplicates allowed)."""
    by_rep: dict[str, list[Review]] = {}
    for review in ordered(reviews):  # an edit that names another rep moves the review
        by_rep.setdefault(review.rep_id, []).append(review)
    return {rep: rep_standing(rubric, rep, rs) for rep, rs in sorted(by_rep.items())}


def rep_standing(rubric: Rubric, rep_id: str, reviews: Iterable[Review]) -> RepStanding:
    """Replay the rep's peer reviews in order: rolling averages and status after each one."""
    scored = [(r, e) for r, e in _peer_scored(rubric, reviews) if r.rep_id == rep_id]
    bar, n, window = rubric.mastery_bar, rubric.reviews_to_graduate, rubric.window
    status, streak = ENROLLED, 0
    run: list[Decimal] = []  # the rolling averages the streak counted
    transitions: list[Transition] = []
    for i, (review, _) in enumerate(scored):
        recent = scored[max(0, i + 1 - window) : i + 1]
        average = rounded(_mean([e for _, e in recent]))
        counts = average >= bar if status == ENROLLED else average < bar
        streak, run = (streak + 1, [*run, average]) if counts else (0, [])
        if status == ENROLLED and streak >= n:
            reason = (f"graduated: the rolling average stayed at or above the mastery bar {bar} after each of"
                      f" {n} consecutive peer reviews ({_listed(run)})")  # fmt: skip
            transitions.append(Transition(GRADUATED, review.review_id, review.reviewed_at, reason))
            status, streak, run = GRADUATED, 0, []
        elif status == GRADUATED and streak >= window:
            since = transitions[-1].at.astimezone(timezone.utc).date().isoformat()
            reason = (f"re-enrolled: the rolling average stayed below the mastery bar {bar} for a whole window of"
                      f" {window} peer reviews ({_listed(run)}) after graduating on {since}")  # fmt: skip
            transitions.append(Transition(ENROLLED, review.review_id, review.reviewed_at, reason))
            status, streak, run = ENROLLED, 0, []
    recent_reviews = [r for r, _ in scored[-window:]]
    recent_exact = [e for _, e in scored[-window:]]
    return RepStanding(
        rep_id=rep_id,
        peer_reviews=len(scored),
        window_reviews=len(recent_reviews),
        criteria=_criteria_averages(rubric, recent_reviews),
        overall=rounded(_mean(recent_exact)) if recent_exact else None,
        status=status,
        streak=streak,
        reason=_current_reason(status, streak, rubric, transitions),
        transitions=tuple(transitions),
        last_reviewed_at=scored[-1][0].reviewed_at if scored else None,
    )


def _current_reason(status: str, streak: int, rubric: Rubric, transitions: Sequence[Transition]) -> str:
    bar = rubric.mastery_bar
    if status == GRADUATED:
        return transitions[-1].reason
    progress = (f"{streak} of {rubric.reviews_to_graduate} consecutive peer reviews with the rolling average"
                f" at or above the mastery bar {bar}")  # fmt: skip
    return f"{transitions[-1].reason}; since then {progress}" if transitions else f"enrolled: {progress}"


def _listed(values: Sequence[Decimal]) -> str:
    return ", ".join(str(v) for v in values)
