"""Timeouts on every Salesforce request, and what each network failure means for a resend.

Real sockets where it matters (a server that accepts and never answers, a port nobody
listens on); `responses` to raise each requests exception on a known request.
"""
from __future__ import annotations

import socket
import threading
import time
from datetime import date

import pytest
import requests
import responses

from integration.commands import AddNote, CreateTask
from integration.config import Tenant
from integration.gateway import CrmError
from integration.gateway.salesforce import SalesforceGateway
from integration.gateway.salesforce.session import connector
from integration.gateway.transport import RetryPolicy, Timeouts
from tests.salesforce_org import COLLECTIONS, DATA, INSTANCE, refused

OPP = "006000000000001AAA"
LEADER = "005000000000002AAA"
TOKEN = {"access_token": "00D!token", "instance_url": INSTANCE, "id": f"https://login.salesforce.com/id/00D000000000001AAA/{LEADER}", "token_type": "Bearer"}


def tenant(instance_url: str = INSTANCE, **overrides) -> Tenant:
    values = dict(id="acme", crm="salesforce", dry_run=False, org_id="00D000000000001AAA", instance_url=instance_url,
                  auth="session", session_id_env="SF_SESSION", connect_timeout_seconds=2.5, read_timeout_seconds=12.0)  # fmt: skip
    values.update(overrides)
    return Tenant(**values)


def note() -> AddNote:
    return AddNote(key="note#1", rule="threshold", reason="x", record_id=OPP, body="Dana joined.")


def page(records: list) -> dict:
    return {"totalSize": len(records), "done": True, "records": records}


# ---- every request carries the tenant's timeouts ---------------------------------------------


def test_every_request_waits_at_most_the_tenants_timeouts():
    gateway = SalesforceGateway.from_tenant(tenant(), {"SF_SESSION": "00D!session"})
    with responses.RequestsMock() as http:
        http.get(f"{DATA}/query/", json=page([]))
        http.post(COLLECTIONS, json=[{"id": "0D5000000000001AAA", "success": True, "errors": []}])

        gateway.read_users([LEADER])
        gateway.add_notes([note()])

        assert [c.request.req_kwargs["timeout"] for c in http.calls] == [(2.5, 12.0), (2.5, 12.0)]


def test_the_login_request_has_the_timeouts_too():
    t = tenant(auth="client_credentials", consumer_key_env="SF_KEY", consumer_secret_env="SF_SECRET")
    gateway = SalesforceGateway.from_tenant(t, {"SF_KEY": "3MVG9-key", "SF_SECRET": "s3cr3t"})
    with responses.RequestsMock() as http:
        http.post(f"{INSTANCE}/services/oauth2/token", json=TOKEN)
        http.get(f"{DATA}/query/", json=page([]))

        gateway.read_users([LEADER])

        assert [c.request.req_kwargs["timeout"] for c in http.calls] == [(2.5, 12.0), (2.5, 12.0)]


# ---- real sockets ------------------------------------------------------------------------------


