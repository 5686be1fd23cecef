"""The outbox as an admin reads it: the error each action row and event keeps, the log line an
operator sees, refusals that park at once, and dry-run rows never marked as sent."""
import logging

from integration.app import build_services
from integration.commands import Outcome
from integration.store import ACTION_UNKNOWN
from tests.conftest import ENVIRON, make_config
from tests.store_contract import make_event
from tests.test_outbox import COLLAB, NOTE, add, crm, services  # noqa: F401  (fixtures)


def test_a_lookup_that_cannot_tell_keeps_the_reason_on_the_row_and_logs_only_the_class(services, store, clock, crm, caplog):  # noqa: F811
    from integration.gateway import CrmError

    s = services()
    keys = add(store, clock, make_event(1))
    crm.applied_then["add_notes"] = CrmError("read timeout", ambiguous=True)
    s.worker.process(keys)
    crm.lookup_fails = True
    clock.advance(60)
    with caplog.at_level(logging.WARNING, logger="integration.outbox"):
        s.worker.run_due()
    note = store.get_action(NOTE)
    assert (note.status, note.error) == (ACTION_UNKNOWN, "outcome unknown; the lookup could not tell")
    assert f"{NOTE}: outcome unknown; the lookup could not tell" in store.get_event(keys[0]).last_error
    assert [r.getMessage() for r in caplog.records if r.name == "integration.outbox"] == ["lookup of 1 unknown creates failed: CrmError"]


def test_an_adapter_bug_is_recorded_on_each_row_of_that_type_and_logged_by_class(services, store, clock, crm, caplog):  # noqa: F811
    s = services()
    keys = add(store, clock, make_event(1), make_event(2))
    crm.applied_then["add_notes"] = RuntimeError("adapter bug")
    with caplog.at_level(logging.WARNING, logger="integration.outbox"):
        s.worker.process(keys)
    notes = [a for a in store.list_actions() if a.key.startswith("threshold-note#")]
    assert [(a.status, a.error) for a in notes] == [(ACTION_UNKNOWN, "RuntimeError: adapter bug")] * 2
    assert [r.getMessage() for r in caplog.records if r.name == "integration.outbox"] == [
        f"{type(crm).__name__} of 2 AddNote failed: RuntimeError"]


def test_a_refusal_that_is_not_retryable_parks_the_event_at_once(services, store, clock, crm):  # noqa: F811
    s = services()
    keys = add(store, clock, make_event(1))
    crm.reject_keys[COLLAB] = Outcome(key=COLLAB, ok=False, error="INVALID_CROSS_REFERENCE_KEY", retryable=False)
    assert s.worker.process(keys).dead == keys
    assert store.get_event(keys[0]).last_error == f"{COLLAB}: INVALID_CROSS_REFERENCE_KEY"


def test_a_done_event_counts_one_attempt(services, store, clock, crm):  # noqa: F811
    s = services()
    keys = add(store, clock, make_event(1))
    assert s.worker.process(keys).done == keys
    assert store.get_event(keys[0]).attempts == 1


def test_dry_run_rows_are_never_marked_sent(tmp_path, store, clock):
    s = build_services({"config": make_config(tmp_path), "store": store, "clock": clock, "environ": ENVIRON, "worker_mode": "none"})
    keys = add(store, clock, make_event(1))
    assert s.worker.process(keys).done == keys
    [action] = store.list_actions()
    assert (action.dry_run, action.status, action.sends) == (True, "done", 0)


def test_a_record_that_cannot_be_converted_parks_its_events_and_the_others_are_read_again(services, store, clock, crm):  # noqa: F811
    s = services(worker={"max_attempts": 1})
    keys = add(store, clock, make_event(1), make_event(2))
    crm.poison = {"1001"}
    report = s.worker.process(keys)
    assert (report.dead, report.done) == ([keys[0]], [keys[1]])
    assert "amount" in store.get_event(keys[0]).last_error
    assert crm.effects() == {"threshold#acme-hubspot#1002#big#L1": 1, "threshold-note#acme-hubspot#1002#big": 1}
