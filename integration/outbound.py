"""Salesforce outbound messages (SOAP): the envelope parsed safely, its notifications keyed
(`salesforce#<org15>#<Notification Id>`: retries repeat the Id) and turned into events.

Pure: no Flask, no store, no clock except what is passed in.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterator, Mapping

from integration import events as ev
from integration import limits
from integration.batch import Normalized, Rejected, raw_json
from integration.config import Tenant
from integration.crm_activity import salesforce_object_type
from integration.events import Event, Received

_RECORD_ID = re.compile(r"[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?")
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
    if len(items) > limits.MAX_BATCH:
        raise SoapError(f"at most {limits.MAX_BATCH} notifications per message")
    return OutboundMessage(org, notifications.findtext(f"{{{_OM}}}ActionId"), items)


def outbound_events(message: OutboundMessage, tenant: Tenant, received_at: datetime) -> Normalized:
    out = Normalized(key_field="Notification.Id")
    for index, key, raw in _outbound_raw(message, out):
        out.add(index, outbound_event(key, tenant.id, raw, received_at))
    return out


def outbound_received(message: OutboundMessage, tenant: Tenant) -> Normalized:
    """What the ack stores of an outbound message: each notification raw, with its key."""
    out = Normalized(key_field="Notification.Id")
    for index, key, raw in _outbound_raw(message, out):
        out.add(index, Received(key, tenant.id, ev.SOURCE_OUTBOUND, raw_json(raw), raw))
    return out


def _outbound_raw(message: OutboundMessage, out: Normalized) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Each notification with its delivery key; one without a valid record Id is rejected in `out`
    (Salesforce always sends it; without it the worker would act on record "")."""
    org15 = message.organization_id[:15]
    for index, (nid, sobject_type, values) in enumerate(message.notifications):
        if not _RECORD_ID.fullmatch(values.get("Id") or ""):
            out.rejected.append(Rejected(index, "invalid notification", {"sObject.Id": ["must be a 15 or 18 character record Id"]}))
            continue
        raw = {"notificationId": nid, "actionId": message.action_id, "sObjectType": sobject_type, "fields": values}
        yield index, f"salesforce#{org15}#{nid}", raw


def outbound_event(key: str, tenant_id: str, raw: Mapping[str, Any], received_at: datetime) -> Event:
    """One notification as an `Event`; `received_at` stands in for a missing or unreadable modified time."""
    values = raw["fields"]
    modified = values.get("LastModifiedDate") or values.get("SystemModstamp")
    return Event(
        key=key,
        tenant=tenant_id,
        crm="salesforce",
        object_type=salesforce_object_type(raw["sObjectType"], values),
        object_id=values.get("Id") or "",
        kind=ev.UPDATED,  # outbound messages don't say whether the record was created
        occurred_at=_parse_time(modified) or received_at,
        source_id=raw["notificationId"],
        changed={k: v for k, v in values.items() if k != "Id"},
        raw=raw,
    )


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
