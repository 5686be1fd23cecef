"""Inbound payloads -> `Event`s. Pure: no Flask, no store, no clock except what is passed in.

Delivery keys (the de-duplication key; they survive redelivery and never span tenants):
- HubSpot: `hubspot#<portalId>#<occurredAt>#<eventId>#<subscriptionId>#<objectId>`.
  HubSpot documents `eventId` as not guaranteed unique, so it is combined with the fields a
  retry repeats unchanged (everything except `attemptNumber`). The time comes first so a
  batch's keys land together at the end of the store's unique index (an object-id prefix
  scattered a 100-event batch over ~100 index pages: 735 KiB of WAL per commit, not 60).
- Salesforce outbound message: `salesforce#<org15>#<Notification Id>` (retries repeat the Id).
- Salesforce JSON (Flow/Apex): `salesforce#<org15>#evt#<id>`; `id` is chosen by the sender and
  must be stable across its retries (e.g. record id + SystemModstamp).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping

from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from integration import events as ev
from integration import limits
from integration.config import Config, Tenant
from integration.events import Event

MAX_BATCH = 100

# HubSpot object type ids used by generic (object.*) subscriptions.
_HUBSPOT_OBJECT_TYPES = {
    "0-1": "contact", "0-2": "company", "0-3": "deal", "0-5": "ticket",
    "0-27": "task", "0-46": "note", "0-47": "meeting", "0-48": "call",
}  # fmt: skip
_HUBSPOT_ACTIONS = {
    "creation": ev.CREATED, "propertyChange": ev.UPDATED, "deletion": ev.DELETED,
    "privacyDeletion": ev.DELETED, "merge": ev.MERGED, "associationChange": ev.ASSOCIATED,
    "restore": ev.CREATED,
}  # fmt: skip


@dataclass
class Rejected:
    """One notification of an otherwise accepted batch that was not stored, and why."""

    index: int
    reason: str
    detail: Any = None


@dataclass
class Normalized:
    events: list[Event] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    dropped: list[Rejected] = field(default_factory=list)  # valid, but for no tenant of ours
    indexes: list[int] = field(default_factory=list)  # each event's position in the batch
    key_field: str = "id"  # the payload field a delivery key is built from (for its limit)

    def add(self, index: int, event: Event) -> None:
        self.events.append(event)
        self.indexes.append(index)

    def enforce_limits(self, body_size: int) -> Normalized:
        """Move events no store could keep identically (key or size limits) to `rejected`."""
        measure = limits.needs_measuring(body_size)
        if not measure and not limits.keys_may_be_too_long(e.key for e in self.events):
            return self  # the usual batch: nothing can be over a limit
        kept: list[tuple[int, Event]] = []
        for index, event in zip(self.indexes, self.events):
            problem = limits.event_problem(event, self.key_field, measure=measure)
            if problem is None:
                kept.append((index, event))
            else:
                self.rejected.append(Rejected(index, "event exceeds a storage limit", {problem[0]: [problem[1]]}))
        if len(kept) != len(self.events):
            self.indexes, self.events = [i for i, _ in kept], [e for _, e in kept]
            self.rejected.sort(key=lambda r: r.index)
        return self


# --- HubSpot ------------------------------------------------------------------------------------
_ID = validate.Range(min=0, max=limits.MAX_ID)


class HubSpotEventSchema(Schema):
    """One element of a HubSpot webhook array (classic and generic `object.*` forms)."""

    class Meta:
        unknown = INCLUDE

    eventId = fields.Integer(required=True, strict=False, validate=_ID)
    subscriptionId = fields.Integer(required=True, strict=False, validate=_ID)
    portalId = fields.Integer(required=True, strict=False, validate=_ID)
    appId = fields.Integer(strict=False, validate=_ID)
    occurredAt = fields.Integer(  # epoch milliseconds, 1970 to the end of year 9999
        required=True, strict=False, validate=validate.Range(min=0, max=limits.MAX_EPOCH_MS)
    )
    subscriptionType = fields.String()
    eventType = fields.String()  # the docs' table name for subscriptionType
    attemptNumber = fields.Integer(strict=False, validate=validate.Range(min=0, max=limits.MAX_ATTEMPT))
    objectId = fields.Integer(strict=False, validate=_ID)
    objectTypeId = fields.String()
    propertyName = fields.String()
    propertyValue = fields.Raw(allow_none=True)
    changeSource = fields.String()
    sourceId = fields.String(allow_none=True)
    changeFlag = fields.String()
    primaryObjectId = fields.Integer(strict=False, validate=_ID)  # merge events
    fromObjectId = fields.Integer(strict=False, validate=_ID)  # association events

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
    if not isinstance(payload, list):
        raise ValidationError("body must be a JSON array of events", "body")
    if len(payload) > MAX_BATCH:
        raise ValidationError(f"at most {MAX_BATCH} events per request", "body")
    out = Normalized(key_field="eventId")
    schema: HubSpotEventSchema | None = None  # built only for an event off the fast path (~0.6 ms)
    tenants: dict[int, tuple[Tenant | None, bool]] = {}
    for index, item in enumerate(payload):
        data = _well_typed_hubspot_event(item)
        if data is None:
            schema = schema or HubSpotEventSchema()
            try:
                data = schema.load(item if isinstance(item, dict) else {"_": item})
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
        out.add(index, _hubspot_event(data, tenant, item))
    return out


_REQUIRED_INTS = ("eventId", "subscriptionId", "portalId", "occurredAt")
_OPTIONAL_INTS = ("appId", "attemptNumber", "objectId", "primaryObjectId", "fromObjectId")
_OPTIONAL_STRS = ("subscriptionType", "eventType", "objectTypeId", "propertyName", "changeSource", "changeFlag")


def _well_typed_hubspot_event(item: Any) -> dict[str, Any] | None:
    """The common case, checked in a few microseconds: every field already has the type
    HubSpotEventSchema would load it as, so loading would return the item unchanged.
    Anything else (strings for numbers, missing fields) returns None and goes through the
    schema, which stays the specification and names the problem (tests check they agree)."""
    if type(item) is not dict:
        return None
    for name in _REQUIRED_INTS:
        value = item.get(name)
        if type(value) is not int or not 0 <= value <= limits.MAX_ID:
            return None
    for name in _OPTIONAL_INTS:
        if name in item and (type(item[name]) is not int or not 0 <= item[name] <= limits.MAX_ID):
            return None
    for name in _OPTIONAL_STRS:
        if name in item and type(item[name]) is not str:
            return None
    if "sourceId" in item and not (item["sourceId"] is None or type(item["sourceId"]) is str):
        return None
    if item["occurredAt"] > limits.MAX_EPOCH_MS or item.get("attemptNumber", 0) > limits.MAX_ATTEMPT:
        return None
    if not (item.get("subscriptionType") or item.get("eventType")):
        return None
    if all(item.get(k) is None for k in ("objectId", "primaryObjectId", "fromObjectId")):
        return None
    return dict(item)


def _hubspot_event(data: Mapping[str, Any], tenant: Tenant, raw: Mapping[str, Any]) -> Event:
    subscription = data.get("subscriptionType") or data["eventType"]
    prefix, _, action = subscription.partition(".")
    object_type = _HUBSPOT_OBJECT_TYPES.get(data.get("objectTypeId", ""), data.get("objectTypeId")) if prefix == "object" else prefix
    object_id = next(data[k] for k in ("objectId", "primaryObjectId", "fromObjectId") if data.get(k) is not None)
    changed = {data["propertyName"]: data.get("propertyValue")} if data.get("propertyName") else {}
    return Event(
        key=f"hubspot#{data['portalId']}#{data['occurredAt']}#{data['eventId']}#{data['subscriptionId']}#{object_id}",
        tenant=tenant.id,
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
_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
_OM = "http://soap.sforce.com/2005/09/outbound"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


class SoapError(ValueError):
    """The body is not a well-formed, safe outbound message."""


@dataclass
class OutboundMessage:
    organization_id: str
    action_id: str | None
    notifications: list[tuple[str, str, dict[str, str | None]]]  # (Id, sObject type, fields)


def parse_outbound_message(body: bytes) -> OutboundMessage:
    """Parse with defusedxml: DTDs, entity declarations and external references are refused."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise SoapError(f"XML with a DTD or entity declarations is not accepted ({type(exc).__name__})") from None
    except ParseError as exc:
        raise SoapError(f"malformed XML: {exc}") from None
    except (LookupError, ValueError):  # expat refuses the declared encoding (unknown or multi-byte)
        raise SoapError("the XML declares an encoding the parser does not support (send UTF-8)") from None
    if root.tag != f"{{{_SOAP}}}Envelope":
        raise SoapError("not a SOAP 1.1 envelope")
    notifications = root.find(f"{{{_SOAP}}}Body/{{{_OM}}}notifications")
    if notifications is None:
        raise SoapError("no outbound-message notifications element in the SOAP body")
    org = (notifications.findtext(f"{{{_OM}}}OrganizationId") or "").strip()
    if not org:
        raise SoapError("OrganizationId is missing")
    items = []
    for node in notifications.findall(f"{{{_OM}}}Notification"):
        nid = (node.findtext(f"{{{_OM}}}Id") or "").strip()
        sobject = node.find(f"{{{_OM}}}sObject")
        if not nid or sobject is None:
            raise SoapError("every Notification needs an Id and an sObject")
        sobject_type = (sobject.get(f"{{{_XSI}}}type") or "sf:Unknown").split(":")[-1]
        values = {
            child.tag.split("}")[-1]: (None if child.get(f"{{{_XSI}}}nil") == "true" else (child.text or ""))
            for child in sobject
        }
        items.append((nid, sobject_type, values))
    if not items:
        raise SoapError("the message has no Notification")
    if len(items) > MAX_BATCH:
        raise SoapError(f"at most {MAX_BATCH} notifications per message")
    return OutboundMessage(org, notifications.findtext(f"{{{_OM}}}ActionId"), items)


