"""Failure isolation: a poison event, a broken read, a hanging CRM touch only their own events."""
from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest

from integration.app import build_services
from integration.background import BackgroundWorker
from integration.commands import Deal
from tests.conftest import ENVIRON, make_config, tenants_raw
from tests.engine_fakes import UnrulyCrm
from tests.store_contract import make_event


def deals(n=100):
    return {str(1000 + i): Deal(id=str(1000 + i), amount=Decimal("5"), fields={"amount": "5"}) for i in range(n)}


@pytest.fixture
def crm():
    return UnrulyCrm(deals=deals())


@pytest.fixture
def services(tmp_path, store, clock, crm):
    def _make(gateway_for=None, **cfg):
        return build_services({"config": make_config(tmp_path, **cfg), "store": store, "clock": clock, "environ": ENVIRON,
                               "worker_mode": "none", "gateway_for": gateway_for or (lambda tenant: crm), "rng": lambda: 0.5})  # fmt: skip

    return _make


def add(store, clock, *events):
    store.add_events(list(events), clock())
    return [e.key for e in events]


def test_a_poison_event_in_a_batch_of_100(services, store, clock, crm):
    s = services(worker={"max_attempts": 3, "base_delay_seconds": 10, "batch_size": 100})
    keys = add(store, clock, *[make_event(i) for i in range(100)])
    poison = keys[37]  # about deal 1037, whose amount cannot be converted
    crm.poison.add("1037")
    report = s.worker.run_due()
    assert len(report.done) == 99 and report.retrying == [poison]
    assert sorted(c.record_id for c in crm.written) == sorted(str(1000 + i) for i in range(100) if i != 37)
    stored = store.get_event(poison)
    assert (stored.status, stored.attempts) == ("pending", 1)
    assert stored.last_error == "reading CRM state: record 1037: field amount: '12,5k' is not a number"
    # No busy loop: until its backoff is over, nothing is due and nothing is read.
    reads = len(crm.calls)
    for _ in range(5):
        assert s.worker.run_due().failed == []
    assert len(crm.calls) == reads
    clock.advance(10)
    assert s.worker.run_due().retrying == [poison]
    clock.advance(20)
    assert s.worker.run_due().dead == [poison]
    stored = store.get_event(poison)
    assert (stored.status, stored.attempts) == ("dead", 3) and "field amount" in stored.last_error
    clock.advance(10_000)
    assert s.worker.run_due().failed == [] and len(crm.written) == 99


def test_an_unexpected_exception_from_a_read_retries_the_batch_with_backoff_until_dead(services, store, clock, crm):
    s = services(worker={"max_attempts": 2, "base_delay_seconds": 4})
    keys = add(store, clock, make_event(1), make_event(2))
    crm.read_bug = ValueError("unexpected JSON from the CRM")
    report = s.worker.run_due()
    assert report.retrying == keys
    assert [store.get_event(k).next_attempt_at - clock() for k in keys] == pytest.approx([3] * 2, abs=1e-6)  # 4 s ceiling, equal jitter
    assert s.worker.run_due().failed == []  # not before the backoff
    clock.advance(4)
    assert s.worker.run_due().dead == keys
    assert store.get_event(keys[0]).last_error == "reading CRM state: ValueError: unexpected JSON from the CRM"


def test_a_gateway_that_cannot_be_built_fails_only_that_tenants_events(services, store, clock, crm):
    def gateway_for(tenant):
        if tenant.id == "acme-salesforce":
            raise RuntimeError("credentials missing")
        return crm

    s = services(gateway_for=gateway_for, tenants=tenants_raw(salesforce={"note_on_change": {"properties": ["amount"]}}))
    hub = make_event(1)
    sf = make_event(2, tenant="acme-salesforce")
    add(store, clock, hub, sf)
    report = s.worker.run_due()
    assert (report.done, report.retrying) == ([hub.key], [sf.key])


