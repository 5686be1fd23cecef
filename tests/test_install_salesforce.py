"""`gamefilm install|verify|uninstall` on Salesforce: real simple-salesforce, Metadata API deploy
and checkDeployStatus SOAP plus REST describe/SOQL on `responses` (tests/salesforce_metadata_org.py)."""
from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest
import responses

from integration.components.build import apex_bodies
from integration.components.plan import DRIFT, MISSING, OK, InstallError
from integration.components.salesforce_installer import SalesforceInstaller
from integration.components.salesforce_source import members, package_xml
from integration.components.manifest import MANIFEST
from integration.review_record import review_fields
from integration.rubric import DEFAULT_RUBRIC
from tests.salesforce_metadata_org import INSTANCE, MD, USER_ID, MetadataOrg

PUBLIC_URL = "https://abc.execute-api.us-east-1.amazonaws.com/prod"
EVERYTHING = [f"{t} {n}" for t, names in members(MANIFEST).items() for n in names]


@pytest.fixture
def org():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        yield MetadataOrg(http)


@pytest.fixture
def progress() -> list[str]:
    return []


@pytest.fixture
def installer(org, progress) -> SalesforceInstaller:
    def connect():
        from simple_salesforce import Salesforce

        return Salesforce(instance_url=INSTANCE, session_id="session")

    return SalesforceInstaller(connect, apex_bodies(), integration_user="gamefilm@acme.example", public_base_url=PUBLIC_URL, progress=progress.append, sleep=lambda s: None)


def install(installer: SalesforceInstaller) -> list[str]:
    return installer.install(installer.plan(installer.verify()))


def test_first_install_deploys_the_whole_manifest_with_its_stamp_then_assigns_the_permission_set(org, installer, progress):
    assert {c.status for c in installer.verify()} == {MISSING}
    done = install(installer)
    assert sorted(done) == sorted(EVERYTHING + ["assigned GameFilm_Integration"])
    [deploy] = org.deploys
    assert deploy["files"]["package.xml"] == package_xml({**members(MANIFEST), "StaticResource": ["GameFilm_Install"]})
    assert deploy["options"]["rollbackOnError"] == "True" and deploy["options"]["testLevel"] == "RunSpecifiedTests"
    assert "GameFilmCalloutTest" in deploy["files"]["classes/GameFilmCalloutTest.cls"]
    assert org.stamp == members(MANIFEST)
    assert list(org.assignments.values()) == [(USER_ID, "GameFilm_Integration")]
    assert progress[:2] == [f"deploying {len(EVERYTHING)} component(s): InProgress (0/3 components)", f"deploying {len(EVERYTHING)} component(s): Succeeded (3/3 components)"]
    assert {c.status for c in installer.verify()} == {OK}
    assert all(c.owned for c in installer.verify())


def test_rerun_changes_nothing(org, installer):
    install(installer)
    assert install(installer) == []
    assert len(org.deploys) == 1 and len(org.assignments) == 1


def test_partially_existing_deploys_only_the_rest_and_reports_drift_field_by_field(org, installer):
    org.add_field("Activity.GameFilm_Key__c", type="Text", label="Game Film Key", length="80", externalId="true", unique="false")
    org.components["ApexClass GameFilmCallout"] = {}
    checks = {c.component: c for c in installer.verify()}
    key = checks["CustomField Activity.GameFilm_Key__c"]
    assert key.status == DRIFT and key.details == ("length: 100 expected, 80 found", "unique: True expected, False found")
    assert checks["ApexClass GameFilmCallout"].status == OK
    install(installer)
    deployed = org.deploys[0]["files"]["package.xml"]
    assert "GameFilm_Key__c" not in deployed and "<members>GameFilmCallout</members>" not in deployed
    assert "Activity.GameFilm_Recording_Id__c" in deployed
    assert "Activity.GameFilm_Key__c" not in org.stamp["CustomField"] and "GameFilmCallout" not in org.stamp["ApexClass"]


