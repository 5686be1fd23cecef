"""CRM call and task notifications, posted as HubSpot and Salesforce send them, become events
the worker routes as calls (CALL_OBJECT: read the call, its recording) or tasks (TASK_OBJECT)."""
import pytest

from integration.recordings import CALL_OBJECT, TASK_OBJECT
from tests.webhooks import hubspot_events, json_event, notification, post_hubspot, post_outbound, post_sf_json


def stored(store) -> list:
    return [s.event for s in store.list_events()]


def generic(event_id: int, subscription: str, type_id: str, object_id: int, **over) -> dict:
    """A generic (object.*) webhook event: the object named by objectTypeId."""
    base = hubspot_events(1, eventId=event_id)[0]
    for name in ("propertyName", "propertyValue", "changeSource", "sourceId"):
        base.pop(name)
    return base | {"subscriptionType": subscription, "objectTypeId": type_id, "objectId": object_id, "changeFlag": "CREATED"} | over


def test_hubspot_call_created_and_its_recording_url_changed_are_call_events(client, store, clock):
    url = "https://api.hubspot.com/filemanager/api/v2/files/123/signed-url-redirect"
    r = post_hubspot(client, clock, [
        generic(1, "object.creation", "0-48", 51_000_000_001),
        generic(2, "object.propertyChange", "0-48", 51_000_000_001, propertyName="hs_call_recording_url", propertyValue=url,
                changeSource="INTEGRATION", changeFlag="UPDATED"),
    ])  # fmt: skip
    assert r.get_json()["accepted"] == 2
    created, changed = sorted(stored(store), key=lambda e: e.source_id)
    assert (created.object_type, created.object_id, created.kind, created.crm) == (CALL_OBJECT, "51000000001", "created", "hubspot")
    assert (changed.object_type, changed.kind, changed.changed) == (CALL_OBJECT, "updated", {"hs_call_recording_url": url})


def test_hubspot_task_status_change_is_a_task_event(client, store, clock):
    post_hubspot(client, clock, [generic(3, "object.propertyChange", "0-27", 77, propertyName="hs_task_status", propertyValue="COMPLETED")])
    [event] = stored(store)
    assert (event.object_type, event.object_id, event.changed) == (TASK_OBJECT, "77", {"hs_task_status": "COMPLETED"})


@pytest.mark.parametrize(("subtype", "expected"), [("Call", CALL_OBJECT), ("Task", TASK_OBJECT), ("Email", TASK_OBJECT), (None, TASK_OBJECT)])
def test_salesforce_outbound_task_is_a_call_only_with_subtype_call(client, store, subtype, expected):
    values = {"Id": "00T5e000001AbCdEAK", "Status": "Completed", "GameFilm_Recording_URL__c": "https://rec.example/1"}
    if subtype:
        values["TaskSubtype"] = subtype
    assert post_outbound(client, [("04l5e000000TTT1AAG", "Task", values)]).status_code == 200
    [event] = stored(store)
    assert (event.object_type, event.object_id, event.crm) == (expected, "00T5e000001AbCdEAK", "salesforce")
    assert event.changed["GameFilm_Recording_URL__c"] == "https://rec.example/1"


def test_salesforce_outbound_opportunity_is_unchanged(client, store):
    post_outbound(client, [notification()])
    assert [e.object_type for e in stored(store)] == ["opportunity"]


def test_salesforce_signed_json_about_tasks(client, store, clock):
    r = post_sf_json(client, clock, [
        json_event(1, object="Task", recordId="00T5e000001AbCdEAK", kind="created", fields={"TaskSubtype": "Call", "CallDurationInSeconds": 300}),
        json_event(2, object="Task", recordId="00T5e000001AbCeEAK", fields={"TaskSubtype": "Task", "Status": "Completed"}),
    ])  # fmt: skip
    assert r.get_json()["accepted"] == 2
    assert sorted((e.object_id, e.object_type, e.kind) for e in stored(store)) == [
        ("00T5e000001AbCdEAK", CALL_OBJECT, "created"), ("00T5e000001AbCeEAK", TASK_OBJECT, "updated")]
