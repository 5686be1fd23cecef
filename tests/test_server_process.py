"""The local server as a user runs it: a real process, the CLI, SQLite on disk."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = (ROOT / "config" / "gamefilm.example.toml").read_text()
ENV = {
    **os.environ,
    "GAMEFILM_DEMO_HUBSPOT_CLIENT_SECRET": "demo-hubspot-client-secret",
    "GAMEFILM_DEMO_SF_SECRET": "demo-salesforce-shared-secret",
    "GAMEFILM_DEMO_RECORDER_SECRET": "demo-recorder-secret",
    "GAMEFILM_DEMO_ZOOM_SECRET_TOKEN": "demo-zoom-secret-token",
    "GAMEFILM_LOG_LEVEL": "WARNING",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(tmp_path: Path, name: str, worker_mode: str) -> Path:
    text = EXAMPLE.replace('path = "../var/gamefilm.db"', f'path = "{tmp_path / "gamefilm.db"}"')
    text = text.replace('mode = "thread"', f'mode = "{worker_mode}"').replace("poll_seconds = 1 ", "poll_seconds = 0.2 ")
    path = tmp_path / name
    path.write_text(text)
    return path


def cli(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "integration.cli", "--config", str(config), *args],
                          capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=60)  # fmt: skip


class Server:
    def __init__(self, config: Path, preexec_fn=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "integration.cli", "--config", str(config), "serve", "--port", str(self.port)],
            env=ENV, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=preexec_fn,
        )  # fmt: skip
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        self.proc.kill()
        raise RuntimeError(f"server did not start: {self.proc.stdout.read().decode()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)
        self.proc.wait(10)
        self.proc.stdout.close()


def events(config: Path) -> list[dict]:
    """The webhook events (the hourly ticks the running worker adds left out)."""
    result = cli(config, "events", "--json")
    assert result.returncode == 0, result.stderr
    return [e for e in json.loads(result.stdout) if e["event"]["object_type"] != "tick"]


def wait_for(predicate, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_sample_events_from_the_cli_are_processed_by_the_running_server(tmp_path):
    config = write_config(tmp_path, "run.toml", "thread")
    server = Server(config)
    try:
        for kind in ("hubspot", "salesforce-outbound", "salesforce-json"):
            sent = cli(config, "send-sample", kind, "--url", server.url)
            assert sent.returncode == 0, sent.stdout + sent.stderr
            assert "-> 200" in sent.stdout
        wait_for(lambda: [e["status"] for e in events(config)] == ["done"] * 3)
    finally:
        server.stop()
    actions = cli(config, "actions").stdout
    assert actions.count("by rule note_on_change [dry run]") == 3
    # The threshold rule (dry run: decided on the events' amounts) brings the leaders in, once
    # per deal although the Salesforce opportunity was notified twice (outbound + JSON).
    assert "done        AddCollaborators on 9001 by rule threshold:enterprise [dry run]: Amount 250,000.00 USD" in actions
    assert "done        AddNote on 9001 by rule threshold:enterprise [dry run]" in actions
    assert actions.count("AddCollaborators on 006000000009001 by rule threshold:enterprise") == 1


def test_sample_recordings_from_the_cli_are_kept_and_listed(tmp_path):
    """The recording path on the embedded default: a signed recording (naming the deal the
    HubSpot sample changed) and a signed Zoom recording.completed; `gamefilm recordings` lists both."""
    config = write_config(tmp_path, "rec.toml", "thread")
    server = Server(config)
    try:
        assert "-> 200" in cli(config, "send-sample", "hubspot", "--url", server.url).stdout
        wait_for(lambda: [e["status"] for e in events(config)] == ["done"])
        for kind in ("recording", "zoom"):
            sent = cli(config, "send-sample", kind, "--url", server.url)
            assert sent.returncode == 0 and '"accepted":1' in sent.stdout, sent.stdout + sent.stderr
        wait_for(lambda: [e["status"] for e in events(config)] == ["done"] * 3)
    finally:
        server.stop()
    listed = cli(config, "recordings").stdout.splitlines()
    assert len(listed) == 2, listed
    [recorded] = [line for line in listed if "rec:sample-" in line]
    [zoomed] = [line for line in listed if "zoom:" in line]
    assert "attached" in recorded and "deal 9001" in recorded  # the dry run knows deal 9001 from the HubSpot sample
    assert "unmatched" in zoomed and "next match" in zoomed  # the host only (no Zoom credentials): no deal yet
    actions = cli(config, "actions").stdout
    assert "UpsertCall on 9001 by rule game_film:attach [dry run]: Recording attached: The call named its deal." in actions


def test_sigkill_after_ack_loses_nothing_and_the_restarted_worker_processes_it(tmp_path):
    intake_only = write_config(tmp_path, "intake.toml", "none")
    server = Server(intake_only)
    sent = cli(intake_only, "send-sample", "hubspot", "--url", server.url)
    assert '"accepted":1' in sent.stdout
    server.stop(signal.SIGKILL)  # acknowledged, not processed, process gone
    assert [e["status"] for e in events(intake_only)] == ["pending"]

    restarted = Server(write_config(tmp_path, "restart.toml", "thread"))
    try:
        wait_for(lambda: [e["status"] for e in events(intake_only)] == ["done"])
    finally:
        restarted.stop()
    assert "AddNote on 9001" in cli(intake_only, "actions").stdout


def test_check_reports_unset_secrets_by_name(tmp_path):
    config = write_config(tmp_path, "check.toml", "thread")
    ok = cli(config, "check")
    assert ok.returncode == 0 and "OK (2 tenants" in ok.stdout
    env_missing = {k: v for k, v in ENV.items() if k != "GAMEFILM_DEMO_SF_SECRET"}
    missing = subprocess.run([sys.executable, "-m", "integration.cli", "--config", str(config), "check"],
                             capture_output=True, text=True, env=env_missing, cwd=ROOT)  # fmt: skip
    assert missing.returncode == 1 and "NOT OK: 1 problem(s)" in missing.stdout and " OK (" not in missing.stdout
    assert (f"error: {config}: tenants[demo-salesforce].shared_secret_envs: GAMEFILM_DEMO_SF_SECRET is not set, so every webhook "
            "from this salesforce account would be refused; set GAMEFILM_DEMO_SF_SECRET (or its SSM parameter)\n") == missing.stderr


def test_bad_config_fails_with_file_key_and_reason(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[tenants]]\nid = "x1"\ncrm = "hubspot"\nportal_id = "1"\n')
    result = cli(bad, "check")
    assert result.returncode == 2
    assert result.stderr == f"{bad}: tenants[x1].client_secret_env: HubSpot tenants need client_secret_env (verifies webhook signatures)\n"


def _post_batches(url: str, count: int, first_id: int, *, keep_alive: bool = False) -> list[int]:
    """Signed one-event HubSpot batches, each on a new connection unless `keep_alive`."""
    import http.client
    from urllib.parse import urlsplit

    from integration import samples

    host, port = urlsplit(url).hostname, urlsplit(url).port
    statuses = []
    conn = None
    for n in range(first_id, first_id + count):
        events = samples.hubspot_events("62515", [str(n)], "150000", occurred_at_ms=1_795_000_000_000 + n)
        body = json.dumps(events).encode()
        headers = samples.hubspot_headers("demo-hubspot-client-secret", f"{url}/hooks/hubspot", body)
        if conn is None or not keep_alive:
            if conn is not None:
                conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.request("POST", "/hooks/hubspot", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        statuses.append(response.status)
    if conn is not None:
        conn.close()
    return statuses


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_file_descriptors_stay_flat_over_500_requests_under_a_256_fd_limit(tmp_path):
    import resource

    def limit_fds() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    config = write_config(tmp_path, "fds.toml", "thread")
    server = Server(config, preexec_fn=limit_fds)
    try:
        assert _post_batches(server.url, 50, 1) == [200] * 50
        before = _open_fds(server.proc.pid)
        assert _post_batches(server.url, 450, 51) == [200] * 450  # a new connection (and thread) each
        after = _open_fds(server.proc.pid)
    finally:
        server.stop()
    assert after - before <= 3, f"fds grew from {before} to {after}"
    assert server.proc.returncode == 0
    import sqlite3

    with sqlite3.connect(tmp_path / "gamefilm.db") as db:
        assert db.execute("SELECT count(*) FROM events WHERE key NOT LIKE 'tick#%'").fetchone()[0] == 500


def test_sigterm_finishes_in_flight_requests_and_every_ack_is_stored(tmp_path):
    import http.client
    import sqlite3
    import threading

    config = write_config(tmp_path, "drain.toml", "thread")
    server = Server(config)
    acked: list[int] = []
    refused: list[str] = []

    def sender(first: int) -> None:
        # Until the server stops (bounded): a loaded machine must not let a sender finish first.
        for n in range(first, first + 5000):
            try:
                if _post_batches(server.url, 1, n, keep_alive=True) == [200]:
                    acked.append(n)
            except (OSError, http.client.HTTPException) as exc:  # the server stopped: never acknowledged
                refused.append(type(exc).__name__)
                return

    senders = [threading.Thread(target=sender, args=(k * 10_000,)) for k in range(1, 9)]
    for t in senders:
        t.start()
    wait_for(lambda: len(acked) >= 40)
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(30) == 0
    for t in senders:
        t.join(30)
    server.proc.stdout.close()
    with sqlite3.connect(tmp_path / "gamefilm.db") as db:
        stored = {int(row[0]) for row in db.execute("SELECT json_extract(body, '$.objectId') FROM events WHERE key NOT LIKE 'tick#%'")}
    assert set(acked) <= stored  # an ack always means stored
    assert refused, "the senders should have seen the server stop"


def test_the_worker_process_runs_only_on_cpu_the_server_leaves_idle(tmp_path):
    """The worker's CPU must not delay the acks: every thread of `gamefilm serve`'s worker process
    is SCHED_IDLE (Linux), the server's are not, and events are still processed."""
    config = write_config(tmp_path, "idle.toml", "thread")
    server = Server(config)
    try:
        children = wait_for(lambda: subprocess.run(["pgrep", "-P", str(server.proc.pid)], capture_output=True, text=True).stdout.split())
        (child,) = [int(pid) for pid in children]
        assert _post_batches(server.url, 3, 1) == [200] * 3
        wait_for(lambda: [e["status"] for e in events(config)] == ["done"] * 3)
        worker_threads = os.listdir(f"/proc/{child}/task")
        assert len(worker_threads) > 1  # the dispatcher and the batch threads it started
        assert {os.sched_getscheduler(int(tid)) for tid in worker_threads} == {os.SCHED_IDLE}
        assert {os.sched_getscheduler(int(tid)) for tid in os.listdir(f"/proc/{server.proc.pid}/task")} == {os.SCHED_OTHER}
    finally:
        server.stop()
