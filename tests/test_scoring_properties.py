"""Properties of the scoring math (hypothesis, derandomized): bounds, monotonicity, weight
normalisation, the rounding, and answers that do not depend on delivery order or repeats."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from integration.rubric import Criterion, Rubric
from integration.scoring import GRADUATED, Review, deal_rollups, exact_score, rep_standing, rep_standings, rounded, weighted_score

PROPS = settings(max_examples=150, derandomize=True, database=None, deadline=None)
T0 = datetime(2026, 11, 2, tzinfo=timezone.utc)


@st.composite
def rubrics(draw):
    n = draw(st.integers(1, 5))
    weights = draw(st.lists(st.decimals(min_value=Decimal("0.01"), max_value=100, places=2), min_size=n, max_size=n))
    low = draw(st.integers(0, 3))
    high = draw(st.integers(low + 1, low + 9))
    bar = draw(st.decimals(min_value=Decimal(low) + Decimal("0.01"), max_value=high, places=2))
    graduate = draw(st.integers(1, 4))
    window = draw(st.integers(graduate, 6))
    criteria = tuple(Criterion(f"c{i}", f"C{i}", "", w) for i, w in enumerate(weights))
    return Rubric(criteria, low, high, bar, graduate, window)


def marks(rubric):
    return st.fixed_dictionaries({k: st.integers(rubric.scale_min, rubric.scale_max) for k in rubric.keys})


@st.composite
def histories(draw):
    """A rubric and a few reps' reviews, some at the same instant, some self-assessments."""
    rubric = draw(rubrics())
    reviews = []
    for i in range(draw(st.integers(0, 14))):
        reviews.append(Review(
            review_id=f"r{i}", rep_id=draw(st.sampled_from(["ann", "bob"])), reviewer_id="peer",
            reviewed_at=T0 + timedelta(minutes=draw(st.integers(0, 5))), scores=draw(marks(rubric)),
            self_assessment=draw(st.booleans()), deal_id=draw(st.sampled_from(["D1", "D2", None])),
        ))  # fmt: skip
    return rubric, reviews


@PROPS
@given(st.data())
def test_a_weighted_score_lies_between_the_lowest_and_highest_criterion_score(data):
    rubric = data.draw(rubrics())
    given_marks = data.draw(marks(rubric))
    score = weighted_score(rubric, given_marks)
    assert min(given_marks.values()) <= score <= max(given_marks.values())
    assert rubric.scale_min <= score <= rubric.scale_max
    assert score == score.quantize(Decimal("0.01")) and score.as_tuple().exponent == -2


@PROPS
@given(st.data())
def test_raising_one_criterion_never_lowers_the_score(data):
    rubric = data.draw(rubrics())
    given_marks = data.draw(marks(rubric))
    key = data.draw(st.sampled_from(rubric.keys))
    if given_marks[key] < rubric.scale_max:
        better = {**given_marks, key: given_marks[key] + 1}
        assert exact_score(rubric, better) > exact_score(rubric, given_marks)
        assert weighted_score(rubric, better) >= weighted_score(rubric, given_marks)


@PROPS
@given(st.data(), st.decimals(min_value=Decimal("0.1"), max_value=50, places=1))
def test_scaling_every_weight_leaves_the_score_unchanged(data, factor):
    rubric = data.draw(rubrics())
    given_marks = data.draw(marks(rubric))
    scaled = Rubric(tuple(Criterion(c.key, c.label, "", c.weight * factor) for c in rubric.criteria), rubric.scale_min, rubric.scale_max)
    assert exact_score(scaled, given_marks) == exact_score(rubric, given_marks)
    assert sum(rubric.weights().values()) == 1


@PROPS
@given(st.integers(-10**6, 10**6), st.integers(1, 10**4))
def test_rounding_is_within_half_a_cent_and_ties_go_up(numerator, denominator):
    value = Fraction(numerator, denominator)
    out = rounded(value)
    assert abs(Fraction(out) - value) <= Fraction(1, 200)
    if abs(Fraction(out) - value) == Fraction(1, 200):  # a tie: away from zero
        assert abs(Fraction(out)) > abs(value)
    assert rounded(out) == out  # rounding a published number changes nothing


@PROPS
@given(histories(), st.randoms(use_true_random=False))
def test_order_and_redelivery_never_change_any_number(history, random):
    rubric, reviews = history
    delivered = reviews + random.sample(reviews, k=len(reviews) // 2)  # some delivered twice
    random.shuffle(delivered)
    assert deal_rollups(rubric, delivered) == deal_rollups(rubric, reviews)
    assert rep_standings(rubric, delivered) == rep_standings(rubric, reviews)


@PROPS
@given(histories())
def test_averages_stay_on_the_scale_and_counts_are_peer_reviews(history):
    rubric, reviews = history
    for deal_id, rollup in deal_rollups(rubric, reviews).items():
        assert rollup.count == sum(1 for r in reviews if r.deal_id == deal_id and not r.self_assessment)
        assert rubric.scale_min <= rollup.weighted_average <= rubric.scale_max
        assert all(rubric.scale_min <= v <= rubric.scale_max for v in rollup.criteria.values() if v is not None)
    for rep, standing in rep_standings(rubric, reviews).items():
        peer = sum(1 for r in reviews if r.rep_id == rep and not r.self_assessment)
        assert standing.peer_reviews == peer and standing.window_reviews == min(peer, rubric.window)
        assert standing.overall is None or rubric.scale_min <= standing.overall <= rubric.scale_max
        # Transitions alternate, starting with a graduation; the status is the last one's.
        assert [t.status for t in standing.transitions] == [GRADUATED, "enrolled"] * (len(standing.transitions) // 2) + [GRADUATED] * (len(standing.transitions) % 2)
        assert standing.status == (standing.transitions[-1].status if standing.transitions else "enrolled")


@PROPS
@given(rubrics(), st.integers(0, 8))
def test_top_marks_graduate_exactly_after_n_peer_reviews(rubric, count):
    top = {k: rubric.scale_max for k in rubric.keys}
    reviews = [Review(f"r{i}", "ann", "peer", T0 + timedelta(hours=i), top) for i in range(count)]
    standing = rep_standing(rubric, "ann", reviews)
    assert (standing.status == GRADUATED) == (count >= rubric.reviews_to_graduate)
