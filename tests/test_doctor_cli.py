"""`gamefilm doctor`, as an admin runs it: one sentence per problem, saying what to change."""
from urllib.parse import parse_qs, urlsplit

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


def test_doctor_catches_unknown_pipelines_and_leaders_of_a_threshold_tier(tmp_path, monkeypatch, capsys, hubspot_server):  # noqa: F811
    hubspot_server.add_owner("5550001", "director@acme.example", "Dana", "Director")
    monkeypatch.setenv("HS_TOKEN", "pat-na1-doctor")
    monkeypatch.setenv("HS_SECRET", "x")
    config = write_config(tmp_path, f'id = "acme"\ncrm = "hubspot"\nportal_id = "62515"\nclient_secret_env = "HS_SECRET"\n'
                                    f'access_token_env = "HS_TOKEN"\napi_base_url = "{hubspot_server.url}"\n'
                                    '[[tenants.rules.threshold]]\nname = "enterprise"\namount = 100000\nleaders = ["5550001", "5559999"]\n'
                                    'pipelines = ["default", "enterprise-pipe"]\n'
                                    '[[tenants.rules.threshold]]\nname = "strategic"\namount = 1000000\nleaders = ["5550001"]\n')  # fmt: skip
    assert main(["--config", str(config), "doctor"]) == 1
    out = capsys.readouterr().out
    assert ("FAIL threshold:enterprise: Tier 'enterprise' names pipelines enterprise-pipe that the CRM does not have; "
            "use one of: default (Sales Pipeline).") in out  # fmt: skip
    assert "FAIL threshold:enterprise: Tier 'enterprise' leaders are wrong (no user 5559999): fix the ids in [[tenants.rules.threshold]]." in out
    assert "ok   threshold:strategic: Tier 'strategic': pipelines and leaders exist." in out
    assert hubspot_server.requests_to("GET", "/crm/v3/pipelines/deals")


def test_salesforce_record_types_are_the_pipelines(monkeypatch):
    from simple_salesforce import Salesforce

    from integration.gateway.salesforce import SalesforceGateway

    gateway = SalesforceGateway(lambda: Salesforce(instance_url=INSTANCE, session_id="s"), sleep=lambda s: None)
    with responses.RequestsMock() as http:
        http.get(f"{DATA}/query/", json={"totalSize": 1, "done": True, "records": [
            {"attributes": {"type": "RecordType"}, "Id": "0125e000000AbcDAAS", "Name": "Enterprise"}]})  # fmt: skip
        assert gateway.read_pipelines() == {"0125e000000AbcDAAS": "Enterprise"}
        query = parse_qs(urlsplit(http.calls[0].request.url).query)["q"][0]
        assert query == "SELECT Id, Name FROM RecordType WHERE SobjectType = 'Opportunity' AND IsActive = true"
