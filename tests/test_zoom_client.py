"""integration.zoom against Zoom's documented HTTP (intercepted with `responses`): the
server-to-server token request, paging of past meeting participants, one new token on a 401,
double-encoded UUIDs, and the pure merge into a Recording."""
import base64
from datetime import datetime, timezone

import pytest
import requests
import responses
from responses import matchers

from integration import zoom
from integration.config import Tenant
from integration.recordings import Recording

TOKEN_URL = "https://zoom.us/oauth/token"
BASIC = "Basic " + base64.b64encode(b"client-id:client-secret").decode()


def token(rsps, value: str = "tok-1", expires_in: int = 3600):
    return rsps.add(
        responses.POST, TOKEN_URL, json={"access_token": value, "token_type": "bearer", "expires_in": expires_in, "scope": "meeting:read:admin"},
        match=[matchers.query_param_matcher({"grant_type": "account_credentials", "account_id": "acct-1"}),
               matchers.header_matcher({"Authorization": BASIC})],
    )  # fmt: skip


def participants_url(path_uuid: str) -> str:
    return f"https://api.zoom.us/v2/past_meetings/{path_uuid}/participants"


def client(clock=None) -> zoom.ZoomClient:
    return zoom.ZoomClient("acct-1", "client-id", "client-secret", timeout=(1.0, 2.0), **({"clock": clock} if clock else {}))


@responses.activate
def test_token_request_then_every_page_of_participants():
    token(responses)
    url = participants_url("abc%3D%3D")
    responses.add(responses.GET, url, json={"page_size": 300, "next_page_token": "page-2", "participants": [
        {"id": "1", "name": "Rep", "user_email": "Rep@Acme.example"}, {"id": "2", "name": "Guest", "user_email": ""}]},
        match=[matchers.query_param_matcher({"page_size": "300"}), matchers.header_matcher({"Authorization": "Bearer tok-1"})])  # fmt: skip
    responses.add(responses.GET, url, json={"page_size": 300, "next_page_token": "", "participants": [
        {"id": "3", "user_email": "buyer@client.example"}, {"id": "4", "user_email": "rep@acme.example"}]},
        match=[matchers.query_param_matcher({"page_size": "300", "next_page_token": "page-2"})])  # fmt: skip
    assert client().participant_emails("abc==") == ["rep@acme.example", "buyer@client.example"]
    token_call = responses.calls[0].request
    assert (token_call.method, token_call.body) == ("POST", None)  # everything is in the query string, as Zoom documents
    assert len(responses.calls) == 3


@responses.activate
def test_the_token_is_reused_until_it_is_about_to_expire():
    now = [1000.0]
    token(responses, "tok-1")
    responses.add(responses.GET, participants_url("m"), json={"participants": []})
    c = client(clock=lambda: now[0])
    c.participant_emails("m")
    now[0] += 3000  # inside the hour, outside the last minute
    c.participant_emails("m")
    assert [call.request.url.split("?")[0] for call in responses.calls] == [TOKEN_URL, participants_url("m"), participants_url("m")]
    now[0] += 600
    c.participant_emails("m")
    assert sum(call.request.url.startswith(TOKEN_URL) for call in responses.calls) == 2


@responses.activate
def test_a_401_gets_one_new_token_and_one_retry():
    token(responses, "tok-1")
    responses.add(responses.GET, participants_url("m"), status=401, json={"code": 124, "message": "Invalid access token."},
                  match=[matchers.header_matcher({"Authorization": "Bearer tok-1"})])  # fmt: skip
    responses.replace(responses.POST, TOKEN_URL, json={"access_token": "tok-2", "expires_in": 3600})
    responses.add(responses.GET, participants_url("m"), json={"participants": [{"user_email": "a@b.example"}]},
                  match=[matchers.header_matcher({"Authorization": "Bearer tok-2"})])  # fmt: skip
    c = client()
    c._token, c._expires = "tok-1", float("inf")  # a token Zoom has revoked
    assert c.participant_emails("m") == ["a@b.example"]


