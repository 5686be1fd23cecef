"""Type checks of HubSpot webhook events without the schema: one event, or a whole batch at once.

Why: the ack validates every event it stores. marshmallow (`normalize.HubSpotEventSchema`)
stays the specification and names the problem, but costs ~40 us an event; these checks accept
only what the schema would load unchanged, so the usual batch never reaches it. The batch form
checks each field for all events in one pass of C builtins (map/set/min/max): field by field
in Python it cost ~2 us an event, a fifth of a 100-event ack's CPU. Pure: no I/O.
"""
from __future__ import annotations

from itertools import chain
from typing import Any

import orjson

from integration import limits

REQUIRED_INTS = ("eventId", "subscriptionId", "portalId", "occurredAt")
OPTIONAL_INTS = ("appId", "attemptNumber", "objectId", "primaryObjectId", "fromObjectId")
OPTIONAL_STRS = ("subscriptionType", "eventType", "objectTypeId", "propertyName", "changeSource", "changeFlag")
_ID_FIELD, _STR_FIELD, _NULLABLE_STR_FIELD = 1, 2, 3
_FIELD_KINDS = {
    **dict.fromkeys(REQUIRED_INTS + OPTIONAL_INTS, _ID_FIELD),
    **dict.fromkeys(OPTIONAL_STRS, _STR_FIELD),
    "sourceId": _NULLABLE_STR_FIELD,
}
_HIGHEST = {"occurredAt": limits.MAX_EPOCH_MS, "attemptNumber": limits.MAX_ATTEMPT}  # else MAX_ID
_REQUIRED = frozenset(REQUIRED_INTS + ("objectId",))  # for the batch form
_KEY = "hubspot#{}#{}#{}#{}#{}"  # `normalize._hubspot_key` with objectId present
_INT, _STR, _DICT = {int}, {str}, {dict}
_STR_OR_NONE = {str, type(None)}
_CONTAINERS = frozenset((dict, list))


def well_typed(item: Any) -> bool:
    """True when every field of one event already has the type the schema would load it as,
    in range, with the required fields present (one pass over the item's fields)."""
    if type(item) is not dict:
        return False
    kind_of = _FIELD_KINDS.get
    for name, value in item.items():
        kind = kind_of(name)
        if kind is None:
            continue  # a field the schema passes through (INCLUDE)
        if kind == _ID_FIELD:
            if type(value) is not int or not 0 <= value <= limits.MAX_ID:
                return False
        elif type(value) is not str and (kind == _STR_FIELD or value is not None):
            return False
    get = item.get
    occurred = get("occurredAt")
    if occurred is None or occurred > limits.MAX_EPOCH_MS or get("attemptNumber", 0) > limits.MAX_ATTEMPT:
        return False
    if get("eventId") is None or get("subscriptionId") is None or get("portalId") is None:
        return False
    if not (get("subscriptionType") or get("eventType")):
        return False
    return get("objectId") is not None or get("primaryObjectId") is not None or get("fromObjectId") is not None


def uniform_batch(payload: list[Any]) -> tuple[list[str], set[int]] | None:
    """(delivery keys, portal ids) when every event has the same fields in the same order (as
    HubSpot sends them), each `well_typed`, with an objectId, and no value is an object or an
    array; else None: the caller then checks event by event. Never accepts an event
    `well_typed` refuses (tests check it). An accepted batch nests two levels (an array of
    flat objects), so the caller need not measure its depth (`limits.too_deep`).

    All values are laid out in one list, so each field is a slice of it, checked in C; when
    every event's values have the first event's types (one list comparison), each field's
    type is that one.
    """
    if not payload or set(map(type, payload)) != _DICT:
        return None
    names = list(payload[0])
    width, count = len(names), len(payload)
    if list(chain.from_iterable(payload)) != names * count:
        return None
    values = list(chain.from_iterable(map(dict.values, payload)))
    types = list(map(type, values))
    first = types[:width]
    alike = types == first * count  # the usual batch: each field has one type throughout
    column: dict[str, list[Any]] = {}
    for at, name in enumerate(names):
        kinds = {first[at]} if alike else set(types[at::width])
        kind = _FIELD_KINDS.get(name)
        if kind is None:  # a field the schema passes through (INCLUDE): it must only be flat
            if not kinds.isdisjoint(_CONTAINERS):
                return None
            continue
        if kind == _ID_FIELD:
            ints = values[at::width]
            if kinds != _INT or min(ints) < 0 or max(ints) > _HIGHEST.get(name, limits.MAX_ID):
                return None
            column[name] = ints
        elif kind == _STR_FIELD:
            if kinds != _STR:
                return None
            column[name] = values[at::width]
        elif not kinds <= _STR_OR_NONE:
            return None
    if not _REQUIRED.issubset(column):
        return None
    kinds_, types_ = column.get("subscriptionType"), column.get("eventType")  # one of them, not empty
    if not (kinds_ and all(kinds_)) and not (types_ and all(types_)):
        if not (kinds_ and types_ and all(map(any, zip(kinds_, types_)))):
            return None
    portals = column["portalId"]
    # orjson writes the whole table of ids in C; str() on each id cost ~1 us a key.
    table = orjson.dumps(list(zip(portals, column["occurredAt"], column["eventId"], column["subscriptionId"], column["objectId"])))
    keys = ("hubspot#" + table[2:-2].decode().replace(",", "#").replace("]#[", "\nhubspot#")).split("\n")
    return keys, set(portals)
