"""The review form: its order as data, accepted submissions, and every bad submission refused
with the field named and nothing accepted."""
from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from integration.ledger import CANCELLED, DONE, OPEN, PEER, SELF, Assignment, RecordingEntry
from integration.recordings import TaskState
from integration.review_form import ReviewTask, SubmissionError, ValidReview, form_fields, validate_submission
from integration.rubric import DEFAULT_RUBRIC

REP, PEER_ID, OTHER = "005REP", "005PEER", "005OTHER"
PEER_TASK = ReviewTask("00TPEER", PEER, assignee_id=PEER_ID, rep_id=REP, open=True, call_external_id="zoom:abc", deal_id="006D1")
SELF_TASK = replace(PEER_TASK, task_id="00TSELF", kind=SELF, assignee_id=REP)
SCORES = {"discovery_questions": 4, "objection_handling": 3, "closing_technique": 5, "next_steps_agreed": 2}
GOOD_PEER = {"strengths": "  Great discovery: you let the buyer talk.  ", "scores": SCORES, "suggestions": ["Confirm the date of the next call."]}
GOOD_SELF = {"scores": SCORES, "improvement_area": "next_steps_agreed", "improvement_note": "Book the follow-up before hanging up."}


def refused(task, submitter, payload):
    with pytest.raises(SubmissionError) as info:
        validate_submission(DEFAULT_RUBRIC, task, submitter, payload)
    return info.value.status, info.value.errors


# --- the form as data --------------------------------------------------------------------------


def test_the_peer_form_asks_what_went_well_first_then_scores_then_at_most_two_suggestions():
    fields = form_fields(DEFAULT_RUBRIC, PEER)
    assert [f.name for f in fields] == ["strengths", "scores.discovery_questions", "scores.objection_handling",
                                        "scores.closing_technique", "scores.next_steps_agreed", "suggestions"]  # fmt: skip
    strengths, first_score, *_, suggestions = fields
    assert (strengths.label, strengths.kind, strengths.required) == ("What went well", "text", True)
    assert (first_score.label, first_score.kind, first_score.min, first_score.max) == ("Discovery questions", "score", 1, 5)
    assert first_score.help.endswith("(1 to 5)")
    assert (suggestions.kind, suggestions.required, suggestions.max) == ("suggestions", False, 2)


def test_the_self_assessment_asks_for_scores_and_one_area_to_improve():
    fields = form_fields(DEFAULT_RUBRIC, SELF)
    assert [f.name for f in fields][-2:] == ["improvement_area", "improvement_note"]
    assert all(f.kind == "score" for f in fields[:4]) and "strengths" not in [f.name for f in fields]
    area = fields[-2]
    assert area.required and area.choices[0] == ("discovery_questions", "Discovery questions") and len(area.choices) == 4


# --- accepted ------------------------------------------------------------------------------------


def test_a_peer_review_is_accepted_with_its_weighted_score():
    review = validate_submission(DEFAULT_RUBRIC, PEER_TASK, PEER_ID, GOOD_PEER)
    assert review == ValidReview(
        task_id="00TPEER", call_external_id="zoom:abc", deal_id="006D1", rep_id=REP, reviewer_id=PEER_ID,
        self_assessment=False, scores=SCORES, weighted_score=Decimal("3.50"),
        strengths="Great discovery: you let the buyer talk.", suggestions=("Confirm the date of the next call.",),
    )  # fmt: skip
    scored = review.to_review("rev-1", datetime(2026, 11, 2, tzinfo=timezone.utc))
    assert (scored.review_id, scored.rep_id, scored.reviewer_id, scored.deal_id, scored.self_assessment) == ("rev-1", REP, PEER_ID, "006D1", False)


def test_an_html_form_post_is_accepted_too_blank_suggestion_boxes_are_not_suggestions():
    form = {"strengths": "Clear agenda", "suggestions": ["", "Pause after the price."], "self_assessment": "false",
            **{f"scores.{k}": str(v) for k, v in SCORES.items()}}  # fmt: skip
    review = validate_submission(DEFAULT_RUBRIC, PEER_TASK, PEER_ID, form)
    assert review.scores == SCORES and review.suggestions == ("Pause after the price.",)


def test_no_suggestion_and_a_single_suggestion_as_text_are_accepted():
    assert validate_submission(DEFAULT_RUBRIC, PEER_TASK, PEER_ID, {**GOOD_PEER, "suggestions": []}).suggestions == ()
    assert validate_submission(DEFAULT_RUBRIC, PEER_TASK, PEER_ID, {**GOOD_PEER, "suggestions": "Slow down"}).suggestions == ("Slow down",)
    two = validate_submission(DEFAULT_RUBRIC, PEER_TASK, PEER_ID, {**GOOD_PEER, "suggestions": ["Slow down", "Ask for the date"]})
    assert two.suggestions == ("Slow down", "Ask for the date")


