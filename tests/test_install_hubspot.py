"""`gamefilm install|verify|uninstall` on HubSpot: the real SDK against the loopback fake portal,
asserting the properties API requests as HubSpot documents them."""
from __future__ import annotations

import pytest

from integration.components.hubspot_installer import HubSpotInstaller
from integration.components.manifest import BASE, MANIFEST, OWNED_MARK, manifest_for
from integration.components.plan import DRIFT, MISSING, OK, InstallError
from integration.gateway.hubspot import HubSpotGateway
from tests.hubspot_server import HubSpotServer, error_reply, hubspot_server  # noqa: F401


PROPERTY = "/crm/v3/properties/calls"


@pytest.fixture(autouse=True)
def fresh_portal(hubspot_server: HubSpotServer) -> None:  # noqa: F811
    """A portal Game Film was never installed in (the fake portal seeds our call property)."""
    hubspot_server.properties.pop("calls", None)


@pytest.fixture
def gateway(hubspot_server: HubSpotServer):
    gateway = HubSpotGateway("t", host=hubspot_server.url, sleep=lambda s: None)
    yield gateway
    gateway.close()


@pytest.fixture
def installer(gateway):
    """The installer's mechanics on the base manifest (groups and the one unique property)."""
    return HubSpotInstaller(gateway.transport, BASE)


def writes(server: HubSpotServer) -> list[tuple[str, str, object]]:
    return [(r.method, r.path, r.body) for r in server.requests if r.method in ("POST", "DELETE") and "/search" not in r.path]


def install(installer: HubSpotInstaller) -> list[str]:
    return installer.install(installer.plan(installer.verify()))


def test_first_install_creates_groups_then_the_unique_property(hubspot_server, installer):
    assert {c.status for c in installer.verify()} == {MISSING}
    done = install(installer)
    assert done == ["calls group gamefilm", "tasks group gamefilm", "calls property gamefilm_recording_id"]
    assert writes(hubspot_server) == [
        ("POST", "/crm/v3/properties/calls/groups", {"name": "gamefilm", "label": "Game Film", "displayOrder": -1}),
        ("POST", "/crm/v3/properties/tasks/groups", {"name": "gamefilm", "label": "Game Film", "displayOrder": -1}),
        ("POST", PROPERTY, {"label": "Game Film recording id", "hasUniqueValue": True, "description": f"External id of the recording this call holds: calls are upserted on it. {OWNED_MARK}",
                            "type": "string", "name": "gamefilm_recording_id", "groupName": "gamefilm", "fieldType": "text"}),
    ]  # fmt: skip
    assert [c.status for c in installer.verify()] == [OK, OK, OK]


def test_rerun_changes_nothing(hubspot_server, installer):
    install(installer)
    before = len(writes(hubspot_server))
    assert install(installer) == []
    assert len(writes(hubspot_server)) == before


def test_partially_existing_creates_only_the_rest_and_reports_drift_field_by_field(hubspot_server, installer):
    hubspot_server.groups["calls"] = {"gamefilm": {"name": "gamefilm", "label": "Game Film", "displayOrder": 3, "archived": False}}
    hubspot_server.properties["calls"] = {"gamefilm_recording_id": {**_existing(), "hasUniqueValue": False, "fieldType": "textarea"}}
    checks = {c.component: c for c in installer.verify()}
    assert checks["calls group gamefilm"].status == OK
    drifted = checks["calls property gamefilm_recording_id"]
    assert drifted.status == DRIFT and not drifted.owned
    assert drifted.details == ("fieldType: 'text' expected, 'textarea' found", "hasUniqueValue: True expected, False found")
    assert install(installer) == ["tasks group gamefilm"]
    assert [w[1] for w in writes(hubspot_server)] == ["/crm/v3/properties/tasks/groups"]


def test_one_failing_component_names_it_and_claims_only_what_was_created(hubspot_server, installer):
    hubspot_server.respond("POST", PROPERTY, status=400, body=error_reply(400, "VALIDATION_ERROR", "Unique value properties limit reached").body)
    with pytest.raises(InstallError) as caught:
        install(installer)
    message = str(caught.value)
    assert "calls property gamefilm_recording_id" in message and "400" in message
    assert "2 of 3 created before it (calls group gamefilm, tasks group gamefilm)" in message
    assert "gamefilm_recording_id" not in hubspot_server.properties.get("calls", {})
    assert install(installer) == ["calls property gamefilm_recording_id"]  # the re-run finishes the job


