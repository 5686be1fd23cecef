"""Structured JSON logs: one line per request and per settled event, and never a secret, a
signature or a payload value (canaries in every field, secrets included, must not leak)."""
import io
import json
import logging
import sqlite3

import pytest

from integration import logs, samples
from integration.signature import gamefilm_header
from integration.store.sqlite import SqliteStore
from tests.conftest import ORG_ID, PORTAL_ID
from tests.webhooks import (
    SOAP, hubspot_events, json_event, notification, post_hubspot, post_outbound, post_recordings, post_sf_json, post_zoom,
    zoom_recording_completed,
)  # fmt: skip


@pytest.fixture
def json_lines():
    """Everything logged, formatted by logs.JsonFormatter, as a list of parsed lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def request_lines(lines: list[dict]) -> list[dict]:
    return [{k: v for k, v in line.items() if k not in ("ts", "duration_ms")} for line in lines if line["logger"] == logs.REQUEST_LOGGER]


# --- one line per request ------------------------------------------------------------------------
def test_one_json_line_per_request_with_endpoint_tenant_status_and_counts(client, clock, json_lines):
    post_hubspot(client, clock, hubspot_events(2))
    post_hubspot(client, clock, hubspot_events(2) + [{"eventId": "x"}] + hubspot_events(1, portalId=999))
    lines = json_lines()
    assert all(line["duration_ms"] >= 0 and line["ts"].endswith("+00:00") for line in lines if line["logger"] == logs.REQUEST_LOGGER)
    assert request_lines(lines) == [
        {"level": "INFO", "logger": "gamefilm.request", "event": "request", "method": "POST", "endpoint": "/hooks/hubspot",
         "status": 200, "tenant": "acme-hubspot", "accepted": 2, "duplicates": 0, "rejected": 0, "dropped": 0},
        {"level": "INFO", "logger": "gamefilm.request", "event": "request", "method": "POST", "endpoint": "/hooks/hubspot",
         "status": 200, "tenant": "acme-hubspot", "accepted": 0, "duplicates": 2, "rejected": 1, "dropped": 1},
    ]  # fmt: skip


def test_4xx_lines_carry_the_reason(client, clock, json_lines):
    post_hubspot(client, clock, hubspot_events(1), headers={"X-HubSpot-Request-Timestamp": "1"})
    post_sf_json(client, clock, b'{"organizationId":')
    post_outbound(client, [notification()], org="00D5e0000009ZZZEAA")
    client.get("/nowhere")
    reasons = [(line["endpoint"], line["status"], line.get("reason")) for line in request_lines(json_lines())]
    assert reasons == [
        ("/hooks/hubspot", 401, "invalid_signature (X-HubSpot-Signature-v3): signature timestamp is more than 300 seconds old"),
        ("/hooks/salesforce/events", 400, "malformed_json (body)"),
        ("/hooks/salesforce/outbound", 403, "unknown_organization (OrganizationId)"),
        ("(no route)", 404, "not_found (path)"),
    ]


def test_an_unknown_field_name_is_not_quoted_in_the_log(client, clock, json_lines):
    body = json.dumps({"organizationId": ORG_ID, "events": [json_event()], "CANARYKEY": 1}).encode()
    r = post_sf_json(client, clock, body)
    assert r.get_json()["field"] == "CANARYKEY"  # the sender is told
    [line] = request_lines(json_lines())
    assert line["reason"] == "invalid_batch (a field of the body)"  # the log is not


# --- one line per settled event (the worker calls this) --------------------------------------------
def test_settled_event_line(json_lines):
    fields = logs.settled_event(key="hubspot#62515#1#5000#7#1795000000000", rule="threshold", outcome="done",
                                attempts=2, duration_ms=12.3456, tenant="acme-hubspot")  # fmt: skip
    [line] = json_lines()
    assert line == {"ts": line["ts"], "level": "INFO", "logger": "gamefilm.event", **fields}
    assert fields == {"event": "settled", "key": "hubspot#62515#1#5000#7#1795000000000", "tenant": "acme-hubspot",
                      "rule": "threshold", "outcome": "done", "attempts": 2, "duration_ms": 12.35}  # fmt: skip


def test_settled_event_reduces_an_error_to_its_class(json_lines):
    logs.settled_event(key="k", rule=None, outcome="dead", attempts=5, duration_ms=1, error=ValueError("currency CANARYEUR"))
    [line] = json_lines()
    assert (line["level"], line["outcome"], line["error"]) == ("WARNING", "dead", "ValueError")
    assert "CANARY" not in json.dumps(line)


def test_configure_writes_json_lines_to_the_stream():
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        logs.configure("INFO", stream)
        logs.request_line(method="GET", endpoint="/healthz", status=200, duration_ms=0.5)
        logging.getLogger("x").debug("hidden at INFO")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    [line] = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert (line["endpoint"], line["status"], line["level"]) == ("/healthz", 200, "INFO")


def test_configure_with_an_unknown_level_falls_back_to_info():
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        logs.configure("LOUD", stream)
        level = root.level
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    assert level == logging.INFO
    assert json.loads(stream.getvalue())["msg"] == "unknown log level 'LOUD': using INFO"


# --- nothing leaks ---------------------------------------------------------------------------------
C = "CANARY"  # every canary string contains it; numeric canaries are listed
NUMBERS = ["987654321012", "876543210987", "765432109876", "1795000000123", "4242424242"]
SECRETS = {"HS_SECRET": f"{C}-hs-secret", "OTHER_SECRET": f"{C}-other-secret", "SF_SECRET": f"{C}-sf-secret",
           "SF_SECRET_NEXT": f"{C}-sf-next", "REC_SECRET": f"{C}-rec-secret", "SF_REC_SECRET": f"{C}-sf-rec-secret",
           "ZOOM_TOKEN": f"{C}-zoom-token"}  # fmt: skip


class LeakyLockedStore(SqliteStore):
    def add_events(self, events, now):
        raise sqlite3.OperationalError(f"disk I/O error near {C}-value")


def hubspot_canaries(**over) -> dict:
    return {"eventId": int(NUMBERS[0]), "subscriptionId": int(NUMBERS[1]), "portalId": int(PORTAL_ID),
            "appId": int(NUMBERS[4]), "occurredAt": int(NUMBERS[3]), "subscriptionType": f"deal.{C}change",
            "attemptNumber": 0, "objectId": int(NUMBERS[2]), "propertyName": f"{C}prop", "propertyValue": f"{C}-value-EUR",
            "changeSource": f"{C}-source", "sourceId": f"{C}-user", f"{C}extra": f"{C}-extra", **over}  # fmt: skip


def sf_canaries(i: int, **over) -> dict:
    return json_event(i, id=f"{C}-id-{i}", fields={"Amount": f"{C}-amount", "CurrencyIsoCode": f"{C}EUR"}, **over)


def recording_canaries(i: int, **over) -> dict:
    return {"id": f"{C}-rec-{i}", "recording_url": f"https://{C.lower()}.example/{C}/{i}", "title": f"{C} title",
            "started_at": "2026-11-20T10:00:00+01:00", "duration_seconds": int(NUMBERS[4]) % 100_000, "rep_email": f"{C}rep@x.example",
            "participants": [f"{C}buyer@y.example"], "deal_id": f"{C}deal", "consent": True, **over}  # fmt: skip


def zoom_canaries(**over) -> dict:
    fields = {"id": int(NUMBERS[0]), "topic": f"{C} topic", "host_email": f"{C}host@x.example",
              "share_url": f"https://{C.lower()}.zoom.us/rec/share/{C}", "host_id": f"{C}-host"}  # fmt: skip
    event = zoom_recording_completed(f"{C}-uuid==", **(fields | over))
    event["payload"]["account_id"] = f"{C}-account"
    return event


def run_scenarios(client, clock, signatures: list[str]) -> list:
    hs = SECRETS["HS_SECRET"]
    sf = SECRETS["SF_SECRET"]

    def hubspot(body, secret=hs, **kw):
        r = post_hubspot(client, clock, body, secret=secret, **kw)
        signatures.append(r.request.headers.get("X-HubSpot-Signature-v3", ""))
        return r

    def sf_json(body, secret=sf, **kw):
        r = post_sf_json(client, clock, body, secret=secret, **kw)
        signatures.append(r.request.headers.get("X-GameFilm-Signature", ""))
        return r

    return [
        hubspot([hubspot_canaries()]),  # accepted
        hubspot([hubspot_canaries()]),  # duplicate
        hubspot([hubspot_canaries(objectId=f"{C}-not-a-number", occurredAt=f"{C}")]),  # rejected per event
        hubspot([hubspot_canaries(portalId=int(NUMBERS[1]))]),  # dropped: no tenant for the portal
        hubspot([hubspot_canaries(propertyValue=f"{C}" * 100_000)]),  # too large to store
        hubspot([hubspot_canaries()], secret=f"{C}-wrong-secret"),  # 401
        hubspot(f'[{{"{C}": '.encode()),  # malformed JSON
        hubspot([hubspot_canaries(propertyValue=json.loads("[" * 40 + f'"{C}"' + "]" * 40))]),  # too deep
        sf_json([sf_canaries(1), sf_canaries(2, recordId=f"{C}-rec", occurredAt=f"{C}-time", kind=f"{C}-kind")]),
        sf_json([sf_canaries(3)], org=f"00D{C}00000000"),  # org mismatch
        sf_json([sf_canaries(4)], secret=f"{C}-retired"),  # 401
        sf_json(json.dumps({"organizationId": ORG_ID, "events": [sf_canaries(5)], f"{C}key": f"{C}"}).encode()),
        post_outbound(client, [notification(f"04l{C}00001", Amount=f"{C}-amount", Name=f"{C}-name")]),
        post_outbound(client, [notification(f"04l{C}00002", Description=f"{C}" * 100_000)]),  # too large
        post_outbound(client, [notification(f"04l{C}00003")], org=f"00D{C}"),  # unknown org
        post_outbound(client, f"<{C}>{C}</{C}".encode()),  # malformed XML
        client.post("/hooks/salesforce/outbound", data=samples.outbound_message(ORG_ID, [notification()]).replace(
            b'encoding="UTF-8"', f'encoding="{C}-enc"'.encode()), headers=SOAP),  # fmt: skip
        *recording_scenarios(client, clock, signatures),
    ]


def recording_scenarios(client, clock, signatures: list[str]) -> list:
    def recordings(body, secret=SECRETS["REC_SECRET"]):
        r = post_recordings(client, clock, body, secret=secret)
        signatures.append(r.request.headers.get("X-GameFilm-Signature", ""))
        return r

    def zoom(body, secret=SECRETS["ZOOM_TOKEN"]):
        r = post_zoom(client, clock, body, secret=secret)
        signatures.append(r.request.headers.get("x-zm-signature", ""))
        return r

    return [
        recordings(recording_canaries(1)),  # accepted
        recordings(recording_canaries(1)),  # duplicate
        recordings({"recordings": [recording_canaries(2), recording_canaries(3, started_at=f"{C}-time", rep_email=f"{C}")]}),
        recordings(recording_canaries(4, recording_url=f"http://{C}.example/")),  # 400: not https
        recordings(recording_canaries(5) | {f"{C}key": f"{C}"}),  # 400: unknown field
        recordings(recording_canaries(6), secret=f"{C}-wrong"),  # 401
        zoom(zoom_canaries()),  # accepted
        zoom({"event": "endpoint.url_validation", "payload": {"plainToken": f"{C}-plain-token"}}),  # challenge
        zoom(zoom_canaries(host_email=f"{C}-not-an-email")),  # 400
        zoom({"event": f"{C}.event", "payload": {"object": {"id": f"{C}"}}}),  # other event: acked
        zoom(zoom_canaries(), secret=f"{C}-wrong"),  # 401
    ]


def assert_no_leak(text: str, signatures: list[str]) -> None:
    assert C not in text.upper()
    for number in NUMBERS:
        assert number not in text
    for signature in filter(None, signatures):
        assert signature not in text
        for part in signature.replace("=", ",").split(","):
            assert len(part) < 20 or part not in text


def test_no_payload_value_secret_or_signature_reaches_the_logs(make_app, tmp_path, clock, caplog, capfd, json_lines):
    caplog.set_level(logging.DEBUG)
    stderr_handler = logging.StreamHandler()  # what `gamefilm serve` and Lambda print: stderr
    stderr_handler.setFormatter(logs.JsonFormatter())
    logging.getLogger().addHandler(stderr_handler)
    signatures: list[str] = []
    try:
        client = make_app(environ=SECRETS).test_client()
        statuses = [r.status_code for r in run_scenarios(client, clock, signatures)]
        outage = make_app(environ=SECRETS, store=LeakyLockedStore(tmp_path / "x.db")).test_client()
        statuses += [r.status_code for r in run_scenarios(outage, clock, signatures)]
    finally:
        logging.getLogger().removeHandler(stderr_handler)
    assert statuses[:28] == [200, 200, 200, 200, 200, 401, 400, 400, 200, 400, 401, 400, 200, 200, 403, 400, 400,
                             200, 200, 200, 400, 400, 401, 200, 200, 400, 200, 401]  # fmt: skip
    assert 503 in statuses[28:]
    lines = json_lines()
    assert len(request_lines(lines)) == len(statuses)  # one line per request, none lost
    assert any("event exceeds a storage limit" in line.get("msg", "") for line in lines)
    assert_no_leak(caplog.text, signatures)
    assert_no_leak(json.dumps(lines), signatures)
    assert_no_leak(capfd.readouterr().err, signatures)


def test_an_unexpected_error_is_a_json_500_and_its_message_is_not_logged(make_app, clock, caplog, json_lines):
    def broken_clock() -> float:
        raise ValueError(f"{C} value in an exception message")

    client = make_app(clock=broken_clock).test_client()
    r = post_hubspot(client, clock, hubspot_events(1))
    assert r.status_code == 500
    assert r.get_json() == {"error": "internal_error", "message": "unexpected error; the events were not acknowledged"}
    assert "ValueError" in caplog.text and "broken_clock" in caplog.text  # class and frames, for the operator
    assert C not in caplog.text and C not in json.dumps(json_lines())
