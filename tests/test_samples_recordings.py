"""`gamefilm send-sample recording|zoom`: the samples are signed as a recorder and as Zoom sign
them, and the app stores each as one recording of the tenant that takes them."""
from __future__ import annotations

import time

import pytest

from integration import cli, samples
from integration.recordings import RECORDING_OBJECT, SOURCE_RECORDER, SOURCE_ZOOM, recording_from_changed
from tests.conftest import REC_SECRET, ZOOM_TOKEN, make_config

BASE = "http://localhost"


@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    monkeypatch.delenv("GAMEFILM_SSM_PATH", raising=False)
    monkeypatch.setenv("REC_SECRET", REC_SECRET)
    monkeypatch.setenv("ZOOM_TOKEN", ZOOM_TOKEN)


@pytest.mark.parametrize(("kind", "source", "deal"), [("recording", SOURCE_RECORDER, "9001"), ("zoom", SOURCE_ZOOM, None)])
def test_a_sample_is_accepted_and_stored_as_one_recording(tmp_path, client, store, clock, kind, source, deal):
    tenant = make_config(tmp_path).tenant("acme-hubspot")
    clock.now = time.time()  # the samples are signed with the wall clock
    path, headers, body = samples.build(kind, tenant, BASE, deal_id="9001", amount="1")

    r = client.post(path, data=body, headers=headers)

    assert (r.status_code, r.get_json()) == (200, {"accepted": 1, "duplicates": 0, "rejected": []})
    [stored] = store.list_events()
    assert (stored.event.tenant, stored.event.object_type) == ("acme-hubspot", RECORDING_OBJECT)
    rec = recording_from_changed(stored.event.changed)
    assert (rec.source, rec.deal_id, rec.rep_email) == (source, deal, "rep@example.com")
    assert rec.recording_url.startswith("https://") and rec.external_id == stored.event.object_id


def test_a_sample_signed_with_another_secret_is_refused(tmp_path, client, store, monkeypatch):
    monkeypatch.setenv("REC_SECRET", "not-the-servers")
    path, headers, body = samples.build("recording", make_config(tmp_path).tenant("acme-hubspot"), BASE, deal_id="", amount="1")
    assert client.post(path, data=body, headers=headers).status_code == 401
    assert store.list_events() == []


@pytest.mark.parametrize(("kind", "key"), [("recording", "recorder_secret_envs"), ("zoom", "zoom_secret_token_env")])
def test_without_the_secret_the_sample_names_the_key(tmp_path, monkeypatch, kind, key):
    monkeypatch.delenv("REC_SECRET")
    monkeypatch.delenv("ZOOM_TOKEN")
    with pytest.raises(samples.SampleError) as err:
        samples.build(kind, make_config(tmp_path).tenant("acme-hubspot"), BASE, deal_id="1", amount="1")
    assert str(err.value).startswith(f"tenants[acme-hubspot].{key}: set ")


def test_the_cli_says_when_no_tenant_takes_recordings(tmp_path, capsys):
    config = tmp_path / "g.toml"
    config.write_text('[[tenants]]\nid = "plain"\ncrm = "hubspot"\nportal_id = "1"\nclient_secret_env = "HS_SECRET"\ndry_run = true\n')
    assert cli.main(["--config", str(config), "send-sample", "zoom", "--url", "http://127.0.0.1:9"]) == 2
    assert f"no tenant with zoom_secret_token_env in {config}" in capsys.readouterr().err
