"""`gamefilm install|verify|uninstall` on HubSpot: the real SDK against the loopback fake portal,
asserting the properties API requests as HubSpot documents them."""
from __future__ import annotations

import pytest

from integration.components.hubspot_installer import HubSpotInstaller
from integration.components.manifest import MANIFEST, OWNED_MARK
from integration.components.plan import DRIFT, MISSING, OK, InstallError
from integration.gateway.hubspot import HubSpotGateway
from tests.hubspot_server import HubSpotServer, error_reply, hubspot_server  # noqa: F401


PROPERTY = "/crm/v3/properties/calls"


@pytest.fixture(autouse=True)
def fresh_portal(hubspot_server: HubSpotServer) -> None:  # noqa: F811
    """A portal Game Film was never installed in (the fake portal seeds our call property)."""
    hubspot_server.properties.pop("calls", None)


@pytest.fixture
def installer(hubspot_server: HubSpotServer):
    gateway = HubSpotGateway("t", host=hubspot_server.url, sleep=lambda s: None)
    lines: list[str] = []
    yield HubSpotInstaller(gateway.transport, MANIFEST, progress=lines.append)
    gateway.close()


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
