"""Config of the recording sources: keys validated and named by tenant id; their signing
secrets checked at start like the CRM ones."""
import pytest

from integration import config as config_mod
from integration import preflight
from tests.conftest import ENVIRON, tenants_raw


def errors(raw) -> str:
    with pytest.raises(config_mod.ConfigError) as exc:
        config_mod.parse(raw, "gamefilm.toml")
    return str(exc.value)


def test_recording_keys_are_loaded():
    raw = {"tenants": tenants_raw()}
    raw["tenants"][2] |= {"zoom_secret_token_env": "SF_ZOOM", "zoom_account_id": "abc-DEF_1", "zoom_client_id_env": "ZID",
                          "zoom_client_secret_env": "ZSECRET"}  # fmt: skip
    cfg = config_mod.parse(raw)
    hubspot, salesforce = cfg.tenant("acme-hubspot"), cfg.tenant("acme-salesforce")
    assert (hubspot.recorder_secret_envs, hubspot.zoom_secret_token_env) == (("REC_SECRET",), "ZOOM_TOKEN")
    assert (salesforce.recorder_secret_envs, salesforce.zoom_account_id, salesforce.zoom_client_secret_env) == (("SF_REC_SECRET",), "abc-DEF_1", "ZSECRET")


@pytest.mark.parametrize(
    ("change", "expected"),
    [({"recorder_secret_envs": ["whsec_live_123"]}, "tenants[acme-hubspot].recorder_secret_envs[0]: must be an environment variable NAME"),
     ({"zoom_secret_token_env": "a token"}, "tenants[acme-hubspot].zoom_secret_token_env: must be an environment variable NAME"),
     ({"zoom_account_id": "acct"}, "tenants[acme-hubspot].zoom_client_id_env: needed with zoom_account_id (Zoom server-to-server OAuth takes all three)"),
     ({"zoom_client_id_env": "ZID", "zoom_client_secret_env": "ZS"}, "tenants[acme-hubspot].zoom_account_id: needed with zoom_client_id_env"),
     ({"zoom_account_id": "has space", "zoom_client_id_env": "ZID", "zoom_client_secret_env": "ZS"},
      "tenants[acme-hubspot].zoom_account_id: must be the Zoom app's Account ID")],  # fmt: skip
)
def test_recording_key_errors_name_the_tenant_and_key(change, expected):
    raw = {"tenants": tenants_raw()}
    raw["tenants"][0].update(change)
    assert f"gamefilm.toml: {expected}" in errors(raw)


def test_check_names_an_unset_recorder_or_zoom_secret():
    cfg = config_mod.parse({"tenants": tenants_raw()}, "gamefilm.toml")
    environ = {k: v for k, v in ENVIRON.items() if k not in ("REC_SECRET", "ZOOM_TOKEN")}
    found = [(p.sentence, p.fatal, p.signing) for p in preflight.problems(cfg, environ)]
    assert ("gamefilm.toml: tenants[acme-hubspot].recorder_secret_envs: REC_SECRET is not set, so every webhook from this recorder "
            "would be refused; set REC_SECRET (or its SSM parameter)", True, True) in found  # fmt: skip
    assert ("gamefilm.toml: tenants[acme-hubspot].zoom_secret_token_env: ZOOM_TOKEN is not set, so every webhook from this Zoom app "
            "would be refused; set ZOOM_TOKEN (or its SSM parameter)", True, True) in found  # fmt: skip
    assert [p for p in preflight.problems(cfg, ENVIRON) if p.fatal] == []
