"""Zoom recordings end to end with the real participant lookup: a signed recording.completed
on /hooks/zoom, the worker asks Zoom's past-meeting participants API (intercepted with
`responses`, as Zoom documents it) and the participants decide the deal. Without Zoom
credentials the host is all we know; Zoom failing holds only that recording, retried."""
from __future__ import annotations

from datetime import timedelta

import pytest
import responses
from responses import matchers

from integration import zoom
from integration.app import create_app
from integration.commands import UpsertCall
from integration.config import parse
from integration.ledger import REC_PRIVATE, REC_UNMATCHED
from tests.conftest import ENVIRON, PORTAL_ID
from tests.fake_ledger import FakeLedger
from tests.game_film_org import MONDAY, SETTINGS, TENANT, org
from tests.webhooks import post_zoom, zoom_recording_completed

UUID = "/ajXp112QmuoKj4854875=="  # starts with "/": Zoom wants it encoded twice in the path
PARTICIPANTS = "https://api.zoom.us/v2/past_meetings/%252FajXp112QmuoKj4854875%253D%253D/participants"
ZOOM_ACCOUNT = "AAAAAABBBB"


@pytest.fixture(autouse=True)
def zoom_env(monkeypatch):
    monkeypatch.setattr(zoom, "_clients", {})  # one client per tenant per process: not across tests
    monkeypatch.delenv("GAMEFILM_SSM_PATH", raising=False)
    monkeypatch.setenv("ZOOM_CLIENT_ID", "client-id")
    monkeypatch.setenv("ZOOM_CLIENT_SECRET", "client-secret")


def _app(store, clock, *, credentials: bool = True):
    clock.now = MONDAY.timestamp()
    oauth = {"zoom_account_id": ZOOM_ACCOUNT, "zoom_client_id_env": "ZOOM_CLIENT_ID", "zoom_client_secret_env": "ZOOM_CLIENT_SECRET"}
    cfg = parse({"tenants": [{"id": TENANT, "crm": "hubspot", "portal_id": PORTAL_ID, "client_secret_env": "HS_SECRET",
                              "access_token_env": "HS_TOKEN", "dry_run": False, "zoom_secret_token_env": "ZOOM_TOKEN",
                              **(oauth if credentials else {}), "rules": {"game_film": SETTINGS}}]})  # fmt: skip
    crm = org()
    app = create_app({"config": cfg, "store": store, "clock": clock, "environ": {**ENVIRON, "HS_TOKEN": "pat"}, "worker_mode": "none",
                      "gateway_for": lambda tenant: crm, "ledger": FakeLedger()})  # fmt: skip
    return app.test_client(), app.extensions["gamefilm"], crm


