"""A bad config fails at start naming the file, the key and the reason."""
import pytest

from integration import config as config_mod
from tests.conftest import tenants_raw

EXAMPLE = "config/gamefilm.example.toml"


def errors(raw):
    with pytest.raises(config_mod.ConfigError) as exc:
        config_mod.parse(raw, "gamefilm.toml")
    return str(exc.value)


def test_the_shipped_example_is_valid_and_dry_run():
    cfg = config_mod.load(EXAMPLE)
    assert cfg.store.backend == "sqlite" and cfg.worker.mode == "thread"
    assert all(t.dry_run for t in cfg.tenants)
    assert {t.crm for t in cfg.tenants} == {"hubspot", "salesforce"}


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(config_mod.ConfigError, match="nope.toml: file not found"):
        config_mod.load(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[store\n")
    with pytest.raises(config_mod.ConfigError, match="bad.toml: not valid TOML"):
        config_mod.load(bad)


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"portal_id": "abc"}, "gamefilm.toml: tenants[acme-hubspot].portal_id: HubSpot tenants need a numeric portal_id"),
        ({"client_secret_env": "pat-na1-1234abcd"}, "gamefilm.toml: tenants[acme-hubspot].client_secret_env: must be an environment variable NAME, not a secret value"),
        ({"dry_run": False}, "gamefilm.toml: tenants[acme-hubspot].access_token_env: needed unless dry_run = true"),
        ({"rate_limit_per_10s": 99}, "gamefilm.toml: tenants[acme-hubspot].rate_limit_per_10s: Must be one of: 100, 110, 190, 250"),
        ({"colour": "blue"}, "gamefilm.toml: tenants[acme-hubspot].colour: unknown key; remove it or check the spelling against config/gamefilm.example.toml"),
        ({"rules": {"teleport": {}}}, "gamefilm.toml: tenants[acme-hubspot].rules.teleport: unknown rule"),
        ({"rules": {"note_on_change": {"properties": []}}}, "gamefilm.toml: tenants[acme-hubspot].rules.note_on_change.properties: Shorter than minimum length 1"),
    ],
)
def test_hubspot_tenant_errors(change, expected):
    raw = {"tenants": tenants_raw()}
    raw["tenants"][0].update(change)
    assert expected in errors(raw)


def test_salesforce_auth_needs_its_credentials():
    raw = {"tenants": tenants_raw()}
    raw["tenants"][2].update({"dry_run": False, "instance_url": "https://acme.my.salesforce.com", "auth": "jwt"})
    assert "gamefilm.toml: tenants[acme-salesforce].username: needed for auth = 'jwt'" in errors(raw)
    raw["tenants"][2]["org_id"] = "12345"
    assert "tenants[acme-salesforce].org_id: must be a 15 or 18 character org id" in errors(raw)


def test_duplicate_tenants_are_refused():
    raw = {"tenants": tenants_raw() + [tenants_raw()[0]]}
    message = errors(raw)
    assert "tenants[acme-hubspot].id: duplicate tenant id 'acme-hubspot'; give each tenant its own id" in message
    assert "tenants[acme-hubspot]: same CRM account as tenant 'acme-hubspot'; keep one of the two" in message


def test_sections_are_validated():
    assert "gamefilm.toml: store.backend: Must be one of: sqlite, dynamodb" in errors({"tenants": tenants_raw(), "store": {"backend": "mongo"}})
    assert "gamefilm.toml: worker.max_attempts" in errors({"tenants": tenants_raw(), "worker": {"max_attempts": 0}})
    assert "gamefilm.toml: tenants: Shorter than minimum length 1" in errors({"tenants": []})


def test_salesforce_tenant_lookup_uses_the_15_character_prefix():
    cfg = config_mod.parse({"tenants": tenants_raw()})
    assert cfg.salesforce_tenant("00D5e0000001Abc").id == "acme-salesforce"
    assert cfg.salesforce_tenant("00D5e0000001AbcXXX").id == "acme-salesforce"
    assert cfg.salesforce_tenant("00D5e0000009Zzz") is None
    assert cfg.hubspot_tenant(62515).id == "acme-hubspot"


@pytest.mark.parametrize("url", ["ftp://acme.example", "https://", "acme.my.salesforce.com", "http://host:port", "https://a b.example"])
def test_urls_need_http_and_a_host(url):
    raw = {"tenants": tenants_raw()}
    raw["tenants"][0]["api_base_url"] = url
    assert errors(raw) == "gamefilm.toml: tenants[acme-hubspot].api_base_url: must be an http(s):// URL with a host, e.g. https://acme.my.salesforce.com"


def test_urls_with_ports_and_paths_are_accepted():
    raw = {"tenants": tenants_raw(), "store": {"backend": "dynamodb", "endpoint_url": "http://127.0.0.1:8001"},
           "intake": {"public_base_url": "https://abc.execute-api.us-east-1.amazonaws.com/production"}}  # fmt: skip
    cfg = config_mod.parse(raw, "gamefilm.toml")
    assert (cfg.store.endpoint_url, cfg.intake.public_base_url) == ("http://127.0.0.1:8001", "https://abc.execute-api.us-east-1.amazonaws.com/production")


@pytest.mark.parametrize("name", ["Recording URL", "Recording_URL__x", "__c", "1Link__c", "Link__c;DROP", "Call__Link__c__c"])
def test_recording_url_field_must_be_a_field_api_name(name):
    raw = {"tenants": tenants_raw()}
    raw["tenants"][2]["recording_url_field"] = name
    assert errors(raw) == "gamefilm.toml: tenants[acme-salesforce].recording_url_field: must be a Task field API name such as GameFilm_Recording_URL__c"


def test_recording_url_field_defaults_and_accepts_namespaced_fields():
    raw = {"tenants": tenants_raw()}
    assert config_mod.parse(raw).tenant("acme-salesforce").recording_url_field == "GameFilm_Recording_URL__c"
    raw["tenants"][2]["recording_url_field"] = "dialer__Call_Recording_Link__c"
    assert config_mod.parse(raw).tenant("acme-salesforce").recording_url_field == "dialer__Call_Recording_Link__c"
