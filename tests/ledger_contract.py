"""The behaviour every ReviewLedger backend must have. Subclass `LedgerContract`, provide `ledger`."""
from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace
from typing import Callable, Sequence

from integration.ledger import (
    CANCELLED,
    DONE,
    OPEN,
    PEER,
    REC_ATTACHED,
    REC_GAVE_UP,
    REC_PRIVATE,
    REC_UNMATCHED,
    SELF,
    Assignment,
    RecordingEntry,
    ReviewerStats,
)
from integration.rotation import RotationPolicy, choose, iso_week

T0 = 1_700_000_000.0  # Tue 2023-11-14
DAY = 86_400.0
WEEK = iso_week(T0)
T = "acme"


def entry(n: int, status: str = REC_ATTACHED, tenant: str = T, **fields) -> RecordingEntry:
    base = RecordingEntry(tenant=tenant, external_id=f"zoom:{n}", status=status, rep_user_id="rep1", deal_id="d1",
                          recording_url=f"https://rec.example/{n}", title=f"Call {n}", started_at=T0 + n)  # fmt: skip
    return replace(base, **fields)


def maker(tenant: str, external_id: str, kind: str, due: float = T0 + 3 * DAY) -> Callable[[str], Assignment]:
    return lambda reviewer: Assignment(tenant, external_id, reviewer, kind, f"review#{tenant}#{external_id}#{reviewer}", due, assigned_at=T0)


def pick(*reviewers: str) -> Callable[..., Sequence[str]]:
    return lambda stats: list(reviewers)


def rotation(pool: Sequence[str], rep: str, now: float, per_call: int = 1, cap: int = 2) -> Callable[..., Sequence[str]]:
    policy = RotationPolicy(reviewers_per_call=per_call, weekly_cap=cap, seed=frozenset(pool))
    return lambda stats: choose(pool, stats, rep=rep, inactive=(), policy=policy, now=now).reviewers


def assign_peers(ledger, n: int, chooser, now: float = T0, tenant: str = T) -> list[Assignment]:
    x = f"zoom:{n}"
    return ledger.assign(tenant, x, PEER, ["a", "b", "c", "d"], chooser, maker(tenant, x, PEER), now, iso_week(now))


