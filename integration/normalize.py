"""Inbound payloads -> `Event`s. Pure: no Flask, no store, no clock except what is passed in.

The ack runs only the validation (everything that can reject an event) and stores each event
raw with its delivery key (`*_received` -> `Received`); building the `Event` happens when the
worker reads it back (`from_raw`), from the same functions `hubspot_batch` & co. use.

Delivery keys (the de-duplication key; they survive redelivery and never span tenants):
- HubSpot: `hubspot#<portalId>#<occurredAt>#<eventId>#<subscriptionId>#<objectId>`.
  HubSpot documents `eventId` as not guaranteed unique, so it is combined with the fields a
  retry repeats unchanged (everything except `attemptNumber`). The time comes first so a
  batch's keys land together at the end of the store's unique index (an object-id prefix
  scattered a 100-event batch over ~100 index pages: 735 KiB of WAL per commit, not 60).
- Salesforce outbound message: `salesforce#<org15>#<Notification Id>` (`integration.outbound`).
- Salesforce JSON (Flow/Apex): `salesforce#<org15>#evt#<id>`; `id` is chosen by the sender and
  must be stable across its retries (e.g. record id + SystemModstamp).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from functools import cache
from itertools import repeat
from typing import Any, Callable, Iterator, Mapping, TypeVar

import orjson
from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from integration import events as ev
from integration import limits
from integration.batch import Normalized, Rejected, describe, raw_json
from integration.config import Config, Tenant
from integration.events import Event, Received
from integration.outbound import (
    OutboundMessage,
    SoapError,
    outbound_event,
    outbound_events,
    outbound_received,
    parse_outbound_message,
)
from integration.crm_activity import salesforce_object_type
from integration.hubspot_fields import uniform_batch, well_typed as _well_typed
from integration.id_field import CanonicalInteger
from integration.recording_intake import is_recording_source, recording_event
from integration.recordings import CALL_OBJECT, TASK_OBJECT

__all__ = [  # re-exported: the handlers, tests and benches import them from here
    "Normalized", "Rejected", "describe", "raw_json", "OutboundMessage", "SoapError",
    "outbound_events", "outbound_received", "parse_outbound_message",
]  # fmt: skip

MAX_BATCH = limits.MAX_BATCH

# HubSpot object type ids used by generic (object.*) subscriptions.
_HUBSPOT_OBJECT_TYPES = {
    "0-1": "contact", "0-2": "company", "0-3": "deal", "0-5": "ticket",
    "0-27": TASK_OBJECT, "0-46": "note", "0-47": "meeting", "0-48": CALL_OBJECT,
}  # fmt: skip
_HUBSPOT_ACTIONS = {
    "creation": ev.CREATED, "propertyChange": ev.UPDATED, "deletion": ev.DELETED,
    "privacyDeletion": ev.DELETED, "merge": ev.MERGED, "associationChange": ev.ASSOCIATED,
    "restore": ev.CREATED,
}  # fmt: skip


# --- HubSpot ------------------------------------------------------------------------------------
_ID = validate.Range(min=0, max=limits.MAX_ID)


class HubSpotEventSchema(Schema):
    """One element of a HubSpot webhook array (classic and generic `object.*` forms)."""

    class Meta:
        unknown = INCLUDE

    eventId = CanonicalInteger(required=True, strict=False, validate=_ID)
    subscriptionId = CanonicalInteger(required=True, strict=False, validate=_ID)
    portalId = CanonicalInteger(required=True, strict=False, validate=_ID)
    appId = CanonicalInteger(strict=False, validate=_ID)
    occurredAt = CanonicalInteger(  # epoch milliseconds, 1970 to the end of year 9999
        required=True, strict=False, validate=validate.Range(min=0, max=limits.MAX_EPOCH_MS)
    )
    subscriptionType = fields.String()
    eventType = fields.String()  # the docs' table name for subscriptionType
    attemptNumber = CanonicalInteger(strict=False, validate=validate.Range(min=0, max=limits.MAX_ATTEMPT))
    objectId = CanonicalInteger(strict=False, validate=_ID)
    objectTypeId = fields.String()
    propertyName = fields.String()
    propertyValue = fields.Raw(allow_none=True)
    changeSource = fields.String()
    sourceId = fields.String(allow_none=True)
    changeFlag = fields.String()
    primaryObjectId = CanonicalInteger(strict=False, validate=_ID)  # merge events
    fromObjectId = CanonicalInteger(strict=False, validate=_ID)  # association events

    @validates_schema
    def _type_and_object(self, data: dict, **_: Any) -> None:
        if not (data.get("subscriptionType") or data.get("eventType")):
            raise ValidationError("subscriptionType (or eventType) is required", "subscriptionType")
        if not any(data.get(k) is not None for k in ("objectId", "primaryObjectId", "fromObjectId")):
            raise ValidationError("objectId is required", "objectId")


def hubspot_batch(payload: Any, config: Config, signed_for: Callable[[Tenant], bool] = lambda t: True) -> Normalized:
    """Normalise a HubSpot webhook array. `signed_for(tenant)` tells whether the secret that
    signed the request is that tenant's: other portals' events are rejected, so one app's
    signature can never inject events into another tenant."""
    out = Normalized(key_field="eventId")
    for index, data, tenant, item in _hubspot_valid(payload, config, signed_for, out):
        out.add(index, _hubspot_event(data, tenant.id, item, _hubspot_key(data)))
    return out


def hubspot_received(
    payload: Any, config: Config, signed_for: Callable[[Tenant], bool] = lambda t: True,
    check_depth: Callable[[Any], None] = lambda payload: None,
) -> Normalized:  # fmt: skip
    """What the ack stores of a HubSpot webhook array: `hubspot_batch`'s validation, then each
    event raw with its delivery key (`Received`). `check_depth(payload)` (it raises) runs first
    unless the batch check found the payload flat: the ack parses without measuring depth."""
    out = Normalized(key_field="eventId")
    events, indexes, source = out.events, out.indexes, ev.SOURCE_HUBSPOT
    uniform = uniform_batch(payload) if type(payload) is list and len(payload) <= MAX_BATCH else None
    if uniform is None:
        check_depth(payload)
    elif len(uniform[1]) == 1:  # the usual batch: one pass per field
        tenant = config.hubspot_tenant(next(iter(uniform[1])))
        if tenant is not None and signed_for(tenant):
            bodies = _raw_bodies(payload)
            fields = zip(uniform[0], repeat(tenant.id), repeat(source), bodies, payload)
            out.events = list(map(tuple.__new__, repeat(Received), fields))  # Received(*f), built in C
            out.indexes = list(range(len(payload)))
            # Its keys are five ids (at most 103 ASCII characters): only a body can be over a limit.
            out.within_limits = max(map(len, bodies)) * 4 <= limits.MAX_EVENT_BYTES
            return out
    for index, data, tenant, item in _hubspot_valid(payload, config, signed_for, out):
        events.append(Received(_hubspot_key(data), tenant.id, source, raw_json(item), item))
        indexes.append(index)
    return out


def _raw_bodies(payload: list[Any]) -> list[str]:
    try:
        return list(map(bytes.decode, map(orjson.dumps, payload)))
    except orjson.JSONEncodeError:
        return list(map(raw_json, payload))


def _hubspot_valid(
    payload: Any, config: Config, signed_for: Callable[[Tenant], bool], out: Normalized
) -> Iterator[tuple[int, dict[str, Any], Tenant, Any]]:
    """(index, loaded data, tenant, raw item) of each acceptable event; the others are added
    to `out.rejected` / `out.dropped`."""
    if not isinstance(payload, list):
        raise ValidationError("body must be a JSON array of events", "body")
    if len(payload) > MAX_BATCH:
        raise ValidationError(f"at most {MAX_BATCH} events per request", "body")
    tenants: dict[int, tuple[Tenant | None, bool]] = {}
    for index, item in enumerate(payload):
        data = item if _well_typed(item) else None
        if data is None:
            try:
                data = _schema(HubSpotEventSchema).load(item if isinstance(item, dict) else {"_": item})
            except ValidationError as exc:
                out.rejected.append(Rejected(index, "invalid event", exc.messages))
                continue
        portal = data["portalId"]
        if portal not in tenants:  # a batch is usually one portal: look it up once
            tenant = config.hubspot_tenant(portal)
            tenants[portal] = (tenant, tenant is not None and signed_for(tenant))
        tenant, signed = tenants[portal]
        if tenant is None:
            out.dropped.append(Rejected(index, f"no tenant for portalId {portal}"))
            continue
        if not signed:
            out.rejected.append(Rejected(index, "portalId belongs to a tenant that did not sign this request"))
            continue
        yield index, data, tenant, item


def _well_typed_hubspot_event(item: Any) -> dict[str, Any] | None:
    """The common case, checked in a few microseconds: every field already has the type
    HubSpotEventSchema would load it as, so loading would return the item unchanged.
    Anything else (strings for numbers, missing fields) returns None and goes through the
    schema, which stays the specification and names the problem (tests check they agree)."""
    return dict(item) if _well_typed(item) else None


def _hubspot_object_id(data: Mapping[str, Any]) -> int:
    object_id = data.get("objectId")
    if object_id is None:
        object_id = data.get("primaryObjectId")
        if object_id is None:
            object_id = data["fromObjectId"]
    return object_id


def _hubspot_key(data: Mapping[str, Any]) -> str:
    return f"hubspot#{data['portalId']}#{data['occurredAt']}#{data['eventId']}#{data['subscriptionId']}#{_hubspot_object_id(data)}"


def _hubspot_event(data: Mapping[str, Any], tenant_id: str, raw: Mapping[str, Any], key: str) -> Event:
    subscription = data.get("subscriptionType") or data["eventType"]
    prefix, _, action = subscription.partition(".")
    object_type = _HUBSPOT_OBJECT_TYPES.get(data.get("objectTypeId", ""), data.get("objectTypeId")) if prefix == "object" else prefix
    object_id = _hubspot_object_id(data)
    name = data.get("propertyName")
    changed = {name: data.get("propertyValue")} if name else {}
    return Event(
        key=key,
        tenant=tenant_id,
        crm="hubspot",
        object_type=object_type or "unknown",
        object_id=str(object_id),
        kind=_HUBSPOT_ACTIONS.get(action, ev.UNKNOWN),
        occurred_at=datetime.fromtimestamp(data["occurredAt"] / 1000, tz=timezone.utc),
        source_id=str(data["eventId"]),
        changed=changed,
        raw=dict(raw),
    )


# --- Salesforce outbound messages (SOAP) -----------------------------------------------------------
# --- Salesforce JSON events (Flow HTTP callout / Apex) --------------------------------------------
class SalesforceJsonEventSchema(Schema):
    class Meta:
        unknown = RAISE

    id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    object = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z][A-Za-z0-9_]*$"))
    recordId = fields.String(required=True, validate=validate.Regexp(r"^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$"))
    kind = fields.String(load_default=ev.UPDATED, validate=validate.OneOf([ev.CREATED, ev.UPDATED, ev.DELETED]))
    occurredAt = fields.AwareDateTime(
        required=True, default_timezone=timezone.utc, validate=validate.Range(min=limits.MIN_TIME, max=limits.MAX_TIME)
    )
    fields_ = fields.Dict(data_key="fields", keys=fields.String(), load_default=dict)


class SalesforceJsonBatchSchema(Schema):
    class Meta:
        unknown = RAISE

    organizationId = fields.String(required=True, validate=validate.Regexp(r"^00D[a-zA-Z0-9]{12}([a-zA-Z0-9]{3})?$"))
    events = fields.List(fields.Dict(), required=True, validate=validate.Length(min=1, max=MAX_BATCH))


def salesforce_json_batch(payload: Any, tenant: Tenant) -> Normalized:
    """Normalise a signed JSON post; the org id in the body must be the tenant's."""
    out = Normalized(key_field="id")
    for index, key, data, item in _salesforce_json_valid(payload, tenant, out):
        out.add(index, _salesforce_json_event(key, tenant.id, data, item))
    return out


