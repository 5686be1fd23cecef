"""Salesforce outbound messages (SOAP): the envelope parsed safely into its notifications.

Pure XML handling, no Flask and no store; `integration.normalize` turns the result into events.
"""
from __future__ import annotations

from dataclasses import dataclass

from integration import limits

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