def test_one_failing_component_rolls_back_and_claims_nothing(org, installer):
    org.fail_component = "Activity.GameFilm_Recording_Id__c"
    with pytest.raises(InstallError) as caught:
        install(installer)
    message = str(caught.value)
    assert "rolled back, nothing was installed" in message
    assert "CustomField objects/Activity.object: Cannot create a unique field" in message
    assert org.stamp is None and org.components == {} and org.assignments == {}
    org.fail_component = None
    install(installer)  # fixed: the re-run installs everything
    assert {c.status for c in installer.verify()} == {OK}


def test_uninstall_removes_only_stamped_components_and_keeps_fields_holding_data(org, installer):
    org.add_field("Activity.GameFilm_Key__c", type="Text", label="Game Film Key", length="100", externalId="true", unique="true")
    install(installer)
    org.task_values["GameFilm_Recording_Id__c"] = 12
    steps = installer.uninstall_plan()
    actions = {s.component: s.action for s in steps}
    assert "CustomField Activity.GameFilm_Key__c" not in actions  # the admin made it
    assert actions["CustomField Activity.GameFilm_Recording_Id__c"] == "keep"
    installer.uninstall(steps)
    destructive = org.deploys[-1]["files"]["destructiveChanges.xml"]
    assert "GameFilm_Key__c" not in destructive and "GameFilm_Recording_Id__c" not in destructive
    assert "<members>GameFilm_Integration</members>" in destructive
    assert set(org.components) == {"CustomField Activity.GameFilm_Key__c", "CustomField Activity.GameFilm_Recording_Id__c"}
    assert org.stamp == {"CustomField": ["Activity.GameFilm_Recording_Id__c"]}  # still ours, still listed
    assert org.assignments == {}


def test_a_deploy_that_does_not_finish_in_time_says_where_to_follow_it(org, installer, progress):
    org.stuck = True
    installer.max_polls = 3
    with pytest.raises(InstallError, match=r"deploy 0Af000000000001AAA did not finish in 6 s; follow it in Setup > Deployment Status, then run verify"):
        install(installer)
    assert progress == [f"deploying {len(EVERYTHING)} component(s): InProgress (0/3 components)"] * 3
    assert org.assignments == {}  # nothing assigned before the deploy is known to have landed


def test_the_review_objects_deploy_with_their_fields_and_verify_through_their_describe(org, installer):
    checks = {c.component: c for c in installer.verify()}
    assert checks["CustomObject Call_Review__c"].status == MISSING  # describe answered 404
    install(installer)
    from xml.etree import ElementTree as ET

    object_xml = ET.fromstring(org.deploys[0]["files"]["objects/Call_Review__c.object"])
    md = "{http://soap.sforce.com/2006/04/metadata}"
    assert object_xml.findtext(f"{md}sharingModel") == "Private" and object_xml.findtext(f"{md}nameField/{md}type") == "AutoNumber"
    assert "Call_Review__c.Objection_Handling__c" in org.stamp["CustomField"] and org.stamp["CustomObject"] == ["Call_Review__c", "Rep_Scorecard__c"]
    org.components["CustomField Opportunity.GameFilm_Weighted_Avg__c"]["precision"] = "3"
    drifted = {c.component: c for c in installer.verify()}["CustomField Opportunity.GameFilm_Weighted_Avg__c"]
    assert drifted.status == DRIFT and drifted.details == ("precision: 5 expected, 3 found",)


def test_uninstall_keeps_a_review_object_holding_records_and_deletes_an_empty_one_with_its_fields(org, installer):
    install(installer)
    org.record_values["Call_Review__c"] = 4
    steps = {s.component: s for s in installer.uninstall_plan()}
    assert steps["CustomObject Call_Review__c"].action == "keep" and steps["CustomField Call_Review__c.Strengths__c"].action == "keep"
    assert "4 Call_Review__c record(s) exist" in steps["CustomObject Call_Review__c"].why
    assert steps["CustomObject Rep_Scorecard__c"].action == "remove"
    installer.uninstall(list(steps.values()))
    destructive = org.deploys[-1]["files"]["destructiveChanges.xml"]
    assert "<members>Rep_Scorecard__c</members>" in destructive and "Rep_Scorecard__c.Rep__c" not in destructive  # its fields go with it
    assert "<members>Call_Review__c</members><name>CustomObject" not in destructive and "<members>Call_Review__c.Strengths__c" not in destructive
    assert "<members>Call_Review__c.GameFilm_Review</members><name>WorkflowOutboundMessage" in destructive  # the notification stops, the data stays
    assert "<name>Workflow</name>" not in destructive
    assert not [c for c in org.components if c.startswith("CustomField Rep_Scorecard__c.")]
    assert "Call_Review__c" in org.stamp["CustomObject"] and "Call_Review__c.Strengths__c" in org.stamp["CustomField"]