def salesforce_json_received(payload: Any, tenant: Tenant) -> Normalized:
    """What the ack stores of a signed JSON post: `salesforce_json_batch`'s validation, then
    each event raw with its key."""
    out = Normalized(key_field="id")
    for index, key, _, item in _salesforce_json_valid(payload, tenant, out):
        out.add(index, Received(key, tenant.id, ev.SOURCE_SALESFORCE_JSON, raw_json(item), item))
    return out


def _salesforce_json_valid(payload: Any, tenant: Tenant, out: Normalized) -> Iterator[tuple[int, str, dict[str, Any], Any]]:
    batch = _schema(SalesforceJsonBatchSchema).load(payload if isinstance(payload, dict) else {})
    if batch["organizationId"][:15] != (tenant.org_id or "")[:15]:
        raise ValidationError("organizationId does not match the signing tenant", "organizationId")
    org15 = batch["organizationId"][:15]
    for index, item in enumerate(batch["events"]):
        try:
            data = _schema(SalesforceJsonEventSchema).load(item)
        except ValidationError as exc:
            out.rejected.append(Rejected(index, "invalid event", exc.messages))
            continue
        yield index, f"salesforce#{org15}#evt#{data['id']}", data, item


def _salesforce_json_event(key: str, tenant_id: str, data: Mapping[str, Any], raw: Mapping[str, Any]) -> Event:
    return Event(
        key=key,
        tenant=tenant_id,
        crm="salesforce",
        object_type=salesforce_object_type(data["object"], data["fields_"]),
        object_id=data["recordId"],
        kind=data["kind"],
        occurred_at=data["occurredAt"],
        source_id=data["id"],
        changed=data["fields_"],
        raw=raw,
    )


