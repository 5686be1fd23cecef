"""`gamefilm install|verify|uninstall` as an admin runs them, on the loopback HubSpot portal."""
from __future__ import annotations

import pytest

from integration.cli import main
from integration.components.manifest import MANIFEST
from integration.components.salesforce_source import members

HUBSPOT_COMPONENTS = len(MANIFEST.hubspot_groups) + len(MANIFEST.hubspot_properties)
SALESFORCE_COMPONENTS = sum(map(len, members(MANIFEST).values()))
from tests.hubspot_server import HubSpotServer, hubspot_server  # noqa: F401  (fixture)


@pytest.fixture(autouse=True)
def fresh_portal(hubspot_server: HubSpotServer) -> None:  # noqa: F811
    """A portal Game Film was never installed in (the fake portal seeds our call property)."""
    hubspot_server.properties.pop("calls", None)


def config(tmp_path, url: str):
    path = tmp_path / "gamefilm.toml"
    path.write_text(f'[store]\npath = "{tmp_path / "g.db"}"\n\n[[tenants]]\nid = "acme"\ncrm = "hubspot"\nportal_id = "62515"\n'
                    f'client_secret_env = "HS_SECRET"\naccess_token_env = "HS_TOKEN"\napi_base_url = "{url}"\n')  # fmt: skip
    return str(path)


