"""The SQS consumer reports exactly the failed messages; the sweep settles poison per event."""
from __future__ import annotations

import json
import sqlite3
from decimal import Decimal

import pytest

from integration import queue
from integration.app import build_services
from integration.commands import Deal
from tests.conftest import ENVIRON, make_config
from tests.engine_fakes import UnrulyCrm
from tests.store_contract import make_event


@pytest.fixture
def crm():
    return UnrulyCrm(deals={str(1000 + i): Deal(id=str(1000 + i), amount=Decimal("5"), fields={"amount": "5"}) for i in range(20)})


@pytest.fixture
def services(tmp_path, store, clock, crm, monkeypatch):
    s = build_services({"config": make_config(tmp_path, worker={"max_attempts": 3, "base_delay_seconds": 30}), "store": store,
                        "clock": clock, "environ": ENVIRON, "worker_mode": "none", "gateway_for": lambda t: crm, "rng": lambda: 0.5})  # fmt: skip
    monkeypatch.setattr(queue, "_services", s)
    return s


def message(n, key):
    return {"messageId": f"m{n}", "body": json.dumps({"key": key})}


def failed_ids(result):
    return [f["itemIdentifier"] for f in result["batchItemFailures"]]


def test_only_the_bad_messages_come_back(services, store, clock, crm):
    events = [make_event(i) for i in range(4)]
    store.add_events(events, clock())
    # Event 2's stored body can no longer be read (an exception for that record only).
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE events SET body = '{broken' WHERE key = ?", (events[2].key,))
    records = [message(0, events[0].key), {"messageId": "m-bad", "body": "not json"}, message(1, events[1].key),
               message(2, events[2].key), message(3, "hubspot#gone#1"), message(4, events[3].key)]  # fmt: skip
    result = queue.sqs_handler({"Records": records}, None)
    assert failed_ids(result) == ["m-bad", "m2", "m3"]
    assert [store.get_event(e.key).status for e in (events[0], events[1], events[3])] == ["done"] * 3
    assert len(crm.written) == 3


def test_an_event_that_fails_in_the_worker_is_rescheduled_and_its_message_succeeds(services, store, clock, crm):
    events = [make_event(i) for i in range(3)]
    store.add_events(events, clock())
    crm.poison.add("1001")
    result = queue.sqs_handler({"Records": [message(i, e.key) for i, e in enumerate(events)]}, None)
    assert failed_ids(result) == []
    assert [store.get_event(e.key).status for e in events] == ["done", "pending", "done"]


def test_a_store_failure_fails_every_message_it_touched(services, store, clock, monkeypatch):
    events = [make_event(i) for i in range(2)]
    store.add_events(events, clock())

    def down(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "claim_events", down)
    result = queue.sqs_handler({"Records": [message(i, e.key) for i, e in enumerate(events)]}, None)
    assert failed_ids(result) == ["m0", "m1"]
    assert {store.get_event(e.key).status for e in events} == {"pending"}


def test_the_sweep_settles_a_poison_event_on_its_own_until_dead(services, store, clock, crm):
    events = [make_event(i) for i in range(10)]
    store.add_events(events, clock())
    crm.poison.add("1004")
    assert queue.sweep_handler({}, None) == {"done": 9, "retrying": 1, "dead": 0}
    attempts = []
    for _ in range(2):
        assert queue.sweep_handler({}, None) == {"done": 0, "retrying": 0, "dead": 0}  # backing off
        clock.advance(120)
        queue.sweep_handler({}, None)
        attempts.append(store.get_event(events[4].key).attempts)
    assert attempts == [2, 3]
    stored = store.get_event(events[4].key)
    assert stored.status == "dead" and "field amount" in stored.last_error
    assert len(crm.written) == 9


class LambdaContext:
    def __init__(self, remaining_ms):
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self):
        return self.remaining_ms


def test_the_sweep_drains_batch_after_batch_while_the_lambda_has_time(services, store, clock, crm):
    crm.deals.update({str(1000 + i): Deal(id=str(1000 + i), amount=Decimal("5")) for i in range(250)})
    store.add_events([make_event(i) for i in range(250)], clock())
    assert queue.sweep_handler({}, LambdaContext(10_000)) == {"done": 100, "retrying": 0, "dead": 0}  # little time left
    assert queue.sweep_handler({}, LambdaContext(600_000)) == {"done": 150, "retrying": 0, "dead": 0}
