"""The manifest entries the review loop needs, generated from a rubric: each criterion is a
field (Salesforce) or property (HubSpot) in several places, so a tenant's own rubric yields
its own set. The names come from `integration.review.fields` (what the write-back sets) and
`integration.review_record` (what the Call_Review__c intake reads); a test checks both
against these entries.
"""
from __future__ import annotations

import dataclasses

from integration.components.kinds import (HubSpotGroup, HubSpotProperty, Manifest, SfField, SfFlow, SfObject, SfOutboundMessage, SfQuickAction, SfReport,
                                          SfReportFolder, SfReportType)  # fmt: skip
from integration.review.fields import SF_CALL_REVIEW, SF_REVIEW_ERROR, SF_SCORECARD, SF_SCORECARD_KEY, SF_SCORECARD_REP, SF_WEIGHTED_SCORE
from integration.review_record import CALL_FIELD, REVIEWER_FIELD, SELF_FIELD, criterion_field, review_fields
from integration.rubric import Rubric

LABEL_CHARS = 40  # Salesforce field labels


def _label(prefix: str, label: str) -> str:
    return f"{prefix}{label}"[:LABEL_CHARS]


def _score(obj: str, name: str, label: str, description: str) -> SfField:
    return SfField(obj, name, label, "Number", description, precision=5, scale=2)


def _count(obj: str, name: str, label: str, description: str) -> SfField:
    return SfField(obj, name, label, "Number", description, precision=6, scale=0)


def opportunity_fields(rubric: Rubric) -> tuple[SfField, ...]:
    per_criterion = tuple(
        _score("Opportunity", f"GameFilm_Avg_{criterion_field(c.key)}", _label("GF Avg ", c.label), f"Average peer score on {c.label} over the deal's reviewed calls.")
        for c in rubric.criteria
    )  # fmt: skip
    return per_criterion + (
        _score("Opportunity", "GameFilm_Weighted_Avg__c", "GF Weighted Avg", "Average weighted peer score over the deal's reviewed calls."),
        _count("Opportunity", "GameFilm_Review_Count__c", "GF Review Count", "Peer reviews scored on the deal's calls."),
        _score("Opportunity", "GameFilm_Last_Score__c", "GF Last Score", "Weighted score of the latest peer review."),
        SfField("Opportunity", "GameFilm_Last_Reviewed__c", "GF Last Reviewed", "Date", "Day of the latest peer review."),
    )  # fmt: skip


def rep_fields(obj: str, rubric: Rubric) -> tuple[SfField, ...]:
    """The rep's rolling numbers: on User, or on Rep_Scorecard__c with `rep_scores = "scorecard"`."""
    per_criterion = tuple(
        _score(obj, f"GameFilm_Rolling_{criterion_field(c.key)}", _label("GF Rolling ", c.label), f"The rep's average peer score on {c.label} over the rolling window.")
        for c in rubric.criteria
    )  # fmt: skip
    return per_criterion + (
        _score(obj, "GameFilm_Rolling_Avg__c", "GF Rolling Avg", "The rep's average weighted peer score over the rolling window."),
        _count(obj, "GameFilm_Peer_Reviews__c", "GF Peer Reviews", "Peer reviews the rep has received."),
        SfField(obj, "GameFilm_Status__c", "GF Status", "Text", "enrolled or graduated.", length=20),
        SfField(obj, "GameFilm_Status_Reason__c", "GF Status Reason", "Text", "Why the rep has this status.", length=255),
        SfField(obj, "GameFilm_Status_Since__c", "GF Status Since", "Date", "Day the status last changed."),
    )  # fmt: skip


def scorecard_fields(rubric: Rubric) -> tuple[SfField, ...]:
    return (
        SfField(SF_SCORECARD, SF_SCORECARD_REP, "Rep", "Lookup", "The rep this scorecard is about.", reference_to="User", relationship_name="GameFilm_Scorecards"),
        SfField(SF_SCORECARD, SF_SCORECARD_KEY, "Rep Key", "Text", "The rep's user id: scorecards are upserted on it.", length=18, external_id=True, unique=True),
    ) + rep_fields(SF_SCORECARD, rubric)  # fmt: skip


