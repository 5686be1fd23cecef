"""Shared pieces of the SalesforceGateway tests: the real simple-salesforce client against HTTP
intercepted with `responses`.

Response bodies follow the Salesforce REST API docs: query results (`totalSize`, `done`,
`records`, `nextRecordsUrl`), sObject Collections SaveResults (`id`, `success`, `errors`
with `statusCode`/`message`/`fields`), error arrays (`errorCode`, `message`), Composite
Batch (`hasErrors`, `results[].statusCode/result`) and the OAuth token response.
Test modules import the fixtures (`http`, `connector`, `sleeps`, `gateway`) by name.
"""
from __future__ import annotations

import itertools
import json
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from integration.commands import CreateTask
from integration.config import Tenant
from integration.gateway.salesforce import SalesforceGateway

INSTANCE = "https://acme.my.salesforce.com"
DATA = f"{INSTANCE}/services/data/v59.0"
QUERY = f"{DATA}/query/"
COLLECTIONS = f"{DATA}/composite/sobjects"
UPSERT_TASKS = f"{DATA}/composite/sobjects/Task/GameFilm_Key__c"
OWNER = "005000000000001AAA"
LEADER = "005000000000002AAA"
VP = "005000000000003AAA"
OPP = "006000000000001AAA"
CONTACT = "003000000000001AAA"


def sf_id(prefix: str, n: int) -> str:
    return f"{prefix}{n:012d}AAA"


class Connector:
    """`connect` for the gateway: a real client per call, counted (a reconnect is a second call)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self):
        from simple_salesforce import Salesforce

        self.calls += 1
        return Salesforce(instance_url=INSTANCE, session_id=f"session-{self.calls}")


@pytest.fixture
def http():
    with responses.RequestsMock() as rsps:
        yield rsps


@pytest.fixture
def connector() -> Connector:
    return Connector()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def gateway(connector, sleeps) -> SalesforceGateway:
    return SalesforceGateway(connector, sleep=sleeps.append)


def soql(call) -> str:
    return parse_qs(urlsplit(call.request.url).query)["q"][0]


def body(call) -> dict:
    return json.loads(call.request.body)


def page(records: list[dict], next_url: str | None = None) -> dict:
    result = {"totalSize": len(records), "done": next_url is None, "records": records}
    if next_url:
        result["nextRecordsUrl"] = next_url
    return result


def errors(code: str, message: str) -> list[dict]:
    return [{"message": message, "errorCode": code}]


def opportunity(opp_id: str = OPP, *, team: tuple[str, ...] = (LEADER,), **overrides) -> dict:
    record = {
        "attributes": {"type": "Opportunity", "url": f"/services/data/v59.0/sobjects/Opportunity/{opp_id}"},
        "Id": opp_id,
        "Name": "Acme - 500 seats",
        "Amount": 250000.5,
        "CurrencyIsoCode": "EUR",
        "OwnerId": OWNER,
        "StageName": "Negotiation/Review",
        "RecordTypeId": "012000000000001AAA",
        "IsClosed": False,
        "LastModifiedDate": "2026-11-02T10:15:00.000+0000",
        "OpportunityTeamMembers": page(
            [{"attributes": {"type": "OpportunityTeamMember", "url": "/services/data/v59.0/sobjects/OpportunityTeamMember/00q000000000001AAA"}, "UserId": u} for u in team]
        )
        if team
        else None,
    }
    record.update(overrides)
    return record


def created(*ids: str) -> list[dict]:
    return [{"id": i, "success": True, "errors": []} for i in ids]


def failed(code: str, message: str, fields: list[str] | None = None) -> dict:
    return {"success": False, "errors": [{"statusCode": code, "message": message, "fields": fields or []}]}


def task(n: int = 1, **overrides) -> CreateTask:
    values = dict(
        key=f"review#{n}", rule="peer_review", reason="Peer review of a recorded call", record_id=OPP,
        owner_id=LEADER, subject="Review the Acme discovery call", body="Rubric: ...", due=date(2026, 11, 20),
    )
    values.update(overrides)
    return CreateTask(**values)


def saving_callback(prefix: str):
    """Answers every collection request with one success per record it carried."""
    numbers = itertools.count(1)

    def callback(request):
        records = json.loads(request.body)["records"]
        return 200, {}, json.dumps(created(*(sf_id(prefix, next(numbers)) for _ in records)))

    return callback


TOKEN_RESPONSE = {
    "access_token": "00D000000000001!AQ0AQH0dMHZfz972Szmpkb58urFRkgeBGsxL",
    "scope": "api",
    "instance_url": INSTANCE,
    "id": f"https://login.salesforce.com/id/00D000000000001AAA/{OWNER}",
    "token_type": "Bearer",
}


def sf_tenant(**overrides) -> Tenant:
    values = dict(id="acme", crm="salesforce", dry_run=False, org_id="00D000000000001AAA", instance_url=INSTANCE)
    values.update(overrides)
    return Tenant(**values)


def describe(name: str, fields: list[str], **flags) -> dict:
    return {
        "name": name, "queryable": True, "createable": True, "updateable": True, **flags,
        "fields": [{"name": f, "createable": True, "updateable": True, "custom": f.endswith("__c")} for f in fields],
    }
