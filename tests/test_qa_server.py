"""What waitress refuses before the app sees it, over a real socket to `gamefilm serve`:
once plain text and a 501 for an unknown Transfer-Encoding; now the app's JSON error shape,
a 4xx naming the header, nothing stored, no traceback, and the server still serving."""
from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.test_server_process import ENV, ROOT, free_port, write_config


def exchange(port: int, data: bytes, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read until the server closes; (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        received = b""
        while chunk := s.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, body


def start(tmp, preexec_fn=None) -> tuple[subprocess.Popen, int]:
    config = write_config(tmp, "qa.toml", "thread")
    port = free_port()
    with open(tmp / "server.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "integration.cli", "--config", str(config), "serve", "--port", str(port)],
                                env=ENV | {"GAMEFILM_LOG_LEVEL": "INFO"}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=preexec_fn)  # fmt: skip
    deadline = time.time() + 30
    while True:
        try:
            if exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[0] == 200:
                return proc, port
        except OSError:
            if time.time() > deadline:
                proc.kill()
                raise
            time.sleep(0.1)


def stop(proc: subprocess.Popen, tmp) -> str:
    proc.send_signal(signal.SIGTERM)
    proc.wait(20)
    text = (tmp / "server.log").read_text()
    assert "Traceback" not in text and '"level":"ERROR"' not in text, text[-3000:]
    return text


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("qa_server")
    proc, port = start(tmp)
    yield port, tmp / "gamefilm.db", tmp / "server.log"
    stop(proc, tmp)


def stored(db) -> int:
    """Events the requests stored: the worker process adds its hourly tick whenever it is up,
    which under load can be in the middle of a test."""
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM events WHERE key NOT LIKE 'tick#%'").fetchone()[0]


def post(headers: str, body: bytes = b"[]", path: str = "/hooks/hubspot") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n{headers}\r\n".encode() + body


CASES = {
    "negative Content-Length": (post("Content-Length: -1\r\n"), 400, "invalid_content_length", "Content-Length"),
    "non-numeric Content-Length": (post("Content-Length: abc\r\n"), 400, "invalid_content_length", "Content-Length"),
    "two Content-Lengths": (post("Content-Length: 2\r\nContent-Length: 2\r\n"), 400, "invalid_content_length", "Content-Length"),
    "Content-Length far over the limit": (post("Content-Length: 99999999999\r\n"), 413, "request_entity_too_large", "body"),
    "malformed chunk size": (post("Transfer-Encoding: chunked\r\n", b"zz\r\n[]\r\n0\r\n\r\n"), 400, "malformed_chunked_body", "Transfer-Encoding"),
    "unknown Transfer-Encoding (was 501)": (post("Transfer-Encoding: gzip, chunked\r\n", b"2\r\n[]\r\n0\r\n\r\n"), 400, "unsupported_transfer_encoding", "Transfer-Encoding"),
    "Transfer-Encoding identity (was 501)": (post("Transfer-Encoding: identity\r\nContent-Length: 2\r\n"), 400, "unsupported_transfer_encoding", "Transfer-Encoding"),
    "garbage request line": (b"GARBAGE\r\n\r\n", 400, "invalid_request_line", "request line"),
    "non-UTF-8 bytes in the path": (b"POST /hooks/hubspot\xff HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 400, "invalid_request_line", "path"),
}


@pytest.mark.parametrize("name", CASES)
def test_requests_waitress_refuses_get_a_json_4xx_naming_the_header_and_store_nothing(server, name):
    port, db, _ = server
    data, status, error, field = CASES[name]
    before = stored(db)
    got_status, headers, body = exchange(port, data)
    assert (got_status, headers["content-type"]) == (status, "application/json")
    answer = json.loads(body)
    assert (answer["error"], answer["field"]) == (error, field) and answer["message"]
    if status == 413:
        assert answer["message"] == "body is larger than 1048576 bytes"
    assert stored(db) == before
    assert exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[0] == 200


def test_a_refused_request_gets_one_structured_log_line_without_values(server):
    port, _, log = server
    exchange(port, post("Content-Length: secret-canary\r\n"))
    time.sleep(0.2)
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
    refused = [x for x in lines if x.get("endpoint") == "(refused by the server)"]
    assert refused and refused[-1]["reason"] == "invalid_content_length (Content-Length)"
    assert "secret-canary" not in log.read_text()


def test_behind_a_tls_proxy_a_hubspot_signature_over_the_public_url_verifies(server):
    # waitress deleted X-Forwarded-* by default: every webhook through ngrok/nginx got 401.
    from integration import samples

    port, db, _ = server
    body = json.dumps(samples.hubspot_events("62515", ["424242"], "150000")).encode()
    headers = samples.hubspot_headers("demo-hubspot-client-secret", "https://hooks.example.com/gf/hooks/hubspot", body)
    headers |= {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hooks.example.com", "X-Forwarded-Prefix": "/gf"}
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    status, _, answer = exchange(port, post(f"{head}Content-Length: {len(body)}\r\n", body).replace(b"Content-Type: application/json\r\n", b"", 1))
    assert (status, json.loads(answer)["accepted"]) == (200, 1)


def test_concurrent_large_uploads_never_exhaust_file_descriptors(tmp_path):
    # Each upload over 512 KiB holds a socket and a temp file: 150 of them under a 256-fd
    # limit once made waitress drop connections and SQLite fail ("Too many open files").
    import resource

    proc, port = start(tmp_path, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256)))
    uploads = []
    try:
        for _ in range(150):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"POST /hooks/hubspot HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 700000\r\n\r\n" + b"x" * 540_000)  # fmt: skip
            uploads.append(s)
        time.sleep(0.5)
        assert len(os.listdir(f"/proc/{proc.pid}/fd")) < 256
    finally:
        for s in uploads:
            s.close()
    time.sleep(0.5)
    assert exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[0] == 200
    assert "Too many open files" not in stop(proc, tmp_path)
