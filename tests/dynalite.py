"""pytest fixtures: a real DynamoDB-compatible server (dynalite, from npm) on loopback.

Import `dynalite_endpoint` into a test module (and `aws_test_credentials`, or `any_store`
for a test that must hold on both stores). Needs `npm ci` in the repo root first.
"""
from __future__ import annotations

import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
DYNALITE = ROOT / "node_modules" / ".bin" / "dynalite"
START_TIMEOUT_SECONDS = 20.0


@pytest.fixture
def aws_test_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS account: dynalite accepts any key, and no local profile may leak in."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")


@pytest.fixture(params=["sqlite", "dynamodb"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path, aws_test_credentials: None) -> Iterator[object]:
    """The same test on both stores: SQLite in a temporary file, a fresh table on dynalite."""
    from integration.store.dynamodb import DynamoStore
    from integration.store.sqlite import SqliteStore

    store: SqliteStore | DynamoStore
    if request.param == "sqlite":
        store = SqliteStore(tmp_path / "store.db")
    else:
        endpoint = request.getfixturevalue("dynalite_endpoint")
        store = DynamoStore(f"gamefilm-{uuid.uuid4().hex}", region="us-east-1", endpoint_url=endpoint)
        store.create_table()
    yield store
    store.close()


@pytest.fixture(scope="session")
def dynalite_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start dynalite (in memory, tables ACTIVE at once) for the session; yield its URL."""
    if not DYNALITE.exists():
        pytest.fail(f"{DYNALITE} is missing: run `npm ci` in {ROOT} (the DynamoDB store tests need dynalite)")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("dynalite") / "dynalite.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(DYNALITE), "--host", "127.0.0.1", "--port", str(port),
             "--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            _wait_until_listening(proc, port, log_path)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_listening(proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dynalite exited with {proc.returncode}: {log_path.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"dynalite did not listen on port {port} within {START_TIMEOUT_SECONDS:.0f}s")
