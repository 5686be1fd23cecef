"""The ack's batch path (`hubspot_fields.uniform_batch` inside `normalize.hubspot_received`) stores
and refuses exactly what the event-by-event path does, on valid batches and on every kind of
invalid one, and it vouches for a payload's depth only when the payload is flat (the handler
then skips the generic depth walk)."""
from __future__ import annotations

import json
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integration import config as config_mod
from integration import limits, normalize
from integration.hubspot_fields import uniform_batch, well_typed
from tests.conftest import PORTAL_ID, tenants_raw
from tests.webhooks import hubspot_events, post_hubspot

CONFIG = config_mod.parse({"tenants": tenants_raw(), "store": {"path": "/nonexistent/g.db"}}, "test.toml")
SIGNED = {"acme-hubspot"}  # "other-hubspot" (portal 777) did not sign: its events are rejected

IDS = st.sampled_from([0, 1, 2**31 - 1, 2**31, limits.MAX_EPOCH_MS, limits.MAX_EPOCH_MS + 1, 2**63 - 1, 2**63]) | st.integers(0, 10**12)
BAD = st.sampled_from([-1, True, False, None, "7", "", 1.5, 10**30, [1], {"a": 1}, [[[]]]])
TEXT = st.sampled_from(["deal.propertyChange", "object.creation", "", "x" * 300, "é"])
FIELD_VALUES = {
    "eventId": IDS, "subscriptionId": IDS, "appId": IDS, "occurredAt": IDS, "objectId": IDS, "attemptNumber": IDS,
    "primaryObjectId": IDS, "fromObjectId": IDS,
    "portalId": st.sampled_from([int(PORTAL_ID), 777, 4242, -1, "62515"]),
    "subscriptionType": TEXT, "eventType": TEXT, "propertyName": TEXT, "changeSource": TEXT, "changeFlag": TEXT,
    "objectTypeId": TEXT, "sourceId": TEXT | st.none(), "propertyValue": TEXT | st.none() | st.integers(),
}  # fmt: skip
NAMES = sorted(FIELD_VALUES) + ["extra"]


def field_value(name: str) -> st.SearchStrategy[Any]:
    """Mostly what the schema loads unchanged, sometimes anything a sender might put there."""
    good = FIELD_VALUES.get(name, st.integers() | st.text(max_size=4))
    return st.one_of(good, good, good, BAD)


@st.composite
def batches(draw: st.DrawFn) -> list[Any]:
    """Events sharing one field list (as HubSpot sends them): HubSpot's own with a few cells
    changed (to an edge or a wrong value), or other field lists with values drawn per event;
    now and then one event's fields differ, or an element is not an object at all."""
    count = draw(st.integers(1, 6))
    if draw(st.booleans()):
        batch: list[Any] = hubspot_events(count)
        for _ in range(draw(st.integers(0, 2))):  # a field changed in one event, or in all (still uniform)
            name = draw(st.sampled_from(NAMES))
            values = st.one_of(field_value(name), BAD)
            for event in batch if draw(st.booleans()) else [batch[draw(st.integers(0, count - 1))]]:
                event[name] = draw(values)
    else:
        base = hubspot_events(1)[0]
        names = draw(st.lists(st.sampled_from(NAMES), unique=True, min_size=1, max_size=12))
        batch = [{name: draw(field_value(name)) if draw(st.integers(0, 5)) == 0 else base.get(name, 1) for name in names}
                 for _ in range(count)]  # fmt: skip
    shape = draw(st.sampled_from(["uniform"] * 6 + ["reordered", "missing", "not an object"]))
    if shape == "reordered" and len(batch[-1]) > 1:
        batch[-1] = dict(reversed(list(batch[-1].items())))
    elif shape == "missing" and batch[-1]:
        batch[-1].pop(next(iter(batch[-1])))
    elif shape == "not an object":
        batch.append(draw(st.sampled_from([1, "x", None, [], hubspot_events(1)])))
    return batch


def outcome(payload: Any, *, batch_path: bool) -> tuple[Any, ...]:
    checked: list[Any] = []
    with mock.patch.object(normalize, "uniform_batch", uniform_batch if batch_path else (lambda payload: None)):
        out = normalize.hubspot_received(payload, CONFIG, lambda t: t.id in SIGNED, check_depth=checked.append)
    out.enforce_limits(len(json.dumps(payload)))
    return (
        [(e.key, e.tenant, e.source, e.body) for e in out.events],
        out.indexes,
        [(r.index, r.reason, r.detail) for r in out.rejected],
        [(r.index, r.reason, r.detail) for r in out.dropped],
        bool(checked),
    )