def test_the_reps_self_assessment_is_accepted_with_one_improvement_area():
    review = validate_submission(DEFAULT_RUBRIC, SELF_TASK, REP, {**GOOD_SELF, "self_assessment": True})
    assert (review.self_assessment, review.reviewer_id, review.improvement_area, review.weighted_score) == (True, REP, "next_steps_agreed", Decimal("3.50"))
    assert review.improvement_note == "Book the follow-up before hanging up." and review.strengths == "" and review.suggestions == ()
    assert validate_submission(DEFAULT_RUBRIC, SELF_TASK, REP, {**GOOD_SELF, "improvement_area": ["closing_technique"]}).improvement_area == "closing_technique"


# --- who, and which task --------------------------------------------------------------------------


def test_the_rep_never_reviews_their_own_call():
    task = replace(PEER_TASK, assignee_id=REP)  # even if a task was assigned to them by mistake
    assert refused(task, REP, GOOD_PEER) == (403, {"reviewer": "a rep never reviews their own call; use your self-assessment task"})


def test_only_the_assignee_submits_a_peer_review():
    assert refused(PEER_TASK, OTHER, GOOD_PEER) == (403, {"reviewer": "only the reviewer the task is assigned to can submit this review"})


@pytest.mark.parametrize("task", [SELF_TASK, replace(SELF_TASK, assignee_id=PEER_ID)])
def test_only_the_rep_submits_the_self_assessment(task):
    assert refused(task, PEER_ID, GOOD_SELF) == (403, {"reviewer": "only the rep who made the call submits its self-assessment"})


def test_a_closed_task_takes_no_review():
    assert refused(replace(PEER_TASK, open=False), PEER_ID, GOOD_PEER) == (
        409, {"task": "this review task is no longer open (completed or cancelled); nothing was changed"})  # fmt: skip


def test_the_task_is_built_from_the_ledger_and_the_crm_task_completed_in_the_crm_wins():
    assignment = Assignment("acme", "zoom:abc", PEER_ID, PEER, "task#acme#zoom:abc#peer#005PEER", due_at=0.0, task_id="00TPEER")
    recording = RecordingEntry("acme", "zoom:abc", "attached", rep_user_id=REP, deal_id="006D1")
    assert ReviewTask.of(assignment, recording) == PEER_TASK
    assert not ReviewTask.of(assignment, recording, TaskState("00TPEER", completed=True)).open
    assert not ReviewTask.of(replace(assignment, status=DONE), recording).open
    assert not ReviewTask.of(replace(assignment, status=CANCELLED), recording).open
    assert ReviewTask.of(replace(assignment, status=OPEN, task_id=None), recording, TaskState("00TX", completed=False)).task_id == "00TX"


# --- every bad field ------------------------------------------------------------------------------

SCALE = "a whole number from 1 to 5"


