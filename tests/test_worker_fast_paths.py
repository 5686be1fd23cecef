"""The worker's fast paths answer exactly what the general paths answer.

- A claim's HubSpot rows are decoded together (`store.decode_events`) when they all have the
  usual shape; any row that does not (malformed, stored by an older version, hand-edited)
  sends the batch through `decode_event` row by row, which parks a broken row as UNKNOWN.
- The dry-run adapter keeps the deals it built until an event changes their fields.
- Settled-event log lines are built only when their level is on.
- The outbox builds its rows planned; `plan_actions` keeps those as they are.
"""
from __future__ import annotations

import json
import logging

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration import events as ev
from integration import logs, normalize
from integration.commands import AddNote
from integration.events import Received
from integration.gateway import RecordDataError
from integration.gateway.dry_run import DryRunGateway
from integration.gateway.hubspot import deal_from_properties
from integration.gateway.salesforce import deal_from_record
from integration.gateway.transport import RetryPolicy
from integration.outbox import to_action
from integration.settle import BatchReport, Settler
from integration.store import Action, decode_event, decode_events
from integration.store.sqlite import SqliteStore
from integration.store.sqlite_rows import planned_row
from tests.store_contract import make_event
from tests.webhooks import hubspot_events, json_event

TENANT = "acme-hubspot"


def rows_of(items: list, source: str = ev.SOURCE_HUBSPOT) -> list[tuple]:
    """(body, source, key, tenant, received_at) rows as the store hands them to `decode_events`."""
    bodies = [item if isinstance(item, str) else json.dumps(item, separators=(",", ":")) for item in items]
    return [(body, source, f"hubspot#62515#{i}", TENANT, 1_795_000_000.0 + i) for i, body in enumerate(bodies)]


def one_by_one(rows: list[tuple]) -> list[ev.Event]:
    return [decode_event(*row) for row in rows]


# --- a claim's rows, decoded together ------------------------------------------------------------
def test_a_usual_batch_is_decoded_in_one_pass_to_the_events_from_raw_builds(monkeypatch):
    rows = rows_of(hubspot_events(5))
    expected = one_by_one(rows)
    assert [e.kind for e in expected] == [ev.UPDATED] * 5  # all well formed

    def not_called(*args):
        raise AssertionError("the batch path must not fall back to from_raw")

    monkeypatch.setattr(normalize, "from_raw", not_called)
    assert decode_events(rows) == expected


ODD_EVENTS = {
    "numbers as strings (the schema converts them)": {"eventId": "77", "objectId": "9001"},
    "a boolean id": {"eventId": True},
    "a negative object id": {"objectId": -1},
    "an id beyond 64 bits": {"objectId": 2**64},
    "a time beyond year 9999": {"occurredAt": 253_402_300_800_000},
    "no subscription type": {"subscriptionType": None},
    "an empty subscription type": {"subscriptionType": ""},
    "a number as property name": {"propertyName": 5},
    "a null source id": {"sourceId": None},
    "an extra field": {"somethingNew": [1, 2]},
}


@pytest.mark.parametrize("change", list(ODD_EVENTS.values()), ids=list(ODD_EVENTS))
def test_one_odd_event_sends_the_batch_row_by_row_with_the_same_result(change):
    items = hubspot_events(3)
    items[1] = {k: v for k, v in {**items[1], **change}.items() if v is not None or k == "sourceId"}
    rows = rows_of(items)
    assert decode_events(rows) == one_by_one(rows)


@pytest.mark.parametrize(
    "body",
    ["not json", "null", "[1, 2]", '{"propertyValue": "secret-value"}', json.dumps({"eventId": 1}, indent=2)],
)
def test_a_broken_row_reads_unknown_on_both_paths_and_its_neighbours_are_unchanged(body):
    items: list = hubspot_events(3)
    items[2] = body
    rows = rows_of(items)
    decoded = decode_events(rows)
    assert decoded == one_by_one(rows)
    assert decoded[2].kind == ev.UNKNOWN and decoded[2].key == rows[2][2]
    assert [e.kind for e in decoded[:2]] == [ev.UPDATED, ev.UPDATED]


def test_fields_in_another_order_or_a_merge_event_read_the_same():
    items = hubspot_events(2)
    items[0] = dict(reversed(list(items[0].items())))
    merge = {k: v for k, v in items[1].items() if k not in ("objectId", "propertyName", "propertyValue")}
    items[1] = {**merge, "subscriptionType": "object.merge", "objectTypeId": "0-3", "primaryObjectId": 4242}
    rows = rows_of(items)
    assert decode_events(rows) == one_by_one(rows)
    assert decode_events(rows)[1].kind == ev.MERGED


