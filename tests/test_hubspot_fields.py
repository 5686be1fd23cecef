"""The ack's whole-batch check accepts only batches the per-event check accepts, with the same keys."""
import pytest

from integration import samples
from integration.hubspot_fields import uniform_batch, well_typed
from integration.normalize import _hubspot_key, hubspot_received, raw_json
from tests.test_normalize import BASE, VARIANTS
from tests.conftest import make_config

EDGES = [{**BASE, field: value}
         for field in ("eventId", "subscriptionId", "portalId", "appId", "occurredAt", "attemptNumber", "objectId")
         for value in (0, 2**31 - 1, 2**31, 253_402_300_799_999, 253_402_300_800_000, 2**63 - 1, 2**63, -1, None, True, "7")]  # fmt: skip


def batches():
    for item in VARIANTS + EDGES:
        yield [item]
        yield [BASE, item]
        yield [item, item, item]
    reordered = dict(reversed(list(BASE.items())))
    yield [BASE, reordered]
    yield [BASE, {k: v for k, v in BASE.items() if k != "subscriptionType"} | {"subscriptionType": ""}]
    yield [{k: v for k, v in BASE.items() if k != "subscriptionType"} | {"eventType": "deal.creation"}] * 2


@pytest.mark.parametrize("batch", list(batches()))
def test_the_batch_check_accepts_only_well_typed_events_and_builds_their_keys(batch):
    uniform = uniform_batch(batch)
    if uniform is not None:
        keys, portals = uniform
        assert all(well_typed(item) for item in batch)
        assert keys == [_hubspot_key(item) for item in batch]
        assert portals == {item["portalId"] for item in batch}


def test_hubspot_sends_uniform_batches_and_they_take_the_batch_path():
    events = samples.hubspot_events("62515", [str(i) for i in range(100)], "150000", occurred_at_ms=1_795_000_000_000)
    for i, event in enumerate(events):
        event["eventId"] = 2**62 + i
    keys, portals = uniform_batch(events)
    assert keys == [_hubspot_key(e) for e in events] and portals == {62515}
    assert not uniform_batch([]) and not uniform_batch([events[0], [1]])


def test_the_stored_events_are_the_same_whichever_path_checked_them(tmp_path):
    config = make_config(tmp_path)
    events = samples.hubspot_events(config.tenants[0].portal_id or "", ["1", "2"], "150000", occurred_at_ms=1_795_000_000_000)
    mixed = [events[0], dict(reversed(list(events[1].items())))]  # not uniform: checked event by event
    assert uniform_batch(mixed) is None and uniform_batch(events) is not None
    fast, slow = hubspot_received(events, config).events, hubspot_received(mixed, config).events
    assert [(e.key, e.tenant, e.source) for e in fast] == [(e.key, e.tenant, e.source) for e in slow]
    assert [e.body for e in fast] == [raw_json(e) for e in events]