def call_review_fields(rubric: Rubric) -> tuple[SfField, ...]:
    o = SF_CALL_REVIEW
    per_criterion = tuple(
        SfField(o, criterion_field(c.key), c.label, "Number", (c.description or c.label)[:255], precision=2, scale=0) for c in rubric.criteria
    )  # fmt: skip
    return (
        SfField(o, "Opportunity__c", "Opportunity", "Lookup", "The deal the reviewed call belongs to.", reference_to="Opportunity", relationship_name="Call_Reviews"),
        SfField(o, REVIEWER_FIELD, "Reviewer", "Lookup", "Who reviewed the call.", reference_to="User", relationship_name="Call_Reviews_Given"),
        SfField(o, "Rep__c", "Rep", "Lookup", "Whose call was reviewed.", reference_to="User", relationship_name="Call_Reviews_Received"),
        SfField(o, CALL_FIELD, "Call External Id", "Text", "External id of the reviewed recording (zoom:<uuid>, rec:<id>).", length=255, external_id=True),
    ) + per_criterion + (
        _score(o, SF_WEIGHTED_SCORE, "Weighted Score", "Written by Game Film: the review's weighted score."),
        SfField(o, "Strengths__c", "Strengths", "LongTextArea", "What went well.", length=32768),
        SfField(o, "Suggestions__c", "Suggestions", "LongTextArea", "One or two suggestions, separated by a blank line.", length=32768),
        SfField(o, SELF_FIELD, "Self Assessment", "Checkbox", "The rep reviewing their own call."),
        SfField(o, "Improvement_Area__c", "Improvement Area", "Text", "The criterion key the rep works on next.", length=30),
        SfField(o, SF_REVIEW_ERROR, "GF Error", "Text", "Written by Game Film: why the review was not accepted.", length=255),
    )  # fmt: skip


OBJECTS = (
    SfObject(SF_CALL_REVIEW, "Call Review", "Call Reviews", "A peer or self review of a recorded call, scored on the rubric.", "Call Review", "CR-{000000}"),
    SfObject(SF_SCORECARD, "Rep Scorecard", "Rep Scorecards", "A rep's rolling review numbers (with rep_scores = \"scorecard\").", "Scorecard", "SC-{000000}"),
)  # fmt: skip


REPORT_FOLDER = "GameFilm"
REPORT_TYPE = "Call_Reviews"
THIS_QUARTER = "INTERVAL_CURRENT"  # the current fiscal quarter
CREATED = "CUST_CREATED_DATE"  # a custom report type's name for the base object's Created Date
REVIEW_TASKS = (("SUBJECT", "startsWith", "Game film:"),)  # the subjects integration.review.tasks writes
PEER_ONLY = ((f"{SF_CALL_REVIEW}.{SELF_FIELD}", "equals", "0"),)  # self-assessments never count


def quick_action(rubric: Rubric) -> SfQuickAction:
    layout = (CALL_FIELD, "Rep__c", REVIEWER_FIELD, "Strengths__c") + tuple(criterion_field(k) for k in rubric.keys)
    return SfQuickAction("Opportunity", "New_Call_Review", "New Call Review", SF_CALL_REVIEW, "Opportunity__c",
                         layout + ("Suggestions__c", SELF_FIELD, "Improvement_Area__c"), overrides=((REVIEWER_FIELD, "$User.Id"),))  # fmt: skip


def review_completion() -> SfReport:
    """Review tasks this quarter by assignee and status (done vs open; overdue = open past its
    due date). Custom report types cannot have Task as primary object, so this report uses the
    standard Tasks and Events report type (`Activity`) and its standard column names."""
    return SfReport(REPORT_FOLDER, "Review_Completion", "Review completion this quarter",
                    "Game Film review tasks due this fiscal quarter by reviewer and status.", "Activity", "ASSIGNED", (),
                    REVIEW_TASKS, "DUE_DATE", THIS_QUARTER, subgroupings=("STATUS",), details=("SUBJECT", "DUE_DATE"))  # fmt: skip


def reporting(rubric: Rubric) -> tuple[SfReportType, SfReportFolder, tuple[SfReport, ...]]:
    """The report type on Call_Review__c and its reports: the leaderboard (average weighted
    score by rep this quarter) and the scores by criterion by rep."""
    columns = tuple(f.name for f in call_review_fields(rubric))
    report_type = SfReportType(REPORT_TYPE, "Game Film Call Reviews", "Peer and self reviews of recorded calls with their scores.", SF_CALL_REVIEW, columns)
    rep = f"{SF_CALL_REVIEW}.Rep__c"
    criteria = tuple(f"{SF_CALL_REVIEW}.{criterion_field(k)}" for k in rubric.keys)
    reports = (
        SfReport(REPORT_FOLDER, "Leaderboard", "Leaderboard this quarter", "Average weighted peer score by rep, this fiscal quarter.",
                 f"{REPORT_TYPE}__c", rep, (f"{SF_CALL_REVIEW}.{SF_WEIGHTED_SCORE}",), PEER_ONLY, CREATED, THIS_QUARTER),
        SfReport(REPORT_FOLDER, "Scores_By_Criterion", "Scores by criterion by rep", "Average peer score on each criterion by rep, this fiscal quarter.",
                 f"{REPORT_TYPE}__c", rep, criteria, PEER_ONLY, CREATED, THIS_QUARTER),
        review_completion(),
    )  # fmt: skip
    return report_type, SfReportFolder(REPORT_FOLDER, "Game Film"), reports


