"""The OpenAPI 3 document (`GET /openapi.json`), built with apispec from the same marshmallow
schemas that validate the requests, so the document cannot drift from what is enforced.

Response bodies get small schemas here; the fuzz tests load every answer they receive
through them and check each status code is listed for its path.
"""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from integration import limits
from integration import openapi_reviews
from integration.normalize import MAX_BATCH, HubSpotEventSchema, SalesforceJsonBatchSchema, SalesforceJsonEventSchema
from integration.recording_intake import RecordingBatchSchema, RecordingSchema
from integration.zoom_intake import ZoomEventSchema, ZoomMeetingSchema

TITLE = "Game Film intake"
VERSION = "1"


class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "machine-readable problem, e.g. invalid_signature"})
    message = fields.String(required=True, metadata={"description": "one sentence; names fields, never their values"})
    field = fields.String(metadata={"description": "the header or body field at fault"})
    retry_after_seconds = fields.Integer(metadata={"description": "503 only: when to retry"})
    errors = fields.Dict(keys=fields.String(), values=fields.String(), metadata={"description": "reviews: {form field: problem}"})


class RejectedSchema(Schema):
    index = fields.Integer(required=True, metadata={"description": "position in the batch"})
    reason = fields.String(required=True)
    fields_ = fields.Raw(data_key="fields", allow_none=True, metadata={"description": "{field: [problems]}"})


class HubSpotAckSchema(Schema):
    accepted = fields.Integer(required=True)
    duplicates = fields.Integer(required=True)
    rejected = fields.List(fields.Nested(RejectedSchema), required=True)
    dropped = fields.List(fields.Nested(RejectedSchema), required=True, metadata={"description": "no tenant for the portal"})


class SalesforceJsonAckSchema(Schema):
    accepted = fields.Integer(required=True)
    duplicates = fields.Integer(required=True)
    rejected = fields.List(fields.Nested(RejectedSchema), required=True)


class ZoomChallengeSchema(Schema):
    plainToken = fields.String(required=True, metadata={"description": "as Zoom sent it"})
    encryptedToken = fields.String(required=True, metadata={"description": "hex HMAC-SHA256(secret token, plainToken)"})


class TenantSummarySchema(Schema):
    id = fields.String()
    crm = fields.String()
    dry_run = fields.Boolean()


class HealthSchema(Schema):
    status = fields.String(required=True)
    store = fields.String()
    worker = fields.String()
    tenants = fields.List(fields.Nested(TenantSummarySchema))


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": "Error"}}}


_COMMON_ERRORS = {
    "400": _error(f"malformed body, a batch-level field invalid, or JSON nested deeper than {limits.MAX_JSON_DEPTH}"),
    "411": _error("chunked body on a server that cannot decode it"),
    "413": _error("body over `intake.max_body_bytes` (1 MiB by default), with or without Content-Length"),
    "415": _error("wrong Content-Type"),
    "503": {
        **_error("the store did not confirm the write: nothing acknowledged, retry"),
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}},
    },
}
_OUTBOUND_EXAMPLE = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    '<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>00D5e0000001AbcEAA</OrganizationId>'
    '<Notification><Id>04l5e000000AAA1AAG</Id><sObject xsi:type="sf:Opportunity" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
    "<sf:Id>0065e00000AbCdEAAV</sf:Id><sf:Amount>120000</sf:Amount></sObject></Notification>"
    "</notifications></soapenv:Body></soapenv:Envelope>"
)



# Every signature scheme the endpoints accept, as OpenAPI API-key headers.
_SIGNATURE_HEADERS = (
    ("HubSpotSignatureV3", "X-HubSpot-Signature-v3", "base64 HMAC-SHA256(client secret, METHOD + URI + body + X-HubSpot-Request-Timestamp)"),
    ("HubSpotTimestamp", "X-HubSpot-Request-Timestamp", "epoch milliseconds, 1-16 ASCII digits, within the tolerance (300 s by default)"),
    ("GameFilmSignature", "X-GameFilm-Signature", "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, '<t>.<body>')>[,v1=...]"),
    ("ZoomSignature", "x-zm-signature", "v0=<hex HMAC-SHA256(secret token, 'v0:' + x-zm-request-timestamp + ':' + body)>"),
    ("ZoomTimestamp", "x-zm-request-timestamp", "epoch seconds (13+ digits: milliseconds), within the tolerance (300 s by default)"),
)

