"""Scoring math: weighted scores, the one rounding, deal roll-ups, rolling averages, graduation
and re-enrolment at their edges."""
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import pytest

from integration.rubric import DEFAULT_RUBRIC, load_rubric
from integration.scoring import (
    ENROLLED, GRADUATED, Review, deal_rollups, exact_score, ordered, rep_standing, rep_standings, rounded, weighted_score,
)  # fmt: skip

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
KEYS = DEFAULT_RUBRIC.keys
# N = 3 consecutive peer reviews at or above 4.00 graduate; the rolling average covers 3.
FAST = load_rubric({"mastery_bar": 4, "reviews_to_graduate": 3, "window": 3})


def scores(*values):
    return dict(zip(KEYS, values if len(values) == len(KEYS) else values * len(KEYS)))


def review(i, values, *, rep="rep1", deal="D1", self_assessment=False, at=None, reviewer="peer1"):
    values = values if isinstance(values, dict) else scores(*values) if isinstance(values, tuple) else scores(values)
    return Review(f"r{i:03d}", rep, reviewer, at or T0 + timedelta(hours=i), values, self_assessment, deal)


def peers(*weighted, rep="rep1", start=0):
    """Peer reviews whose weighted score is each value (all four criteria scored alike)."""
    return [review(start + i, v, rep=rep) for i, v in enumerate(weighted)]


# --- one review -------------------------------------------------------------------------------


def test_equal_weights_score_is_the_plain_average():
    assert weighted_score(DEFAULT_RUBRIC, scores(4, 3, 5, 2)) == Decimal("3.50")


def test_weights_are_normalised_so_only_their_ratio_matters():
    def rubric(*weights):
        return load_rubric({"criteria": [{"key": k, "weight": w} for k, w in zip(("discovery", "objections", "closing"), weights)]})

    marks = {"discovery": 5, "objections": 2, "closing": 2}
    assert weighted_score(rubric(2, 1, 1), marks) == Decimal("3.50")  # (2*5 + 2 + 2) / 4
    assert weighted_score(rubric(20, 10, 10), marks) == weighted_score(rubric(0.5, 0.25, 0.25), marks) == Decimal("3.50")
    assert weighted_score(rubric(1, 1, 1), marks) == Decimal("3.00")


def test_rounding_is_half_up_to_two_places_as_a_decimal():
    eight = load_rubric({"criteria": [{"key": f"c{i}"} for i in range(8)]})
    score = weighted_score(eight, {f"c{i}": v for i, v in enumerate((4, 4, 4, 4, 4, 3, 3, 3))})  # 29/8 = 3.625
    assert score == Decimal("3.63") and str(score) == "3.63"  # banker's rounding would say 3.62
    assert weighted_score(eight, {f"c{i}": v for i, v in enumerate((4, 4, 4, 4, 4, 4, 4, 5))}) == Decimal("4.13")  # 33/8 = 4.125
    assert str(weighted_score(DEFAULT_RUBRIC, scores(4))) == "4.00"  # always two places
    assert rounded(Fraction(1, 3)) == Decimal("0.33") and rounded(Fraction(2, 3)) == Decimal("0.67")
    assert rounded(Decimal("2.675")) == Decimal("2.68")  # the float 2.675 would round to 2.67
    assert rounded(Decimal("-2.675")) == Decimal("-2.68")  # ties away from zero


def test_a_review_under_an_older_rubric_counts_on_the_criteria_both_share():
    assert exact_score(DEFAULT_RUBRIC, {"discovery_questions": 5, "objection_handling": 2, "retired": 1}) == Fraction(7, 2)
    with pytest.raises(ValueError, match="none of the rubric's criteria"):
        weighted_score(DEFAULT_RUBRIC, {"retired": 3})


def test_a_review_time_without_a_timezone_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        Review("r1", "rep1", "peer1", datetime(2026, 11, 2, 9), scores(4))


