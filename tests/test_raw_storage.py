"""The ack stores each event once, raw, with its delivery key and source; readers (the worker,
the CLI) get the same `Event` the edge used to build, on both stores. Rows stored normalised
(before) still read."""
from __future__ import annotations

import json
import logging
import sqlite3
from datetime import datetime, timezone

import orjson
import pytest

from integration import events as ev
from integration.events import event_to_json
from integration.normalize import from_raw, hubspot_batch, outbound_events, parse_outbound_message, salesforce_json_batch
from integration.store.sqlite import SqliteStore
from tests.conftest import ORG_ID, make_config
from tests.dynalite import any_store, aws_test_credentials, dynalite_endpoint  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("aws_test_credentials")
from tests.webhooks import hubspot_events, json_event, notification, post_hubspot, post_outbound, post_sf_json


@pytest.fixture
def edge(make_app, any_store):
    return make_app(store=any_store).test_client()


def stored_row(store, key: str) -> tuple[str | None, str]:
    """(source, body) exactly as the store holds them."""
    if isinstance(store, SqliteStore):
        return store._conn().execute("SELECT source, body FROM events WHERE key = ?", (key,)).fetchone()
    item = store._client.get_item(TableName=store.table, Key={"pk": {"S": "EVENT#" + key}}, ConsistentRead=True)["Item"]
    return item.get("source", {}).get("S"), item["body"]["S"]


def by_key(events) -> dict:
    return {e.key: e for e in events}


def test_hubspot_events_are_stored_raw_once_and_read_back_as_the_edge_would_build_them(edge, any_store, clock, tmp_path):
    items = hubspot_events(2) + [
        # off the fast path: numbers as strings, loaded (converted) by the schema, on read too
        hubspot_events(1, eventId="77", objectId="9001", occurredAt="1795000000123")[0],
        # generic object.* form, a merge, no property
        {**{k: v for k, v in hubspot_events(1)[0].items() if k not in ("objectId", "propertyName", "propertyValue")},
         "eventId": 78, "subscriptionType": "object.merge", "objectTypeId": "0-3", "primaryObjectId": 4242},
    ]  # fmt: skip
    r = post_hubspot(edge, clock, items)
    assert r.get_json()["accepted"] == 4
    expected = by_key(hubspot_batch(items, make_config(tmp_path)).events)
    assert len(expected) == 4
    for key, event in expected.items():
        source, body = stored_row(any_store, key)
        assert source == ev.SOURCE_HUBSPOT
        assert json.loads(body) == dict(event.raw)  # the notification itself: no `changed` copy, no envelope
        assert any_store.get_event(key).event == event
    assert by_key(s.event for s in any_store.list_events()) == expected


def test_a_hubspot_event_is_stored_in_its_raw_size(edge, any_store, clock, tmp_path):
    [item] = hubspot_events(1)
    post_hubspot(edge, clock, [item])
    [event] = hubspot_batch([item], make_config(tmp_path)).events
    _, body = stored_row(any_store, event.key)
    assert len(body) == len(orjson.dumps(item)) < len(event_to_json(event)) / 1.8  # was raw + normalised


def test_outbound_notifications_are_stored_raw_and_read_back_with_their_fallback_time(edge, any_store, clock, tmp_path):
    notes = [notification("04l5e000000AAA1AAG", LastModifiedDate="2026-11-20T10:00:00.000Z"), notification("04l5e000000AAA2AAG")]
    from integration import samples

    body = samples.outbound_message(ORG_ID, notes)
    assert post_outbound(edge, body).status_code == 200
    tenant = make_config(tmp_path).salesforce_tenant(ORG_ID)
    received = datetime.fromtimestamp(clock(), tz=timezone.utc)  # no modified date: the time it was received
    expected = by_key(outbound_events(parse_outbound_message(body), tenant, received).events)
    for key, event in expected.items():
        source, stored = stored_row(any_store, key)
        assert (source, json.loads(stored)) == (ev.SOURCE_OUTBOUND, event.raw)
        assert any_store.get_event(key).event == event
    assert any_store.get_event("salesforce#00D5e0000001Abc#04l5e000000AAA2AAG").event.occurred_at == received


def test_salesforce_json_events_are_stored_raw_and_read_back_through_the_schema(edge, any_store, clock, tmp_path):
    events = [json_event(1), json_event(2, kind="created", occurredAt="2026-11-20T12:00:00+02:00", fields={"StageName": "Won"})]
    from integration import samples

    assert post_sf_json(edge, clock, events).get_json()["accepted"] == 2
    tenant = make_config(tmp_path).salesforce_tenant(ORG_ID)
    expected = by_key(salesforce_json_batch(json.loads(samples.salesforce_json(ORG_ID, events)), tenant).events)
    for key, event in expected.items():
        source, stored = stored_row(any_store, key)
        assert (source, json.loads(stored)) == (ev.SOURCE_SALESFORCE_JSON, event.raw)
        assert any_store.get_event(key).event == event
    assert any_store.get_event(next(iter(expected))).event.occurred_at == datetime(2026, 11, 20, 10, tzinfo=timezone.utc)


_OLD_SCHEMA = """
CREATE TABLE events (key TEXT PRIMARY KEY, tenant TEXT NOT NULL, body TEXT NOT NULL, status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, received_at REAL NOT NULL, next_attempt_at REAL NOT NULL,
    updated_at REAL NOT NULL, lease_until REAL NOT NULL DEFAULT 0, last_error TEXT);
"""


def test_a_database_of_normalised_rows_still_reads_and_takes_raw_ones(tmp_path, clock):
    """A file written before events were stored raw: no `source` column, normalised bodies."""
    [old] = hubspot_batch(hubspot_events(1), make_config(tmp_path)).events
    with sqlite3.connect(tmp_path / "old.db") as db:
        db.executescript(_OLD_SCHEMA)
        db.execute("INSERT INTO events VALUES (?, ?, ?, 'pending', 0, 1, 1, 1, 0, NULL)", (old.key, old.tenant, event_to_json(old)))
    db.close()
    store = SqliteStore(tmp_path / "old.db")
    try:
        assert store.get_event(old.key).event == old
        from integration.normalize import hubspot_received

        [new] = hubspot_received(hubspot_events(1, eventId=2), make_config(tmp_path)).events
        assert store.add_events([new], clock()) == [True]
        assert [s.event.source_id for s in store.claim_events([old.key, new.key], clock())] == ["1000000", "2"]
    finally:
        store.close()


def test_a_stored_event_that_cannot_be_normalised_reads_as_unknown_and_the_log_names_only_its_key(any_store, clock, caplog):
    from integration.events import Received

    broken = Received("hubspot#62515#1#2#3#4", "acme-hubspot", ev.SOURCE_HUBSPOT, '{"propertyValue": "secret-value"}')
    any_store.add_events([broken], clock())
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="integration"):
        event = any_store.get_event(broken.key).event
    assert (event.kind, event.tenant, event.crm, event.key) == (ev.UNKNOWN, "acme-hubspot", "hubspot", broken.key)
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("integration"))  # botocore's debug lines quote requests
    assert broken.key in ours and "secret-value" not in ours


def test_from_raw_refuses_an_unknown_source():
    with pytest.raises(ValueError, match="unknown event source"):
        from_raw("pipedrive", "k", "t", "{}", 0.0)