def test_dry_run_prints_the_plan_then_install_verify_rerun_and_uninstall(tmp_path, monkeypatch, capsys, hubspot_server):  # noqa: F811
    monkeypatch.setenv("HS_TOKEN", "pat-na1-install")
    cfg = config(tmp_path, hubspot_server.url)

    assert main(["--config", cfg, "install", "--tenant", "acme", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"acme (hubspot): install plan, {HUBSPOT_COMPONENTS} change(s)" in out
    assert "  create  calls property gamefilm_recording_id: missing" in out and "dry run: nothing changed" in out
    assert not [r for r in hubspot_server.requests if r.method == "POST"]

    assert main(["--config", cfg, "install", "--tenant", "acme"]) == 1  # not a terminal, no --yes
    assert "pass --yes" in capsys.readouterr().err
    assert main(["--config", cfg, "install", "--tenant", "acme", "--yes"]) == 0
    out = capsys.readouterr().out
    assert f"  ... [{HUBSPOT_COMPONENTS}/{HUBSPOT_COMPONENTS}] creating calls property gamefilm_rep_status" in out and f"{HUBSPOT_COMPONENTS} change(s) made" in out

    assert main(["--config", cfg, "verify", "--tenant", "acme"]) == 0
    out = capsys.readouterr().out
    assert f"{HUBSPOT_COMPONENTS} of {HUBSPOT_COMPONENTS} components in place" in out and "  ok      calls property gamefilm_recording_id [installed by Game Film]" in out

    assert main(["--config", cfg, "install", "--tenant", "acme", "--yes"]) == 0
    assert "nothing to change" in capsys.readouterr().out

    hubspot_server.properties["calls"]["gamefilm_recording_id"]["label"] = "Recording"
    assert main(["--config", cfg, "verify", "--tenant", "acme"]) == 1
    assert "DRIFT   calls property gamefilm_recording_id [installed by Game Film] (label: 'Game Film recording id' expected, 'Recording' found)" in capsys.readouterr().out

    assert main(["--config", cfg, "uninstall", "--tenant", "acme", "--yes"]) == 0
    assert "gamefilm_recording_id" not in hubspot_server.properties["calls"] and hubspot_server.groups == {"calls": {}, "deals": {}, "tasks": {}}


def test_unknown_tenant_is_one_line(tmp_path, capsys, hubspot_server):  # noqa: F811
    assert main(["--config", config(tmp_path, hubspot_server.url), "verify", "--tenant", "nope"]) == 2
    assert "no tenant 'nope'; use one of: acme" in capsys.readouterr().err


def test_a_crm_refusal_is_one_line_naming_the_component(tmp_path, monkeypatch, capsys, hubspot_server):  # noqa: F811
    monkeypatch.setenv("HS_TOKEN", "pat-na1-install")
    hubspot_server.respond("POST", "/crm/v3/properties/calls/groups", status=403, body={"status": "error", "message": "missing scope", "category": "MISSING_SCOPES"})
    assert main(["--config", config(tmp_path, hubspot_server.url), "install", "--tenant", "acme", "--yes"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("acme: install failed: HubSpot refused to create calls group gamefilm") and err.count("\n") == 1


def test_doctor_components_names_each_missing_piece(tmp_path, monkeypatch, capsys, hubspot_server):  # noqa: F811
    monkeypatch.setenv("HS_TOKEN", "pat-na1-install")
    monkeypatch.setenv("HS_SECRET", "x")
    cfg = config(tmp_path, hubspot_server.url)
    assert main(["--config", cfg, "doctor", "--components"]) == 1
    out = capsys.readouterr().out
    assert "FAIL recording property: Create the call property gamefilm_recording_id" in out  # the gateway's own check
    assert "FAIL components: calls property gamefilm_recording_id is missing; run gamefilm install --tenant acme." in out
    assert main(["--config", cfg, "install", "--tenant", "acme", "--yes"]) == 0
    capsys.readouterr()
    assert main(["--config", cfg, "doctor", "--components"]) == 0
    assert f"ok   components: All {HUBSPOT_COMPONENTS} Game Film components are installed as the manifest defines them." in capsys.readouterr().out


def test_salesforce_dry_run_lists_the_deploy_and_changes_nothing(tmp_path, monkeypatch, capsys):
    import responses

    from tests.salesforce_metadata_org import INSTANCE, MetadataOrg

    monkeypatch.setenv("SF_SESSION", "00D!session")
    path = tmp_path / "sf.toml"
    path.write_text(f'[store]\npath = "{tmp_path / "g.db"}"\n\n[[tenants]]\nid = "acme-sf"\ncrm = "salesforce"\norg_id = "00D5e0000001AbcEAA"\n'
                    f'instance_url = "{INSTANCE}"\nauth = "session"\nsession_id_env = "SF_SESSION"\n')  # fmt: skip
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        org = MetadataOrg(http)
        assert main(["--config", str(path), "install", "--tenant", "acme-sf", "--dry-run"]) == 0
        assert main(["--config", str(path), "verify", "--tenant", "acme-sf"]) == 1
    out = capsys.readouterr().out
    assert f"acme-sf (salesforce): install plan, {SALESFORCE_COMPONENTS} change(s)" in out
    assert "  deploy  CustomField Activity.GameFilm_Recording_Id__c: missing" in out and "dry run: nothing changed" in out
    assert f"0 of {SALESFORCE_COMPONENTS} components in place" in out and "  MISSING NamedCredential GameFilm" in out
    assert org.deploys == []


def test_salesforce_install_sends_the_review_notification_to_the_configured_public_url(tmp_path, monkeypatch):
    """`gamefilm install` hands the config's intake.public_base_url to the Salesforce installer
    (the outbound message's endpoint), as `doctor --components` does."""
    from integration import config as config_mod
    from integration.install_cli import installer_for

    monkeypatch.setenv("SF_SESSION", "00D!session")
    path = tmp_path / "sf.toml"
    path.write_text(f'[intake]\npublic_base_url = "https://gamefilm.example.com/prod"\n\n[store]\npath = "{tmp_path / "g.db"}"\n\n'
                    '[[tenants]]\nid = "acme-sf"\ncrm = "salesforce"\norg_id = "00D5e0000001AbcEAA"\n'
                    'instance_url = "https://acme.my.salesforce.com"\nauth = "session"\nsession_id_env = "SF_SESSION"\nusername = "gamefilm@acme.com"\n')  # fmt: skip
    cfg = config_mod.load(str(path))
    installer = installer_for(cfg.tenants[0], lambda line: None, cfg.intake.public_base_url)
    assert (installer.public_base_url, installer.integration_user) == ("https://gamefilm.example.com/prod", "gamefilm@acme.com")