@settings(max_examples=400, derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=batches())
def test_the_batch_path_stores_and_refuses_what_the_event_path_does(payload):
    *fast, depth_checked = outcome(payload, batch_path=True)
    *slow, _ = outcome(payload, batch_path=False)
    assert fast == slow
    if uniform_batch(payload) is not None:
        assert all(well_typed(item) for item in payload)
    if not depth_checked:  # the batch path vouched for the depth: it must be right
        assert not limits.too_deep(payload, limit=2)


EDGES = [0, 2**31, limits.MAX_EPOCH_MS, limits.MAX_EPOCH_MS + 1, 2**63 - 1, 2**63, 777, "", "x", "é", None, -1, True, 1.5, "7",
         10**30, [1], {"a": 1}, [[[]]]]  # fmt: skip


def test_every_single_field_change_gets_the_same_answer_on_both_paths():
    """Exhaustive where the generated batches are sparse: each field (and an unknown one) set to
    each edge or wrong value, in one event of three and in all three."""
    for name in NAMES:
        for value in EDGES:
            for where in ([1], [0, 1, 2]):
                payload = hubspot_events(3)
                for at in where:
                    payload[at][name] = value
                *fast, depth_checked = outcome(payload, batch_path=True)
                *slow, _ = outcome(payload, batch_path=False)
                assert fast == slow, (name, value, where)
                assert depth_checked or not limits.too_deep(payload, limit=2), (name, value, where)


def test_an_event_with_its_fields_in_another_order_is_keyed_as_sent():
    """Two ids of one type swapped in order: a check by position alone would swap them in the key."""
    payload = hubspot_events(3)
    event = payload[1]
    payload[1] = {"subscriptionId": event["subscriptionId"], "eventId": event["eventId"]} | event
    assert list(payload[1])[:2] == ["subscriptionId", "eventId"]
    assert outcome(payload, batch_path=True)[:4] == outcome(payload, batch_path=False)[:4]


def test_usual_batches_take_the_batch_path_and_skip_the_depth_walk():
    payload = hubspot_events(100)
    *_, depth_checked = outcome(payload, batch_path=True)
    assert uniform_batch(payload) is not None and not depth_checked
    nested = [payload[0] | {"propertyValue": {"a": [1]}}, payload[1]]
    *_, depth_checked = outcome(nested, batch_path=True)
    assert uniform_batch(nested) is None and depth_checked


def test_a_batch_the_batch_path_measures_as_storable_skips_the_exact_measure():
    out = normalize.hubspot_received(hubspot_events(3), CONFIG)
    assert out.within_limits
    with mock.patch.object(limits, "any_received_may_exceed", side_effect=AssertionError("measured twice")):
        assert out.enforce_limits(10_000) is out and len(out.events) == 3
    big = normalize.hubspot_received(hubspot_events(2, propertyValue="y" * (limits.MAX_EVENT_BYTES // 4)), CONFIG)
    assert not big.within_limits and len(big.enforce_limits(10**6).events) == 2  # measured exactly: it fits


def test_a_deep_value_in_an_otherwise_usual_batch_is_still_400_too_deep(make_app, store, clock):
    client = make_app().test_client()
    deep = json.loads("[" * 40 + "]" * 40)
    r = post_hubspot(client, clock, hubspot_events(2) + [hubspot_events(1, eventId=9, propertyValue=deep)[0]])
    assert r.status_code == 400
    assert r.get_json() == {"error": "too_deep", "message": "JSON nests more than 32 levels", "field": "body"}
    assert store.list_events() == []


def test_the_ack_answers_its_counts_as_json(make_app, store, clock):
    client = make_app().test_client()
    r = post_hubspot(client, clock, hubspot_events(2) + [{"eventId": "x"}])
    assert r.status_code == 200 and r.mimetype == "application/json"
    body = r.get_json()
    assert (body["accepted"], body["duplicates"], body["dropped"]) == (2, 0, [])
    assert [(x["index"], x["reason"]) for x in body["rejected"]] == [(2, "invalid event")]