def build() -> dict[str, Any]:
    """The whole document as a dict (apispec imported here: only /openapi.json pays for it)."""
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    spec = APISpec(title=TITLE, version=VERSION, openapi_version="3.0.3", plugins=[MarshmallowPlugin()])
    for name, schema in (
        ("HubSpotEvent", HubSpotEventSchema), ("SalesforceJsonEvent", SalesforceJsonEventSchema),
        ("SalesforceJsonBatch", SalesforceJsonBatchSchema), ("Error", ErrorSchema), ("Rejected", RejectedSchema),
        ("HubSpotAck", HubSpotAckSchema), ("SalesforceJsonAck", SalesforceJsonAckSchema), ("Health", HealthSchema),
        ("Recording", RecordingSchema), ("RecordingBatch", RecordingBatchSchema), ("ZoomEvent", ZoomEventSchema),
        ("ZoomRecordingObject", ZoomMeetingSchema), ("ZoomChallenge", ZoomChallengeSchema), *openapi_reviews.SCHEMAS,
    ):  # fmt: skip
        spec.components.schema(name, schema=schema)
    # The batch schema loads `events` as plain objects so one bad event is reported, not fatal;
    # the document says what each must be.
    batch = spec.components.schemas["SalesforceJsonBatch"]
    batch["properties"]["events"]["items"] = {"$ref": "#/components/schemas/SalesforceJsonEvent"}
    spec.components.schemas["RecordingBatch"]["properties"]["recordings"]["items"] = {"$ref": "#/components/schemas/Recording"}
    spec.components.schemas["ZoomEvent"]["properties"]["payload"]["description"] = (
        "endpoint.url_validation: {plainToken}; recording.completed: {account_id, object: ZoomRecordingObject}")
    for name, header, description in _SIGNATURE_HEADERS:
        spec.components.security_scheme(name, {"type": "apiKey", "in": "header", "name": header, "description": description})
    _paths(spec)
    _recording_paths(spec)
    openapi_reviews.add_paths(spec, _error, _COMMON_ERRORS)
    return spec.to_dict()


def _paths(spec: Any) -> None:
    spec.path(path="/hooks/hubspot", operations={"post": {
        "summary": "HubSpot webhook batch", "operationId": "hubspotWebhook",
        "security": [{"HubSpotSignatureV3": [], "HubSpotTimestamp": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "array", "maxItems": MAX_BATCH, "items": "HubSpotEvent"}}}},
        "responses": {
            "200": {"description": "stored (or reported per event in rejected/dropped: HubSpot retries any 4xx)",
                    "content": {"application/json": {"schema": "HubSpotAck"}}},
            "401": _error("missing, malformed, wrong, stale or future signature"), **_COMMON_ERRORS,
        },
    }})  # fmt: skip
    spec.path(path="/hooks/salesforce/outbound", operations={"post": {
        "summary": "Salesforce outbound message (SOAP 1.1)", "operationId": "salesforceOutbound",
        "description": "Authenticated by OrganizationId (a configured org, 15-character prefix).",
        "requestBody": {"required": True, "content": {
            "text/xml": {"schema": {"type": "string"}, "example": _OUTBOUND_EXAMPLE},
            "application/soap+xml": {"schema": {"type": "string"}}}},
        "responses": {
            "200": {"description": "the notificationsResponse Ack envelope",
                    "content": {"text/xml": {"schema": {"type": "string"}}}},
            "403": _error("OrganizationId is not a configured org"), **_COMMON_ERRORS,
        },
    }})  # fmt: skip
    spec.path(path="/hooks/salesforce/events", operations={"post": {
        "summary": "Signed JSON events (Salesforce Flow/Apex callouts)", "operationId": "salesforceJsonEvents",
        "security": [{"GameFilmSignature": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": "SalesforceJsonBatch"}}},
        "responses": {
            "200": {"description": "stored (bad events reported in rejected)",
                    "content": {"application/json": {"schema": "SalesforceJsonAck"}}},
            "401": _error("missing, malformed, wrong, stale or future signature"), **_COMMON_ERRORS,
        },
    }})  # fmt: skip
    spec.path(path="/healthz", operations={"get": {
        "summary": "Liveness and store reachability", "operationId": "healthz",
        "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": "Health"}}},
                      "503": _error("the store is unreachable")},
    }})  # fmt: skip
    spec.path(path="/openapi.json", operations={"get": {
        "summary": "This document", "operationId": "openapi",
        "responses": {"200": {"description": "OpenAPI 3 document", "content": {"application/json": {"schema": {"type": "object"}}}}},
    }})  # fmt: skip


def _recording_paths(spec: Any) -> None:
    ack = {"application/json": {"schema": "SalesforceJsonAck"}}
    spec.path(path="/hooks/recordings", operations={"post": {
        "summary": "Recordings from a dialer or recorder", "operationId": "recordings",
        "description": "One recording object, or {recordings: [...]} (at most 100). Signed with the secret "
                       "of one tenant's recorder_secret_envs: the signature picks the tenant.",
        "security": [{"GameFilmSignature": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "oneOf": [{"$ref": "#/components/schemas/Recording"}, {"$ref": "#/components/schemas/RecordingBatch"}]}}}},
        "responses": {
            "200": {"description": "stored (in a batch, bad recordings reported in rejected)", "content": ack},
            "401": _error("missing, malformed, wrong, stale or future signature"),
            **_COMMON_ERRORS,
            "400": _error("a single recording, or the batch envelope, is invalid (the field is named)"),
        },
    }})  # fmt: skip
    spec.path(path="/hooks/zoom", operations={"post": {
        "summary": "Zoom webhooks (recording.completed, endpoint.url_validation)", "operationId": "zoomWebhook",
        "description": "Verified with each tenant's zoom_secret_token_env: the matching token picks the tenant. "
                       "Other events are acknowledged and not stored.",
        "security": [{"ZoomSignature": [], "ZoomTimestamp": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": "ZoomEvent"}}},
        "responses": {
            "200": {"description": "the URL validation answer, or what was stored", "content": {"application/json": {"schema": {
                "oneOf": [{"$ref": "#/components/schemas/ZoomChallenge"}, {"$ref": "#/components/schemas/SalesforceJsonAck"}]}}}},
            "401": _error("missing, malformed, wrong, stale or future x-zm-signature"),
            **_COMMON_ERRORS,
        },
    }})  # fmt: skip