OUTBOUND_PATH = "/hooks/salesforce/outbound"  # handlers.salesforce


def notification(rubric: Rubric) -> tuple[SfOutboundMessage, SfFlow]:
    """Every created or edited review reaches Game Film as an outbound message carrying the
    fields the intake reads (Salesforce retries it until the endpoint acknowledges)."""
    message = SfOutboundMessage(SF_CALL_REVIEW, "GameFilm_Review", "Game Film Review", "Sends a created or edited call review to Game Film.",
                                review_fields(rubric), OUTBOUND_PATH)  # fmt: skip
    flow = SfFlow("GameFilm_Call_Review_Notify", "Game Film Call Review Notify", "On each created or edited call review, sends it to Game Film.",
                  SF_CALL_REVIEW, message.full_name)  # fmt: skip
    return message, flow


def _hs_number(obj: str, name: str, label: str, description: str) -> HubSpotProperty:
    return HubSpotProperty(obj, name, label, "number", "number", "gamefilm", description)


def hubspot_properties(rubric: Rubric) -> tuple[HubSpotProperty, ...]:
    deals = tuple(_hs_number("deals", f"gamefilm_avg_{c.key}", f"GF avg {c.label}", f"Average peer score on {c.label} over the deal's reviewed calls.") for c in rubric.criteria)
    deals += (
        _hs_number("deals", "gamefilm_weighted_avg", "GF weighted avg", "Average weighted peer score over the deal's reviewed calls."),
        _hs_number("deals", "gamefilm_review_count", "GF review count", "Peer reviews scored on the deal's calls."),
        _hs_number("deals", "gamefilm_last_score", "GF last score", "Weighted score of the latest peer review."),
        HubSpotProperty("deals", "gamefilm_last_reviewed", "GF last reviewed", "date", "date", "gamefilm", "Day of the latest peer review."),
    )  # fmt: skip
    calls: tuple[HubSpotProperty, ...] = (_hs_number("calls", "gamefilm_weighted_score", "GF weighted score", "The call's average weighted peer score."),)
    calls += tuple(_hs_number("calls", f"gamefilm_score_{c.key}", f"GF score {c.label}", f"The call's average peer score on {c.label}.") for c in rubric.criteria)
    calls += (_hs_number("calls", "gamefilm_rep_rolling_avg", "GF rep rolling avg", "The rep's rolling weighted average as of this call."),)
    calls += tuple(_hs_number("calls", f"gamefilm_rep_rolling_{c.key}", f"GF rep rolling {c.label}", f"The rep's rolling average on {c.label} as of this call.") for c in rubric.criteria)
    calls += (HubSpotProperty("calls", "gamefilm_rep_status", "GF rep status", "string", "text", "gamefilm", "enrolled or graduated, as of this call."),)
    return deals + calls


def review_manifest(rubric: Rubric) -> Manifest:
    fields = opportunity_fields(rubric) + rep_fields("User", rubric) + call_review_fields(rubric) + scorecard_fields(rubric)
    report_type, folder, reports = reporting(rubric)
    message, flow = notification(rubric)
    return Manifest(sf_objects=OBJECTS, sf_fields=fields, sf_quick_actions=(quick_action(rubric),), sf_report_types=(report_type,),
                    sf_report_folders=(folder,), sf_reports=reports, sf_outbound_messages=(message,), sf_flows=(flow,), hubspot_groups=(HubSpotGroup("deals", "gamefilm", "Game Film"),),
                    hubspot_properties=hubspot_properties(rubric))  # fmt: skip


def merged(base: Manifest, extra: Manifest) -> Manifest:
    """`base` followed by `extra`, kind by kind."""
    return Manifest(**{f.name: getattr(base, f.name) + getattr(extra, f.name) for f in dataclasses.fields(Manifest)})
