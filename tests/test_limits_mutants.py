"""The storage and nesting limits at their exact edges: one unit under is kept, one over is not."""
from dataclasses import replace
from datetime import datetime, timezone

from integration import limits
from integration.events import Event
from integration.store import event_to_json


def nested(levels: int, leaf=None) -> dict:
    """`levels` dicts inside one another; the innermost holds only scalars."""
    node = leaf if leaf is not None else {"x": 1}
    for _ in range(levels - 1):
        node = {"x": node}
    return node


def test_nesting_is_counted_to_the_limit_including_a_flat_innermost_object():
    assert not limits.too_deep(nested(limits.MAX_JSON_DEPTH))
    assert limits.too_deep(nested(limits.MAX_JSON_DEPTH + 1))
    assert not limits.too_deep(nested(3), limit=3) and limits.too_deep(nested(4), limit=3)


def test_a_flat_object_before_a_deep_one_does_not_end_the_search():
    assert limits.too_deep({"leaf": {"a": 1}, "deep": nested(limits.MAX_JSON_DEPTH)})
    assert limits.too_deep([{"a": 1}, [[[[1]]]]], limit=4)


def test_scalars_are_never_too_deep():
    assert not limits.too_deep("text", limit=0) and not limits.too_deep(7, limit=0)


def test_keys_are_measured_only_when_one_could_pass_the_byte_limit():
    chars = limits.MAX_KEY_BYTES // 4  # 4 bytes a character at most
    assert not limits.keys_may_be_too_long(["k" * chars, "k"])
    assert limits.keys_may_be_too_long(["k", "k" * (chars + 1)])
    assert not limits.keys_may_be_too_long([])


def test_bodies_are_measured_only_above_the_unmeasured_size():
    edge = (limits.MAX_EVENT_BYTES - 8_192) // 5
    assert not limits.needs_measuring(edge) and limits.needs_measuring(edge + 1)


EVENT = Event(key="k", tenant="t", crm="salesforce", object_type="opportunity", object_id="006", kind="updated",
              occurred_at=datetime(2026, 11, 20, tzinfo=timezone.utc), source_id="n",
              raw={"notificationId": "n", "fields": {"Amount": "1", "Description": ""}})  # fmt: skip


def sized(total: int) -> Event:
    """EVENT with Description padded so that the stored JSON is exactly `total` bytes."""
    base = len(event_to_json(EVENT).encode())
    raw = {"notificationId": "n", "fields": {"Amount": "1", "Description": "d" * (total - base)}}
    event = replace(EVENT, raw=raw)
    assert len(event_to_json(event).encode()) == total
    return event


def test_an_event_of_exactly_the_maximum_size_is_kept_one_byte_more_names_the_nested_field():
    assert limits.event_problem(sized(limits.MAX_EVENT_BYTES), "Notification.Id", measure=True) is None
    field, message = limits.event_problem(sized(limits.MAX_EVENT_BYTES + 1), "Notification.Id", measure=True)
    assert field == "fields.Description"
    assert message == f"too large: the event would be {limits.MAX_EVENT_BYTES + 1} bytes stored, over the 300000 byte limit"
    assert limits.event_problem(sized(limits.MAX_EVENT_BYTES + 1), "id", measure=False) is None


def test_a_key_of_exactly_the_maximum_bytes_is_kept_one_more_names_the_key_field():
    assert limits.event_problem(replace(EVENT, key="é" * (limits.MAX_KEY_BYTES // 2)), "id", measure=False) is None
    assert limits.event_problem(replace(EVENT, key="k" * (limits.MAX_KEY_BYTES + 1)), "eventId", measure=False) == (
        "eventId", "too long: the delivery key built from it must fit in 1024 bytes")


def test_the_largest_field_is_named_by_its_dotted_path_or_body():
    assert limits._largest_field({}) == "body"
    assert limits._largest_field({"notificationId": "n", "fields": {}}) == "notificationId"
    assert limits._largest_field({"a": "xx", "fields": {"Big": "y" * 50, "Small": "z"}}) == "fields.Big"
    assert limits._largest_field({"other": {"Big": "y" * 50}}) == "other"
