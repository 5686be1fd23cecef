"""SalesforceGateway authentication and doctor checks, through the real simple-salesforce client."""
from __future__ import annotations

import base64
from urllib.parse import parse_qs

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from integration.gateway import CrmError
from integration.gateway.salesforce import ENABLE_TEAMS, SalesforceGateway
from tests.salesforce_http import (  # noqa: F401  (fixtures)
    COLLECTIONS, DATA, INSTANCE, LEADER, OPP, QUERY, TOKEN_RESPONSE, body, connector, created, describe, errors, gateway, http, page,
    sf_tenant, sleeps, soql, task,
)


# ---- authentication -------------------------------------------------------------------

def test_jwt_bearer_login_signs_an_assertion_and_uses_the_returned_token(http):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    tenant = sf_tenant(auth="jwt", username="integration@acme.com", consumer_key_env="SF_KEY", private_key_env="SF_PEM")
    gateway = SalesforceGateway.from_tenant(tenant, {"SF_KEY": "3MVG9-consumer-key", "SF_PEM": pem})
    http.post("https://login.salesforce.com/services/oauth2/token", json=TOKEN_RESPONSE)
    http.get(QUERY, json=page([]))

    gateway.read_users([LEADER])

    form = parse_qs(http.calls[0].request.body)
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    claims = jwt.decode(form["assertion"][0], key.public_key(), algorithms=["RS256"], audience="https://login.salesforce.com")
    assert (claims["iss"], claims["sub"]) == ("3MVG9-consumer-key", "integration@acme.com")
    assert http.calls[1].request.headers["Authorization"] == f"Bearer {TOKEN_RESPONSE['access_token']}"


def test_client_credentials_login_uses_the_my_domain_token_endpoint(http):
    tenant = sf_tenant(auth="client_credentials", consumer_key_env="SF_KEY", consumer_secret_env="SF_SECRET")
    gateway = SalesforceGateway.from_tenant(tenant, {"SF_KEY": "3MVG9-key", "SF_SECRET": "s3cr3t-value"})
    http.post(f"{INSTANCE}/services/oauth2/token", json=TOKEN_RESPONSE)
    http.get(QUERY, json=page([]))

    gateway.read_users([LEADER])

    token_request = http.calls[0].request
    assert parse_qs(token_request.body) == {"grant_type": ["client_credentials"]}
    assert token_request.headers["Authorization"] == "Basic " + base64.b64encode(b"3MVG9-key:s3cr3t-value").decode()


def test_a_rejected_login_is_a_clear_error_without_the_secret(http):
    tenant = sf_tenant(auth="client_credentials", consumer_key_env="SF_KEY", consumer_secret_env="SF_SECRET")
    gateway = SalesforceGateway.from_tenant(tenant, {"SF_KEY": "3MVG9-key", "SF_SECRET": "s3cr3t-value"})
    http.post(f"{INSTANCE}/services/oauth2/token", status=400, json={"error": "invalid_client", "error_description": "invalid client credentials"})

    with pytest.raises(CrmError) as raised:
        gateway.read_users([LEADER])

    assert "invalid_client" in str(raised.value) and not raised.value.retryable
    assert "s3cr3t-value" not in str(raised.value) and raised.value.__cause__ is None


def test_a_missing_secret_names_the_environment_variable(http):
    gateway = SalesforceGateway.from_tenant(sf_tenant(auth="session", session_id_env="SF_SESSION"), {})

    with pytest.raises(CrmError, match="SF_SESSION"):
        gateway.read_users([LEADER])
    assert len(http.calls) == 0


# ---- doctor ---------------------------------------------------------------------------


