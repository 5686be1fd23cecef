"""The DynamoDB store against a real DynamoDB-compatible server (dynalite) on loopback.

The shared contract runs here unchanged; the tests below cover what only this backend has:
the table layout, TTL attributes, and the DynamoDB paths dynalite does not implement
(UpdateTimeToLive, ReturnValuesOnConditionCheckFailure), checked on the wire with Stubber.
"""
from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from integration.config import StoreConfig
from integration.events import DONE, PENDING
from integration.store import ACTION_DONE, ActionUpdate
from integration.store.dynamodb import DynamoStore, _table_definition
from tests.dynalite import aws_test_credentials, dynalite_endpoint  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("aws_test_credentials")
from tests.store_contract import T0, StoreContract, make_action, make_event

TEMPLATE = Path(__file__).resolve().parent.parent / "infra" / "dynamodb_table.json"
DAY = 86_400


@pytest.fixture
def store(dynalite_endpoint: str):  # noqa: F811
    s = DynamoStore(f"gamefilm-{uuid.uuid4().hex}", region="us-east-1", endpoint_url=dynalite_endpoint, ttl_days=90)
    s.create_table()
    yield s
    s.close()


def raw_item(store: DynamoStore, pk: str) -> dict:
    return store._client.get_item(TableName=store.table, Key={"pk": {"S": pk}}, ConsistentRead=True)["Item"]


def number(store: DynamoStore, pk: str, name: str) -> float:
    return float(raw_item(store, pk)[name]["N"])


class TestDynamoStore(StoreContract):
    pass


# --- events --------------------------------------------------------------------------------
def test_a_batch_repeating_one_event_stores_it_once(store):
    assert store.add_events([make_event(), make_event()], T0) == [True, False]


def test_event_items_expire_ttl_days_after_their_last_write(store):
    store.add_events([make_event()], T0)
    pk = "EVENT#" + make_event().key
    assert number(store, pk, "expires_at") == int(T0) + 90 * DAY
    store.complete_event(store.claim_event(make_event().key, T0 + 10), T0 + 10)
    assert number(store, pk, "expires_at") == int(T0) + 10 + 90 * DAY


def test_only_pending_and_processing_events_are_in_the_due_index(store):
    store.add_events([make_event()], T0)
    pk = "EVENT#" + make_event().key
    assert number(store, pk, "due_at") == T0
    stored = store.claim_event(make_event().key, T0, lease_seconds=60)
    assert number(store, pk, "due_at") == T0 + 60
    store.complete_event(stored, T0 + 1)
    assert {"due_scope", "due_at"}.isdisjoint(raw_item(store, pk))


def test_a_lease_ending_exactly_now_is_not_yet_due(store):
    store.add_events([make_event()], T0)
    store.claim_event(make_event().key, T0, lease_seconds=60)
    assert store.due_event_keys(T0 + 60) == []
    assert store.claim_event(make_event().key, T0 + 60) is None


def test_filtered_listing_pages_past_non_matching_items(store):
    store.add_events([make_event(i, tenant="busy") for i in range(1, 13)], T0)
    store.add_events([make_event(20, tenant="quiet")], T0 - 1)
    quiet = store.list_events(status=PENDING, tenant="quiet", limit=1)
    assert [s.event.source_id for s in quiet] == ["evt20"]


def test_state_changes_on_unknown_events_raise(store):
    with pytest.raises(KeyError):
        store._set_event_state("missing", status=DONE, attempts=1, next_attempt_at=0.0, last_error=None, now=T0)


# --- actions -------------------------------------------------------------------------------
def test_action_items_carry_a_ttl(store):
    store.plan_actions([make_action()], T0)
    store.update_actions([ActionUpdate(make_action().key, ACTION_DONE, crm_id="00q1")], T0 + 5)
    assert number(store, "ACTION#" + make_action().key, "expires_at") == int(T0) + 5 + 90 * DAY
    assert store.get_action(make_action().key).status == ACTION_DONE


def test_planning_a_known_key_uses_the_row_dynamodb_returns_with_the_error():
    """Real DynamoDB honours ReturnValuesOnConditionCheckFailure (dynalite does not): no re-read."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    store = DynamoStore("gamefilm", region="us-east-1", client=client)
    done = store._action_item(make_action(), T0) | {"status": {"S": ACTION_DONE}, "crm_id": {"S": "00q1"}}
    with Stubber(client) as stub:
        stub.add_client_error(
            "put_item",
            service_error_code="ConditionalCheckFailedException",
            http_status_code=400,
            modeled_fields={"Item": done},
        )
        [existing] = store.plan_actions([make_action()], T0 + 1)
        stub.assert_no_pending_responses()
    assert (existing.status, existing.crm_id) == (ACTION_DONE, "00q1")


# --- table ---------------------------------------------------------------------------------
def test_create_table_is_idempotent(store, caplog):
    store.add_events([make_event()], T0)
    with caplog.at_level(logging.WARNING):
        store.create_table()
    assert store.get_event(make_event().key) is not None
    # dynalite has no UpdateTimeToLive; the store says so instead of failing.
    assert "cannot enable TTL" in caplog.text


def test_create_table_enables_ttl_on_expires_at():
    client = boto3.client("dynamodb", region_name="us-east-1")
    store = DynamoStore("gamefilm", region="us-east-1", client=client)
    with Stubber(client) as stub:
        stub.add_response("create_table", {}, _table_definition("gamefilm"))
        stub.add_response("describe_table", {"Table": {"TableStatus": "ACTIVE"}}, {"TableName": "gamefilm"})
        ttl_off = {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}
        stub.add_response("describe_time_to_live", ttl_off, {"TableName": "gamefilm"})
        stub.add_response(
            "update_time_to_live",
            {},
            {"TableName": "gamefilm", "TimeToLiveSpecification": {"Enabled": True, "AttributeName": "expires_at"}},
        )
        store.create_table()
        stub.assert_no_pending_responses()


def test_table_is_on_demand_with_the_indexes_the_store_queries(store):
    table = store._client.describe_table(TableName=store.table)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {"due", "by_status", "by_tenant", "by_event"}


def test_infra_template_declares_the_same_table():
    resource = json.loads(TEMPLATE.read_text())["Resources"]["GameFilmTable"]
    props = resource["Properties"]
    expected = _table_definition("unused")
    assert resource["Type"] == "AWS::DynamoDB::Table"
    assert props["BillingMode"] == expected["BillingMode"]
    assert props["KeySchema"] == expected["KeySchema"]
    assert sorted(props["AttributeDefinitions"], key=str) == sorted(expected["AttributeDefinitions"], key=str)
    assert sorted(props["GlobalSecondaryIndexes"], key=str) == sorted(expected["GlobalSecondaryIndexes"], key=str)
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_from_config_uses_the_configured_table(dynalite_endpoint):  # noqa: F811
    table = f"cfg-{uuid.uuid4().hex}"
    config = StoreConfig(backend="dynamodb", table=table, endpoint_url=dynalite_endpoint, ttl_days=7)
    store = DynamoStore.from_config(config)
    store.create_table()
    store.add_events([make_event()], T0)
    assert number(store, "EVENT#" + make_event().key, "expires_at") == int(T0) + 7 * DAY
    store.close()
