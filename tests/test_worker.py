"""The worker: rules in, batched commands out, each effect once, failures retried then parked."""
from decimal import Decimal

import pytest

from integration.app import build_services
from integration.commands import AddNote, Deal, Outcome
from integration.gateway import CrmError
from integration.rules import Needs, Rule
from integration.store import ACTION_DONE
from tests.conftest import ENVIRON, make_config, tenants_raw
from tests.fakes import FakeCrm
from tests.store_contract import make_event


class Explodes(Rule):
    """A rule with a bug that only deal 1001 triggers."""

    name = "explodes"

    def needs(self, event, settings):
        return Needs()

    def plan(self, event, settings, state, tenant):
        if event.object_id == "1001":
            raise KeyError("bug")
        return []


@pytest.fixture
def crm():
    return FakeCrm(deals={str(1000 + i): Deal(id=str(1000 + i), amount=Decimal("5"), fields={"amount": "5"}) for i in range(200)})


@pytest.fixture
def services(tmp_path, store, clock, crm):
    def _make(**cfg):
        return build_services({"config": make_config(tmp_path, **cfg), "store": store, "clock": clock,
                               "environ": ENVIRON, "worker_mode": "none", "gateway_for": lambda tenant: crm,
                               "rng": lambda: 0.5})  # fmt: skip

    return _make


def add(store, clock, *events):
    store.add_events(list(events), clock())
    return [e.key for e in events]


def test_event_is_processed_once_with_its_action_recorded(services, store, clock, crm):
    s = services()
    keys = add(store, clock, make_event(1))
    report = s.worker.process(keys)
    assert report.done == keys
    assert [type(c) for c in crm.written] == [AddNote]
    assert crm.written[0].body == "Game Film noticed a change: amount is now 5."
    action = store.list_actions()[0]
    assert (action.status, action.rule, action.op, action.record_id, action.event_key) == (ACTION_DONE, "note_on_change", "AddNote", "1001", keys[0])
    assert store.get_event(keys[0]).status == "done"


def test_rerunning_a_processed_event_issues_no_command_twice(services, store, clock, crm):
    s = services()
    keys = add(store, clock, make_event(1))
    s.worker.process(keys)
    store.replay_event(keys[0], clock())
    report = s.worker.process(keys)
    assert report.done == keys and report.executed == 0
    assert len(crm.written) == 1


def test_a_batch_of_100_events_costs_one_read_and_one_write(services, store, clock, crm):
    s = services()
    keys = add(store, clock, *[make_event(i) for i in range(100)])
    report = s.worker.process(keys)
    assert len(report.done) == 100
    assert crm.calls == [("read_deals", 100), ("add_notes", 100)]


def test_transient_failure_retries_with_backoff_then_succeeds(services, store, clock, crm):
    s = services(worker={"base_delay_seconds": 2, "max_attempts": 3})
    keys = add(store, clock, make_event(1))
    crm.fail_next.append(CrmError("503 Service Unavailable", retryable=True))
    report = s.worker.process(keys)
    assert report.retrying == keys
    stored = store.get_event(keys[0])
    assert (stored.status, stored.attempts, stored.last_error) == ("pending", 1, "reading CRM state: 503 Service Unavailable")
    assert stored.next_attempt_at - clock() == pytest.approx(1.5, abs=1e-6)  # 2 s ceiling, equal jitter at rng=0.5
    assert s.worker.run_due().done == []  # not due yet
    clock.advance(2)
    assert s.worker.run_due().done == keys
    assert len(crm.written) == 1


def test_after_max_attempts_the_event_is_dead_with_its_last_error(services, store, clock, crm):
    s = services(worker={"max_attempts": 2, "base_delay_seconds": 1})
    keys = add(store, clock, make_event(1))
    crm.fail_next.extend([CrmError("timeout", retryable=True), CrmError("timeout again", retryable=True)])
    s.worker.process(keys)
    clock.advance(10)
    assert s.worker.run_due().dead == keys
    stored = store.get_event(keys[0])
    assert (stored.status, stored.attempts, stored.last_error) == ("dead", 2, "reading CRM state: timeout again")
    assert crm.written == []


def test_non_retryable_crm_error_parks_the_event_at_once(services, store, clock, crm):
    s = services()
    keys = add(store, clock, make_event(1))
    crm.fail_next.append(CrmError("INVALID_TYPE: OpportunityTeamMember is not supported"))
    assert s.worker.process(keys).dead == keys


def test_per_record_failure_retries_only_that_event_and_never_repeats_the_others(services, store, clock, crm):
    s = services()
    keys = add(store, clock, make_event(1), make_event(2))
    failing = f"note_on_change#{keys[1]}"
    crm.reject_keys[failing] = Outcome(key=failing, ok=False, error="UNABLE_TO_LOCK_ROW", retryable=True)
    report = s.worker.process(keys)
    assert report.done == [keys[0]] and report.retrying == [keys[1]]
    assert store.get_action(failing).status == "failed"
    del crm.reject_keys[failing]
    clock.advance(60)
    assert s.worker.run_due().done == [keys[1]]
    assert sorted(c.record_id for c in crm.written) == ["1001", "1002"]


