"""Intake: what the sender is told and what the worker is told, per outcome of the store."""
import logging
from datetime import datetime, timezone

import pytest

from integration.events import Event
from integration.intake import Accepted, Intake, StoreUnavailable


def event(n: int) -> Event:
    return Event(key=f"k{n}", tenant="t", crm="hubspot", object_type="deal", object_id=str(n), kind="updated",
                 occurred_at=datetime(2026, 11, 20, tzinfo=timezone.utc), source_id=str(n), changed={}, raw={})  # fmt: skip


class Store:
    def __init__(self, fresh=None, error=None):
        self.fresh, self.error, self.calls = fresh, error, []

    def add_events(self, events, now):
        self.calls.append(([e.key for e in events], now))
        if self.error:
            raise self.error
        return self.fresh


def test_an_empty_delivery_touches_neither_store_nor_worker():
    store, notified = Store(), []
    assert Intake(store, notified.append, lambda: 5.0).accept([]) == Accepted(0, 0)
    assert store.calls == [] and notified == []


def test_only_new_events_are_notified_once_with_the_clock_time_stored():
    store, notified = Store(fresh=[True, False, True]), []
    result = Intake(store, notified.append, lambda: 42.5).accept([event(1), event(2), event(3)])
    assert result == Accepted(new=2, duplicates=1)
    assert store.calls == [(["k1", "k2", "k3"], 42.5)]
    assert notified == [["k1", "k3"]]


def test_all_duplicates_notify_nobody():
    notified = []
    assert Intake(Store(fresh=[False]), notified.append, lambda: 0.0).accept([event(1)]) == Accepted(0, 1)
    assert notified == []


def test_a_failed_notification_still_acknowledges_and_logs_the_count_only(caplog):
    def notify(keys):
        raise ConnectionError("queue down k1")

    with caplog.at_level(logging.ERROR, logger="integration.intake"):
        result = Intake(Store(fresh=[True, True]), notify, lambda: 0.0).accept([event(1), event(2)])
    assert result == Accepted(2, 0)
    assert [r.getMessage() for r in caplog.records] == ["could not notify the worker of 2 new events"]


def test_a_store_failure_is_store_unavailable_naming_the_class_and_code_not_the_message():
    class ClientError(Exception):
        response = {"Error": {"Code": "ProvisionedThroughputExceededException"}}

    cause = ClientError("value secret-amount rejected")
    with pytest.raises(StoreUnavailable) as caught:
        Intake(Store(error=cause), lambda keys: None, lambda: 0.0).accept([event(1)])
    assert str(caught.value) == "ClientError(ProvisionedThroughputExceededException)"
    assert caught.value.cause is cause
    with pytest.raises(StoreUnavailable, match="^RuntimeError$"):
        Intake(Store(error=RuntimeError("boom")), lambda keys: None, lambda: 0.0).accept([event(1)])


def test_sqlite_failures_are_named_by_sqlite_code_and_unknown_responses_by_class():
    import sqlite3

    try:
        sqlite3.connect(":memory:").execute("SELECT * FROM no_such_table")
    except sqlite3.OperationalError as exc:
        cause = exc
    with pytest.raises(StoreUnavailable, match=r"^OperationalError\(SQLITE_ERROR\)$"):
        Intake(Store(error=cause), lambda keys: None, lambda: 0.0).accept([event(1)])

    class ClientError(Exception):
        response: dict = {}  # an answer without an error code

    with pytest.raises(StoreUnavailable, match="^ClientError$"):
        Intake(Store(error=ClientError("x")), lambda keys: None, lambda: 0.0).accept([event(1)])