def _post(client, clock, uuid: str = UUID):
    started = (MONDAY - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = post_zoom(client, clock, zoom_recording_completed(uuid, host_email="rep@acme.io", start_time=started))
    assert r.status_code == 200 and r.get_json()["accepted"] == 1, r.get_json()


def _zoom_answers(rsps, participants):
    rsps.add(responses.POST, "https://zoom.us/oauth/token", json={"access_token": "tok-1", "expires_in": 3600},
             match=[matchers.query_param_matcher({"grant_type": "account_credentials", "account_id": ZOOM_ACCOUNT})])  # fmt: skip
    return rsps.add(responses.GET, PARTICIPANTS, json={"next_page_token": "", "participants": participants},
                    match=[matchers.header_matcher({"Authorization": "Bearer tok-1"})])  # fmt: skip


def _upserts(crm) -> list[UpsertCall]:
    return [c for c in crm.written if isinstance(c, UpsertCall)]


@responses.activate
def test_zoom_participants_decide_the_deal(store, clock):
    client, services, crm = _app(store, clock)
    lookup = _zoom_answers(responses, [{"id": "1", "name": "Rep", "user_email": "rep@acme.io"},
                                       {"id": "2", "name": "Guest", "user_email": ""},  # a guest Zoom hides
                                       {"id": "3", "name": "Buyer", "user_email": "Buyer@Globex.com"}])  # fmt: skip
    _post(client, clock)
    report = services.worker.run_due()

    assert report.done == [f"zoom#{TENANT}#{UUID}"]
    [call] = _upserts(crm)
    assert (call.external_id, call.record_id, call.contact_ids, call.evidence["step"]) == (f"zoom:{UUID}", "d1", ("c1",), "contact")
    assert lookup.call_count == 1 and responses.calls[1].request.params == {"page_size": "300"}
    entry = services.ledger.get_recordings(TENANT, [f"zoom:{UUID}"])[f"zoom:{UUID}"]
    assert entry.status == REC_PRIVATE and entry.recording["participants"] == ["buyer@globex.com"]  # consent unknown: rep only


@responses.activate
def test_without_zoom_credentials_the_host_alone_matches_nothing(store, clock):
    client, services, crm = _app(store, clock, credentials=False)
    _post(client, clock)
    report = services.worker.run_due()

    assert report.done == [f"zoom#{TENANT}#{UUID}"] and len(responses.calls) == 0  # Zoom is never asked
    assert _upserts(crm) == []
    entry = services.ledger.get_recordings(TENANT, [f"zoom:{UUID}"])[f"zoom:{UUID}"]
    assert entry.status == REC_UNMATCHED and entry.recording["participants"] == []


@responses.activate
def test_zoom_failing_holds_only_that_recording_until_it_answers(store, clock):
    client, services, crm = _app(store, clock)
    responses.add(responses.POST, "https://zoom.us/oauth/token", json={"access_token": "tok-1", "expires_in": 3600})
    responses.add(responses.GET, PARTICIPANTS, status=503, json={"code": 503, "message": "busy"})
    responses.add(responses.GET, "https://api.zoom.us/v2/past_meetings/other%3D%3D/participants",
                  json={"participants": [{"id": "9", "user_email": "it@initech.com"}]})  # fmt: skip
    _post(client, clock)
    _post(client, clock, "other==")
    report = services.worker.run_due()

    assert report.retrying == [f"zoom#{TENANT}#{UUID}"] and report.done == [f"zoom#{TENANT}#other=="]
    assert "Zoom" in store.get_event(f"zoom#{TENANT}#{UUID}").last_error
    assert [(c.external_id, c.record_id) for c in _upserts(crm)] == [("zoom:other==", "d3")]

    responses.replace(responses.GET, PARTICIPANTS, json={"participants": [{"id": "3", "user_email": "buyer@globex.com"}]})
    clock.advance(3600)
    report = services.worker.run_due()
    assert report.done == [f"zoom#{TENANT}#{UUID}"]
    assert [(c.external_id, c.record_id) for c in _upserts(crm)] == [("zoom:other==", "d3"), (f"zoom:{UUID}", "d1")]


@responses.activate
@pytest.mark.parametrize("status", [400, 404])
def test_a_meeting_zoom_keeps_no_participants_of_is_the_host_only(store, clock, status):
    """Zoom keeps no participant list for one-person meetings or accounts below Pro."""
    client, services, crm = _app(store, clock)
    responses.add(responses.POST, "https://zoom.us/oauth/token", json={"access_token": "tok-1", "expires_in": 3600})
    responses.add(responses.GET, PARTICIPANTS, status=status, json={"code": 3001, "message": "Meeting does not exist"})
    _post(client, clock)
    report = services.worker.run_due()

    assert report.done == [f"zoom#{TENANT}#{UUID}"] and _upserts(crm) == []
    assert services.ledger.get_recordings(TENANT, [f"zoom:{UUID}"])[f"zoom:{UUID}"].status == REC_UNMATCHED


@responses.activate
def test_refused_zoom_credentials_hold_the_recording(store, clock):
    client, services, crm = _app(store, clock)
    responses.add(responses.POST, "https://zoom.us/oauth/token", status=401, json={"reason": "Invalid client_id or client_secret"})
    _post(client, clock)
    report = services.worker.run_due()

    assert report.retrying == [f"zoom#{TENANT}#{UUID}"] and _upserts(crm) == []
    error = store.get_event(f"zoom#{TENANT}#{UUID}").last_error
    assert "Zoom" in error and "client-secret" not in error