def outbound_events(message: OutboundMessage, tenant: Tenant, received_at: datetime) -> Normalized:
    org15 = message.organization_id[:15]
    out = Normalized(key_field="Notification.Id")
    for index, (nid, sobject_type, values) in enumerate(message.notifications):
        modified = values.get("LastModifiedDate") or values.get("SystemModstamp")
        out.add(
            index,
            Event(
                key=f"salesforce#{org15}#{nid}",
                tenant=tenant.id,
                crm="salesforce",
                object_type=sobject_type.lower(),
                object_id=values.get("Id") or "",
                kind=ev.UPDATED,  # outbound messages don't say whether the record was created
                occurred_at=_parse_time(modified) or received_at,
                source_id=nid,
                changed={k: v for k, v in values.items() if k != "Id"},
                raw={"notificationId": nid, "actionId": message.action_id, "sObjectType": sobject_type, "fields": values},
            ),
        )
    return out


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
    batch = SalesforceJsonBatchSchema().load(payload if isinstance(payload, dict) else {})
    if batch["organizationId"][:15] != (tenant.org_id or "")[:15]:
        raise ValidationError("organizationId does not match the signing tenant", "organizationId")
    out = Normalized(key_field="id")
    schema = SalesforceJsonEventSchema()
    org15 = batch["organizationId"][:15]
    for index, item in enumerate(batch["events"]):
        try:
            data = schema.load(item)
        except ValidationError as exc:
            out.rejected.append(Rejected(index, "invalid event", exc.messages))
            continue
        out.add(
            index,
            Event(
                key=f"salesforce#{org15}#evt#{data['id']}",
                tenant=tenant.id,
                crm="salesforce",
                object_type=data["object"].lower(),
                object_id=data["recordId"],
                kind=data["kind"],
                occurred_at=data["occurredAt"],
                source_id=data["id"],
                changed=data["fields_"],
                raw=item,
            ),
        )
    return out


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed if limits.MIN_TIME <= parsed <= limits.MAX_TIME else None
    except OverflowError:  # an offset that pushes year 1 or 9999 out of range
        return None


def describe(rejected: Iterable[Rejected]) -> list[dict[str, Any]]:
    """JSON-safe list for responses and logs (reasons and field names, never values)."""
    return [{"index": r.index, "reason": r.reason, "fields": r.detail} for r in rejected]