def test_other_sources_and_normalised_rows_mixed_in_read_as_before():
    hubspot = rows_of(hubspot_events(2))
    salesforce = rows_of([json_event(1)], ev.SOURCE_SALESFORCE_JSON)[0]
    normalised = (ev.event_to_json(make_event(7)), None, make_event(7).key, TENANT, 1.0)
    rows = [hubspot[0], salesforce, normalised, hubspot[1]]
    decoded = decode_events(rows)
    assert decoded == one_by_one(rows)
    assert [e.crm for e in decoded] == ["hubspot", "salesforce", "hubspot", "hubspot"]


_ODD_VALUES = st.sampled_from([None, True, False, -1, 0, 2**63, 2**64, 1.5, "", "7", "x", [], {}, "deal.creation", "object.merge"])
_FIELDS = st.sampled_from(list(hubspot_events(1)[0]) + ["primaryObjectId", "fromObjectId", "objectTypeId", "eventType"])


@settings(max_examples=150, derandomize=True, database=None, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), _FIELDS, _ODD_VALUES | st.just("<drop>")), max_size=4))
def test_any_mutation_of_a_batch_decodes_as_row_by_row(mutations):
    items = hubspot_events(4)
    for at, name, value in mutations:
        if value == "<drop>":
            items[at].pop(name, None)
        else:
            items[at][name] = value
    rows = rows_of(items)
    assert decode_events(rows) == one_by_one(rows)


def test_the_sqlite_claim_answers_what_reading_each_event_answers(tmp_path, clock):
    store = SqliteStore(tmp_path / "claim.db")
    try:
        items = hubspot_events(4, occurredAt=1_795_000_000_000)
        received = [Received(f"hubspot#62515#k{i}", TENANT, ev.SOURCE_HUBSPOT, orjson.dumps(e).decode(), e) for i, e in enumerate(items)]
        broken = Received("hubspot#62515#broken", TENANT, ev.SOURCE_HUBSPOT, '{"propertyValue": "x"}')
        for batch in (received, [*received[:2], broken]):  # a usual batch; then one with a broken row
            keys = [r.key for r in batch]
            store.add_events(batch, clock())
            claimed = store.claim_events(keys, clock())
            assert [s.key for s in claimed] == keys
            assert [s.event for s in claimed] == [store.get_event(k).event for k in keys]
            assert all(s.status == ev.PROCESSING and s.lease_until > clock() for s in claimed)
            store._settle([], clock(), (), durable=False)
            with store._tx() as db:
                db.execute("UPDATE events SET status = 'pending', lease_until = 0")
        assert store.get_event(broken.key).event.kind == ev.UNKNOWN
    finally:
        store.close()


# --- the dry run's deals -------------------------------------------------------------------------
def learn(gateway: DryRunGateway, deal_id: str, **changed) -> None:
    event = make_event(1)
    gateway.learn([ev.Event(**{**event.__dict__, "object_id": deal_id, "changed": changed})])


def test_the_dry_run_keeps_a_deal_until_an_event_changes_it_and_always_answers_the_fresh_mapping():
    gateway = DryRunGateway("hubspot")
    learn(gateway, "9", amount="100", dealname="A")
    first = gateway.read_deals(["9", "404"])
    assert first == {"9": deal_from_properties("9", {"amount": "100", "dealname": "A"})}
    learn(gateway, "9", amount="100")  # nothing changed: the same deal
    assert gateway.read_deals(["9"])["9"] is first["9"]
    steps = [{"amount": "250"}, {"dealname": 1}, {"dealname": True}, {"dealname": 1.0}, {"dealname": None}, {"pipeline": ["a"]}]
    seen = {"amount": "100", "dealname": "A"}
    for changed in steps:  # 1 == True == 1.0: a value of another type is a change all the same
        learn(gateway, "9", **changed)
        seen.update(changed)
        deal = gateway.read_deals(["9"])["9"]
        assert deal == deal_from_properties("9", seen) and deal.fields == seen
        assert [type(v) for v in deal.fields.values()] == [type(v) for v in seen.values()]


def test_the_dry_run_raises_an_unreadable_amount_on_every_read_until_it_is_fixed():
    gateway = DryRunGateway("hubspot")
    learn(gateway, "9", amount="lots")
    for _ in range(2):
        with pytest.raises(RecordDataError):
            gateway.read_deals(["9"])
    learn(gateway, "9", amount="12.5")
    assert str(gateway.read_deals(["9"])["9"].amount) == "12.5"


def test_the_salesforce_dry_run_keeps_its_opportunities_the_same_way():
    gateway = DryRunGateway("salesforce")
    learn(gateway, "0065e00000AbCdEAAV", Amount="120000.0", StageName="Prospecting")
    first = gateway.read_deals(["0065e00000AbCdEAAV"])["0065e00000AbCdEAAV"]
    assert first == deal_from_record({"Amount": "120000.0", "StageName": "Prospecting", "Id": "0065e00000AbCdEAAV"})
    learn(gateway, "0065e00000AbCdEAAV", StageName="Closed Won")
    assert gateway.read_deals(["0065e00000AbCdEAAV"])["0065e00000AbCdEAAV"].stage == "Closed Won"


