"""Start-up and CLI errors as an admin meets them: one line naming file, key and fix; no traceback."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from integration import config as config_mod
from integration import secrets
from integration.app import build_services
from integration.cli import main
from tests.test_secrets import FakeSsm
from tests.test_server_process import free_port

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "gamefilm.example.toml"
DEMO = {"GAMEFILM_DEMO_HUBSPOT_CLIENT_SECRET": "demo-hs", "GAMEFILM_DEMO_SF_SECRET": "demo-sf",
        "GAMEFILM_DEMO_RECORDER_SECRET": "demo-rec", "GAMEFILM_DEMO_ZOOM_SECRET_TOKEN": "demo-zoom"}  # fmt: skip
SSM_PATH = "/gamefilm/test"


def run(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GAMEFILM_") and k != "PORT"}
    return subprocess.run([sys.executable, "-m", "integration.cli", *args], capture_output=True, text=True,
                          env={**base, "PYTHONPATH": str(ROOT), **(env or {})}, cwd=cwd, timeout=60)  # fmt: skip


def one_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def example_copy(tmp_path: Path, edit=lambda text: text) -> Path:
    path = tmp_path / "gamefilm.toml"
    path.write_text(edit(EXAMPLE.read_text()).replace('path = "../var/gamefilm.db"', 'path = "data/g.db"'))
    return path


@pytest.fixture(autouse=True)
def _no_ssm(monkeypatch):
    monkeypatch.delenv(secrets.PATH_VARIABLE, raising=False)
    secrets.clear_cache()
    yield
    secrets.clear_cache()


# --- one sentence, no traceback, from a real process ------------------------------------------
def test_a_directory_as_config(tmp_path):
    line = one_line(run("--config", str(tmp_path), "check"))
    assert line == f"{tmp_path}: is a directory, not a config file; pass the .toml file itself (example: config/gamefilm.example.toml)"


def test_port_and_log_level_from_the_environment_are_validated(tmp_path):
    config = example_copy(tmp_path)
    line = one_line(run("--config", str(config), "serve", env={**DEMO, "PORT": "abc"}))
    assert line == "PORT='abc' is not a port number; use a whole number from 1 to 65535"
    line = one_line(run("--config", str(config), "serve", env={**DEMO, "GAMEFILM_LOG_LEVEL": "loud"}))
    assert line == "GAMEFILM_LOG_LEVEL='loud' is not a log level; use one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
    line = one_line(run("--config", str(config), "serve", "--port", "70000", env=DEMO))
    assert line.startswith("gamefilm serve: argument --port: --port='70000' is not a port number")
    line = one_line(run("--config", str(config), "serve", "--threads", "0", env=DEMO))
    assert line.startswith("gamefilm serve: argument --threads: --threads='0' is not a thread count; use a whole number from 1 to 256")


def test_an_unknown_event_status_exits_2_with_the_valid_choices(tmp_path):
    result = run("--config", str(example_copy(tmp_path)), "events", "--status", "bogus", env=DEMO)
    assert result.returncode == 2
    assert one_line(result) == ("gamefilm events: argument --status: invalid choice: 'bogus' (choose from "
                                "'pending', 'processing', 'done', 'ignored', 'dead'); see gamefilm events --help")  # fmt: skip


def test_serve_refuses_an_unset_signing_secret_and_starts_with_allow_missing_secrets(tmp_path):
    config = example_copy(tmp_path)
    env = {**DEMO, "GAMEFILM_LOG_LEVEL": "WARNING"}
    del env["GAMEFILM_DEMO_HUBSPOT_CLIENT_SECRET"]
    refused = run("--config", str(config), "serve", env=env)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr == (f"{config}: tenants[demo-hubspot].client_secret_env: GAMEFILM_DEMO_HUBSPOT_CLIENT_SECRET is not set, "
                              "so every webhook from this hubspot account would be refused; set GAMEFILM_DEMO_HUBSPOT_CLIENT_SECRET "
                              "(or its SSM parameter); or pass --allow-missing-secrets for a demo\n")  # fmt: skip
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("GAMEFILM_")}
    proc = subprocess.Popen([sys.executable, "-m", "integration.cli", "--config", str(config), "serve", "--port", str(port),
                             "--allow-missing-secrets"], env={**base, **env}, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert time.time() < deadline and proc.poll() is None, "server did not start"
                time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    assert (tmp_path / "data" / "g.db").exists()


# --- config messages ------------------------------------------------------------------------
def test_keys_are_named_by_tenant_id_and_unknown_keys_get_a_suggestion(tmp_path):
    config = example_copy(tmp_path, lambda t: t.replace('client_secret_env = "GAMEFILM_DEMO_HUBSPOT', 'client_secret = "GAMEFILM_DEMO_HUBSPOT')
                          .replace("amount = 1000000", 'amount = "a lot"').replace("ttl_days = 90", "ttl_day = 90"))  # fmt: skip
    with pytest.raises(config_mod.ConfigError) as exc:
        config_mod.load(config)
    lines = str(exc.value).splitlines()
    assert f"{config}: tenants[demo-hubspot].client_secret: unknown key; did you mean client_secret_env?" in lines
    assert f"{config}: store.ttl_day: unknown key; did you mean ttl_days?" in lines
    with pytest.raises(config_mod.ConfigError) as exc:
        config_mod.load(example_copy(tmp_path, lambda t: t.replace("amount = 1000000", 'amount = "a lot"')))
    assert str(exc.value) == f"{config}: tenants[demo-hubspot].rules.threshold[1].amount: Not a valid number"


def test_an_unknown_rule_gets_a_suggestion(tmp_path):
    config = example_copy(tmp_path, lambda t: t.replace("[tenants.rules.note_on_change]", "[tenants.rules.note_on_chang]", 1))
    with pytest.raises(config_mod.ConfigError, match=r"tenants\[demo-hubspot\].rules.note_on_chang: unknown rule; did you mean note_on_change\?"):
        config_mod.load(config)


def test_a_relative_store_path_resolves_against_the_config_file_not_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    cfg = config_mod.load(example_copy(tmp_path))
    assert cfg.store.path == str(tmp_path / "data" / "g.db")
    assert config_mod.load(EXAMPLE).store.path == str(ROOT / "var" / "gamefilm.db")  # where `make run` and README keep it


def test_check_fails_for_sqs_without_a_queue_url(tmp_path, monkeypatch, capsys):
    for name in DEMO:
        monkeypatch.setenv(name, "x")
    monkeypatch.delenv("GAMEFILM_QUEUE_URL", raising=False)
    config = example_copy(tmp_path, lambda t: t.replace('mode = "thread"', 'mode = "sqs"'))
    assert main(["--config", str(config), "check"]) == 1
    out = capsys.readouterr()
    assert f"error: {config}: worker.queue_url: needed when worker.mode = \"sqs\"" in out.err
    assert " OK (" not in out.out and "NOT OK: 1 problem(s)" in out.out
    monkeypatch.setenv("GAMEFILM_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/1/q")
    assert main(["--config", str(config), "check"]) == 0


def test_check_with_ssm_reads_secrets_as_the_server_does(tmp_path, monkeypatch, capsys):
    """Signing secrets only in SSM: `check` says OK, and the app built the same way sees them."""
    ssm = FakeSsm({f"{SSM_PATH}/{name}": f"from-ssm-{value}" for name, value in DEMO.items()})
    from integration import aws

    monkeypatch.setattr(aws, "client", lambda service, **_: ssm if service == "ssm" else pytest.fail(service))
    for name in DEMO:
        monkeypatch.delenv(name, raising=False)
    config = example_copy(tmp_path)
    assert main(["--config", str(config), "check"]) == 1  # no SSM path: the environment alone lacks them
    capsys.readouterr()
    monkeypatch.setenv(secrets.PATH_VARIABLE, SSM_PATH)
    assert main(["--config", str(config), "check"]) == 0
    out = capsys.readouterr().out
    assert f"OK (2 tenants, store=sqlite, worker=thread, secrets from SSM parameters under {SSM_PATH} over the environment)" in out
    assert "from-ssm" not in out
    services = build_services({"config_path": str(config), "worker_mode": "none"})
    hubspot = services.config.tenant("demo-hubspot")
    assert services.secret(hubspot.client_secret_env) == "from-ssm-demo-hs"
    assert hubspot.secret(hubspot.client_secret_env) == "from-ssm-demo-hs"  # the gateways' path
    services.store.close()


def test_check_reports_an_unreadable_ssm_path_in_one_line(monkeypatch, capsys, tmp_path):
    ssm = FakeSsm({})
    ssm.fail = True
    from integration import aws

    monkeypatch.setattr(aws, "client", lambda service, **_: ssm)
    monkeypatch.setenv(secrets.PATH_VARIABLE, SSM_PATH)
    assert main(["--config", str(example_copy(tmp_path)), "check"]) == 1
    err = capsys.readouterr().err
    assert err == (f"could not read SSM parameters under {SSM_PATH}: ConnectionError; check AWS credentials and "
                   "that GAMEFILM_SSM_PATH names the right parameter path\n")  # fmt: skip


def test_cli_times_are_iso_8601_utc(tmp_path, monkeypatch, capsys):
    from integration import samples
    from integration.normalize import hubspot_batch

    monkeypatch.setenv("GAMEFILM_DEMO_HUBSPOT_CLIENT_SECRET", "x")
    config = example_copy(tmp_path)
    cfg = config_mod.load(config)
    services = build_services({"config": cfg, "worker_mode": "none"})
    events = hubspot_batch(samples.hubspot_events("62515", ["9001"], "5", occurred_at_ms=1_795_000_000_000), cfg).events
    services.store.add_events(events, now=1_795_000_000.5)
    services.store.close()
    assert main(["--config", str(config), "events"]) == 0
    assert capsys.readouterr().out.startswith("2026-11-18T11:06:40Z  pending")
    assert main(["--config", str(config), "events", "--json"]) == 0
    (event,) = json.loads(capsys.readouterr().out)
    assert (event["received_at"], event["event"]["occurred_at"]) == ("2026-11-18T11:06:40Z", "2026-11-18T11:06:40Z")


def test_an_unusable_store_path_is_one_line_for_serve_and_events(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    config = example_copy(tmp_path, lambda t: t.replace('path = "../var/gamefilm.db"', f'path = "{blocker}/g.db"'))
    expected = f"{config}: store: cannot open the sqlite store ("
    for args in (["events"], ["serve"]):
        line = one_line(run("--config", str(config), *args, env=DEMO))
        assert line.startswith(expected) and line.endswith("check store.path and its directory's permissions"), line


def test_a_live_tenant_without_its_credential_fails_check_naming_the_key(tmp_path, monkeypatch, capsys):
    for name, value in DEMO.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GAMEFILM_HUBSPOT_TOKEN", raising=False)
    config = example_copy(tmp_path, lambda t: t.replace(
        'dry_run = true                             # plan', 'access_token_env = "GAMEFILM_HUBSPOT_TOKEN"\ndry_run = false  # plan'))  # fmt: skip
    assert main(["--config", str(config), "check"]) == 1
    assert capsys.readouterr().err == (f"error: {config}: tenants[demo-hubspot].access_token_env: GAMEFILM_HUBSPOT_TOKEN is not set, "
                                       "and this live tenant needs it to call hubspot; set it or use dry_run = true\n")  # fmt: skip
