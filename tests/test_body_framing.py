"""Bodies over the limit get 413 however they are framed (Content-Length or chunked), both
through the WSGI test client and through a real HTTP server decoding the chunks."""
import http.client
import io
import json
import threading
from typing import Iterator

import pytest
from werkzeug.serving import make_server

from integration import samples
from integration.signature import gamefilm_header
from tests.conftest import ORG_ID, SF_SECRET
from tests.webhooks import hubspot_events, json_event, post_hubspot

LIMIT = 1024 * 1024
TOO_LARGE = {"error": "request_entity_too_large", "message": f"body is larger than {LIMIT} bytes", "field": "body"}
CHUNKED = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}


def padded_batch(size: int) -> bytes:
    """A real HubSpot batch padded with an extra property to `size` bytes."""
    body = json.dumps(hubspot_events(1, pad="")).encode()
    return body.replace(b'"pad": ""', b'"pad": "' + b"x" * (size - len(body)) + b'"')


def post_chunked(client, path: str, body: bytes, headers: dict, *, terminated: bool = True):
    """Like a server that decoded `Transfer-Encoding: chunked`: no Content-Length, and
    `wsgi.input_terminated` set when the server delimits the body itself."""
    environ = {"wsgi.input_terminated": True} if terminated else {}
    return client.post(path, input_stream=io.BytesIO(body), headers=headers, environ_overrides=environ)


@pytest.mark.parametrize("werkzeug_limit", [True, False], ids=["max_content_length", "no_max_content_length"])
def test_chunked_body_over_the_limit_is_413(app, store, werkzeug_limit):
    # Werkzeug before 2.3 applies no MAX_CONTENT_LENGTH to chunked bodies: the handler's own cap must hold.
    if not werkzeug_limit:
        app.config["MAX_CONTENT_LENGTH"] = None
    r = post_chunked(app.test_client(), "/hooks/hubspot", padded_batch(LIMIT + 1), CHUNKED)
    assert r.status_code == 413
    assert r.get_json() == TOO_LARGE
    assert store.list_events() == []


def test_content_length_over_the_limit_is_413_without_reading(client, store, clock):
    r = post_hubspot(client, clock, padded_batch(LIMIT + 1))
    assert (r.status_code, r.get_json()) == (413, TOO_LARGE)


def test_body_of_exactly_the_limit_is_read_and_its_oversized_event_rejected(client, store, clock):
    r = post_hubspot(client, clock, padded_batch(LIMIT))
    assert r.status_code == 200
    assert [list(x["fields"]) for x in r.get_json()["rejected"]] == [["pad"]]  # too large to store, named
    assert store.list_events() == []


def test_chunked_body_within_the_limit_is_verified_and_stored(app, store, clock):
    body = samples.salesforce_json(ORG_ID, [json_event()])
    headers = CHUNKED | {"X-GameFilm-Signature": gamefilm_header(SF_SECRET, body, int(clock()))}
    r = post_chunked(app.test_client(), "/hooks/salesforce/events", body, headers)
    assert r.status_code == 200 and r.get_json()["accepted"] == 1


def test_chunked_body_the_server_cannot_delimit_is_411_not_an_empty_body(app, store, clock):
    body = samples.salesforce_json(ORG_ID, [json_event()])
    headers = CHUNKED | {"X-GameFilm-Signature": gamefilm_header(SF_SECRET, body, int(clock()))}
    r = post_chunked(app.test_client(), "/hooks/salesforce/events", body, headers, terminated=False)
    assert r.status_code == 411
    assert r.get_json()["field"] == "Content-Length"
    assert store.list_events() == []


# --- over a socket, chunked by http.client, de-chunked by Werkzeug's server -----------------------
@pytest.fixture
def server(app):
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    thread.join(5)
    srv.server_close()


def send_chunked(port: int, path: str, body: bytes, headers: dict) -> tuple[int, dict]:
    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 64 * 1024):
            yield body[i : i + 64 * 1024]

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", path, body=chunks(), headers=headers | {"Transfer-Encoding": "chunked"}, encode_chunked=True)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def test_real_server_chunked_over_the_limit_is_413(server, store):
    status, body = send_chunked(server.port, "/hooks/hubspot", padded_batch(LIMIT + 100), {"Content-Type": "application/json"})
    assert (status, body) == (413, TOO_LARGE)
    assert store.list_events() == []


def test_real_server_chunked_within_the_limit_is_stored(server, store, clock):
    body = samples.salesforce_json(ORG_ID, [json_event()])
    headers = {"Content-Type": "application/json", "X-GameFilm-Signature": gamefilm_header(SF_SECRET, body, int(clock()))}
    status, answer = send_chunked(server.port, "/hooks/salesforce/events", body, headers)
    assert (status, answer["accepted"]) == (200, 1)
    assert len(store.list_events()) == 1
