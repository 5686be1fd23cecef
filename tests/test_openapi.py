"""GET /openapi.json: an OpenAPI 3 document built from the marshmallow schemas the handlers
enforce, listing every route the app serves with its bodies, security and response codes."""
from integration.normalize import HubSpotEventSchema, SalesforceJsonBatchSchema, SalesforceJsonEventSchema
from tests.webhooks import hubspot_events, post_hubspot


def document(client) -> dict:
    r = client.get("/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    return r.get_json()


def test_every_route_of_the_app_is_documented(app, client):
    doc = document(client)
    assert doc["openapi"].startswith("3.")
    routes = {(rule.rule.replace("<", "{").replace(">", "}"), m.lower()) for rule in app.url_map.iter_rules() if rule.endpoint != "static"
              for m in rule.methods - {"HEAD", "OPTIONS"}}  # fmt: skip
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert routes == documented


def test_request_bodies_come_from_the_schemas_that_validate_them(client):
    doc = document(client)
    schemas = doc["components"]["schemas"]
    assert set(schemas["HubSpotEvent"]["properties"]) == {f.data_key or n for n, f in HubSpotEventSchema().fields.items()}
    assert set(schemas["SalesforceJsonEvent"]["properties"]) == {f.data_key or n for n, f in SalesforceJsonEventSchema().fields.items()}
    assert set(schemas["SalesforceJsonBatch"]["properties"]) == set(SalesforceJsonBatchSchema().fields)
    assert schemas["HubSpotEvent"]["properties"]["occurredAt"]["maximum"] == 253_402_300_799_999
    hubspot = doc["paths"]["/hooks/hubspot"]["post"]
    assert hubspot["requestBody"]["content"]["application/json"]["schema"] == {
        "type": "array", "maxItems": 100, "items": {"$ref": "#/components/schemas/HubSpotEvent"}}  # fmt: skip
    events = doc["paths"]["/hooks/salesforce/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert events == {"$ref": "#/components/schemas/SalesforceJsonBatch"}
    assert schemas["SalesforceJsonBatch"]["properties"]["events"]["items"] == {"$ref": "#/components/schemas/SalesforceJsonEvent"}
    assert "text/xml" in doc["paths"]["/hooks/salesforce/outbound"]["post"]["requestBody"]["content"]


def test_security_headers_and_response_codes(client):
    doc = document(client)
    schemes = doc["components"]["securitySchemes"]
    assert {s["name"] for s in schemes.values()} == {"X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp", "X-GameFilm-Signature",
                                                     "x-zm-signature", "x-zm-request-timestamp"}  # fmt: skip
    paths = doc["paths"]
    assert paths["/hooks/hubspot"]["post"]["security"] == [{"HubSpotSignatureV3": [], "HubSpotTimestamp": []}]
    assert paths["/hooks/salesforce/events"]["post"]["security"] == [{"GameFilmSignature": []}]
    codes = {p: set(ops[m]["responses"]) for p, ops in paths.items() for m in ops}
    assert codes["/hooks/hubspot"] == codes["/hooks/salesforce/events"] == {"200", "400", "401", "411", "413", "415", "503"}
    assert codes["/hooks/salesforce/outbound"] == {"200", "400", "403", "411", "413", "415", "503"}
    assert codes["/healthz"] == {"200", "503"}
    assert codes["/hooks/recordings"] == codes["/hooks/zoom"] == codes["/hooks/hubspot"]
    assert paths["/hooks/recordings"]["post"]["security"] == [{"GameFilmSignature": []}]
    assert paths["/hooks/zoom"]["post"]["security"] == [{"ZoomSignature": [], "ZoomTimestamp": []}]
    assert "Retry-After" in paths["/hooks/hubspot"]["post"]["responses"]["503"]["headers"]


def test_a_real_answer_matches_its_documented_schema(client, clock):
    from integration.openapi import ErrorSchema, HubSpotAckSchema

    ok = post_hubspot(client, clock, hubspot_events(1))
    assert HubSpotAckSchema().validate(ok.get_json()) == {}
    bad = post_hubspot(client, clock, hubspot_events(1), headers={"X-HubSpot-Signature-v3": "nope"})
    assert ErrorSchema().validate(bad.get_json()) == {}


def test_the_document_is_valid_openapi_3(client):
    from openapi_spec_validator import validate

    validate(document(client))


def test_the_recording_endpoints_document_the_schemas_that_validate_them(client):
    from integration.recording_intake import RecordingSchema
    from integration.zoom_intake import ZoomEventSchema, ZoomMeetingSchema

    doc = document(client)
    schemas = doc["components"]["schemas"]
    assert set(schemas["Recording"]["properties"]) == set(RecordingSchema().fields)
    assert set(schemas["Recording"]["required"]) == {"id", "recording_url", "started_at"}
    assert schemas["RecordingBatch"]["properties"]["recordings"]["items"] == {"$ref": "#/components/schemas/Recording"}
    assert schemas["RecordingBatch"]["properties"]["recordings"]["maxItems"] == 100
    assert set(schemas["ZoomEvent"]["properties"]) == set(ZoomEventSchema().fields)
    assert set(schemas["ZoomRecordingObject"]["properties"]) == set(ZoomMeetingSchema().fields)
    body = doc["paths"]["/hooks/recordings"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"oneOf": [{"$ref": "#/components/schemas/Recording"}, {"$ref": "#/components/schemas/RecordingBatch"}]}
