"""Normalisation details a CRM sender or an admin would notice: exact refusals of outbound
messages, which timestamp an event carries, the names of custom objects, and the field a
storage-limit rejection names."""
from datetime import datetime, timezone

import pytest
from marshmallow import ValidationError

from integration import limits, samples
from integration.normalize import (
    MAX_BATCH,
    SoapError,
    hubspot_batch,
    outbound_events,
    parse_outbound_message,
    salesforce_json_batch,
)
from tests.conftest import ORG_ID, PORTAL_ID, make_config

RECEIVED = datetime(2026, 11, 24, tzinfo=timezone.utc)
ENV = ('<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
       ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>')  # fmt: skip
END = "</soapenv:Body></soapenv:Envelope>"
OM = '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'


def soap(inner: str) -> bytes:
    return (ENV + inner + END).encode()


@pytest.fixture
def config(tmp_path):
    return make_config(tmp_path)


def refusal(body: bytes) -> str:
    with pytest.raises(SoapError) as caught:
        parse_outbound_message(body)
    return str(caught.value)


@pytest.mark.parametrize(
    "body, message",
    [
        (b'<!DOCTYPE x><x/>', "XML with a DTD or entity declarations is not accepted (DTDForbidden)"),
        (b'<?xml version="1.0" encoding="x-no-such-codec"?><x/>',
         "the XML declares an encoding the parser does not support (send UTF-8)"),
        (b"<Envelope/>", "not a SOAP 1.1 envelope"),
        (soap(""), "no outbound-message notifications element in the SOAP body"),
        (soap(OM + "<Notification/></notifications>"), "OrganizationId is missing"),
        (soap(OM + f"<OrganizationId>{ORG_ID}</OrganizationId><Notification><Id>n</Id></Notification></notifications>"),
         "every Notification needs an Id and an sObject"),
        (soap(OM + f"<OrganizationId>{ORG_ID}</OrganizationId></notifications>"), "the message has no Notification"),
        (samples.outbound_message(ORG_ID, [(f"04l{i:015d}", "Opportunity", {"Id": "006000000000001AAA"}) for i in range(MAX_BATCH + 1)]),
         "at most 100 notifications per message"),
    ],
)
def test_outbound_message_refusals_say_exactly_why(body, message):
    assert refusal(body) == message


def test_exactly_a_hundred_notifications_are_read_with_the_action_id():
    body = samples.outbound_message(ORG_ID, [(f"04l{i:015d}", "Opportunity", {"Id": "006000000000001AAA"}) for i in range(MAX_BATCH)], "04kACTION")
    message = parse_outbound_message(body)
    assert (message.organization_id, message.action_id, len(message.notifications)) == (ORG_ID, "04kACTION", 100)


def test_sobject_types_and_field_names_are_read_with_or_without_a_prefix():
    body = soap(OM + f"<OrganizationId>{ORG_ID}</OrganizationId>"
                '<Notification><Id>n1</Id><sObject xsi:type="Lead"><Company>Acme</Company><Title xmlns=""/></sObject></Notification>'
                '<Notification><Id>n2</Id><sObject><Name>x</Name></sObject></Notification></notifications>')  # fmt: skip
    message = parse_outbound_message(body)
    assert message.action_id is None
    assert message.notifications == [("n1", "Lead", {"Company": "Acme", "Title": ""}), ("n2", "Unknown", {"Name": "x"})]


@pytest.fixture
def outbound(config):
    def _outbound(**values):
        body = samples.outbound_message(ORG_ID, [("04l5e000000AAA1AAG", "Opportunity", values)], "04kACT")
        return outbound_events(parse_outbound_message(body), config.salesforce_tenant(ORG_ID), RECEIVED).events[0]

    return _outbound


def test_outbound_event_time_is_last_modified_else_system_modstamp_else_receipt(outbound):
    assert outbound(Id="006000000000001AAA", LastModifiedDate="2026-11-20T10:00:00.000Z", SystemModstamp="2026-11-21T10:00:00.000Z"
                    ).occurred_at == datetime(2026, 11, 20, 10, tzinfo=timezone.utc)  # fmt: skip
    assert outbound(Id="006000000000001AAA", SystemModstamp="2026-11-21T10:00:00.000Z").occurred_at == datetime(2026, 11, 21, 10, tzinfo=timezone.utc)
    assert outbound(Id="006000000000001AAA", SystemModstamp="2026-11-21T10:00:00").occurred_at == datetime(2026, 11, 21, 10, tzinfo=timezone.utc)
    assert outbound(Id="006000000000001AAA", SystemModstamp="1970-01-01T00:00:00Z").occurred_at == limits.MIN_TIME
    assert outbound(Id="006000000000001AAA", SystemModstamp="9999-12-31T23:59:59.999Z").occurred_at == limits.MAX_TIME
    assert outbound(Id="006000000000001AAA", SystemModstamp="last tuesday").occurred_at == RECEIVED


def test_outbound_event_carries_the_crm_record_and_notification_as_sent(outbound):
    event = outbound(Id="0065e00000AbCdEAAV", Amount="5")
    assert (event.key, event.crm, event.object_type, event.object_id) == (
        f"salesforce#{ORG_ID[:15]}#04l5e000000AAA1AAG", "salesforce", "opportunity", "0065e00000AbCdEAAV")
    assert event.changed == {"Amount": "5"}
    assert event.raw == {"notificationId": "04l5e000000AAA1AAG", "actionId": "04kACT", "sObjectType": "Opportunity",
                         "fields": {"Id": "0065e00000AbCdEAAV", "Amount": "5"}}  # fmt: skip



def test_an_outbound_notification_without_a_record_id_is_rejected_naming_it(config):
    body = samples.outbound_message(ORG_ID, [("04l5e000000AAA1AAG", "Opportunity", {"Amount": "5"})], "04kACT")
    out = outbound_events(parse_outbound_message(body), config.salesforce_tenant(ORG_ID), RECEIVED)
    assert out.events == [] and [(r.index, r.detail) for r in out.rejected] == [(0, {"sObject.Id": ["must be a 15 or 18 character record Id"]})]


def test_a_notification_id_too_long_for_a_key_is_rejected_naming_notification_id(config):
    nid = "n" * limits.MAX_KEY_BYTES
    body = samples.outbound_message(ORG_ID, [("ok1", "Opportunity", {"Id": "006000000000001AAA"}), (nid, "Opportunity", {"Id": "006000000000001AAA"})])
    out = outbound_events(parse_outbound_message(body), config.salesforce_tenant(ORG_ID), RECEIVED).enforce_limits(len(body))
    assert [e.source_id for e in out.events] == ["ok1"] and out.indexes == [0]
    assert [(r.index, r.reason, list(r.detail)) for r in out.rejected] == [(1, "event exceeds a storage limit", ["Notification.Id"])]


def json_event(i, **over):
    return {"id": f"evt-{i}", "object": "Opportunity", "recordId": "0065e00000AbCdEAAV", "occurredAt": "2026-11-20T10:00:00Z", **over}


def test_salesforce_json_batch_events_and_rejections(config):
    tenant = config.salesforce_tenant(ORG_ID)
    out = salesforce_json_batch({"organizationId": ORG_ID, "events": [json_event(1), json_event(2, recordId="bad")]}, tenant)
    assert [r.reason for r in out.rejected] == ["invalid event"] and out.rejected[0].index == 1
    assert (out.events[0].crm, out.events[0].kind, out.events[0].key) == ("salesforce", "updated", f"salesforce#{ORG_ID[:15]}#evt#evt-1")
    assert out.rejected[0].detail == {"recordId": ["String does not match expected pattern."]}


def test_salesforce_json_body_that_is_not_an_object_names_the_missing_fields(config):
    with pytest.raises(ValidationError) as caught:
        salesforce_json_batch([json_event(1)], config.salesforce_tenant(ORG_ID))
    assert sorted(caught.value.messages) == ["events", "organizationId"]


def test_salesforce_json_from_another_org_is_refused_naming_organization_id(config):
    with pytest.raises(ValidationError) as caught:
        salesforce_json_batch({"organizationId": "00D5e0000009ZZZEAA", "events": [json_event(1)]}, config.salesforce_tenant(ORG_ID))
    assert caught.value.messages == ["organizationId does not match the signing tenant"]
    assert caught.value.field_name == "organizationId"


def test_hubspot_custom_object_keeps_its_type_id_and_standard_ids_are_named(config):
    base = {"eventId": 1, "subscriptionId": 2, "portalId": PORTAL_ID, "occurredAt": 1_795_000_000_000, "objectId": 7}
    out = hubspot_batch([base | {"subscriptionType": "object.creation", "objectTypeId": "2-123456"},
                         base | {"subscriptionType": "object.propertyChange", "objectTypeId": "0-3", "eventId": 2},
                         base | {"subscriptionType": "object.deletion", "eventId": 3}], config)  # fmt: skip
    assert [(e.object_type, e.kind) for e in out.events] == [("2-123456", "created"), ("deal", "updated"), ("unknown", "deleted")]


@pytest.mark.parametrize(
    "payload, message",
    [({"eventId": 1}, "body must be a JSON array of events"), ([{}] * (MAX_BATCH + 1), "at most 100 events per request")],
)
def test_hubspot_body_refusals_name_the_body(config, payload, message):
    with pytest.raises(ValidationError) as caught:
        hubspot_batch(payload, config)
    assert (caught.value.messages, caught.value.field_name) == ([message], "body")


def test_hubspot_merge_and_association_events_are_about_their_object(config):
    base = {"subscriptionId": 2, "portalId": PORTAL_ID, "occurredAt": 1_795_000_000_123}
    out = hubspot_batch([base | {"eventId": 11, "subscriptionType": "deal.merge", "primaryObjectId": 70},
                         base | {"eventId": 12, "subscriptionType": "deal.associationChange", "fromObjectId": 80}], config)  # fmt: skip
    first, second = out.events
    assert (first.object_id, first.kind, second.object_id, second.kind) == ("70", "merged", "80", "associated")
    assert (first.crm, first.source_id, first.tenant) == ("hubspot", "11", "acme-hubspot")
    assert first.occurred_at == datetime(2026, 11, 18, 11, 6, 40, 123_000, tzinfo=timezone.utc)  # date -u -d @1795000000
    assert first.key == f"hubspot#{PORTAL_ID}#1795000000123#11#2#70"