# --- the deal --------------------------------------------------------------------------------


def test_deal_rollup_averages_each_criterion_and_the_weighted_scores_of_peer_reviews():
    reviews = [
        review(1, (4, 3, 5, 2)),  # 3.50
        review(2, (5, 4, 4, 3)),  # 4.00
        review(3, (3, 3, 4, 4)),  # 3.50
        review(4, (5, 5, 5, 5), self_assessment=True),  # the rep's own view: not a peer score
        review(5, (1, 1, 1, 1), deal="D2"),
    ]
    rollups = deal_rollups(DEFAULT_RUBRIC, reviews)
    d1 = rollups["D1"]
    assert d1.count == 3
    assert d1.criteria == {"discovery_questions": Decimal("4.00"), "objection_handling": Decimal("3.33"),
                           "closing_technique": Decimal("4.33"), "next_steps_agreed": Decimal("3.00")}  # fmt: skip
    assert d1.weighted_average == Decimal("3.67")  # (3.5 + 4 + 3.5) / 3
    assert (d1.last_score, d1.last_review_id, d1.last_reviewed_on) == (Decimal("3.50"), "r003", date(2026, 11, 2))
    assert rollups["D2"].count == 1 and rollups["D2"].weighted_average == Decimal("1.00")


def test_weighted_average_is_exact_before_its_one_rounding():
    # 3.625 and 3.625 and 3.63 rounded first would drift; exact means (29/8 + 29/8 + 3) / 3 = 3.4166.. -> 3.42
    eight = load_rubric({"criteria": [{"key": f"c{i}"} for i in range(8)]})
    marks = {f"c{i}": v for i, v in enumerate((4, 4, 4, 4, 4, 3, 3, 3))}
    reviews = [review(1, marks), review(2, marks), review(3, {f"c{i}": 3 for i in range(8)})]
    assert deal_rollups(eight, reviews)["D1"].weighted_average == Decimal("3.42")