def test_a_hanging_crm_never_delays_another_tenants_events(tmp_path, store, clock):
    hang = threading.Event()
    slow, healthy = UnrulyCrm(deals=deals(), hang=hang), UnrulyCrm(crm="salesforce", deals=deals())
    tenants = tenants_raw(salesforce={"note_on_change": {"properties": ["amount"]}})
    cfg = make_config(tmp_path, tenants=tenants, worker={"concurrency": 4, "batch_size": 10})
    s = build_services({"config": cfg, "store": store, "clock": clock, "environ": ENVIRON, "worker_mode": "none",
                        "gateway_for": lambda t: slow if t.id == "acme-hubspot" else healthy})  # fmt: skip
    background = BackgroundWorker(s.worker, poll_seconds=0.02).start()
    try:
        add(store, clock, *[make_event(i) for i in range(60)])  # 6 batches for the hanging tenant
        time.sleep(0.1)
        assert background.in_flight() == {"acme-hubspot": 2}  # its share of the pool, no more
        sf_keys = add(store, clock, *[make_event(100 + i, tenant="acme-salesforce") for i in range(25)])
        background.notify(sf_keys)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and any(store.get_event(k).status != "done" for k in sf_keys):
            time.sleep(0.01)
        assert all(store.get_event(k).status == "done" for k in sf_keys)
        assert len(healthy.written) == 25 and slow.written == []
    finally:
        hang.set()
        background.stop()


def test_a_read_that_eats_half_the_lease_sends_nothing(services, store, clock, crm):
    s = services(worker={"lease_seconds": 100})
    keys = add(store, clock, make_event(1))
    slow_read = crm.read_deals

    def read_deals(ids):
        clock.advance(51)  # the CRM answered, but only after half the lease
        return slow_read(ids)

    crm.read_deals = read_deals
    assert s.worker.process(keys).retrying == keys
    assert crm.written == [] and store.list_actions() == []
    assert "more than half the lease" in store.get_event(keys[0]).last_error


def test_the_background_worker_does_not_spin_on_an_event_waiting_for_its_retry(services, store, clock, crm):
    s = services(worker={"base_delay_seconds": 60})
    keys = add(store, clock, make_event(1))
    crm.poison.add("1001")
    polls = []
    due_events = store.due_events

    def counting(*args, **kwargs):
        polls.append(1)
        return due_events(*args, **kwargs)

    store.due_events = counting
    background = BackgroundWorker(s.worker, poll_seconds=0.05).start()
    try:
        deadline = time.monotonic() + 2
        while store.get_event(keys[0]).attempts == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        polls.clear()
        time.sleep(0.3)
    finally:
        background.stop()
    assert store.get_event(keys[0]).attempts == 1  # tried once, now waiting for its backoff
    assert len(polls) <= 8  # one poll per 50 ms at most, not a hot loop


def test_inside_one_mixed_batch_a_hanging_tenant_does_not_hold_up_the_other(tmp_path, store, clock):
    hang = threading.Event()
    slow, healthy = UnrulyCrm(deals=deals(), hang=hang), UnrulyCrm(crm="salesforce", deals=deals())
    tenants = tenants_raw(salesforce={"note_on_change": {"properties": ["amount"]}})
    s = build_services({"config": make_config(tmp_path, tenants=tenants), "store": store, "clock": clock, "environ": ENVIRON,
                        "worker_mode": "none", "gateway_for": lambda t: slow if t.id == "acme-hubspot" else healthy})  # fmt: skip
    hub = add(store, clock, *[make_event(i) for i in range(3)])
    sf = add(store, clock, *[make_event(100 + i, tenant="acme-salesforce") for i in range(3)])
    reports = []
    sqs_batch = threading.Thread(target=lambda: reports.append(s.worker.process(hub + sf)))  # as one SQS batch would
    sqs_batch.start()
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and any(store.get_event(k).status != "done" for k in sf):
            time.sleep(0.01)
        assert [store.get_event(k).status for k in sf] == ["done"] * 3
        assert {store.get_event(k).status for k in hub} == {"processing"}  # still waiting for its CRM
    finally:
        hang.set()
        sqs_batch.join(5)
    assert sorted(reports[0].done) == sorted(hub + sf)