@pytest.fixture
def silent_server():
    """Accepts connections and never says a word; yields (port, accepted connections)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1], accepted
    server.close()
    for conn in accepted:
        conn.close()


def gateway_at(port: int, timeouts: Timeouts, sleeps: list[float]) -> SalesforceGateway:
    connect = connector(tenant(f"https://127.0.0.1:{port}"), {"SF_SESSION": "00D!session"}, timeouts)
    return SalesforceGateway(connect, retry=RetryPolicy(attempts=1), sleep=sleeps.append)


def test_a_hanging_crm_costs_at_most_the_timeouts_per_attempt(silent_server):
    port, accepted = silent_server
    sleeps: list[float] = []
    timeouts = Timeouts(connect=0.2, read=0.3)
    gateway = gateway_at(port, timeouts, sleeps)

    started = time.monotonic()
    with pytest.raises(CrmError) as raised:
        gateway.read_users([LEADER])
    elapsed = time.monotonic() - started

    assert elapsed < 2 * (timeouts.connect + timeouts.read) + 0.5  # two attempts: a read is resent once
    assert raised.value.ambiguous and raised.value.retryable and len(sleeps) == 1
    assert "127.0.0.1" not in str(raised.value)  # the URL (and a SOQL query in it) stays out of errors


def test_a_create_to_a_hanging_crm_is_not_resent(silent_server):
    port, accepted = silent_server
    gateway = gateway_at(port, Timeouts(connect=0.2, read=0.3), [])

    [outcome] = gateway.execute([note()])

    assert outcome.ambiguous and not outcome.ok
    assert len(accepted) == 1


def test_a_refused_connection_is_resent_even_for_a_create_and_is_not_ambiguous():
    with socket.socket() as probe:  # a free port: nothing listens there once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    gateway = gateway_at(port, Timeouts(connect=0.2, read=0.3), sleeps)

    [outcome] = gateway.execute([note()])

    assert not outcome.ok and outcome.retryable and not outcome.ambiguous
    assert len(sleeps) == 1  # resent once (the policy's budget), as nothing had been sent


# ---- each requests failure, on a known request --------------------------------------------------


def in_memory_gateway(sleeps: list[float]) -> SalesforceGateway:
    from simple_salesforce import Salesforce

    return SalesforceGateway(lambda: Salesforce(instance_url=INSTANCE, session_id="s"), sleep=sleeps.append)


@pytest.mark.parametrize("failure, ambiguous", [
    (requests.exceptions.ConnectTimeout("connect timed out"), False),
    (refused(), False),
    (requests.exceptions.ReadTimeout("read timed out"), True),
    (requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead(0 bytes read)"), True),
    (requests.exceptions.ConnectionError("('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))"), True),
])  # fmt: skip
def test_a_create_is_resent_only_when_nothing_was_sent(failure, ambiguous):
    sleeps: list[float] = []
    with responses.RequestsMock() as http:
        http.post(COLLECTIONS, body=failure)
        if not ambiguous:
            http.post(COLLECTIONS, json=[{"id": "0D5000000000001AAA", "success": True, "errors": []}])

        [outcome] = in_memory_gateway(sleeps).execute([note()])

        assert len(http.calls) == (1 if ambiguous else 2)
    assert outcome.ok is (not ambiguous) and outcome.ambiguous is ambiguous


@pytest.mark.parametrize("failure", [requests.exceptions.ReadTimeout("read timed out"), requests.exceptions.ChunkedEncodingError("broken")])
def test_reads_and_upserts_are_resent_after_an_ambiguous_failure(failure):
    sleeps: list[float] = []
    task = CreateTask(key="t#1", rule="r", reason="x", record_id=OPP, owner_id=LEADER, subject="s", body="b", due=date(2026, 12, 1))
    with responses.RequestsMock() as http:
        http.get(f"{DATA}/query/", body=failure)
        http.get(f"{DATA}/query/", json=page([]))
        http.patch(f"{COLLECTIONS}/Task/GameFilm_Key__c", body=failure)
        http.patch(f"{COLLECTIONS}/Task/GameFilm_Key__c", json=[{"id": "00T000000000001AAA", "success": True, "errors": [], "created": True}])
        gateway = in_memory_gateway(sleeps)

        assert gateway.read_users([LEADER]) == {}
        [outcome] = gateway.execute([task])

        assert outcome.ok and len(http.calls) == 4 and len(sleeps) == 2


# ---- a TLS server that reads the whole request, then never answers ---------------------------


@pytest.fixture
def swallowing_server(tmp_path, monkeypatch):
    """HTTPS on 127.0.0.1 with a throwaway certificate the client trusts (REQUESTS_CA_BUNDLE):
    it reads each request completely (so a create may have been applied), then stays silent."""
    import datetime as dt
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert_file))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    received: list[bytes] = []
    open_connections: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn = context.wrap_socket(server.accept()[0], server_side=True)
            except (OSError, ssl.SSLError):
                return
            open_connections.append(conn)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
            while len(body) < length:
                body += conn.recv(65536)
            received.append(body)

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1], received
    server.close()
    for conn in open_connections:
        conn.close()


def test_a_crm_that_takes_the_request_and_hangs_costs_the_read_timeout_and_the_create_is_not_resent(swallowing_server):
    port, received = swallowing_server
    timeouts = Timeouts(connect=0.5, read=0.4)
    gateway = gateway_at(port, timeouts, [])

    started = time.monotonic()
    [outcome] = gateway.execute([note()])
    elapsed = time.monotonic() - started

    assert timeouts.read <= elapsed < timeouts.connect + timeouts.read + 0.3
    assert outcome.ambiguous and not outcome.ok
    assert len(received) == 1 and b'"ParentId": "006000000000001AAA"' in received[0]  # it got there: maybe applied


def test_a_login_that_times_out_sent_nothing_so_a_create_is_still_sent():
    t = tenant(auth="client_credentials", consumer_key_env="SF_KEY", consumer_secret_env="SF_SECRET")
    sleeps: list[float] = []
    gateway = SalesforceGateway(connector(t, {"SF_KEY": "3MVG9-key", "SF_SECRET": "s3cr3t"}, Timeouts(1, 2)), sleep=sleeps.append)
    with responses.RequestsMock() as http:
        http.post(f"{INSTANCE}/services/oauth2/token", body=requests.exceptions.ReadTimeout("read timed out"))
        http.post(f"{INSTANCE}/services/oauth2/token", json=TOKEN)
        http.post(COLLECTIONS, json=[{"id": "0D5000000000001AAA", "success": True, "errors": []}])

        [outcome] = gateway.execute([note()])

        assert outcome.ok and len(http.calls) == 3 and len(sleeps) == 1
