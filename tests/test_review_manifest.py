"""The manifest installs every field the review write-back sets and the Call_Review__c intake
reads, for the default rubric and a tenant's own; the permission set covers all of it."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from xml.etree import ElementTree as ET

import pytest

from integration.components.manifest import MANIFEST, Manifest, manifest_for
from integration.components.salesforce_source import source_files
from integration.review import fields
from integration.review_record import review_fields
from integration.rubric import DEFAULT_RUBRIC, Criterion, Rubric
from integration.scoring import DealRollup, RepStanding

MD = "{http://soap.sforce.com/2006/04/metadata}"
TENANT_RUBRIC = Rubric(criteria=(Criterion("pricing_confidence", "Pricing confidence", "States the price without apology.", Decimal(2)),
                                 Criterion("discovery_questions", "Discovery questions", "", Decimal(1))))  # fmt: skip


def _written(rubric: Rubric) -> dict[str, set[str]]:
    """object -> every field name the write-back sets, asked of integration.review.fields itself."""
    scores = {k: Decimal("3.5") for k in rubric.keys}
    rollup = DealRollup("006A", 2, scores, Decimal("3.5"), Decimal(4), date(2026, 11, 2), "a0X1")
    standing = RepStanding("005A", 5, 5, scores, Decimal("3.5"), "enrolled", 0, "below the bar")
    return {
        "Opportunity": set(fields.deal_fields("salesforce", rollup)),
        "User": set(fields.rep_fields("salesforce", standing, None)),
        fields.SF_SCORECARD: set(fields.rep_fields("salesforce", standing, None)) | {fields.SF_SCORECARD_KEY, fields.SF_SCORECARD_REP},
        fields.SF_CALL_REVIEW: {fields.SF_WEIGHTED_SCORE, fields.SF_REVIEW_ERROR} | (set(review_fields(rubric)) - {"Id", "LastModifiedDate"}),
        "deals": set(fields.deal_fields("hubspot", rollup)),
        "calls": set(fields.rep_fields("hubspot", standing, None)) | set(fields.call_fields(scores, Decimal(3))) | {"gamefilm_recording_id"},
    }


def _installed(manifest: Manifest) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in manifest.sf_fields:
        out.setdefault(f.object, set()).add(f.name)
    for p in manifest.hubspot_properties:
        out.setdefault(p.object, set()).add(p.name)
    return out


@pytest.mark.parametrize("rubric", [DEFAULT_RUBRIC, TENANT_RUBRIC], ids=["default", "tenant"])
def test_every_field_written_or_read_is_installed_and_nothing_else(rubric):
    installed = _installed(manifest_for(rubric))
    for obj, names in _written(rubric).items():
        assert installed[obj] == names, obj
    assert [g.object for g in manifest_for(rubric).hubspot_groups if g.name == "gamefilm"] == ["calls", "tasks", "deals"]


def test_call_review_is_a_private_autonumbered_object_with_its_lookups():
    files = source_files(MANIFEST)
    root = ET.fromstring(files["force-app/main/default/objects/Call_Review__c/Call_Review__c.object-meta.xml"])
    assert root.findtext(f"{MD}sharingModel") == "Private" and root.findtext(f"{MD}nameField/{MD}type") == "AutoNumber"
    assert root.findtext(f"{MD}enableReports") == "true" and root.findtext(f"{MD}pluralLabel") == "Call Reviews"
    lookups = {}
    for name in ("Opportunity__c", "Reviewer__c", "Rep__c"):
        xml = ET.fromstring(files[f"force-app/main/default/objects/Call_Review__c/fields/{name}.field-meta.xml"])
        lookups[name] = (xml.findtext(f"{MD}referenceTo"), xml.findtext(f"{MD}relationshipName"), xml.findtext(f"{MD}deleteConstraint"))
    assert lookups == {"Opportunity__c": ("Opportunity", "Call_Reviews", "SetNull"), "Reviewer__c": ("User", "Call_Reviews_Given", None),
                       "Rep__c": ("User", "Call_Reviews_Received", None)}  # fmt: skip
    score = ET.fromstring(files["force-app/main/default/objects/Call_Review__c/fields/Objection_Handling__c.field-meta.xml"])
    assert (score.findtext(f"{MD}type"), score.findtext(f"{MD}precision"), score.findtext(f"{MD}scale")) == ("Number", "2", "0")


def test_the_integration_permission_set_grants_every_field_and_both_objects():
    xml = ET.fromstring(source_files(MANIFEST)["force-app/main/default/permissionsets/GameFilm_Integration.permissionset-meta.xml"])
    granted = {p.findtext(f"{MD}field") for p in xml.findall(f"{MD}fieldPermissions") if p.findtext(f"{MD}editable") == "true"}
    assert granted == {f"{f.sobject}.{f.name}" for f in MANIFEST.sf_fields}
    objects = {p.findtext(f"{MD}object"): tuple(p.findtext(f"{MD}{k}") for k in ("allowCreate", "allowRead", "viewAllRecords", "modifyAllRecords"))
               for p in xml.findall(f"{MD}objectPermissions")}  # fmt: skip
    # Private objects owned by reviewers: the integration user reads them all (the poll), writes the
    # score back and shares each review with its rep, which takes View All and Modify All.
    assert objects == {"Call_Review__c": ("true",) * 4, "Rep_Scorecard__c": ("true",) * 4}


def test_the_quick_action_creates_a_review_on_the_opportunity_with_the_rubrics_fields():
    files = source_files(manifest_for(TENANT_RUBRIC))
    xml = ET.fromstring(files["force-app/main/default/quickActions/Opportunity.New_Call_Review.quickAction-meta.xml"])
    assert (xml.findtext(f"{MD}type"), xml.findtext(f"{MD}targetObject"), xml.findtext(f"{MD}targetParentField")) == ("Create", "Call_Review__c", "Opportunity__c")
    layout = [i.findtext(f"{MD}field") for i in xml.iter(f"{MD}quickActionLayoutItems")]
    assert layout == ["Call_External_Id__c", "Rep__c", "Reviewer__c", "Strengths__c", "Pricing_Confidence__c", "Discovery_Questions__c",
                      "Suggestions__c", "Self_Assessment__c", "Improvement_Area__c"]  # fmt: skip
    assert [(o.findtext(f"{MD}field"), o.findtext(f"{MD}formula")) for o in xml.findall(f"{MD}fieldOverrides")] == [("Reviewer__c", "$User.Id")]


def test_the_leaderboard_averages_peer_weighted_scores_by_rep_this_quarter():
    files = source_files(MANIFEST)
    xml = ET.fromstring(files["force-app/main/default/reports/GameFilm/Leaderboard.report-meta.xml"])
    assert [(c.findtext(f"{MD}field"), c.findtext(f"{MD}aggregateTypes")) for c in xml.findall(f"{MD}columns")] == [("Call_Review__c.Weighted_Score__c", "Average")]
    assert xml.findtext(f"{MD}groupingsDown/{MD}field") == "Call_Review__c.Rep__c" and xml.findtext(f"{MD}format") == "Summary"
    assert xml.findtext(f"{MD}timeFrameFilter/{MD}interval") == "INTERVAL_CURRENT"
    assert xml.findtext(f"{MD}filter/{MD}criteriaItems/{MD}column") == "Call_Review__c.Self_Assessment__c"
    by_criterion = ET.fromstring(files["force-app/main/default/reports/GameFilm/Scores_By_Criterion.report-meta.xml"])
    assert [c.findtext(f"{MD}field") for c in by_criterion.findall(f"{MD}columns")] == [
        "Call_Review__c.Discovery_Questions__c", "Call_Review__c.Objection_Handling__c", "Call_Review__c.Closing_Technique__c", "Call_Review__c.Next_Steps_Agreed__c"]
    report_type = ET.fromstring(files["force-app/main/default/reportTypes/Call_Reviews.reportType-meta.xml"])
    assert report_type.findtext(f"{MD}baseObject") == "Call_Review__c"
    assert {c.findtext(f"{MD}field") for c in report_type.iter(f"{MD}columns")} >= {"Rep__c", "Weighted_Score__c", "Objection_Handling__c", "Self_Assessment__c"}


def test_the_review_completion_report_counts_review_tasks_by_assignee_and_status_this_quarter():
    """Task cannot be a custom report type's primary object: the report is on the standard
    Tasks and Events type, filtered to the subjects the review tasks are created with."""
    xml = ET.fromstring(source_files(MANIFEST)["force-app/main/default/reports/GameFilm/Review_Completion.report-meta.xml"])
    assert xml.findtext(f"{MD}reportType") == "Activity" and xml.findtext(f"{MD}format") == "Summary"
    assert [g.findtext(f"{MD}field") for g in xml.findall(f"{MD}groupingsDown")] == ["ASSIGNED", "STATUS"]
    assert [(c.findtext(f"{MD}column"), c.findtext(f"{MD}operator"), c.findtext(f"{MD}value")) for c in xml.iter(f"{MD}criteriaItems")] == [
        ("SUBJECT", "startsWith", "Game film:")]
    assert xml.findtext(f"{MD}timeFrameFilter/{MD}dateColumn") == "DUE_DATE" and xml.findtext(f"{MD}timeFrameFilter/{MD}interval") == "INTERVAL_CURRENT"
    assert [c.findtext(f"{MD}aggregateTypes") for c in xml.findall(f"{MD}columns")] == [None, None]


def test_the_longest_criterion_key_still_makes_salesforce_field_names_of_at_most_40_characters():
    from integration.rubric import load_rubric

    longest = "k" * 23  # the rubric's limit
    rubric = load_rubric({"criteria": [{"key": longest, "label": "Longest", "weight": 1}]})
    names = [f.name.removesuffix("__c") for f in manifest_for(rubric).sf_fields]
    assert any(longest.capitalize() in n for n in names)
    assert max(len(n) for n in names) <= 40, [n for n in names if len(n) > 40]