@responses.activate
def test_a_second_401_or_another_error_raises_naming_the_status_only():
    token(responses)
    responses.add(responses.GET, participants_url("m"), status=401, json={"message": "secret detail"})
    with pytest.raises(zoom.ZoomError) as err:
        client().participant_emails("m")
    assert (err.value.status, err.value.retryable, str(err.value)) == (401, False, "Zoom past meeting participants: HTTP 401")
    responses.replace(responses.GET, participants_url("m"), status=429, json={})
    with pytest.raises(zoom.ZoomError) as err:
        client().participant_emails("m")
    assert err.value.retryable


@responses.activate
def test_refused_credentials_and_timeouts_raise_zoom_error():
    responses.add(responses.POST, TOKEN_URL, status=400, json={"reason": "Invalid client_id or client_secret", "error": "invalid_client"})
    with pytest.raises(zoom.ZoomError, match="OAuth token: HTTP 400"):
        client().participant_emails("m")
    responses.replace(responses.POST, TOKEN_URL, body=requests.ConnectTimeout())
    with pytest.raises(zoom.ZoomError, match="ConnectTimeout") as err:
        client().participant_emails("m")
    assert err.value.retryable


@pytest.mark.parametrize(
    ("uuid", "path"),
    [("aDYlohsHRtCd4ii1uC2+hA==", "aDYlohsHRtCd4ii1uC2%2BhA%3D%3D"), ("/ajXp112QmuoKj4854875==", "%252FajXp112QmuoKj4854875%253D%253D"),
     ("ab//cd==", "ab%252F%252Fcd%253D%253D"), ("ab/cd", "ab%2Fcd")],  # fmt: skip
)
def test_uuids_starting_with_a_slash_or_holding_two_are_encoded_twice(uuid, path):
    assert zoom.meeting_path(uuid) == path


@responses.activate
def test_the_double_encoded_uuid_is_what_goes_on_the_wire():
    token(responses)
    responses.add(responses.GET, participants_url("%252Fabc%253D%253D"), json={"participants": [{"user_email": "x@y.example"}]})
    assert client().participant_emails("/abc==") == ["x@y.example"]


@responses.activate
def test_participant_emails_for_a_tenant_uses_its_credentials_and_timeouts():
    tenant = Tenant(id="t-zoom", crm="hubspot", dry_run=True, zoom_account_id="acct-1", zoom_client_id_env="ZID",
                    zoom_client_secret_env="ZSECRET", connect_timeout_seconds=1.5, read_timeout_seconds=7)  # fmt: skip
    environ = {"ZID": "client-id", "ZSECRET": "client-secret"}
    token(responses)
    responses.add(responses.GET, participants_url("m"), json={"participants": [{"user_email": "x@y.example"}]})
    assert zoom.has_credentials(tenant, environ)
    assert zoom.participant_emails(tenant, "m", environ) == ["x@y.example"]
    assert zoom.client_for(tenant, environ)._timeout == (1.5, 7)
    assert not zoom.has_credentials(Tenant(id="none", crm="hubspot", dry_run=True), environ)
    with pytest.raises(zoom.ZoomError, match="are not all set"):
        zoom.client_for(Tenant(id="none", crm="hubspot", dry_run=True), environ)


def test_with_participants_merges_without_the_rep_or_repeats():
    recording = Recording(external_id="zoom:m", source="zoom", recording_url="https://z.example/r", title="t",
                          started_at=datetime(2026, 11, 20, tzinfo=timezone.utc), rep_email="rep@acme.example",
                          participants=("buyer@client.example",))  # fmt: skip
    merged = zoom.with_participants(recording, ["REP@acme.example", "Buyer@Client.example", "cfo@client.example", " "])
    assert merged.participants == ("buyer@client.example", "cfo@client.example")
    assert zoom.with_participants(recording, []) == recording
