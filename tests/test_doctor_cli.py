"""`gamefilm doctor`, as an admin runs it: one sentence per problem, saying what to change."""
import responses

from integration.cli import main
from tests.hubspot_server import hubspot_server  # noqa: F401  (fixture)
from tests.test_gateway_salesforce import describe, errors

INSTANCE = "https://acme.my.salesforce.com"
DATA = f"{INSTANCE}/services/data/v59.0"


def write_config(tmp_path, tenant_toml: str):
    path = tmp_path / "doctor.toml"
    path.write_text(f'[store]\npath = "{tmp_path / "g.db"}"\n\n[[tenants]]\n{tenant_toml}')
    return path


def test_doctor_names_the_missing_hubspot_scope(tmp_path, monkeypatch, capsys, hubspot_server):  # noqa: F811
    hubspot_server.scopes = [s for s in hubspot_server.scopes if s != "crm.objects.deals.write"]
    monkeypatch.setenv("HS_TOKEN", "pat-na1-doctor")
    monkeypatch.setenv("HS_SECRET", "x")
    config = write_config(tmp_path, f'id = "acme"\ncrm = "hubspot"\nportal_id = "62515"\nclient_secret_env = "HS_SECRET"\n'
                                    f'access_token_env = "HS_TOKEN"\napi_base_url = "{hubspot_server.url}"\n')  # fmt: skip
    assert main(["--config", str(config), "doctor"]) == 1
    out = capsys.readouterr().out
    assert "ok   token: The HubSpot access token works." in out
    assert "FAIL scopes: Add the scopes crm.objects.deals.write to the HubSpot app, then reinstall or rotate the token." in out


def test_doctor_tells_the_admin_to_enable_opportunity_teams(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SF_SESSION", "00D!session")
    config = write_config(tmp_path, 'id = "acme-sf"\ncrm = "salesforce"\norg_id = "00D5e0000001AbcEAA"\n'
                                    f'instance_url = "{INSTANCE}"\nauth = "session"\nsession_id_env = "SF_SESSION"\n')  # fmt: skip
    with responses.RequestsMock() as http:
        http.get(f"{DATA}/limits/", json={"DailyApiRequests": {"Max": 100000, "Remaining": 99000}})
        http.post(f"{DATA}/composite/batch", json={"hasErrors": True, "results": [
            {"statusCode": 200, "result": describe("Opportunity", ["Id", "Amount", "StageName"])},
            {"statusCode": 200, "result": describe("Task", ["WhatId", "WhoId", "OwnerId", "Subject", "Description", "ActivityDate", "Status", "Priority", "TaskSubtype", "CallDurationInSeconds"])},
            {"statusCode": 200, "result": describe("FeedItem", ["ParentId", "Body"])},
            {"statusCode": 404, "result": errors("NOT_FOUND", "The requested resource does not exist")},
        ]})  # fmt: skip
        assert main(["--config", str(config), "doctor"]) == 1
    out = capsys.readouterr().out
    assert "FAIL opportunity_teams: Enable Opportunity Teams: Setup → Opportunity Team Settings → Enable Team Selling, so leaders can join large deals." in out


def test_doctor_without_credentials_says_there_is_nothing_to_check(capsys, monkeypatch):
    monkeypatch.setenv("GAMEFILM_DEMO_HUBSPOT_CLIENT_SECRET", "x")
    monkeypatch.setenv("GAMEFILM_DEMO_SF_SECRET", "y")
    assert main(["--config", "config/gamefilm.example.toml", "doctor", "--tenant", "demo-hubspot"]) == 0
    assert "(no CRM credentials in the environment: nothing to check)" in capsys.readouterr().out
