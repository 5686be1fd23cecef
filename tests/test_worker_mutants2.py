"""What the worker does when something goes wrong, as the admin sees it in `gamefilm events`
(exact error texts) and the operator in the logs; the exact retry time a CRM's Retry-After
gives; the half-lease boundary; tenants side by side on `concurrency` named threads; and
which CRM reads a batch costs.

The clock starts on a whole second so that lease arithmetic is exact."""
from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Sequence

import pytest

from integration import logs
from integration.commands import Deal, Outcome, User
from integration.gateway import CrmError, RecordDataError
from integration.rules import Needs, Rule, State, merge_needs
from integration.rules.demo import NoteOnChangeRule
from integration.worker import Worker
from tests.conftest import make_config, tenants_raw
from tests.fakes import Clock, FakeCrm
from tests.store_contract import make_event
from tests.test_worker import Explodes, add, services  # noqa: F401  (fixture)

HALF_LEASE = 150.0  # the default lease is 300 s


@dataclass
class Crm(FakeCrm):
    """FakeCrm whose deal read can take (fake) time, raise any exception once, or wait for
    a second tenant's read to start; it records the threads reads run on and rate reads."""

    clock: Any = None
    read_seconds: float = 0.0
    raise_on_read: Exception | None = None
    rendezvous: bool = False
    threads: list[str] = field(default_factory=list)
    most_in_flight: int = 0
    _in_flight: int = 0
    _lock: Any = field(default_factory=threading.Lock)
    _both: Any = field(default_factory=threading.Event)

    def read_deals(self, ids: Sequence[str]) -> dict[str, Deal]:
        with self._lock:
            self.threads.append(threading.current_thread().name)
            self._in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self._in_flight)
            if self._in_flight == 2:
                self._both.set()
        try:
            if self.rendezvous:
                self._both.wait(0.3)  # side by side: the other tenant's read arrives at once
            if self.clock is not None:
                self.clock.advance(self.read_seconds)
            if self.raise_on_read is not None:
                exc, self.raise_on_read = self.raise_on_read, None
                raise exc
            return super().read_deals(ids)
        finally:
            with self._lock:
                self._in_flight -= 1

    def read_currency_rates(self) -> dict[str, Decimal]:
        self.calls.append(("read_currency_rates", 0))
        return {"EUR": Decimal("1.1")}


class Wants(Rule):
    """A rule that asks for fixed needs, plans nothing, and keeps the state it was given."""

    def __init__(self, name: str, needs: Needs | None = None, needs_error_for: str | None = None):
        self.name = name
        self._needs = needs or Needs()
        self._needs_error_for = needs_error_for
        self.seen: State | None = None

    def needs(self, event, settings):
        if event.object_id == self._needs_error_for:
            raise KeyError("bug")
        return self._needs

    def plan(self, event, settings, state, tenant):
        self.seen = state
        return []


class SecondNote(NoteOnChangeRule):
    name = "second_note"


@pytest.fixture
def clock():
    return Clock(1_795_000_000.0)


@pytest.fixture
def crm(clock):
    deals = {str(1000 + i): Deal(id=str(1000 + i), amount=Decimal("5"), fields={"amount": "5"}, owner_id="O1") for i in range(10)}
    users = {"O1": User(id="O1", manager_id="M1"), "M1": User(id="M1"), "U-extra": User(id="U-extra")}
    return Crm(deals=deals, users=users, clock=clock)


def with_rules(s, *rules: Rule):
    """Enable extra rules on acme-hubspot, after note_on_change (test config only)."""
    for rule in rules:
        s.worker.rules[rule.name] = rule
        s.config.tenants[0].rules[rule.name] = {}
    s.worker._tenant_rules.clear()


def only_rules(s, *rules: Rule):
    s.config.tenants[0].rules.clear()
    with_rules(s, *rules)


def worker_lines(caplog):
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "integration.worker"]


# --- Retry-After and the half-lease boundary --------------------------------------------
def test_a_crms_retry_after_while_reading_state_sets_the_exact_retry_time_of_each_event(services, store, clock, crm):
    s = services(worker={"base_delay_seconds": 2})
    keys = add(store, clock, make_event(1), make_event(2))
    crm.fail_next.append(CrmError("429 Too Many Requests", retryable=True, retry_after=120))
    assert s.worker.process(keys).retrying == keys
    for key in keys:
        stored = store.get_event(key)
        assert stored.last_error == "reading CRM state: 429 Too Many Requests"
        assert stored.next_attempt_at - clock() == pytest.approx(120, abs=1e-6)  # not the 1.5 s backoff
    clock.advance(119)
    assert s.worker.run_due().done == []
    clock.advance(1)
    assert s.worker.run_due().done == keys