def test_the_last_review_date_is_the_utc_date():
    late_in_new_york = datetime(2026, 11, 3, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    rollup = deal_rollups(DEFAULT_RUBRIC, [review(1, 4, at=late_in_new_york)])["D1"]
    assert rollup.last_reviewed_on == date(2026, 11, 4)


def test_a_criterion_no_review_scored_is_none_not_zero():
    rollup = deal_rollups(DEFAULT_RUBRIC, [review(1, {"discovery_questions": 4, "objection_handling": 2})])["D1"]
    assert rollup.criteria["closing_technique"] is None and rollup.criteria["discovery_questions"] == Decimal("4.00")
    assert rollup.weighted_average == Decimal("3.00")


def test_a_review_delivered_three_times_counts_once_and_an_edit_replaces_it():
    first = review(1, 2)
    edited = replace(first, scores=scores(4), reviewed_at=first.reviewed_at + timedelta(minutes=5))
    rollup = deal_rollups(DEFAULT_RUBRIC, [first, edited, first, review(2, 5), first])["D1"]
    assert rollup.count == 2 and rollup.weighted_average == Decimal("4.50")


def test_an_edit_that_names_another_deal_or_rep_moves_the_review():
    first = review(1, 2)
    moved = replace(first, deal_id="D2", rep_id="rep2", reviewed_at=first.reviewed_at + timedelta(minutes=1))
    assert set(deal_rollups(DEFAULT_RUBRIC, [first, moved])) == {"D2"}
    standings = rep_standings(DEFAULT_RUBRIC, [first, moved])
    assert set(standings) == {"rep2"} and rep_standing(DEFAULT_RUBRIC, "rep1", [first, moved]).peer_reviews == 0


def test_same_time_ties_go_by_review_id_whatever_the_input_order():
    a, b = review(1, 2, at=T0), review(2, 5, at=T0)
    assert [r.review_id for r in ordered([b, a])] == ["r001", "r002"]
    assert deal_rollups(DEFAULT_RUBRIC, [b, a])["D1"].last_score == Decimal("5.00")
    # One id twice at one time with different content: the same copy wins in either order.
    twin = replace(a, scores=scores(3))
    assert ordered([a, twin]) == ordered([twin, a])


def test_reviews_without_a_deal_or_without_rubric_scores_make_no_deal_rollup():
    assert deal_rollups(DEFAULT_RUBRIC, [review(1, 4, deal=None), review(2, {"retired": 5})]) == {}


# --- the rep: rolling averages ---------------------------------------------------------------


def test_rolling_averages_cover_the_last_window_of_peer_reviews_only():
    reviews = [review(0, (1, 1, 1, 1)), review(1, (2, 2, 2, 2)), review(2, (5, 4, 3, 2)), review(3, (4, 4, 4, 4)),
               review(4, (3, 5, 5, 5)), review(5, (5, 5, 5, 5), self_assessment=True)]  # fmt: skip
    standing = rep_standing(FAST, "rep1", reviews)
    assert (standing.peer_reviews, standing.window_reviews) == (5, 3)
    assert standing.criteria == {"discovery_questions": Decimal("4.00"), "objection_handling": Decimal("4.33"),
                                 "closing_technique": Decimal("4.00"), "next_steps_agreed": Decimal("3.67")}  # fmt: skip
    assert standing.overall == Decimal("4.00")  # (3.5 + 4 + 4.5) / 3
    assert standing.last_reviewed_at == T0 + timedelta(hours=4)


def test_a_rep_without_peer_reviews_has_no_average_and_is_enrolled():
    standing = rep_standing(FAST, "rep1", [review(1, 5, self_assessment=True)])
    assert (standing.peer_reviews, standing.overall, standing.status, standing.transitions) == (0, None, ENROLLED, ())
    assert standing.reason == "enrolled: 0 of 3 consecutive peer reviews with the rolling average at or above the mastery bar 4"


def test_standings_are_per_rep():
    out = rep_standings(FAST, [*peers(5, 5, 5, rep="ann"), *peers(2, rep="bob", start=10)])
    assert out["ann"].status == GRADUATED and out["bob"].status == ENROLLED and out["bob"].overall == Decimal("2.00")


# --- graduation and re-enrolment -------------------------------------------------------------


def test_graduates_after_n_consecutive_peer_reviews_exactly_at_the_bar():
    assert rep_standing(FAST, "rep1", peers(4, 4)).status == ENROLLED  # N - 1 is not enough
    standing = rep_standing(FAST, "rep1", peers(4, 4, 4))
    assert standing.status == GRADUATED
    [t] = standing.transitions
    assert (t.status, t.review_id, t.at) == (GRADUATED, "r002", T0 + timedelta(hours=2))
    assert t.reason == ("graduated: the rolling average stayed at or above the mastery bar 4 after each of 3 consecutive"
                        " peer reviews (4.00, 4.00, 4.00)")  # fmt: skip
    assert standing.reason == t.reason


def test_the_rounded_average_decides_what_the_rep_sees():
    # 3.995 shows as 4.00 and counts; 3.9925 shows as 3.99 and does not.
    marks = {"aa": 4, "bb": 3}
    shown_4 = load_rubric({"criteria": [{"key": "aa", "weight": 99.5}, {"key": "bb", "weight": 0.5}], "reviews_to_graduate": 1})
    assert exact_score(shown_4, marks) == Fraction("3.995") and weighted_score(shown_4, marks) == Decimal("4.00")
    assert rep_standing(shown_4, "rep1", [review(1, marks)]).status == GRADUATED
    shown_399 = load_rubric({"criteria": [{"key": "aa", "weight": 99.25}, {"key": "bb", "weight": 0.75}], "reviews_to_graduate": 1})
    assert exact_score(shown_399, marks) == Fraction("3.9925") and weighted_score(shown_399, marks) == Decimal("3.99")
    assert rep_standing(shown_399, "rep1", [review(1, marks)]).status == ENROLLED


def test_a_dip_restarts_the_count_and_the_rolling_window_carries_it():
    # rolling (window 3): 5, 5, 3.67, 3.67, 3.67, 5, 5, 5 -> the streak restarts after the dip
    standing = rep_standing(FAST, "rep1", peers(5, 5, 1, 5, 5, 5, 5))
    assert standing.status == ENROLLED and standing.streak == 2
    assert standing.reason.startswith("enrolled: 2 of 3 consecutive")
    standing = rep_standing(FAST, "rep1", peers(5, 5, 1, 5, 5, 5, 5, 5))
    assert standing.status == GRADUATED and standing.transitions[0].review_id == "r007"


def test_stays_graduated_until_a_whole_window_is_below_the_bar_then_re_enrols_with_the_reason():
    graduated = peers(5, 5, 5)  # graduated after r002
    # rolling after each later review: (5+5+3)/3 = 4.33, (5+3+3)/3 = 3.67, 3, 3
    assert rep_standing(FAST, "rep1", graduated + peers(3, 3, start=3)).status == GRADUATED  # one below so far
    assert rep_standing(FAST, "rep1", graduated + peers(3, 3, 3, start=3)).status == GRADUATED  # two below
    standing = rep_standing(FAST, "rep1", graduated + peers(3, 3, 3, 3, start=3))
    assert standing.status == ENROLLED
    graduation, reenrolment = standing.transitions
    assert (graduation.status, reenrolment.status, reenrolment.review_id) == (GRADUATED, ENROLLED, "r006")
    assert reenrolment.reason == ("re-enrolled: the rolling average stayed below the mastery bar 4 for a whole window of 3"
                                  " peer reviews (3.67, 3.00, 3.00) after graduating on 2026-11-02")  # fmt: skip
    assert standing.reason.startswith(reenrolment.reason + "; since then 0 of 3")


def test_a_rolling_average_back_at_the_bar_inside_the_window_keeps_a_graduate():
    # rolling after graduating: 4.33, 3.67, 3.67, 4.33 (the count of lows restarts), 4.33, 3.67
    standing = rep_standing(FAST, "rep1", peers(5, 5, 5, 3, 3, 5, 5, 3, 3))
    assert standing.status == GRADUATED and len(standing.transitions) == 1 and standing.streak == 1
    # Low single reviews that keep the rolling average below the bar for a whole window do re-enrol.
    assert rep_standing(FAST, "rep1", peers(5, 5, 5, 3, 2, 5, 3, 2, 5)).status == ENROLLED


def test_re_enrolled_reps_graduate_again_after_n_fresh_reviews():
    history = peers(5, 5, 5, 3, 3, 3, 3)  # graduated, then re-enrolled at r006
    assert rep_standing(FAST, "rep1", history + peers(5, 5, start=7)).status == ENROLLED  # 3.67, 4.33: one counts
    standing = rep_standing(FAST, "rep1", history + peers(5, 5, 5, 5, start=7))
    assert standing.status == GRADUATED and [t.status for t in standing.transitions] == [GRADUATED, ENROLLED, GRADUATED]


def test_self_assessments_never_graduate_anyone():
    reviews = [review(i, 5, self_assessment=True) for i in range(10)]
    assert rep_standing(FAST, "rep1", reviews).status == ENROLLED


def test_the_window_can_be_longer_than_n():
    slow = load_rubric({"mastery_bar": 4, "reviews_to_graduate": 2, "window": 4})
    # rolling: 2, 3.5, 4, 4.25 -> graduated after the 4th (two consecutive >= 4)
    assert rep_standing(slow, "rep1", peers(2, 5, 5)).status == ENROLLED
    assert rep_standing(slow, "rep1", peers(2, 5, 5, 5)).status == GRADUATED