def test_a_rule_bug_retries_only_its_event_then_parks_it_and_the_batch_goes_on(services, store, clock, crm):
    s = services(worker={"max_attempts": 2, "base_delay_seconds": 1})
    s.worker.rules["explodes"] = Explodes()
    s.worker._tenant_rules.clear()
    keys = add(store, clock, make_event(1), make_event(2))
    s.config.tenants[0].rules["explodes"] = {}  # mutable mapping in the test config only
    report = s.worker.process(keys)
    assert (report.retrying, report.done) == ([keys[0]], [keys[1]])
    assert [c.record_id for c in crm.written] == ["1002"]
    clock.advance(5)
    assert s.worker.run_due().dead == [keys[0]]
    assert store.get_event(keys[0]).last_error == "rule error: KeyError: 'bug'"
    assert [c.record_id for c in crm.written] == ["1002"]


def test_events_no_rule_wants_are_ignored(services, store, clock, crm):
    s = services()
    other = make_event(1, tenant="other-hubspot")  # that tenant only has the noop rule
    keys = add(store, clock, other)
    assert s.worker.process(keys).ignored == keys
    assert store.get_event(keys[0]).status == "ignored"
    assert crm.calls == []


def test_an_event_held_by_another_worker_is_skipped(services, store, clock, crm):
    s = services()
    keys = add(store, clock, make_event(1))
    store.claim_event(keys[0], clock())
    assert s.worker.process(keys).skipped == keys


def test_events_of_a_removed_tenant_are_parked(services, store, clock, crm):
    s = services(tenants=tenants_raw()[:1])
    keys = add(store, clock, make_event(1, tenant="gone"))
    report = s.worker.process(keys)
    assert report.dead == keys
    assert "no longer configured" in store.get_event(keys[0]).last_error


def test_backoff_grows_exponentially_and_is_capped(services):
    s = services(worker={"base_delay_seconds": 2, "max_delay_seconds": 60})
    s.worker.rng = lambda: 1.0
    assert [s.worker.backoff(n) for n in (1, 2, 3, 4, 5, 6, 7)] == [2, 4, 8, 16, 32, 60, 60]
    s.worker.rng = lambda: 0.0
    assert s.worker.backoff(3) == 4


def test_dry_run_without_credentials_decides_on_the_events_values(tmp_path, store, clock):
    s = build_services({"config": make_config(tmp_path), "store": store, "clock": clock, "environ": ENVIRON, "worker_mode": "none"})
    keys = add(store, clock, make_event(1))
    assert s.worker.process(keys).done == keys
    action = store.list_actions()[0]
    assert action.dry_run is True
    assert action.payload["body"] == "Game Film noticed a change: amount is now 150000."


def test_a_replayed_event_whose_actions_are_all_done_needs_no_crm(services, store, clock, crm):
    calls = []

    def gateway_for(tenant):
        calls.append(tenant.id)
        return crm

    s = services()
    keys = add(store, clock, make_event(1))
    s.worker.process(keys)
    store.replay_event(keys[0], clock())
    s.worker.gateway_for = gateway_for
    assert s.worker.process(keys).done == keys
    assert calls == [] and len(crm.written) == 1


def test_a_crms_retry_after_while_reading_state_is_honoured_but_never_shortens_the_backoff(services, store, clock, crm):
    s = services(worker={"base_delay_seconds": 2})
    keys = add(store, clock, make_event(1), make_event(2))
    crm.fail_next.append(CrmError("429 Too Many Requests", retryable=True, retry_after=120))
    s.worker.process(keys[:1])
    assert store.get_event(keys[0]).next_attempt_at - clock() == pytest.approx(120, abs=1e-6)
    crm.fail_next.append(CrmError("503", retryable=True, retry_after=0))
    s.worker.process(keys[1:])
    assert store.get_event(keys[1]).next_attempt_at - clock() == pytest.approx(1.5, abs=1e-6)  # the backoff, not 0


def test_each_settled_event_gets_one_log_line_with_its_rule_and_no_error_text(services, store, clock, crm, caplog):
    import logging

    from integration import logs

    s = services()
    keys = add(store, clock, make_event(1), make_event(2))
    crm.fail_next.append(CrmError("HubSpot 503 for deal CANARY-7", retryable=True))  # the state read of this pass
    with caplog.at_level(logging.INFO, logger=logs.EVENT_LOGGER):
        s.worker.process(keys)
    lines = [r for r in caplog.records if r.name == logs.EVENT_LOGGER]
    fields = [getattr(r, logs._FIELDS) for r in lines]
    assert sorted((f["key"], f["outcome"], f["attempts"], f["rule"]) for f in fields) == sorted(
        (k, "retry", 1, "note_on_change") for k in keys
    )
    assert all(f["tenant"] == "acme-hubspot" and f["retry_in_s"] >= 0 and f["duration_ms"] >= 0 for f in fields)
    assert "CANARY" not in caplog.text
    assert "CANARY-7" in store.get_event(keys[0]).last_error  # the admin still sees why (CLI), the log does not
