"""Game film reviews, end to end through the app: self-assessment first, peers by rotation
(after the self-assessment or after the grace), the alarm clock, and two workers at once."""
from __future__ import annotations

from datetime import date

from integration.ledger import DONE, Assignment
from integration.worker import Worker
from tests.fake_ledger import FakeLedger
from tests.game_film_org import ANA, BEN, CY, DEE, REP, TENANT, make_loop, recording
from tests.game_film_loop import at_once


def _peer_owners(loop, external_id):
    return sorted(t.owner_id for t in loop.tasks("peer") if t.call_external_id == external_id)


def test_peers_come_when_the_self_assessment_is_completed(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock)
    loop.deliver(recording("rec:1", "buyer@globex.com"))
    assert loop.tasks("peer") == []
    loop.clock.advance(3600)
    loop.task_completed(loop.task_id(f"review#{TENANT}#rec:1#self"))
    assert _peer_owners(loop, "rec:1") == [ANA, BEN]  # Cy: no call of his own reviewed yet; Dee inactive; never the rep
    first = loop.tasks("peer")[0]
    assert first.key == f"review#{TENANT}#rec:1#peer#{ANA}" and first.record_id == "d1" and first.call_external_id == "rec:1"
    assert first.due == date(2026, 11, 26)  # 3 business days after Monday
    assert "what went well first" in first.body and "https://scores.example.com/submit" in first.body
    assert first.evidence["skipped"] == {CY: "has not yet had a call of their own reviewed", DEE: "inactive in the CRM",
                                         REP: "never reviews their own call"}  # fmt: skip
    [self_assignment] = loop.ledger.of(TENANT, "rec:1", "self")
    assert self_assignment.status == DONE and self_assignment.task_id == loop.task_id(f"review#{TENANT}#rec:1#self")
    assert loop.ledger.get_recordings(TENANT, ["rec:1"])["rec:1"].peers_due_at == 0
    loop.tick(hours=72)  # after the grace: no second set
    assert len(loop.tasks("peer")) == 2 and len(loop.crm.tasks) == 3


def test_peers_come_after_the_grace_when_the_self_assessment_waits(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock)
    loop.deliver(recording("rec:1", "buyer@globex.com"))
    loop.tick(hours=47)
    assert loop.tasks("peer") == []
    loop.tick(hours=1.5)
    assert _peer_owners(loop, "rec:1") == [ANA, BEN]
    loop.tick(hours=1)
    assert len(loop.tasks("peer")) == 2


def test_graduated_rep_gets_no_peer_reviews(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock, graduated=["rep@acme.io"])
    loop.deliver(recording("rec:1", "buyer@globex.com"))
    assert len(loop.tasks("self")) == 1
    loop.task_completed(loop.task_id(f"review#{TENANT}#rec:1#self"))
    loop.tick(hours=72)
    assert loop.tasks("peer") == []


def test_rotation_takes_turns_respects_the_cap_and_lets_the_reviewed_review(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock, reviewers_per_call=1, weekly_cap=1, grace_hours=0)
    loop.deliver(recording("rec:1", "buyer@globex.com"), times=1)
    loop.deliver(recording("rec:2", "buyer@globex.com", rep="cy@acme.io"), times=1)
    loop.deliver(recording("rec:3", "buyer@globex.com", rep="ben@acme.io"), times=1)
    loop.tick(hours=1)
    owners = {t.call_external_id: t.owner_id for t in loop.tasks("peer")}
    assert owners == {"rec:1": ANA, "rec:2": BEN}  # least recently assigned first, one each (cap 1)
    assert loop.ledger.of(TENANT, "rec:3", "peer") == []  # Ben's own call: Ana and Ben capped, Cy not yet reviewed
    # Ben reviews Cy's call: Cy has now taken a turn in the barrel and may review.
    loop.task_completed(loop.task_id(f"review#{TENANT}#rec:2#peer#{BEN}"))
    assert loop.ledger.reviewer_stats(TENANT, [CY])[CY].reviewed_calls == 1
    loop.tick(hours=24)  # rec:3 is tried again a day later: Cy is eligible now
    owners = {t.call_external_id: t.owner_id for t in loop.tasks("peer")}
    assert owners["rec:3"] == CY


def test_rotation_spreads_evenly_over_many_calls(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock, reviewers_per_call=1, weekly_cap=50, grace_hours=0, seed_reviewers=[ANA, BEN, CY])
    for i in range(9):
        loop.deliver(recording(f"rec:{i}", "buyer@globex.com"), times=1)
    loop.tick(hours=1)
    counts = {r: sum(1 for t in loop.tasks("peer") if t.owner_id == r) for r in (ANA, BEN, CY)}
    assert counts == {ANA: 3, BEN: 3, CY: 3}


