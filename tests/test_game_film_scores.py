"""Submitted reviews through the worker: validated again, stored, scored and written back once
(redeliveries, two reviews of one call in one batch), graduation and re-enrolment through the
flow, and rejected reviews recorded with their reason."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from integration.commands import AddNote, ShareRecord, UpsertRecord
from integration.config import ConfigError
from integration.ledger import DONE, REVIEW_REJECTED
from integration.scoring import ENROLLED, GRADUATED
from tests.game_film_org import ANA, BEN, CY, REP, TENANT, make_loop, recording
from tests.review_events import deliver, scores, submitted, updates


def _reviewed_call(tmp_path, store, clock, **settings):
    loop = make_loop(tmp_path, store, clock, **settings)
    loop.deliver(recording("rec:1", "buyer@globex.com"), times=1)
    if settings.get("salesforce"):  # the rep's self-assessment, entered on a Call_Review__c record
        deliver(loop, submitted(loop, "rec:1", REP, scores(4), self_assessment=True, crm_review_id="a0X000000000000"), crm="salesforce")
        loop.crm.written.clear()
    else:
        loop.task_completed(loop.task_id(f"review#{TENANT}#rec:1#self"))
    return loop


def test_a_review_delivered_three_times_is_written_back_once(tmp_path, store, clock):
    loop = _reviewed_call(tmp_path, store, clock)
    review = submitted(loop, "rec:1", ANA, scores(5, 4, 3, 4))
    deliver(loop, review, times=3)
    ana_task = loop.task_id(f"review#{TENANT}#rec:1#peer#{ANA}")
    call_id = loop.task_id(f"call#{TENANT}#rec:1")
    [task] = updates(loop, "task")
    assert (task.record_id, dict(task.fields)) == (ana_task, {"hs_task_status": "COMPLETED"})
    [deal] = updates(loop, "deal")
    assert deal.record_id == "d1" and dict(deal.fields) == {
        "gamefilm_avg_discovery_questions": Decimal("5.00"), "gamefilm_avg_objection_handling": Decimal("4.00"),
        "gamefilm_avg_closing_technique": Decimal("3.00"), "gamefilm_avg_next_steps_agreed": Decimal("4.00"),
        "gamefilm_weighted_avg": Decimal("4.00"), "gamefilm_review_count": 1, "gamefilm_last_score": Decimal("4.00"),
        "gamefilm_last_reviewed": clock_date(clock),
    }  # fmt: skip
    [call] = updates(loop, "call")
    assert call.record_id == call_id and call.fields["gamefilm_weighted_score"] == Decimal("4.00")
    assert call.fields["gamefilm_score_closing_technique"] == Decimal("3.00") and call.fields["gamefilm_rep_status"] == ENROLLED
    assert call.fields["gamefilm_rep_rolling_avg"] == Decimal("4.00")
    for command in updates(loop):  # suggestions are one-on-one: never on a deal, a call or a rep
        assert "Confirm the next meeting" not in repr(command)
    [ana] = [a for a in loop.ledger.of(TENANT, "rec:1", "peer") if a.reviewer_id == ANA]
    assert ana.status == DONE
    assert loop.ledger.reviewer_stats(TENANT, [REP])[REP].reviewed_calls == 1
    assert len(loop.ledger.reviews_of_deals(TENANT, ["d1"])) == 1
    loop.tick(hours=1)  # our own completion's task event and the tick change nothing
    assert len(updates(loop)) == 3


def clock_date(clock):
    return datetime.fromtimestamp(clock(), tz=timezone.utc).date()


def test_two_reviews_of_one_call_in_one_batch_roll_up_together_with_one_write_per_record(tmp_path, store, clock):
    loop = _reviewed_call(tmp_path, store, clock)
    deliver(loop, submitted(loop, "rec:1", ANA, scores(5, 4, 3, 4)), submitted(loop, "rec:1", BEN, scores(3, 3, 3, 2)), times=2)
    assert len(updates(loop, "task")) == 2  # each reviewer's own task
    [deal] = updates(loop, "deal")
    assert deal.fields["gamefilm_review_count"] == 2 and deal.fields["gamefilm_weighted_avg"] == Decimal("3.38")  # (4 + 2.75) / 2
    assert deal.fields["gamefilm_avg_discovery_questions"] == Decimal("4.00") and deal.fields["gamefilm_avg_next_steps_agreed"] == Decimal("3.00")
    [call] = updates(loop, "call")
    assert call.fields["gamefilm_weighted_score"] == Decimal("3.38") and call.fields["gamefilm_rep_rolling_avg"] == Decimal("3.38")


def test_an_edit_rewrites_the_numbers_once(tmp_path, store, clock):
    loop = _reviewed_call(tmp_path, store, clock)
    deliver(loop, submitted(loop, "rec:1", ANA, scores(5, 4, 3, 4)))
    loop.clock.advance(600)
    deliver(loop, submitted(loop, "rec:1", ANA, scores(2)), times=2)
    deals = updates(loop, "deal")
    assert [d.fields["gamefilm_weighted_avg"] for d in deals] == [Decimal("4.00"), Decimal("2.00")]
    assert deals[-1].fields["gamefilm_review_count"] == 1 and len(updates(loop, "task")) == 1


def test_invalid_reviews_are_recorded_with_the_reason_and_change_nothing(tmp_path, store, clock):
    loop = _reviewed_call(tmp_path, store, clock)
    deliver(loop, submitted(loop, "rec:1", CY, scores(5)))  # not assigned
    deliver(loop, submitted(loop, "rec:1", ANA, scores(5), strengths=""))  # strengths missing
    assert updates(loop) == []
    rejected = [r for r in loop.ledger.reviews.values() if r.status == REVIEW_REJECTED]
    assert sorted(r.reason for r in rejected) == ["strengths: required: say what went well first",
                                                  "the reviewer is not assigned this review task"]  # fmt: skip
    assert loop.ledger.reviews_of_deals(TENANT, ["d1"]) == []
    [ana] = [a for a in loop.ledger.of(TENANT, "rec:1", "peer") if a.reviewer_id == ANA]
    assert ana.status == "open"


def test_graduation_stops_peer_reviews_and_re_enrolment_brings_them_back(tmp_path, store, clock):
    rubric = {"reviews_to_graduate": 2, "window": 2, "mastery_bar": 4}
    loop = make_loop(tmp_path, store, clock, reviewers_per_call=1, grace_hours=0, weekly_cap=50, rubric=rubric)
    for n in range(1, 5):
        loop.deliver(recording(f"rec:{n}", "buyer@globex.com"), times=1)
    loop.tick(hours=1)  # grace 0: peers for all four calls
    reviewer = {n: loop.ledger.of(TENANT, f"rec:{n}", "peer")[0].reviewer_id for n in range(1, 5)}
    for n in (1, 2):
        loop.clock.advance(60)
        deliver(loop, submitted(loop, f"rec:{n}", reviewer[n], scores(5)))
    assert loop.ledger.standings(TENANT)[REP].status == GRADUATED
    loop.deliver(recording("rec:5", "buyer@globex.com"), times=1)
    loop.tick(hours=1)
    assert loop.ledger.of(TENANT, "rec:5", "peer") == []  # graduated: no mandatory peer reviews
    for n in (3, 4):
        loop.clock.advance(60)
        deliver(loop, submitted(loop, f"rec:{n}", reviewer[n], scores(2)))
    standing = loop.ledger.standings(TENANT)[REP]
    assert standing.status == ENROLLED and standing.reason.startswith("re-enrolled: the rolling average stayed below the mastery bar 4")
    loop.deliver(recording("rec:6", "buyer@globex.com"), times=1)
    loop.tick(hours=1)
    assert len(loop.ledger.of(TENANT, "rec:6", "peer")) == 1
    [latest] = [c for c in updates(loop, "call")][-1:]
    assert latest.fields["gamefilm_rep_status"] == ENROLLED


def test_a_self_assessment_starts_the_peers_and_counts_toward_nothing(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock)
    loop.deliver(recording("rec:1", "buyer@globex.com"), times=1)
    deliver(loop, submitted(loop, "rec:1", REP, scores(5), self_assessment=True), times=2)
    assert len(loop.ledger.of(TENANT, "rec:1", "peer")) == 2 and len(loop.tasks("peer")) == 2
    assert len(updates(loop, "task")) == 1 and updates(loop, "deal") == []


def test_salesforce_scores_land_on_the_record_the_opportunity_and_the_rep(tmp_path, store, clock):
    loop = _reviewed_call(tmp_path, store, clock, salesforce=True)
    deliver(loop, submitted(loop, "rec:1", ANA, scores(5, 4, 3, 4), crm_review_id="a0X000000000001"), times=3, crm="salesforce")
    [task] = updates(loop, "Task")
    assert dict(task.fields) == {"Status": "Completed"}
    [record] = updates(loop, "Call_Review__c")
    assert record.record_id == "a0X000000000001" and dict(record.fields) == {"Weighted_Score__c": Decimal("4.00"), "GameFilm_Error__c": None}
    [opp] = updates(loop, "Opportunity")
    assert opp.fields["GameFilm_Avg_Discovery_Questions__c"] == Decimal("5.00") and opp.fields["GameFilm_Review_Count__c"] == 1
    [user] = updates(loop, "User")
    assert user.record_id == REP and user.fields["GameFilm_Rolling_Avg__c"] == Decimal("4.00") and user.fields["GameFilm_Status__c"] == ENROLLED
    assert updates(loop, "call") == []
    [share] = [c for c in loop.crm.written if isinstance(c, ShareRecord)]  # Private record, owned by Ana: the rep may read it
    assert (share.key, share.share_object, share.record_id, share.user_id, share.access_level) == (
        f"share#{TENANT}#a0X000000000001#{REP}", "Call_Review__Share", "a0X000000000001", REP, "Read")


def test_the_reps_own_self_assessment_is_not_shared_with_them(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock, salesforce=True)
    loop.deliver(recording("rec:1", "buyer@globex.com"), times=1)
    deliver(loop, submitted(loop, "rec:1", REP, scores(4), self_assessment=True, crm_review_id="a0X000000000000"), times=2, crm="salesforce")
    assert [r.record_id for r in updates(loop, "Call_Review__c")] == ["a0X000000000000"]
    assert [c for c in loop.crm.written if isinstance(c, ShareRecord)] == []


def test_an_invalid_salesforce_review_is_recorded_and_the_reason_written_on_the_record(tmp_path, store, clock):
    loop = _reviewed_call(tmp_path, store, clock, salesforce=True)
    deliver(loop, submitted(loop, "rec:1", REP, scores(5), crm_review_id="a0X000000000009"), times=2, crm="salesforce")  # the rep on their own call
    [error] = updates(loop)
    assert error.object_type == "Call_Review__c" and error.record_id == "a0X000000000009"
    assert error.fields == {"GameFilm_Error__c": "Not counted: the reviewer is not assigned this review task"}
    [rejected] = [r for r in loop.ledger.reviews.values() if r.status == REVIEW_REJECTED]
    assert rejected.reason == "the reviewer is not assigned this review task" and loop.ledger.standings(TENANT) == {}


def test_the_weekly_digest_is_posted_once_with_successes_only(tmp_path, store, clock):
    loop = _reviewed_call(tmp_path, store, clock, digest_record="d9")
    loop.deliver(recording("rec:2", "buyer@globex.com", consent=False), times=1)  # private: never in a digest
    deliver(loop, submitted(loop, "rec:1", ANA, scores(5, 4, 3, 4), strengths="Named the buyer's pain in their words"),
            submitted(loop, "rec:1", BEN, scores(4), strengths="Clear next step"))  # fmt: skip
    loop.tick(hours=24)
    assert [c for c in loop.crm.written if isinstance(c, AddNote)] == []  # the week is not over
    for _ in range(3):
        loop.tick(hours=6 * 24)  # next week's ticks: one digest of last week
    [digest] = [c for c in loop.crm.written if isinstance(c, AddNote)]
    assert digest.key == f"digest#{TENANT}#2026-W48" and digest.record_id == "d9"
    assert "Discovery with Globex" in digest.body and "by Rep: 4.00 of 5" in digest.body and "https://rec.example.com/rec:1" in digest.body
    assert "Named the buyer's pain in their words" in digest.body and "Clear next step" in digest.body
    assert "Confirm the next meeting" not in digest.body and "rec:2" not in digest.body


def test_the_rubric_comes_from_config_errors_name_the_key_and_tasks_name_its_criteria(tmp_path, store, clock):
    from tests.test_game_film_wiring import _config

    with pytest.raises(ConfigError) as err:
        _config({"rubric": {"criteria": [{"key": "rapport", "weight": 0}], "window": 0}})
    assert "tenants[acme-hubspot].rules.game_film.rubric.criteria[rapport].weight: must be greater than 0 and at most 100" in str(err.value)
    assert "tenants[acme-hubspot].rules.game_film.rubric.window: Must be greater than or equal to 1" in str(err.value)
    rubric = {"scale": {"min": 1, "max": 10}, "mastery_bar": 8,
              "criteria": [{"key": "rapport", "label": "Rapport", "description": "Builds trust early."}, {"key": "closing", "weight": 2}]}  # fmt: skip
    loop = make_loop(tmp_path, store, clock, rubric=rubric, submit_url=None)
    loop.deliver(recording("rec:1", "buyer@globex.com"), times=1)
    [task] = loop.tasks("self")
    assert "Score the call from 1 to 10 on each rubric criterion:\n- Rapport: Builds trust early.\n- Closing\n" in task.body
    assert "Submit your review with the Game Film review card on the deal" in task.body


def test_an_older_version_delivered_after_the_edit_changes_nothing(tmp_path, store, clock):
    loop = _reviewed_call(tmp_path, store, clock)
    first = submitted(loop, "rec:1", ANA, scores(5, 4, 3, 4))
    loop.clock.advance(600)
    deliver(loop, submitted(loop, "rec:1", ANA, scores(2)))
    deliver(loop, first)
    assert [d.fields["gamefilm_weighted_avg"] for d in updates(loop, "deal")] == [Decimal("2.00")]
    [kept] = loop.ledger.reviews_of_deals(TENANT, ["d1"])
    assert kept.review["scores"]["discovery_questions"] == 2


def test_salesforce_orgs_without_user_fields_get_one_scorecard_per_rep(tmp_path, store, clock):
    loop = _reviewed_call(tmp_path, store, clock, salesforce=True, rep_scores="scorecard")
    deliver(loop, submitted(loop, "rec:1", ANA, scores(4), crm_review_id="a0X000000000001"), times=2, crm="salesforce")
    assert updates(loop, "User") == []
    [card] = [c for c in loop.crm.written if isinstance(c, UpsertRecord)]
    assert (card.object_type, card.id_field, card.id_value) == ("Rep_Scorecard__c", "GameFilm_Rep_Key__c", REP)
    assert card.fields["Rep__c"] == REP and card.fields["GameFilm_Rolling_Avg__c"] == Decimal("4.00")
