"""CPU cost of the scoring math (exact fractions, one rounding): is recomputing every number from
the whole set of reviews after each batch affordable? Prints medians of 7 runs.

Run: `.venv/bin/python bench/scoring.py`.
"""
from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from integration.review_form import ReviewTask, validate_submission  # noqa: E402
from integration.rubric import DEFAULT_RUBRIC  # noqa: E402
from integration.scoring import Review, deal_rollups, rep_standing, rep_standings, weighted_score  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def reviews(count: int, reps: int, deals: int, seed: int = 7) -> list[Review]:
    rnd = random.Random(seed)
    return [
        Review(f"r{i}", f"rep{rnd.randrange(reps)}", f"peer{rnd.randrange(reps)}", T0 + timedelta(minutes=i),
               {k: rnd.randint(1, 5) for k in DEFAULT_RUBRIC.keys}, rnd.random() < 0.2, f"D{rnd.randrange(deals)}")  # fmt: skip
        for i in range(count)
    ]


def median_ms(fn: Callable[[], object], runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    batch = reviews(100, reps=20, deals=40)
    tenant = reviews(10_000, reps=50, deals=2_000)
    one_rep = [r for r in reviews(1_250, reps=1, deals=100)]
    task = ReviewTask("00T1", "peer", "005P", "005R", True, "zoom:x", "006D")
    form = {"strengths": "Clear agenda", "scores": {k: 4 for k in DEFAULT_RUBRIC.keys}, "suggestions": ["Slow down"]}
    rows = [
        ("weighted score of one review", median_ms(lambda: [weighted_score(DEFAULT_RUBRIC, r.scores) for r in batch]) / 100),
        ("validate one submitted review", median_ms(lambda: [validate_submission(DEFAULT_RUBRIC, task, "005P", form) for _ in range(100)]) / 100),
        ("deal roll-ups, 100 reviews / 40 deals", median_ms(lambda: deal_rollups(DEFAULT_RUBRIC, batch))),
        ("rep standings, 100 reviews / 20 reps", median_ms(lambda: rep_standings(DEFAULT_RUBRIC, batch))),
        ("one rep's standing, 1,000 peer reviews replayed", median_ms(lambda: rep_standing(DEFAULT_RUBRIC, "rep0", one_rep))),
        ("deal roll-ups, 10,000 reviews / 2,000 deals", median_ms(lambda: deal_rollups(DEFAULT_RUBRIC, tenant), runs=3)),
        ("rep standings, 10,000 reviews / 50 reps", median_ms(lambda: rep_standings(DEFAULT_RUBRIC, tenant), runs=3)),
    ]
    print(f"{'what':<50} {'median ms':>10}")
    for what, ms in rows:
        print(f"{what:<50} {ms:>10.3f}")


if __name__ == "__main__":
    main()
