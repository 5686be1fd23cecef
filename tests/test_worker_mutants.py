"""Batches where an early item is skipped and a later one must still be handled, the worker's
batch size and missing keys, rule settings as an admin writes them, and money as shown."""
from decimal import Decimal

import pytest
from marshmallow import ValidationError

from integration import limits
from integration.commands import Deal
from integration.normalize import hubspot_batch
from integration.rules.demo import NoOpRule, NoteOnChangeRule
from integration.rules.threshold import ThresholdRule
from tests.conftest import PORTAL_ID, make_config
from tests.store_contract import make_event
from tests.test_threshold_rule import plan
from tests.test_worker import add, crm, services  # noqa: F401  (fixtures)


def hs(event_id, portal=PORTAL_ID, **over):
    return {"eventId": event_id, "subscriptionId": 2, "portalId": portal, "occurredAt": 1_795_000_000_000,
            "subscriptionType": "deal.propertyChange", "objectId": 7, "propertyName": "amount", "propertyValue": "5", **over}  # fmt: skip


def test_hubspot_events_after_a_dropped_or_unsigned_one_are_still_accepted(tmp_path):
    cfg = make_config(tmp_path)
    out = hubspot_batch([hs(1, portal=999), hs(2), hs(3, portal=999), hs(4)], cfg)
    assert ([e.source_id for e in out.events], out.indexes, [d.index for d in out.dropped]) == (["2", "4"], [1, 3], [0, 2])
    unsigned = hubspot_batch([hs(1), hs(2)], cfg, signed_for=lambda t: False)
    assert [(r.index, r.reason) for r in unsigned.rejected] == [
        (0, "portalId belongs to a tenant that did not sign this request"), (1, "portalId belongs to a tenant that did not sign this request")]


def test_a_non_object_element_is_rejected_naming_the_required_fields(tmp_path):
    out = hubspot_batch([5, hs(2)], make_config(tmp_path))
    assert [e.source_id for e in out.events] == ["2"]
    assert {"eventId", "portalId", "occurredAt", "subscriptionId"} <= set(out.rejected[0].detail)


def test_rejections_are_reported_in_batch_order_whichever_check_found_them(tmp_path):
    big = "x" * limits.MAX_EVENT_BYTES
    out = hubspot_batch([hs(1, propertyValue=big), hs(2, eventId="not a number"), hs(3)], make_config(tmp_path))
    out.enforce_limits(len(big) + 1000)
    assert [(r.index, r.reason) for r in out.rejected] == [(0, "event exceeds a storage limit"), (1, "invalid event")]
    assert [e.source_id for e in out.events] == ["3"]


def test_run_due_takes_at_most_the_configured_batch_size(services, store, clock, crm):  # noqa: F811
    s = services(worker={"batch_size": 2})
    keys = add(store, clock, make_event(1), make_event(2), make_event(3))
    assert len(s.worker.run_due().done) == 2
    assert len(s.worker.run_due().done) == 1
    assert {store.get_event(k).status for k in keys} == {"done"}


def test_a_key_the_store_does_not_know_is_reported_missing_not_skipped(services, store, clock, crm):  # noqa: F811
    s = services()
    [key] = add(store, clock, make_event(1))
    report = s.worker.process([key, "hubspot#gone", key])
    assert (report.done, report.missing, report.skipped) == ([key], ["hubspot#gone"], [])
    again = s.worker.process([key])
    assert (again.skipped, again.missing) == ([key], [])


def test_rule_settings_as_an_admin_writes_them():
    tenant = None
    assert NoteOnChangeRule().load_settings({}, tenant) == {"properties": ["amount", "Amount"]}
    assert NoOpRule().load_settings({"x": 1}, tenant) == {"x": 1}
    rule = ThresholdRule()
    [tier] = rule.load_settings({"name": "big", "amount": 5, "leaders": ["L1"]}, tenant)  # one table, not a list
    assert (tier.name, tier.amount, tier.leaders) == ("big", Decimal(5), ("L1",))
    with pytest.raises(ValidationError) as dup:
        rule.load_settings([{"name": "a", "amount": 1, "leaders": ["L"]}, {"name": "a", "amount": 2, "leaders": ["L"]}], tenant)
    assert dup.value.normalized_messages() == {"name": ["tier names must be unique"]}
    with pytest.raises(ValidationError) as empty:
        rule.load_settings([], tenant)
    assert empty.value.normalized_messages() == {"amount": ["at least one tier is needed"]}


def test_amounts_are_shown_rounded_half_up_to_the_cent():
    [cmd] = plan(Deal(id="42", amount=Decimal("100000.125"), owner_id="OWNER"))
    assert cmd.reason.startswith("Amount 100,000.13 USD reached")