def test_uninstall_removes_only_what_it_installed_and_never_data(hubspot_server, installer):
    install(installer)
    hubspot_server.properties["tasks"] = {"team_note": {**_existing(), "name": "team_note", "groupName": "gamefilm"}}
    steps = installer.uninstall_plan()
    assert [(s.action, s.component) for s in steps] == [
        ("remove", "calls property gamefilm_recording_id"), ("remove", "calls group gamefilm"), ("keep", "tasks group gamefilm")]
    installer.uninstall(steps)
    assert [(m, p) for m, p, _ in writes(hubspot_server) if m == "DELETE"] == [
        ("DELETE", "/crm/v3/properties/calls/gamefilm_recording_id"), ("DELETE", "/crm/v3/properties/calls/groups/gamefilm")]
    assert "team_note" in hubspot_server.properties["tasks"] and "gamefilm" in hubspot_server.groups["tasks"]


def test_uninstall_keeps_a_property_that_holds_values(hubspot_server, installer):
    install(installer)
    hubspot_server.add_object("calls", "501", gamefilm_recording_id="zoom:abc")
    steps = installer.uninstall_plan()
    assert ("keep", "calls property gamefilm_recording_id") in [(s.action, s.component) for s in steps]
    assert "1 record(s) hold a value" in next(s.why for s in steps if s.component == "calls property gamefilm_recording_id")
    assert ("keep", "calls group gamefilm") in [(s.action, s.component) for s in steps]
    search = hubspot_server.requests_to("POST", "/crm/v3/objects/calls/search")[0].body
    assert search["filterGroups"] == [{"filters": [{"propertyName": "gamefilm_recording_id", "operator": "HAS_PROPERTY"}]}]


def _existing() -> dict:
    return {"name": "gamefilm_recording_id", "label": "Game Film recording id", "description": "made by an admin", "groupName": "gamefilm",
            "type": "string", "fieldType": "text", "options": [], "calculated": False, "externalOptions": False, "hasUniqueValue": True,
            "hidden": False, "formField": False, "createdAt": "2026-11-20T10:00:00.000Z", "updatedAt": "2026-11-20T10:00:00.000Z"}  # fmt: skip


def test_the_review_properties_are_created_per_object_in_a_gamefilm_group_as_hubspot_documents_them(hubspot_server, gateway):
    done = install(HubSpotInstaller(gateway.transport, MANIFEST))
    assert done[:3] == ["calls group gamefilm", "tasks group gamefilm", "deals group gamefilm"]
    bodies = {(path.rsplit("/", 1)[1], body["name"]): body for _, path, body in writes(hubspot_server) if "/groups" not in path}  # type: ignore[index]
    assert bodies["deals", "gamefilm_avg_objection_handling"] == {
        "name": "gamefilm_avg_objection_handling", "label": "GF avg Objection handling", "type": "number", "fieldType": "number", "groupName": "gamefilm",
        "hasUniqueValue": False, "description": f"Average peer score on Objection handling over the deal's reviewed calls. {OWNED_MARK}"}  # fmt: skip
    assert bodies["deals", "gamefilm_last_reviewed"]["type"] == "date" and bodies["deals", "gamefilm_last_reviewed"]["fieldType"] == "date"
    assert bodies["calls", "gamefilm_rep_status"]["type"] == "string"
    assert {name for (obj, name) in bodies if obj == "deals"} == {
        *(f"gamefilm_avg_{k}" for k in ("discovery_questions", "objection_handling", "closing_technique", "next_steps_agreed")),
        "gamefilm_weighted_avg", "gamefilm_review_count", "gamefilm_last_score", "gamefilm_last_reviewed"}  # fmt: skip
    assert {c.status for c in HubSpotInstaller(gateway.transport, MANIFEST).verify()} == {OK}


def test_a_tenants_rubric_installs_its_own_criteria(hubspot_server, gateway):
    from decimal import Decimal

    from integration.rubric import Criterion, Rubric

    rubric = Rubric(criteria=(Criterion("pricing_confidence", "Pricing confidence", "", Decimal(1)),))
    install(HubSpotInstaller(gateway.transport, manifest_for(rubric)))
    created = set(hubspot_server.properties["calls"]) | set(hubspot_server.properties["deals"])
    assert {"gamefilm_score_pricing_confidence", "gamefilm_rep_rolling_pricing_confidence", "gamefilm_avg_pricing_confidence"} <= created
    assert not any("objection_handling" in name for name in created)