class LedgerContract:
    # --- recordings -------------------------------------------------------------------------
    def test_recordings_round_trip_and_a_second_put_replaces(self, ledger):
        first = entry(1, REC_UNMATCHED, deal_id=None, next_match_at=T0 + DAY)
        ledger.put_recordings([first, entry(2)], T0)
        ledger.put_recordings([first], T0 + 5)
        got = ledger.get_recordings(T, ["zoom:1", "zoom:2", "zoom:404"])
        assert got == {"zoom:1": replace(first, updated_at=T0 + 5), "zoom:2": replace(entry(2), updated_at=T0)}
        attached = replace(first, status=REC_ATTACHED, deal_id="d9", match_attempts=2, next_match_at=0.0)
        ledger.put_recordings([attached], T0 + 9)
        assert ledger.get_recordings(T, ["zoom:1"])["zoom:1"] == replace(attached, updated_at=T0 + 9)
        assert ledger.get_recordings("other", ["zoom:1"]) == {}

    def test_empty_strings_and_missing_ids_round_trip(self, ledger):
        bare = entry(3, REC_UNMATCHED, rep_user_id=None, deal_id=None, recording_url="", title="")
        ledger.put_recordings([bare], T0)
        assert ledger.get_recordings(T, ["zoom:3"])["zoom:3"] == replace(bare, updated_at=T0)

    def test_recordings_due_are_retries_and_peer_turns_whose_time_has_come(self, ledger):
        ledger.put_recordings(
            [
                entry(1, REC_UNMATCHED, next_match_at=T0 + 30),
                entry(2, REC_ATTACHED, peers_due_at=T0 + 10),
                entry(3, REC_UNMATCHED, next_match_at=T0 + 500),  # not yet
                entry(4, REC_ATTACHED, peers_due_at=0.0),  # self-assessment done: nothing due
                entry(5, REC_PRIVATE, peers_due_at=T0 + 1),  # private: never peers
                entry(6, REC_GAVE_UP, next_match_at=T0 + 1),
                entry(7, REC_UNMATCHED, next_match_at=T0 + 20, tenant="other"),
            ],
            T0,
        )
        assert [e.external_id for e in ledger.recordings_due(T, T0 + 100)] == ["zoom:2", "zoom:1"]
        assert [e.external_id for e in ledger.recordings_due(T, T0 + 100, limit=1)] == ["zoom:2"]
        assert [e.external_id for e in ledger.recordings_due(T, T0 + 30)] == ["zoom:2", "zoom:1"]  # inclusive
        ledger.put_recordings([entry(2, REC_ATTACHED, peers_due_at=0.0)], T0 + 50)  # peers assigned
        assert [e.external_id for e in ledger.recordings_due(T, T0 + 1000)] == ["zoom:1", "zoom:3"]
        assert [e.external_id for e in ledger.recordings_due("other", T0 + 1000)] == ["zoom:7"]

    def test_listing_is_newest_first_with_filters(self, ledger):
        ledger.put_recordings([entry(1, REC_UNMATCHED), entry(2), entry(3, REC_UNMATCHED), entry(4, tenant="other")], T0)
        assert [e.external_id for e in ledger.list_recordings()] == ["zoom:4", "zoom:3", "zoom:2", "zoom:1"]
        assert [e.external_id for e in ledger.list_recordings(tenant=T)] == ["zoom:3", "zoom:2", "zoom:1"]
        assert [e.external_id for e in ledger.list_recordings(status=REC_UNMATCHED)] == ["zoom:3", "zoom:1"]
        assert [e.external_id for e in ledger.list_recordings(tenant="other", status=REC_ATTACHED)] == ["zoom:4"]
        assert [e.external_id for e in ledger.list_recordings(tenant=T, status=REC_UNMATCHED, limit=1)] == ["zoom:3"]
        assert ledger.list_recordings(tenant="nobody") == []

    # --- assign -----------------------------------------------------------------------------
    def test_assign_stores_the_chosen_and_bumps_their_stats(self, ledger):
        seen = []

        def chooser(stats):
            seen.append(dict(stats))
            return ["c", "a"]

        made = assign_peers(ledger, 1, chooser)
        assert [(a.reviewer_id, a.kind, a.status, a.task_key) for a in made] == [
            ("c", PEER, OPEN, f"review#{T}#zoom:1#c"), ("a", PEER, OPEN, f"review#{T}#zoom:1#a"),
        ]  # fmt: skip
        assert seen == [{}]  # nobody had stats yet
        stats = ledger.reviewer_stats(T, ["a", "b", "c"])
        assert stats == {"a": ReviewerStats("a", T0, WEEK, 1, assigned_total=1), "c": ReviewerStats("c", T0, WEEK, 1, assigned_total=1)}
        assign_peers(ledger, 2, pick("a"), now=T0 + 60)
        assert ledger.reviewer_stats(T, ["a"])["a"] == ReviewerStats("a", T0 + 60, WEEK, 2, assigned_total=2)

    def test_assign_is_idempotent_and_does_not_choose_again(self, ledger):
        first = assign_peers(ledger, 1, pick("a", "b"))

        def must_not_run(stats):
            raise AssertionError("choose ran for a recording that has its reviewers")

        assert assign_peers(ledger, 1, must_not_run, now=T0 + 99) == first
        assert ledger.reviewer_stats(T, ["a"])["a"].week_count == 1

    def test_the_week_count_restarts_in_a_new_iso_week(self, ledger):
        assign_peers(ledger, 1, pick("a"))
        assign_peers(ledger, 2, pick("a"), now=T0 + 7 * DAY)
        assert ledger.reviewer_stats(T, ["a"])["a"] == ReviewerStats("a", T0 + 7 * DAY, iso_week(T0 + 7 * DAY), 1, assigned_total=2)

    def test_self_assessment_is_stored_but_takes_no_rotation_turn(self, ledger):
        made = ledger.assign(T, "zoom:1", SELF, ["rep1"], pick("rep1"), maker(T, "zoom:1", SELF), T0, WEEK)
        assert [(a.reviewer_id, a.kind) for a in made] == [("rep1", SELF)]
        assert ledger.reviewer_stats(T, ["rep1"]) == {}
        assign_peers(ledger, 1, pick("a"))
        assert [(a.reviewer_id, a.kind) for a in ledger.assignments_for(T, ["zoom:1"])["zoom:1"]] == [("rep1", SELF), ("a", PEER)]

    def test_no_one_chosen_stores_nothing_and_the_next_call_chooses_again(self, ledger):
        assert assign_peers(ledger, 1, pick()) == []
        assert ledger.assignments_for(T, ["zoom:1"]) == {}
        assert [a.reviewer_id for a in assign_peers(ledger, 1, pick("b"))] == ["b"]

    def test_assignments_are_per_tenant(self, ledger):
        assign_peers(ledger, 1, pick("a"))
        assert [a.reviewer_id for a in assign_peers(ledger, 1, pick("b"), tenant="other")] == ["b"]
        assert ledger.reviewer_stats("other", ["a"]) == {}

    # --- reading and updating assignments ---------------------------------------------------
    def test_assignments_for_several_recordings(self, ledger):
        assign_peers(ledger, 1, pick("a", "b"))
        assign_peers(ledger, 2, pick("c"))
        found = ledger.assignments_for(T, ["zoom:1", "zoom:2", "zoom:3"])
        assert {x: [a.reviewer_id for a in v] for x, v in found.items()} == {"zoom:1": ["a", "b"], "zoom:2": ["c"]}

    def test_open_assignments_are_the_overdue_ones_oldest_first(self, ledger):
        for n, due in ((1, T0 + 300), (2, T0 + 100), (3, T0 + 200), (4, T0 + 900)):
            x = f"zoom:{n}"
            ledger.assign(T, x, PEER, ["a"], pick("a"), maker(T, x, PEER, due), T0, WEEK)
        ledger.assign("other", "zoom:9", PEER, ["a"], pick("a"), maker("other", "zoom:9", PEER, T0), T0, WEEK)
        assert [a.external_id for a in ledger.open_assignments(T, T0 + 400)] == ["zoom:2", "zoom:3", "zoom:1"]
        assert [a.external_id for a in ledger.open_assignments(T, T0 + 400, limit=2)] == ["zoom:2", "zoom:3"]
        assert [a.external_id for a in ledger.open_assignments(T, T0 + 200)] == ["zoom:2"]  # strictly before

    def test_updates_round_trip_and_closed_tasks_leave_the_open_list(self, ledger):
        [a] = ledger.assign(T, "zoom:1", PEER, ["a"], pick("a"), maker(T, "zoom:1", PEER, T0 + 10), T0, WEEK)
        [b] = ledger.assign(T, "zoom:2", PEER, ["b"], pick("b"), maker(T, "zoom:2", PEER, T0 + 20), T0, WEEK)
        nudged = replace(a, task_id="00T1", last_nudged_day="2023-11-15")
        ledger.update_assignments([nudged, replace(b, task_id="00T2")], T0 + 50)
        assert ledger.open_assignments(T, T0 + 100) == [nudged, replace(b, task_id="00T2")]
        done = replace(nudged, status=DONE, completed_at=T0 + 60)
        ledger.update_assignments([done, replace(b, status=CANCELLED)], T0 + 60)
        assert ledger.open_assignments(T, T0 + 100) == []
        assert ledger.assignments_for(T, ["zoom:1"])["zoom:1"] == [done]
        reopened = replace(done, status=OPEN, completed_at=None, last_nudged_day=None)
        ledger.update_assignments([reopened], T0 + 70)
        assert ledger.open_assignments(T, T0 + 100) == [reopened]

    def test_assignments_are_found_by_their_crm_task(self, ledger):
        [a] = ledger.assign(T, "zoom:1", PEER, ["a"], pick("a"), maker(T, "zoom:1", PEER), T0, WEEK)
        [s] = ledger.assign(T, "zoom:1", SELF, ["rep1"], pick("rep1"), maker(T, "zoom:1", SELF), T0, WEEK)
        [o] = ledger.assign("other", "zoom:1", PEER, ["a"], pick("a"), maker("other", "zoom:1", PEER), T0, WEEK)
        assert ledger.assignments_by_task(T, ["00T1"]) == {}  # no task id yet
        ledger.update_assignments([replace(a, task_id="00T1"), replace(s, task_id="00T2"), replace(o, task_id="00T3")], T0 + 1)
        assert ledger.assignments_by_task(T, ["00T1", "00T2", "00T3", "00T404"]) == {
            "00T1": replace(a, task_id="00T1"), "00T2": replace(s, task_id="00T2")
        }  # fmt: skip
        done = replace(a, task_id="00T1", status=DONE, completed_at=T0 + 2)
        ledger.update_assignments([done], T0 + 2)
        assert ledger.assignments_by_task(T, ["00T1"]) == {"00T1": done}  # a closed task is still found (the form says why not)
        ledger.update_assignments([replace(done, task_id="00T9")], T0 + 3)  # the task was recreated
        assert ledger.assignments_by_task(T, ["00T1", "00T9"]) == {"00T9": replace(done, task_id="00T9")}
        assert ledger.assignments_by_task(T, []) == {}

    # --- reviewers --------------------------------------------------------------------------
    def test_a_reviewed_call_counts_once_per_recording(self, ledger):
        for _ in range(3):
            ledger.count_reviewed(T, "rep1", "zoom:1")
        assert ledger.reviewer_stats(T, ["rep1"])["rep1"].reviewed_calls == 1
        ledger.count_reviewed(T, "rep1", "zoom:2")
        assert ledger.reviewer_stats(T, ["rep1"])["rep1"].reviewed_calls == 2
        assign_peers(ledger, 5, pick("rep1"))  # rotation stats and the count live side by side
        assert ledger.reviewer_stats(T, ["rep1"])["rep1"] == ReviewerStats("rep1", T0, WEEK, 1, reviewed_calls=2, assigned_total=1)
        assert ledger.reviewer_stats("other", ["rep1"]) == {}

    def test_overdue_is_set_and_cleared(self, ledger):
        ledger.set_overdue(T, "a", T0 - DAY)
        assert ledger.reviewer_stats(T, ["a"])["a"] == ReviewerStats("a", overdue_since=T0 - DAY)
        assign_peers(ledger, 1, pick("a"))
        assert ledger.reviewer_stats(T, ["a"])["a"].overdue_since == T0 - DAY
        ledger.set_overdue(T, "a", None)
        assert ledger.reviewer_stats(T, ["a"])["a"] == ReviewerStats("a", T0, WEEK, 1, assigned_total=1)

    # --- two workers at once ----------------------------------------------------------------
    def test_racing_assigns_of_one_recording_store_one_set(self, ledger):
        answers: list[list[str]] = []
        calls = Counter[str]()

        def worker(i: int) -> None:
            def chooser(stats):
                calls["choose"] += 1
                return [f"r{i}", f"s{i}"]

            made = ledger.assign(T, "zoom:1", PEER, [], chooser, maker(T, "zoom:1", PEER), T0, WEEK)
            answers.append([a.reviewer_id for a in made])

        run_threads(worker, 6)
        assert len(answers) == 6 and all(a == answers[0] for a in answers)
        assert ledger.assignments_for(T, ["zoom:1"])["zoom:1"] == ledger.assign(T, "zoom:1", PEER, [], pick(), maker(T, "zoom:1", PEER), T0, WEEK)
        assert sum(s.week_count for s in ledger.reviewer_stats(T, [f"{p}{i}" for p in "rs" for i in range(6)]).values()) == 2

    def test_racing_reports_of_one_review_count_it_once(self, ledger):
        run_threads(lambda i: ledger.count_reviewed(T, "rep1", "zoom:1"), 6)
        assert ledger.reviewer_stats(T, ["rep1"])["rep1"].reviewed_calls == 1

    def test_racing_assigns_never_pass_the_weekly_cap(self, ledger):
        pool = ["a", "b", "c", "d"]  # cap 2 each: 8 slots for 12 recordings

        def worker(n: int) -> None:
            x = f"zoom:{n}"
            ledger.assign(T, x, PEER, pool, rotation(pool, rep="nobody", now=T0 + n), maker(T, x, PEER), T0 + n, WEEK)

        run_threads(worker, 12)
        found = ledger.assignments_for(T, [f"zoom:{n}" for n in range(12)])
        per_reviewer = Counter(a.reviewer_id for v in found.values() for a in v)
        assert per_reviewer == {"a": 2, "b": 2, "c": 2, "d": 2}
        assert all(len(v) == 1 for v in found.values())
        assert {r: s.week_count for r, s in ledger.reviewer_stats(T, pool).items()} == per_reviewer


def run_threads(fn: Callable[[int], None], n: int) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            start.wait()
            fn(i)
        except BaseException as exc:  # surfaced below: a thread's failure fails the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
