"""Normalisation details: the HubSpot fast path agrees with the marshmallow schema."""
import pytest
from marshmallow import ValidationError

from integration import samples
from integration.normalize import HubSpotEventSchema, _well_typed_hubspot_event

BASE = samples.hubspot_events("62515", ["42"], "150000", occurred_at_ms=1_795_000_000_000)[0]
VARIANTS = [
    BASE,
    {**BASE, "propertyValue": None, "sourceId": None},
    {**BASE, "subscriptionType": "deal.creation", "propertyName": "x"} | {"extra": {"nested": [1]}},
    {k: v for k, v in BASE.items() if k not in ("propertyName", "propertyValue", "appId", "attemptNumber")},
    {**{k: v for k, v in BASE.items() if k != "subscriptionType"}, "eventType": "object.propertyChange", "objectTypeId": "0-3"},
    {**{k: v for k, v in BASE.items() if k != "objectId"}, "primaryObjectId": 7, "mergedObjectIds": [8, 9]},
    # not well typed: the fast path declines and the schema decides (converts or rejects)
    {**BASE, "portalId": "62515"},
    {**BASE, "occurredAt": -1},
    {**BASE, "attemptNumber": "0"},
    {**BASE, "eventId": True},
    {**BASE, "sourceId": 5},
    {**BASE, "objectTypeId": 3},
    {k: v for k, v in BASE.items() if k != "portalId"},
    {k: v for k, v in BASE.items() if k != "subscriptionType"},
    {k: v for k, v in BASE.items() if k != "objectId"},
    {**BASE, "subscriptionType": ""},
    ["not", "a", "dict"],
    # out of range (limits.py): the fast path declines and the schema rejects
    {**BASE, "occurredAt": 253_402_300_800_000},
    {**BASE, "objectId": 2**63},
    {**BASE, "portalId": 2**64},
    {**BASE, "attemptNumber": 2**31},
]


@pytest.mark.parametrize("item", VARIANTS)
def test_fast_path_accepts_only_what_the_schema_loads_unchanged(item):
    fast = _well_typed_hubspot_event(item)
    try:
        loaded = HubSpotEventSchema().load(item if isinstance(item, dict) else {"_": item})
    except ValidationError:
        loaded = None
    if fast is not None:
        assert fast == loaded == item
    else:
        assert loaded is None or loaded != item or type(item.get("eventId")) is bool


@pytest.mark.parametrize("field", ["eventId", "subscriptionId", "portalId", "appId", "occurredAt", "attemptNumber", "objectId"])
@pytest.mark.parametrize("value", [0, 2**31 - 1, 2**31, 253_402_300_799_999, 253_402_300_800_000, 2**63 - 1, 2**63, -1])
def test_fast_path_and_schema_agree_on_every_range_edge(field, value):
    item = {**BASE, field: value}
    try:
        loaded = HubSpotEventSchema().load(item)
    except ValidationError:
        loaded = None
    assert _well_typed_hubspot_event(item) == loaded


def test_most_variants_take_the_fast_path():
    assert sum(_well_typed_hubspot_event(v) is not None for v in VARIANTS) == 6
