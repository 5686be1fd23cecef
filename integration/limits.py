"""Input limits, decided once at the edge so both stores accept exactly the same events.

DynamoDB refuses an item over 400 KB or a partition key over 2,048 bytes, and SQLite has no
such limits: checking here (before any store) keeps the backends interchangeable and turns
what would be a 500 after half a batch was stored into a per-event rejection naming the field.
The README's Endpoints section lists every value; tests pin each one.
"""
from __future__ import annotations

import re
from itertools import chain
from operator import attrgetter
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

from integration.events import Event, Received, event_to_json

MAX_BATCH = 100  # events (HubSpot) or notifications (Salesforce) per request
MAX_JSON_DEPTH = 32  # nesting of arrays/objects in a JSON body; real payloads use 3
MAX_EVENT_BYTES = 300_000  # one event as stored (JSON); leaves ~100 KB of DynamoDB's 400 KB for state
MAX_KEY_BYTES = 1_024  # delivery key, UTF-8; DynamoDB keys stop at 2,048 and get prefixes
MAX_ID = 2**63 - 1  # HubSpot numeric ids (64-bit signed, as HubSpot's own APIs type them)
MAX_ATTEMPT = 2**31 - 1
MIN_TIME = datetime(1970, 1, 1, tzinfo=timezone.utc)
MAX_TIME = datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=timezone.utc)
MAX_EPOCH_MS = 253_402_300_799_999  # MAX_TIME in epoch milliseconds
MAX_SIGNATURE_HEADER = 1_024  # characters; several v1= values during a secret rotation fit
_TIMESTAMP = re.compile(r"[0-9]{1,16}")  # ASCII digits only: str.isdigit() admits "²" and "١"

# The ack stores each event raw (`Received`): its stored size is known, so it is always checked.
# An `Event` built at the edge (tests, the CLI) stores its raw form and its changed fields (2x),
# and re-encoding XML text as JSON at most doubles a character (another 2x), plus a few hundred
# bytes of envelope: below this body size none can reach MAX_EVENT_BYTES; larger ones are measured.
_UNMEASURED_BODY = (MAX_EVENT_BYTES - 8_192) // 5


def valid_timestamp(text: str) -> bool:
    """A signature timestamp: 1-16 ASCII digits (no sign, point, exponent or other scripts)."""
    return _TIMESTAMP.fullmatch(text) is not None


def too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True if arrays/objects nest more than `limit` levels (iterative: no recursion limit)."""
    if type(value) is not dict and type(value) is not list:
        return False
    flat = _CONTAINERS.isdisjoint  # flat(map(type, values)): no container among them, checked in C
    if limit >= 2 and type(value) is list and set(map(type, value)) <= _DICT_ONLY:
        if flat(map(type, chain.from_iterable(map(dict.values, value)))):
            return False  # the usual webhook batch: a list of flat objects, checked in one C pass
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if type(node) is dict else node:
            kind = type(child)
            if kind is dict:
                if depth < limit and flat(map(type, child.values())):
                    continue  # the usual event object: a leaf, no need to stack it
                stack.append((child, depth + 1))
            elif kind is list:
                stack.append((child, depth + 1))
    return False


_CONTAINERS = frozenset((dict, list))
_DICT_ONLY = frozenset((dict,))
_KEY_OF, _BODY_OF = attrgetter("key"), attrgetter("body")


def keys_may_be_too_long(keys: Iterable[str]) -> bool:
    """False when no key can exceed MAX_KEY_BYTES (a character is at most 4 UTF-8 bytes)."""
    return max(map(len, keys), default=0) * 4 > MAX_KEY_BYTES


def needs_measuring(body_size: int) -> bool:
    return body_size > _UNMEASURED_BODY


def any_received_may_exceed(events: Sequence[Received]) -> bool:
    """False when no event's key or stored body can be over its limit (4 UTF-8 bytes a character)."""
    return max(map(len, map(_KEY_OF, events))) * 4 > MAX_KEY_BYTES or max(map(len, map(_BODY_OF, events))) * 4 > MAX_EVENT_BYTES


def received_problem(event: Received, key_field: str) -> tuple[str, str] | None:
    """(field, message) if the raw event cannot be stored identically by every store, else None."""
    if len(event.key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        return key_field, f"too long: the delivery key built from it must fit in {MAX_KEY_BYTES} bytes"
    size = len(event.body.encode("utf-8", "surrogatepass"))
    if size > MAX_EVENT_BYTES:
        return _largest_field(event.raw), f"too large: the event would be {size} bytes stored, over the {MAX_EVENT_BYTES} byte limit"
    return None


def event_problem(event: Event, key_field: str, *, measure: bool) -> tuple[str, str] | None:
    """(field, message) if the event cannot be stored identically by every store, else None."""
    if len(event.key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        return key_field, f"too long: the delivery key built from it must fit in {MAX_KEY_BYTES} bytes"
    if measure:
        size = len(event_to_json(event).encode("utf-8", "surrogatepass"))
        if size > MAX_EVENT_BYTES:
            field = _largest_field(event.raw)
            return field, f"too large: the event would be {size} bytes stored, over the {MAX_EVENT_BYTES} byte limit"
    return None


def _largest_field(raw: Mapping[str, Any], prefix: str = "") -> str:
    """The dotted name of the field that takes the most room (descends into `fields`)."""
    if not raw:
        return prefix.rstrip(".") or "body"
    sizes = {name: _size(value) for name, value in raw.items()}
    name = max(sizes, key=lambda n: sizes[n])
    value = raw[name]
    if name == "fields" and isinstance(value, dict) and value:
        return _largest_field(value, f"{prefix}{name}.")
    return f"{prefix}{name}"


def _size(value: Any) -> int:
    import json

    return len(json.dumps(value, default=str, ensure_ascii=False))