# --- the worker's side: stored raw -> Event ------------------------------------------------------
def from_raw(source: str, key: str, tenant: str, body: str, received_at: float) -> Event:
    """The `Event` of a notification the ack stored raw: the build the ack skipped, by the
    same functions, on input that passed the same validation (so it cannot fail on it)."""
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError:  # what `raw_json` wrote with the standard library
        raw = json.loads(body)
    if source == ev.SOURCE_HUBSPOT:
        data = raw if _well_typed(raw) else _schema(HubSpotEventSchema).load(raw)
        return _hubspot_event(data, tenant, raw, key)
    if source == ev.SOURCE_OUTBOUND:
        return outbound_event(key, tenant, raw, datetime.fromtimestamp(received_at, tz=timezone.utc))
    if source == ev.SOURCE_SALESFORCE_JSON:
        return _salesforce_json_event(key, tenant, _schema(SalesforceJsonEventSchema).load(raw), raw)
    if is_recording_source(source):
        return recording_event(source, key, tenant, raw)
    from integration.review_intake import is_review_source, review_event  # the review loop's modules: only for its events

    if is_review_source(source):
        return review_event(source, key, tenant, raw)
    raise ValueError(f"unknown event source {source!r}")


def hubspot_from_raw_batch(keys: list[str], tenants: list[str], bodies: list[str]) -> list[Event] | None:
    """`from_raw` of several stored HubSpot events at once, or None when they are not all the
    usual shape (then `from_raw` each, which names or parks the odd one): every body parses,
    and the batch passes `uniform_batch`, which never accepts an event `well_typed` refuses,
    so each is `from_raw`'s well-typed case, checked in one pass instead of one per event."""
    try:
        raws = [orjson.loads(body) for body in bodies]
    except orjson.JSONDecodeError:
        return None
    if uniform_batch(raws) is None:
        return None
    return list(map(_hubspot_event, raws, tenants, raws, keys))


S = TypeVar("S", bound=Schema)


@cache
def _schema(kind: type[S]) -> S:
    """One instance per schema class: building one costs ~0.6 ms, loading with it is reentrant."""
    return kind()