def test_a_read_of_exactly_half_the_lease_still_sends(services, store, clock, crm):
    s = services()
    crm.read_seconds = HALF_LEASE
    keys = add(store, clock, make_event(1))
    assert s.worker.process(keys).done == keys
    assert [c.record_id for c in crm.written] == ["1001"]


def test_a_read_longer_than_half_the_lease_sends_nothing_and_says_so(services, store, clock, crm):
    s = services()
    crm.read_seconds = HALF_LEASE + 0.001
    keys = add(store, clock, make_event(1), make_event(2))
    assert s.worker.process(keys).retrying == keys
    assert crm.written == []
    assert {store.get_event(k).last_error for k in keys} == {"the CRM read took more than half the lease; nothing was sent"}


# --- tenants side by side ------------------------------------------------------------------
@pytest.mark.parametrize("concurrency, threads", [(1, {"gamefilm-tenant_0"}), (2, {"gamefilm-tenant_0", "gamefilm-tenant_1"})])
def test_tenants_run_on_at_most_concurrency_named_threads(services, store, clock, crm, concurrency, threads):
    s = services(tenants=tenants_raw(salesforce={"note_on_change": {"properties": ["amount"]}}), worker={"concurrency": concurrency})
    crm.rendezvous = True
    keys = add(store, clock, make_event(1), make_event(2, tenant="acme-salesforce"))
    assert sorted(s.worker.process(keys).done) == sorted(keys)
    assert (set(crm.threads), crm.most_in_flight) == (threads, concurrency)


# --- what the admin sees when a step fails ----------------------------------------------------
def test_a_rule_whose_needs_fail_parks_its_event_and_later_events_go_on(services, store, clock, crm):
    s = services(worker={"max_attempts": 1})
    only_rules(s, Wants("picky", needs_error_for="1001"), NoteOnChangeRule())
    keys = add(store, clock, make_event(1), make_event(2))
    report = s.worker.process(keys)
    assert (report.dead, report.done) == ([keys[0]], [keys[1]])
    assert store.get_event(keys[0]).last_error == "rule error: KeyError: 'bug'"
    assert [c.record_id for c in crm.written] == ["1002"]


def test_the_log_line_names_every_rule_that_matched(services, store, clock, crm, caplog):
    s = services()
    with_rules(s, Wants("watch"))
    keys = add(store, clock, make_event(1))
    with caplog.at_level(logging.INFO, logger=logs.EVENT_LOGGER):
        s.worker.process(keys)
    [line] = [getattr(r, logs._FIELDS) for r in caplog.records if r.name == logs.EVENT_LOGGER]
    assert (line["key"], line["rule"], line["outcome"]) == (keys[0], "note_on_change,watch", "done")


def test_every_failed_action_of_an_event_is_in_its_error(services, store, clock, crm):
    s = services()
    with_rules(s, SecondNote())
    [key] = add(store, clock, make_event(1))
    for rule, error in (("note_on_change", "UNABLE_TO_LOCK_ROW"), ("second_note", "ENTITY_IS_LOCKED")):
        crm.reject_keys[f"{rule}#{key}"] = Outcome(key=f"{rule}#{key}", ok=False, error=error, retryable=True)
    assert s.worker.process([key]).retrying == [key]
    assert store.get_event(key).last_error == f"note_on_change#{key}: UNABLE_TO_LOCK_ROW; second_note#{key}: ENTITY_IS_LOCKED"


def test_the_report_counts_the_commands_planned_and_sent(services, store, clock, crm):
    s = services()
    keys = add(store, clock, make_event(1), make_event(2))
    report = s.worker.process(keys)
    assert (report.commands, report.executed) == (2, 2)


def test_a_crm_that_cannot_be_connected_to_fails_every_event_of_the_tenant(services, store, clock, crm):
    s = services()

    def no_gateway(tenant):
        raise RuntimeError("token refresh failed")

    s.worker.gateway_for = no_gateway
    keys = add(store, clock, make_event(1), make_event(2))
    assert s.worker.process(keys).retrying == keys
    assert {store.get_event(k).last_error for k in keys} == {"connecting to the CRM: RuntimeError: token refresh failed"}


