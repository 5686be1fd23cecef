"""Properties of the rotation (`rotation.choose`), for any pool, stats and policy (hypothesis,
derandomized so a failure reproduces): never the rep, never over the weekly cap, only reviewed
or seed reviewers, inactive and long-overdue people skipped, fewest-assigned first,
deterministic, and a reason for everyone not chosen."""
from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from integration.ledger import ReviewerStats
from integration.rotation import Choice, RotationPolicy, choose, iso_week

NOW = 1_700_000_000.0
WEEK = iso_week(NOW)
DAY = 86_400.0
PEOPLE = [f"u{i}" for i in range(9)]
PROPS = settings(max_examples=100, derandomize=True, deadline=None)


@dataclass(frozen=True)
class Case:
    pool: list[str]
    stats: dict[str, ReviewerStats]
    rep: str | None
    inactive: frozenset[str]
    policy: RotationPolicy

    def run(self) -> Choice:
        return choose(self.pool, self.stats, rep=self.rep, inactive=self.inactive, policy=self.policy, now=NOW)

    def this_week(self, reviewer: str) -> int:
        s = self.stats.get(reviewer) or ReviewerStats(reviewer)
        return s.week_count if s.week == WEEK else 0

    def overdue_too_long(self, reviewer: str) -> bool:
        since = (self.stats.get(reviewer) or ReviewerStats(reviewer)).overdue_since
        return since is not None and NOW - since > self.policy.overdue_skip_seconds


def stats_for(reviewer: str) -> st.SearchStrategy[ReviewerStats]:
    return st.builds(
        ReviewerStats,
        reviewer_id=st.just(reviewer),
        last_assigned_at=st.sampled_from([0.0, NOW - 10 * DAY, NOW - DAY, NOW - 60.0]),
        week=st.sampled_from([WEEK, "2020-W01", ""]),
        week_count=st.integers(0, 7),
        reviewed_calls=st.integers(0, 2),
        overdue_since=st.sampled_from([None, NOW - DAY, NOW - 5 * DAY]),
        assigned_total=st.integers(0, 6),
    )


@st.composite
def cases(draw: st.DrawFn) -> Case:
    pool = draw(st.lists(st.sampled_from(PEOPLE), unique=True, max_size=len(PEOPLE)))
    known = draw(st.lists(st.sampled_from(PEOPLE), unique=True))
    stats = {r: draw(stats_for(r)) for r in known}
    policy = RotationPolicy(
        reviewers_per_call=draw(st.integers(0, 4)),
        weekly_cap=draw(st.integers(0, 6)),
        overdue_skip_seconds=draw(st.sampled_from([2 * DAY, 3 * DAY, 10 * DAY])),
        seed=frozenset(draw(st.lists(st.sampled_from(PEOPLE), unique=True))),
    )
    rep = draw(st.one_of(st.none(), st.sampled_from(PEOPLE)))
    inactive = frozenset(draw(st.lists(st.sampled_from(PEOPLE), unique=True)))
    return Case(pool, stats, rep, inactive, policy)


@PROPS
@given(cases())
def test_every_chosen_reviewer_is_eligible(case: Case):
    choice = case.run()
    assert len(choice.reviewers) <= case.policy.reviewers_per_call
    assert len(set(choice.reviewers)) == len(choice.reviewers)
    for reviewer in choice.reviewers:
        assert reviewer in case.pool
        assert reviewer != case.rep
        assert reviewer not in case.inactive
        assert case.this_week(reviewer) < case.policy.weekly_cap
        took_a_turn = (case.stats.get(reviewer) or ReviewerStats(reviewer)).reviewed_calls >= 1
        assert took_a_turn or reviewer in case.policy.seed
        assert not case.overdue_too_long(reviewer)


@PROPS
@given(cases())
def test_everyone_not_chosen_is_explained_and_the_reason_is_true(case: Case):
    choice = case.run()
    assert set(choice.reviewers).isdisjoint(choice.skipped)
    assert set(choice.reviewers) | set(choice.skipped) == set(case.pool)
    for reviewer, why in choice.skipped.items():
        if reviewer == case.rep:
            assert why == "never reviews their own call"
        elif "inactive" in why:
            assert reviewer in case.inactive
        elif "weekly cap" in why:
            assert case.this_week(reviewer) >= case.policy.weekly_cap
        elif "overdue" in why:
            assert case.overdue_too_long(reviewer)
        elif "not yet had a call" in why:
            assert reviewer not in case.policy.seed
        else:
            assert why.startswith("waits for their turn")


@PROPS
@given(cases())
def test_it_fills_the_call_from_the_eligible_fewest_assigned_first(case: Case):
    choice = case.run()
    waiting = [r for r, why in choice.skipped.items() if why.startswith("waits for their turn")]
    eligible = len(choice.reviewers) + len(waiting)
    assert len(choice.reviewers) == min(case.policy.reviewers_per_call, eligible)

    def order(reviewer: str) -> tuple[int, float, str]:
        s = case.stats.get(reviewer) or ReviewerStats(reviewer)
        return (s.assigned_total, s.last_assigned_at, reviewer)

    assert list(choice.reviewers) == sorted(choice.reviewers, key=order)
    assert all(order(chosen) < order(other) for chosen in choice.reviewers for other in waiting)


@PROPS
@given(cases(), st.randoms(use_true_random=False))
def test_the_same_inputs_give_the_same_choice_in_any_order(case: Case, rng):
    first = case.run()
    pool = list(case.pool)
    rng.shuffle(pool)
    stats = dict(sorted(case.stats.items(), key=lambda _: rng.random()))
    again = choose(pool, stats, rep=case.rep, inactive=set(case.inactive), policy=case.policy, now=NOW)
    assert again == first
