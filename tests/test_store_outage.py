"""A store that cannot confirm the write: 503 JSON with Retry-After, never a 2xx, on every
webhook; with SQLite failing in add_events, and with the DynamoDB server stopped mid-test."""
import sqlite3
import subprocess
import uuid

import boto3
import pytest
from botocore.config import Config

from integration.store.dynamodb import DynamoStore
from integration.store.sqlite import SqliteStore
from tests.dynalite import DYNALITE, ROOT, _free_port, _wait_until_listening
from tests.webhooks import hubspot_events, json_event, notification, post_hubspot, post_outbound, post_sf_json

UNAVAILABLE = {"error": "store_unavailable", "message": "the events were not stored; retry later", "retry_after_seconds": 30}


class LockedSqliteStore(SqliteStore):
    """SQLite whose writes fail the way a locked or full database does."""

    def add_events(self, events, now):
        raise sqlite3.OperationalError("database is locked: CANARY-ERROR-TEXT")


def send_all(client, clock, batch: int = 1) -> list:
    return [
        post_hubspot(client, clock, hubspot_events(2, eventId=batch)),
        post_outbound(client, [notification(f"04l5e00000000{batch:02d}AAG")]),
        post_sf_json(client, clock, [json_event(batch)]),
    ]


def test_sqlite_failure_is_503_with_retry_after_on_every_webhook(make_app, tmp_path, clock, caplog):
    locked = LockedSqliteStore(tmp_path / "locked.db")
    client = make_app(store=locked).test_client()
    for r in send_all(client, clock):
        assert r.status_code == 503
        assert r.headers["Retry-After"] == "30"
        assert r.get_json() == UNAVAILABLE
    assert locked.list_events() == []
    assert "store did not confirm the write: OperationalError" in caplog.text
    assert "CANARY-ERROR-TEXT" not in caplog.text  # driver messages may quote values: not logged
    locked.close()


@pytest.fixture
def own_dynalite(tmp_path, monkeypatch):
    """A dynalite of this test's own, so stopping it leaves the session's server alone."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    if not DYNALITE.exists():
        pytest.fail(f"{DYNALITE} is missing: run `npm ci` in {ROOT}")
    port = _free_port()
    log_path = tmp_path / "dynalite.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(DYNALITE), "--host", "127.0.0.1", "--port", str(port), "--createTableMs", "0"],
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            _wait_until_listening(proc, port, log_path)
            yield proc, f"http://127.0.0.1:{port}"
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=5)


def test_dynamodb_stopped_mid_test_is_503_and_nothing_is_acknowledged(make_app, clock, own_dynalite):
    proc, endpoint = own_dynalite
    # One attempt, short timeouts: the production client retries, which only delays the 503.
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint,
                          config=Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=1, read_timeout=2))  # fmt: skip
    store = DynamoStore(f"gamefilm-{uuid.uuid4().hex}", region="us-east-1", client=client)
    store.create_table()
    web = make_app(store=store).test_client()
    assert [r.status_code for r in send_all(web, clock, batch=1)] == [200, 200, 200]
    assert len(store.list_events(limit=10)) == 4

    proc.terminate()
    proc.wait(timeout=5)
    for r in send_all(web, clock, batch=2):
        assert r.status_code == 503, r.data
        assert r.headers["Retry-After"] == "30"
        assert r.get_json() == UNAVAILABLE
    health = web.get("/healthz")
    assert health.status_code == 503 and health.get_json()["error"] == "store_unavailable"
    assert health.headers["Retry-After"] == "30"
    client.close()