def test_a_store_failure_mid_batch_retries_the_tenants_events_and_logs_which(services, store, clock, crm, caplog, monkeypatch):
    s = services()
    keys = add(store, clock, make_event(1), make_event(2))

    def locked(*args, **kwargs):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(store, "plan_actions", locked)
    with caplog.at_level(logging.INFO, logger="integration.worker"):
        assert s.worker.process(keys).retrying == keys
    assert {store.get_event(k).last_error for k in keys} == {"processing failed: OperationalError: database is locked"}
    [record] = [r for r in caplog.records if r.name == "integration.worker"]
    assert (record.levelname, record.getMessage(), record.exc_info[0]) == ("ERROR", "processing 2 events of tenant acme-hubspot failed", sqlite3.OperationalError)
    assert crm.written == []


def test_unconvertible_data_of_a_record_no_event_is_about_fails_all_events_once(services, store, clock, crm):
    s = services()
    keys = add(store, clock, make_event(1), make_event(2))
    crm.fail_next.append(RecordDataError("U9", "ManagerId", "not a user id"))
    assert s.worker.process(keys).retrying == keys
    assert {store.get_event(k).last_error for k in keys} == {"reading CRM state: record U9: field ManagerId: not a user id"}
    assert crm.calls == [("read_deals", 2)]


def test_an_unexpected_read_failure_is_logged_by_class_only_and_shown_to_the_admin(services, store, clock, crm, caplog):
    s = services()
    keys = add(store, clock, make_event(1))
    crm.raise_on_read = ValueError("unexpected answer for deal SECRET-7")
    with caplog.at_level(logging.INFO, logger="integration.worker"):
        assert s.worker.process(keys).retrying == keys
    assert store.get_event(keys[0]).last_error == "reading CRM state: ValueError: unexpected answer for deal SECRET-7"
    assert worker_lines(caplog) == [("WARNING", "reading CRM state failed: ValueError")]


def test_a_rule_that_fails_while_planning_is_logged_with_its_event_and_error_class(services, store, clock, crm, caplog):
    s = services()
    with_rules(s, Explodes())
    keys = add(store, clock, make_event(1))
    with caplog.at_level(logging.INFO, logger="integration.worker"):
        s.worker.process(keys)
    assert worker_lines(caplog) == [("WARNING", f"rule failed for event {keys[0]}: KeyError")]


# --- what a batch reads ------------------------------------------------------------------------
def test_a_rule_needing_only_users_reads_no_deals_and_no_rates(services, store, clock, crm):
    s = services()
    rule = Wants("users_only", Needs(user_ids=("U-extra",)))
    only_rules(s, rule)
    keys = add(store, clock, make_event(1))
    assert s.worker.process(keys).done == keys
    assert crm.calls == [("read_users", 1)]
    assert rule.seen is not None and (set(rule.seen.users), dict(rule.seen.rates)) == ({"U-extra"}, {})


def test_named_users_are_read_together_with_the_owners_manager_chain(services, store, clock, crm):
    s = services()
    rule = Wants("chain", Needs(deal_ids=("1001",), user_ids=("U-extra",), owner_manager_levels=1, currency_rates=True))
    only_rules(s, rule)
    keys = add(store, clock, make_event(1))
    assert s.worker.process(keys).done == keys
    assert crm.calls == [("read_deals", 1), ("read_users", 2), ("read_users", 1), ("read_currency_rates", 0)]
    assert rule.seen is not None and set(rule.seen.users) == {"U-extra", "O1", "M1"}
    assert rule.seen.managers("O1", 1) == ["M1"] and dict(rule.seen.rates) == {"EUR": Decimal("1.1")}


def test_a_worker_given_its_own_rules_runs_those_not_the_registry(tmp_path, store, clock, crm):
    worker = Worker(store, make_config(tmp_path), lambda tenant: crm, rules={}, clock=clock)
    keys = add(store, clock, make_event(1))
    assert worker.process(keys).ignored == keys
    assert crm.calls == []


def test_merging_needs_reads_each_record_once_and_nothing_for_no_needs():
    merged = merge_needs([Needs(("2", "1"), ("u",), 1), Needs(("1",), ("u", "v"), 3, currency_rates=True), Needs()])
    assert merged == Needs(("1", "2"), ("u", "v"), 3, True)
    assert merge_needs([]) == Needs()
