"""Both stores accept exactly the same events: the size and key limits are decided at the edge,
and the largest event the edge admits really fits in DynamoDB (dynalite enforces 400 KB items
and 2,048-byte keys the way DynamoDB does)."""
import uuid

import pytest

from integration import limits
from integration.store.dynamodb import DynamoStore
from tests.dynalite import any_store, aws_test_credentials, dynalite_endpoint  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("aws_test_credentials")
from tests.webhooks import hubspot_events, json_event, notification, post_hubspot, post_outbound, post_sf_json

# The ack stores an event raw, its `fields` once: this much text lands just under the limit.
FITS = limits.MAX_EVENT_BYTES - 2_000
TOO_BIG = limits.MAX_EVENT_BYTES + 1_000


@pytest.fixture
def edge(make_app, any_store):
    return make_app(store=any_store).test_client()


def test_largest_admitted_event_is_stored_whole(edge, any_store, clock):
    text = "x" * FITS
    r = post_sf_json(edge, clock, [json_event(1, fields={"Description": text})])
    assert r.get_json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert any_store.list_events()[0].event.changed["Description"] == text


def test_event_too_large_to_store_is_rejected_naming_the_field_and_the_rest_stored(edge, any_store, clock):
    r = post_sf_json(edge, clock, [json_event(1), json_event(2, fields={"Amount": 1, "Description": "x" * TOO_BIG})])
    body = r.get_json()
    assert r.status_code == 200 and body["accepted"] == 1
    [rejected] = body["rejected"]
    assert (rejected["index"], rejected["reason"], list(rejected["fields"])) == (1, "event exceeds a storage limit", ["fields.Description"])
    assert f"over the {limits.MAX_EVENT_BYTES} byte limit" in rejected["fields"]["fields.Description"][0]
    assert [s.event.source_id for s in any_store.list_events()] == ["0065e00000AbCdEAAV-1"]


def test_hubspot_property_value_too_large_is_rejected_naming_it(edge, any_store, clock):
    r = post_hubspot(edge, clock, hubspot_events(1, propertyValue="y" * TOO_BIG * 2))
    assert [list(x["fields"]) for x in r.get_json()["rejected"]] == [["propertyValue"]]
    assert any_store.list_events() == []


def test_outbound_notification_id_at_the_key_limit_is_stored_and_past_it_rejected(edge, any_store):
    prefix = len("salesforce#00D5e0000001Abc#")
    longest = "a" * (limits.MAX_KEY_BYTES - prefix)
    assert post_outbound(edge, [notification(longest), notification(longest + "b")]).status_code == 200  # the Ack
    assert [s.event.source_id for s in any_store.list_events()] == [longest]


def test_outbound_field_too_large_is_not_stored_and_the_message_is_acked(edge, any_store, caplog):
    r = post_outbound(edge, [notification("04l5e000000AAA1AAG"), notification("04l5e000000AAA2AAG", Description="z" * TOO_BIG)])
    assert r.status_code == 200 and b"<Ack>true</Ack>" in r.data  # else Salesforce resends it for 24 hours
    assert [s.event.source_id for s in any_store.list_events()] == ["04l5e000000AAA1AAG"]
    assert "salesforce notification 1 not stored: event exceeds a storage limit" in caplog.text


def test_the_edge_limits_are_what_dynamodb_needs(dynalite_endpoint):  # noqa: F811
    """Without the edge check, DynamoDB itself refuses these (a 500 after half a batch)."""
    from botocore.exceptions import ClientError

    from integration.events import Event

    store = DynamoStore(f"gamefilm-{uuid.uuid4().hex}", region="us-east-1", endpoint_url=dynalite_endpoint)
    store.create_table()
    base = dict(tenant="t", crm="salesforce", object_type="opportunity", object_id="006", kind="updated",
                occurred_at=limits.MIN_TIME, source_id="1")  # fmt: skip
    try:
        for event in (Event(key="k" * 2_100, **base), Event(key="big", changed={"d": "x" * 420_000}, **base)):
            with pytest.raises(ClientError, match="ValidationException"):
                store.add_events([event], 0.0)
    finally:
        store.close()