def test_check_reports_usage_and_missing_opportunity_teams_in_two_calls(http, gateway):
    http.get(f"{DATA}/limits/", json={"DailyApiRequests": {"Max": 100000, "Remaining": 95000}, "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000}})
    http.post(f"{DATA}/composite/batch", json={"hasErrors": True, "results": [
        {"statusCode": 200, "result": describe("Opportunity", ["Id", "Amount", "StageName", "Game_Film_Avg__c"])},
        {"statusCode": 200, "result": describe("Task", ["WhatId", "WhoId", "OwnerId", "Subject", "Description", "ActivityDate", "Status", "Priority", "TaskSubtype", "CallDurationInSeconds"])},
        {"statusCode": 200, "result": describe("FeedItem", ["ParentId", "Body"])},
        {"statusCode": 404, "result": errors("NOT_FOUND", "The requested resource does not exist")},
    ]})

    findings = {f.check: f for f in gateway.check()}

    assert body(http.calls[1]) == {"batchRequests": [
        {"method": "GET", "url": f"v59.0/sobjects/{name}/describe"} for name in ("Opportunity", "Task", "FeedItem", "OpportunityTeamMember")
    ]}
    assert findings["auth"].ok and findings["task"].ok and findings["feed_item"].ok
    assert findings["api_usage"].ok and "5000/100000 (5%)" in findings["api_usage"].message
    assert findings["opportunity"].ok and "(1 custom)" in findings["opportunity"].message
    assert not findings["opportunity_teams"].ok and ENABLE_TEAMS in findings["opportunity_teams"].message
    assert len(http.calls) == 2
    # What the doctor learned holds for the gateway's life: no multi-currency, no record types, no teams.
    http.get(QUERY, json=page([]))
    gateway.read_deals([OPP])
    assert soql(http.calls[2]) == f"SELECT Id, Name, Amount, OwnerId, StageName, IsClosed, LastModifiedDate FROM Opportunity WHERE Id IN ('{OPP}')"


def test_check_reports_a_failed_login_as_a_finding(http):
    tenant = sf_tenant(auth="client_credentials", consumer_key_env="SF_KEY", consumer_secret_env="SF_SECRET")
    gateway = SalesforceGateway.from_tenant(tenant, {"SF_KEY": "3MVG9-key", "SF_SECRET": "s3cr3t-value"})
    http.post(f"{INSTANCE}/services/oauth2/token", status=400, json={"error": "invalid_grant", "error_description": "authentication failure"})

    [finding] = gateway.check()

    assert finding.check == "auth" and not finding.ok and "invalid_grant" in finding.message
    assert "s3cr3t-value" not in finding.message


# ---- which exactly-once mechanism the org supports ------------------------------------------


def test_the_doctor_learns_that_task_has_the_external_id_and_says_how_tasks_are_written(http, gateway):
    task_fields = ["WhatId", "WhoId", "OwnerId", "Subject", "Description", "ActivityDate", "Status", "Priority", "TaskSubtype", "CallDurationInSeconds"]
    keyed = describe("Task", task_fields)
    keyed["fields"].append({"name": "GameFilm_Key__c", "createable": True, "updateable": True, "custom": True, "externalId": True})
    http.get(f"{DATA}/limits/", json={"DailyApiRequests": {"Max": 100000, "Remaining": 95000}})
    http.post(f"{DATA}/composite/batch", json={"hasErrors": False, "results": [
        {"statusCode": 200, "result": describe("Opportunity", ["Id", "Amount", "CurrencyIsoCode", "RecordTypeId"])},
        {"statusCode": 200, "result": keyed},
        {"statusCode": 200, "result": describe("FeedItem", ["ParentId", "Body"])},
        {"statusCode": 200, "result": describe("OpportunityTeamMember", ["OpportunityId", "UserId"])},
    ]})

    findings = {f.check: f for f in gateway.check()}

    assert findings["task"].ok and "upserted on the external id GameFilm_Key__c" in findings["task"].message


def test_the_doctor_learns_that_task_has_no_external_id_and_tasks_are_created_directly(http, gateway):
    task_fields = ["WhatId", "WhoId", "OwnerId", "Subject", "Description", "ActivityDate", "Status", "Priority", "TaskSubtype", "CallDurationInSeconds"]
    http.get(f"{DATA}/limits/", json={"DailyApiRequests": {"Max": 100000, "Remaining": 95000}})
    http.post(f"{DATA}/composite/batch", json={"hasErrors": False, "results": [
        {"statusCode": 200, "result": describe("Opportunity", ["Id", "Amount", "CurrencyIsoCode", "RecordTypeId"])},
        {"statusCode": 200, "result": describe("Task", task_fields)},
        {"statusCode": 200, "result": describe("FeedItem", ["ParentId", "Body"])},
        {"statusCode": 200, "result": describe("OpportunityTeamMember", ["OpportunityId", "UserId"])},
    ]})
    http.post(COLLECTIONS, json=created("00T000000000001AAA"))

    findings = {f.check: f for f in gateway.check()}
    [outcome] = gateway.create_tasks([task()])

    assert findings["task"].ok and "marker line in Description" in findings["task"].message
    assert outcome.ok and http.calls[-1].request.method == "POST"  # no upsert probe: the describe told
    assert body(http.calls[-1])["records"][0]["Description"] == f"Rubric: ...\n\n{task().marker}"