def test_reports_quick_action_and_report_type_verify_through_their_apis_and_a_missing_one_is_redeployed_alone(org, installer):
    install(installer)
    files = org.deploys[0]["files"]
    assert {"reports/GameFilm-meta.xml", "reports/GameFilm/Leaderboard.report", "reportTypes/Call_Reviews.reportType",
            "quickActions/Opportunity.New_Call_Review.quickAction"} <= set(files)  # fmt: skip
    assert "<reportType>Call_Reviews__c</reportType>" in files["reports/GameFilm/Leaderboard.report"]
    del org.components["Report GameFilm/Leaderboard"]  # an admin deleted the report
    checks = {c.component: c.status for c in installer.verify()}
    assert checks["Report GameFilm/Leaderboard"] == MISSING and checks["Report GameFilm/"] == OK
    assert checks["ReportType Call_Reviews"] == OK and checks["QuickAction Opportunity.New_Call_Review"] == OK
    install(installer)
    assert package_xml({"Report": ["GameFilm/Leaderboard"], "StaticResource": ["GameFilm_Install"]}) == org.deploys[-1]["files"]["package.xml"]


def test_the_deployed_outbound_message_goes_to_the_tenants_endpoint_as_its_integration_user_and_the_flow_sends_it(org, installer):
    install(installer)
    [deploy] = org.deploys
    workflow = ET.fromstring(deploy["files"]["workflows/Call_Review__c.workflow"])
    [message] = workflow.findall(f"{MD}outboundMessages")
    assert message.findtext(f"{MD}fullName") == "GameFilm_Review"
    assert message.findtext(f"{MD}endpointUrl") == f"{PUBLIC_URL}/hooks/salesforce/outbound"
    assert message.findtext(f"{MD}integrationUser") == "gamefilm@acme.example"
    assert [f.text for f in message.findall(f"{MD}fields")] == list(review_fields(DEFAULT_RUBRIC))
    flow = ET.fromstring(deploy["files"]["flows/GameFilm_Call_Review_Notify.flow"])
    assert (flow.findtext(f"{MD}actionCalls/{MD}actionType"), flow.findtext(f"{MD}actionCalls/{MD}actionName")) == ("outboundMessage", "Call_Review__c.GameFilm_Review")
    assert (flow.findtext(f"{MD}start/{MD}object"), flow.findtext(f"{MD}start/{MD}recordTriggerType"), flow.findtext(f"{MD}start/{MD}triggerType")) == (
        "Call_Review__c", "CreateAndUpdate", "RecordAfterSave")
    assert flow.findtext(f"{MD}start/{MD}filterFormula") == "{!$User.Username} <> 'gamefilm@acme.example'"  # its own write-back never loops
    assert {"Flow GameFilm_Call_Review_Notify", "WorkflowOutboundMessage Call_Review__c.GameFilm_Review", "Workflow Call_Review__c"} <= {
        c.component for c in installer.verify() if c.status == OK}


def test_without_the_public_url_nothing_is_deployed_and_the_error_names_the_key(org, progress):
    from simple_salesforce import Salesforce

    bare = SalesforceInstaller(lambda: Salesforce(instance_url=INSTANCE, session_id="session"), apex_bodies(), integration_user="gamefilm@acme.example",
                               progress=progress.append, sleep=lambda s: None)  # fmt: skip
    with pytest.raises(InstallError, match=r"intake\.public_base_url"):
        install(bare)
    assert org.deploys == []