def test_overdue_review_gets_one_nudge_a_day_and_the_rotation_then_skips_the_reviewer(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock, overdue_skip_days=3)
    loop.deliver(recording("rec:1", "buyer@globex.com"))
    loop.task_completed(loop.task_id(f"review#{TENANT}#rec:1#self"))
    ana_task = loop.task_id(f"review#{TENANT}#rec:1#peer#{ANA}")
    loop.task_completed(loop.task_id(f"review#{TENANT}#rec:1#peer#{BEN}"))
    loop.tick(hours=82)  # Friday 01:00: Ana's task was due Thursday
    [nudge] = loop.reminders()
    assert nudge.task_id == ana_task and nudge.key == f"nudge#{TENANT}#review#{TENANT}#rec:1#peer#{ANA}#2026-11-27"
    assert "rule: overdue review task" in nudge.note and "due on 2026-11-26" in nudge.note
    for _ in range(5):
        loop.tick(hours=1)
    assert len(loop.reminders()) == 1  # once a day at most
    [ana] = [a for a in loop.ledger.of(TENANT, "rec:1", "peer") if a.reviewer_id == ANA]
    assert ana.last_nudged_day == "2026-11-27"  # recorded once the reminder's outbox row existed
    loop.tick(hours=24)
    assert [r.key[-10:] for r in loop.reminders()] == ["2026-11-27", "2026-11-28"]
    assert loop.ledger.reviewer_stats(TENANT, [ANA])[ANA].overdue_since is not None
    loop.tick(hours=72)  # overdue for more than 3 days: Ana is skipped, and the task says why
    loop.deliver(recording("rec:2", "buyer@globex.com"), times=1)
    loop.task_completed(loop.task_id(f"review#{TENANT}#rec:2#self"))
    [task] = [t for t in loop.tasks("peer") if t.call_external_id == "rec:2"][:1]
    assert ANA not in _peer_owners(loop, "rec:2")
    assert task.evidence["skipped"][ANA].startswith("has a review task overdue for ")
    loop.task_completed(ana_task)  # done at last: no longer overdue, no more nudges
    before = len(loop.reminders())
    loop.tick(hours=24)
    assert len(loop.reminders()) == before and loop.ledger.reviewer_stats(TENANT, [ANA])[ANA].overdue_since is None


def test_two_workers_processing_ticks_at_once_create_one_set_of_peer_tasks(tmp_path, store, clock):
    ledger = FakeLedger(assign_delay=0.05)
    loop = make_loop(tmp_path, store, clock, ledger=ledger)
    loop.deliver(recording("rec:1", "buyer@globex.com"), times=1)
    loop.clock.advance(49 * 3600)
    loop.services.worker.insert_ticks()
    loop.clock.advance(3600)
    loop.services.worker.insert_ticks()  # two hours' ticks, both due, each claimed by one worker
    keys = [k for k, _ in store.due_events(loop.clock(), 10)]
    assert len(keys) == 2
    base = loop.services.worker
    workers = [Worker(store, base.config, base.gateway_for, rules=base.rules, clock=loop.clock, ledger=ledger) for _ in keys]
    at_once(workers, keys)
    assert _peer_owners(loop, "rec:1") == [ANA, BEN]
    assert len(ledger.of(TENANT, "rec:1", "peer")) == 2
    assert ledger.stats[(TENANT, ANA)].week_count == 1 and ledger.stats[(TENANT, BEN)].week_count == 1


def test_a_peer_task_lost_between_assign_and_outbox_is_planned_again_by_the_tick(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock)
    loop.deliver(recording("rec:1", "buyer@globex.com"), times=1)
    entry = loop.ledger.get_recordings(TENANT, ["rec:1"])["rec:1"]
    # A worker assigned the peers and died before writing its plan.
    def make(reviewer):
        return Assignment(TENANT, "rec:1", reviewer, "peer", f"review#{TENANT}#rec:1#peer#{reviewer}", loop.clock() + 86400, assigned_at=loop.clock())

    loop.ledger.assign(TENANT, "rec:1", "peer", [ANA], lambda stats: [ANA], make, loop.clock(), "2026-W48")
    assert entry.peers_due_at > 0
    loop.tick(hours=1)
    assert _peer_owners(loop, "rec:1") == [ANA]
    loop.tick(hours=1)
    assert len(loop.tasks("peer")) == 1


def test_a_review_task_whose_answer_was_lost_is_looked_up_not_created_twice(tmp_path, store, clock):
    from integration.commands import Outcome
    from integration.events import CREATED, Event
    from integration.recordings import RECORDING_OBJECT, recording_to_changed

    loop = make_loop(tmp_path, store, clock)
    original, lost = loop.crm._write, []

    def flaky(op, commands):
        out = original(op, commands)
        if op == "create_tasks" and not lost:  # applied, then the answer was lost (a read timeout)
            lost.append(op)
            return [Outcome.failed(c, "read timeout", ambiguous=True) for c in commands]
        return out

    loop.crm._write = flaky
    rec = recording("rec:1", "buyer@globex.com")
    loop.services.intake.accept([Event(key="rec#1", tenant=TENANT, crm="hubspot", object_type=RECORDING_OBJECT, object_id="rec:1",
                                       kind=CREATED, occurred_at=rec.started_at, source_id="1", changed=recording_to_changed(rec))])  # fmt: skip
    assert loop.services.worker.run_due().retrying == ["rec#1"]
    loop.clock.advance(60)
    assert loop.services.worker.run_due().done == ["rec#1"]
    assert len(loop.crm.tasks) == 1 and len(loop.tasks("self")) == 1
    self_id = loop.task_id(f"review#{TENANT}#rec:1#self")
    assert self_id in loop.crm.tasks
    loop.task_completed(self_id)  # the id found by the lookup is the one the ledger learns
    assert _peer_owners(loop, "rec:1") == [ANA, BEN]