@pytest.mark.parametrize(
    "change, errors",
    [
        ({"strengths": None}, {"strengths": "required: say what went well first"}),
        ({"strengths": "   "}, {"strengths": "required: say what went well first"}),
        ({"strengths": ["good"]}, {"strengths": "must be text"}),
        ({"strengths": "x" * 2001}, {"strengths": "at most 2000 characters"}),
        ({"scores": {**SCORES, "closing_technique": None}}, {"scores.closing_technique": f"required: {SCALE}"}),
        ({"scores": {k: v for k, v in SCORES.items() if k != "objection_handling"}}, {"scores.objection_handling": f"required: {SCALE}"}),
        ({"scores": {**SCORES, "closing_technique": 0}}, {"scores.closing_technique": f"must be {SCALE}"}),
        ({"scores": {**SCORES, "closing_technique": 6}}, {"scores.closing_technique": f"must be {SCALE}"}),
        ({"scores": {**SCORES, "closing_technique": 4.5}}, {"scores.closing_technique": f"must be {SCALE}"}),
        ({"scores": {**SCORES, "closing_technique": 4.0}}, {"scores.closing_technique": f"must be {SCALE}"}),
        ({"scores": {**SCORES, "closing_technique": "4.5"}}, {"scores.closing_technique": f"must be {SCALE}"}),
        ({"scores": {**SCORES, "closing_technique": True}}, {"scores.closing_technique": f"must be {SCALE}"}),
        ({"scores": {**SCORES, "closing_technique": "great"}}, {"scores.closing_technique": f"must be {SCALE}"}),
        ({"scores": {**SCORES, "closing_technique": 10**40}}, {"scores.closing_technique": f"must be {SCALE}"}),
        ({"scores": {**SCORES, "rapport": 5}},
         {"scores.rapport": "not a criterion of the rubric: discovery_questions, objection_handling, closing_technique, next_steps_agreed"}),
        ({"scores": [4, 3, 5, 2]}, {"scores": "must be an object of criterion: score"}),
        ({"scores.closing_technique": 5}, {"scores": "give the scores either as one object or as scores.<criterion> fields, not both"}),
        ({"suggestions": ["a", "b", "c"]}, {"suggestions": "at most 2 suggestions: pick the one or two that matter most"}),
        ({"suggestions": ["- slow down\n- ask more\n- close harder"]}, {"suggestions[0]": "one idea per suggestion, not a list"}),
        ({"suggestions": ["", "1. slow down\n2. ask more"]}, {"suggestions[1]": "one idea per suggestion, not a list"}),
        ({"suggestions": ["ok", "y" * 501]}, {"suggestions[1]": "at most 500 characters"}),
        ({"suggestions": [1, 2]}, {"suggestions": "must be one or two suggestions as text"}),
        ({"suggestions": {"first": "x"}}, {"suggestions": "must be one or two suggestions as text"}),
        ({"improvement_area": "closing_technique"}, {"improvement_area": "only the rep's self-assessment names an improvement area"}),
        ({"comment": "hi"}, {"comment": "unknown field"}),
        ({"k" * 5000: "hi"}, {"k" * 64: "unknown field"}),
        ({"self_assessment": True}, {"self_assessment": "this task is a peer review"}),
        ({"self_assessment": "maybe"}, {"self_assessment": "must be true or false"}),
    ],
)  # fmt: skip
def test_each_bad_peer_field_is_named_and_nothing_is_accepted(change, errors):
    payload = {k: v for k, v in {**GOOD_PEER, **change}.items() if v is not None or k == "strengths"}
    assert refused(PEER_TASK, PEER_ID, payload) == (400, errors)


@pytest.mark.parametrize(
    "change, errors",
    [
        ({"improvement_area": None}, {"improvement_area": "required: name exactly one area to improve"}),
        ({"improvement_area": ["closing_technique", "next_steps_agreed"]}, {"improvement_area": "name exactly one area to improve"}),
        ({"improvement_area": []}, {"improvement_area": "name exactly one area to improve"}),
        ({"improvement_area": "rapport"},
         {"improvement_area": "must be one of the rubric's criteria: discovery_questions, objection_handling, closing_technique, next_steps_agreed"}),
        ({"improvement_note": "z" * 501}, {"improvement_note": "at most 500 characters"}),
        ({"strengths": "I was great"}, {"strengths": "a self-assessment asks for scores and one improvement_area, not strengths"}),
        ({"suggestions": ["more"]}, {"suggestions": "a self-assessment asks for scores and one improvement_area, not suggestions"}),
        ({"scores": {}}, {f"scores.{k}": f"required: {SCALE}" for k in SCORES}),
        ({"self_assessment": False}, {"self_assessment": "this task is the rep's self-assessment"}),
    ],
)  # fmt: skip
def test_each_bad_self_assessment_field_is_named(change, errors):
    assert refused(SELF_TASK, REP, {**GOOD_SELF, **change}) == (400, errors)


def test_every_problem_is_reported_at_once():
    status, errors = refused(PEER_TASK, PEER_ID, {"scores": {"discovery_questions": 9}, "suggestions": ["a", "b", "c"], "x": 1})
    assert status == 400 and set(errors) == {"x", "strengths", "suggestions", "scores.discovery_questions", "scores.objection_handling",
                                             "scores.closing_technique", "scores.next_steps_agreed"}  # fmt: skip


@pytest.mark.parametrize("payload", [None, [], "strengths=good", 42])
def test_a_body_that_is_not_an_object_is_refused(payload):
    assert refused(PEER_TASK, PEER_ID, payload) == (400, {"body": "must be an object of the form's fields"})


def test_who_and_the_task_are_checked_before_the_fields_so_strangers_learn_nothing_about_them():
    assert refused(PEER_TASK, OTHER, {"garbage": True})[0] == 403
    assert refused(replace(PEER_TASK, open=False), PEER_ID, {"garbage": True})[0] == 409