# --- settled-event lines -------------------------------------------------------------------------
def test_settled_lines_are_built_only_at_their_level_and_say_the_same_when_on(monkeypatch, caplog):
    built = []
    real = logs.settled_event
    monkeypatch.setattr(logs, "settled_event", lambda **fields: built.append(fields) or real(**fields))
    events = [ev.StoredEvent(make_event(n), ev.PROCESSING, 0, 1.0, 1.0, 1.0, lease_until=60.0) for n in range(3)]

    def settle_all() -> None:
        settler = Settler(RetryPolicy(attempts=3), lambda: 1.0, lambda: 0.0, BatchReport())
        settler.rules[events[0].key] = "note_on_change"
        settler.done(events[0])
        settler.ignore(events[1], ev.IGNORED)
        settler.fail(events[2], "503")

    with caplog.at_level(logging.WARNING, logger=logs.EVENT_LOGGER):
        settle_all()
    assert [f["outcome"] for f in built] == ["retry"]  # done and ignored are INFO: nothing built
    built.clear()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=logs.EVENT_LOGGER):
        settle_all()
    assert [(f["key"], f["outcome"], f["attempts"], f["rule"]) for f in built] == [
        (events[0].key, "done", 1, "note_on_change"), (events[1].key, "ignored", 0, None), (events[2].key, "retry", 1, None),
    ]  # fmt: skip
    lines = [getattr(r, logs._FIELDS) for r in caplog.records if r.name == logs.EVENT_LOGGER]
    assert [line["outcome"] for line in lines] == ["done", "ignored", "retry"]


def test_settlements_hold_the_claim_they_ran_under():
    store_calls = []

    class Store:
        def settle_events(self, settlements, now, actions):
            store_calls.append(settlements)

    settler = Settler(RetryPolicy(attempts=0), lambda: 1.0, lambda: 0.0, BatchReport())
    held = [ev.StoredEvent(make_event(n), ev.PROCESSING, 2, 1.0, 1.0, 1.0, lease_until=60.0 + n) for n in range(3)]
    settler.done(held[0])
    settler.ignore(held[1], ev.IGNORED)
    settler.fail(held[2], "boom")  # no retries left: dead
    settler.done(held[2])  # the first word wins
    settler.write(Store())
    [settlements] = store_calls
    assert [(s.status, s.attempts, s.lease_until, s.last_error) for s in settlements] == [
        (ev.DONE, 3, 60.0, None), (ev.IGNORED, 2, 61.0, None), (ev.DEAD, 3, 62.0, "boom"),
    ]  # fmt: skip


# --- outbox rows ---------------------------------------------------------------------------------
def test_outbox_rows_are_built_planned_and_plan_actions_keeps_them_as_they_are():
    note = AddNote(key="k1", rule="note_on_change", reason="amount changed", record_id="9", body="hello")
    row = to_action("acme", "evt", note, True, 5.0)
    assert planned_row(row, 5.0) is row
    unplanned = to_action("acme", "evt", note, True)  # no time: built anew at the plan's
    assert planned_row(unplanned, 5.0) == row == Action(
        key="k1", tenant="acme", event_key="evt", rule="note_on_change", op="AddNote", record_id="9", reason="amount changed",
        payload={"body": "hello", "evidence": {}}, dry_run=True, created_at=5.0, updated_at=5.0,
    )  # fmt: skip
    assert planned_row(row, 6.0).created_at == 6.0


def test_plan_actions_in_one_statement_keeps_known_keys_and_refuses_a_bad_row_whole(tmp_path):
    import sqlite3

    store = SqliteStore(tmp_path / "plan.db")
    try:
        note = AddNote(key="k1", rule="note_on_change", reason="first", record_id="9", body="hello")
        [first] = store.plan_actions([to_action("acme", "evt-1", note, True, 5.0)], 5.0)  # all new: the one-statement path
        assert store.get_action("k1") == first
        again = to_action("acme", "evt-2", AddNote(key="k1", rule="r", reason="second", record_id="9", body="x"), True, 6.0)
        new = to_action("acme", "evt-2", AddNote(key="k2", rule="r", reason="new", record_id="9", body="y"), True, 6.0)
        twice = to_action("acme", "evt-3", AddNote(key="k2", rule="r", reason="twice", record_id="9", body="z"), True, 6.0)
        rows = store.plan_actions([new, again, twice], 6.0)  # a known key: the careful path
        assert rows == [new, first, new]
        assert [store.get_action(k) for k in ("k1", "k2")] == [first, new]
        bad = Action(**{**new.__dict__, "key": "k3", "reason": None})  # NOT NULL: refused, and nothing of its batch stays
        fine = Action(**{**new.__dict__, "key": "k4"})
        with pytest.raises(sqlite3.IntegrityError):
            store.plan_actions([fine, bad], 7.0)
        assert store.get_action("k4") is None and store.get_action("k3") is None
    finally:
        store.close()
