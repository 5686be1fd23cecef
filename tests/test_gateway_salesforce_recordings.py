"""SalesforceGateway reads for matching recordings and following review tasks, through the real
simple-salesforce client: exact SOQL, chunk boundaries, records mapped to the product's shapes."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest
import responses

from integration.gateway import CrmError
from integration.gateway.salesforce import SalesforceGateway
from tests.salesforce_http import (  # noqa: F401  (fixtures)
    CONTACT, LEADER, OPP, OWNER, QUERY, VP, connector, errors, gateway, http, opportunity, page, sf_id, sleeps, soql,
)

ACCOUNT = "001000000000001AAA"
CALL = "00T000000000001AAA"
SINCE = datetime(2026, 11, 10, 15, 30, tzinfo=timezone.utc)
TASK_FIELDS = "SELECT Id, Subject, OwnerId, ActivityDate, CreatedDate, CallDurationInSeconds, WhatId, WhoId, TaskSubtype"


def empty_pages(http) -> None:
    http.add_callback(responses.GET, QUERY, callback=lambda request: (200, {}, json.dumps(page([]))))


def in_list_sizes(http) -> list[int]:
    return [soql(c).rsplit(" IN (", 1)[1].split(")")[0].count("'") // 2 for c in http.calls]


def user(user_id: str, email: str, *, active: bool = True) -> dict:
    return {"attributes": {"type": "User"}, "Id": user_id, "Name": "Rep", "Email": email, "ManagerId": VP, "IsActive": active}


# ---- users -------------------------------------------------------------------------------


def test_find_users_by_email_prefers_the_active_user_of_an_address(http, gateway):
    http.get(QUERY, json=page([user(sf_id("005", 7), "Rep@Seller.com", active=False), user(OWNER, "rep@seller.com")]))

    users = gateway.find_users_by_email([" Rep@Seller.com", "rep@seller.com"])

    assert soql(http.calls[0]) == "SELECT Id, Name, Email, ManagerId, IsActive FROM User WHERE Email IN ('rep@seller.com')"
    assert users["rep@seller.com"].id == OWNER and users["rep@seller.com"].manager_id == VP and users["rep@seller.com"].active


@pytest.mark.parametrize("count, sizes", [(1, [1]), (200, [200]), (201, [200, 1])])
def test_find_users_by_email_asks_200_addresses_per_query(http, gateway, count, sizes):
    empty_pages(http)

    gateway.find_users_by_email([f"u{n}@x.io" for n in range(count)])

    assert in_list_sizes(http) == sizes


# ---- accounts by domain ---------------------------------------------------------------------


def test_accounts_by_domain_compare_the_website_host_exactly(http, gateway):
    websites = {
        sf_id("001", 1): "https://www.acme.com/de", sf_id("001", 2): "ACME.COM", sf_id("001", 3): "http://acme.com:8080/?a=b",
        sf_id("001", 4): "notacme.com", sf_id("001", 5): "acme.com.au", sf_id("001", 6): "https://shop.acme.com", sf_id("001", 7): None,
        sf_id("001", 8): "my_site.io",
    }  # fmt: skip
    http.get(QUERY, json=page([{"attributes": {"type": "Account"}, "Id": i, "Website": w} for i, w in websites.items()]))

    found = gateway.find_accounts_by_domain(["Acme.com", "www.my_site.io", "nobody.org"])

    assert soql(http.calls[0]) == (
        "SELECT Id, Website FROM Account WHERE Website LIKE '%acme.com%' OR Website LIKE '%my\\_site.io%' OR Website LIKE '%nobody.org%'"
    )
    assert found == {"acme.com": [sf_id("001", 1), sf_id("001", 2), sf_id("001", 3)], "my_site.io": [sf_id("001", 8)]}


@pytest.mark.parametrize("count, queries", [(1, 1), (127, 1), (128, 2), (201, 2)])
def test_accounts_by_domain_split_long_or_lists_to_fit_the_url(http, gateway, count, queries):
    empty_pages(http)
    domains = [f"company-{n:04d}.example.com" for n in range(count)]

    gateway.find_accounts_by_domain(domains)

    asked = [d for c in http.calls for d in soql(c).split("'%")[1:]]
    assert sorted(d.split("%'")[0] for d in asked) == sorted(domains)
    assert all(len(c.request.url) < 16000 for c in http.calls)
    assert len(http.calls) == queries  # 127 domains of 24 characters fill one query's budget


# ---- deals of contacts and accounts ---------------------------------------------------------------


def with_roles(opp: dict, *contact_ids: str) -> dict:
    roles = [{"attributes": {"type": "OpportunityContactRole"}, "ContactId": c} for c in contact_ids]
    return {**opp, "OpportunityContactRoles": page(roles)}


def test_deals_for_contacts_reads_opportunities_with_their_roles_and_teams_in_one_query(http, gateway):
    closed, long_closed, other, stranger = sf_id("006", 2), sf_id("006", 3), sf_id("003", 2), sf_id("003", 9)
    http.get(QUERY, json=page([
        with_roles(opportunity(AccountId=ACCOUNT, CloseDate="2026-12-15", team=(LEADER, VP)), CONTACT, other, stranger),
        with_roles(opportunity(closed, IsClosed=True, AccountId=ACCOUNT, CloseDate="2026-11-12", team=()), CONTACT),
        with_roles(opportunity(long_closed, IsClosed=True, AccountId=ACCOUNT, CloseDate="2026-11-09", team=()), CONTACT),
    ]))

    deals = gateway.deals_for_contacts([CONTACT, other], SINCE)

    assert soql(http.calls[0]) == (
        "SELECT Id, Name, Amount, CurrencyIsoCode, OwnerId, StageName, RecordTypeId, IsClosed, LastModifiedDate, AccountId, CloseDate, "
        "(SELECT ContactId FROM OpportunityContactRoles), (SELECT UserId FROM OpportunityTeamMembers) FROM Opportunity "
        f"WHERE Id IN (SELECT OpportunityId FROM OpportunityContactRole WHERE ContactId IN ('{CONTACT}','{other}'))"
    )
    assert len(http.calls) == 1
    open_deal, closed_deal = deals[CONTACT]  # closed before the window (2026-11-10): left out here
    assert (open_deal.id, open_deal.owner_id, open_deal.account_id, open_deal.collaborators) == (OPP, OWNER, ACCOUNT, frozenset({LEADER, VP}))
    assert open_deal.modified_at == datetime(2026, 11, 2, 10, 15, tzinfo=timezone.utc) and open_deal.closed_at is None
    assert "OpportunityContactRoles" not in open_deal.fields
    assert closed_deal.closed and closed_deal.closed_at == datetime(2026, 11, 12, tzinfo=timezone.utc)
    assert closed_deal.collaborators == frozenset()
    assert [d.id for d in deals[other]] == [OPP] and stranger not in deals  # a role of a contact not asked about


def test_deals_for_contacts_in_an_org_without_teams_drops_the_team_subquery_for_good(http, gateway):
    http.get(QUERY, status=400, json=errors("INVALID_TYPE", "Didn't understand relationship 'OpportunityTeamMembers' in FROM part of query call."))
    http.get(QUERY, json=page([with_roles(opportunity(team=()), CONTACT)]))
    http.get(QUERY, json=page([with_roles(opportunity(team=()), CONTACT)]))

    assert gateway.deals_for_contacts([CONTACT], SINCE)[CONTACT][0].collaborators == frozenset()
    assert gateway.deals_for_contacts([CONTACT], SINCE)[CONTACT][0].id == OPP

    assert ["OpportunityTeamMembers" in soql(c) for c in http.calls] == [True, False, False]


@pytest.mark.parametrize("count, sizes", [(1, [1]), (200, [200]), (201, [200, 1])])
def test_deals_for_contacts_and_accounts_ask_200_ids_per_query(http, gateway, count, sizes):
    empty_pages(http)

    gateway.deals_for_contacts([sf_id("003", n) for n in range(count)], SINCE)
    gateway.deals_for_accounts([sf_id("001", n) for n in range(count)], SINCE)

    assert in_list_sizes(http) == sizes + sizes  # no roles found: no team query


def test_deals_for_accounts_reads_team_members_as_a_subquery(http, gateway):
    http.get(QUERY, json=page([opportunity(AccountId=ACCOUNT, CloseDate="2026-12-15")]))

    deals = gateway.deals_for_accounts([ACCOUNT], SINCE)

    assert soql(http.calls[0]) == (
        "SELECT Id, Name, Amount, CurrencyIsoCode, OwnerId, StageName, RecordTypeId, IsClosed, LastModifiedDate, AccountId, CloseDate, "
        f"(SELECT UserId FROM OpportunityTeamMembers) FROM Opportunity WHERE AccountId IN ('{ACCOUNT}') "
        "AND (IsClosed = false OR CloseDate >= 2026-11-10)"
    )
    [deal] = deals[ACCOUNT]
    assert (deal.id, deal.account_id, deal.collaborators) == (OPP, ACCOUNT, frozenset({LEADER}))


def test_deals_for_accounts_drops_the_team_subquery_in_an_org_without_teams(http, gateway):
    http.get(QUERY, status=400, json=errors("INVALID_TYPE", "Didn't understand relationship 'OpportunityTeamMembers' in FROM part of query call."))
    http.get(QUERY, json=page([opportunity(team=(), AccountId=ACCOUNT)]))

    assert gateway.deals_for_accounts([ACCOUNT], SINCE)[ACCOUNT][0].id == OPP
    assert "OpportunityTeamMembers" not in soql(http.calls[1])


# ---- calls and tasks -----------------------------------------------------------------------


def call_task(**overrides) -> dict:
    record = {
        "attributes": {"type": "Task"}, "Id": CALL, "Subject": "Discovery call", "OwnerId": OWNER, "ActivityDate": "2026-11-20",
        "CreatedDate": "2026-11-20T14:05:00.000+0000", "CallDurationInSeconds": 1800, "WhatId": OPP, "WhoId": CONTACT,
        "TaskSubtype": "Call", "GameFilm_Recording_URL__c": "https://rec.example/r/1", "GameFilm_Recording_Id__c": None,
    }  # fmt: skip
    record.update(overrides)
    return record


def test_read_calls_maps_call_tasks_to_call_activities(http, gateway):
    lead_call = sf_id("00T", 2)
    http.get(QUERY, json=page([call_task(), call_task(Id=lead_call, WhatId=ACCOUNT, WhoId="00Q000000000001AAA", CreatedDate="2026-11-21T09:00:00.000+0000",
                                                     CallDurationInSeconds=None, GameFilm_Recording_Id__c="rec:7")]))  # fmt: skip

    calls = gateway.read_calls([CALL, lead_call])

    assert soql(http.calls[0]) == (
        f"{TASK_FIELDS}, GameFilm_Recording_URL__c, GameFilm_Recording_Id__c FROM Task WHERE Id IN ('{CALL}','{lead_call}') AND TaskSubtype = 'Call'"
    )
    call = calls[CALL]
    assert (call.recording_url, call.title, call.owner_id, call.duration_ms) == ("https://rec.example/r/1", "Discovery call", OWNER, 1_800_000)
    assert (call.deal_ids, call.contact_ids, call.external_id) == ((OPP,), (CONTACT,), None)
    assert call.started_at == datetime(2026, 11, 20, 14, 5, tzinfo=timezone.utc)
    other = calls[lead_call]  # logged a day after the call; related to an account and a lead
    assert (other.deal_ids, other.contact_ids, other.duration_ms, other.external_id) == ((), (), None, "rec:7")
    assert other.started_at == datetime(2026, 11, 20, tzinfo=timezone.utc)


def test_read_calls_uses_the_tenants_recording_url_field(http, connector, sleeps):
    gateway = SalesforceGateway(connector, sleep=sleeps.append, recording_url_field="Dialer__Recording_Link__c")
    http.get(QUERY, json=page([call_task(Dialer__Recording_Link__c="https://dialer.example/9")]))

    assert gateway.read_calls([CALL])[CALL].recording_url == "https://dialer.example/9"
    assert "TaskSubtype, Dialer__Recording_Link__c, GameFilm_Recording_Id__c FROM Task" in soql(http.calls[0])


def test_read_calls_in_an_org_without_the_recording_id_field_names_it(http, gateway):
    http.get(QUERY, status=400, json=errors("INVALID_FIELD", "\nSELECT ...\nERROR at Row:1:Column:140\nNo such column 'GameFilm_Recording_Id__c' on entity 'Task'."))

    with pytest.raises(CrmError, match="Task has no usable GameFilm_Recording_Id__c: deploy it on Activity as Text\\(255\\), External ID, Unique") as raised:
        gateway.read_calls([CALL])

    assert not raised.value.retryable


def test_read_calls_in_an_org_without_the_recording_url_field_names_it(http, gateway):
    http.get(QUERY, status=400, json=errors("INVALID_FIELD", "No such column 'GameFilm_Recording_URL__c' on entity 'Task'."))

    with pytest.raises(CrmError, match="no usable recording URL field GameFilm_Recording_URL__c: .*recording_url_field"):
        gateway.read_calls([CALL])


@pytest.mark.parametrize("count, sizes", [(1, [1]), (200, [200]), (201, [200, 1])])
def test_calls_and_tasks_are_read_200_per_query(http, gateway, count, sizes):
    empty_pages(http)

    gateway.read_calls([sf_id("00T", n) for n in range(count)])
    gateway.read_tasks([sf_id("00T", n) for n in range(count)])

    assert in_list_sizes(http) == sizes + sizes


def test_read_tasks_says_whether_each_review_task_is_done(http, gateway):
    done, missing = sf_id("00T", 2), sf_id("00T", 3)
    http.get(QUERY, json=page([
        {"attributes": {"type": "Task"}, "Id": CALL, "IsClosed": False, "Status": "Not Started", "OwnerId": LEADER, "ActivityDate": "2026-11-27", "CompletedDateTime": None},
        {"attributes": {"type": "Task"}, "Id": done, "IsClosed": True, "Status": "Completed", "OwnerId": OWNER, "ActivityDate": None,
         "CompletedDateTime": "2026-11-23T16:40:12.000+0000"},
    ]))  # fmt: skip

    tasks = gateway.read_tasks([CALL, done, missing])

    assert soql(http.calls[0]) == f"SELECT Id, IsClosed, Status, OwnerId, ActivityDate, CompletedDateTime FROM Task WHERE Id IN ('{CALL}','{done}','{missing}')"
    assert (tasks[CALL].completed, tasks[CALL].owner_id, tasks[CALL].due, tasks[CALL].completed_at) == (False, LEADER, date(2026, 11, 27), None)
    assert tasks[done].completed and tasks[done].completed_at == datetime(2026, 11, 23, 16, 40, 12, tzinfo=timezone.utc)
    assert missing not in tasks


@pytest.mark.parametrize("value, expected", [
    ("2026-11-02T10:15:00.000+0000", datetime(2026, 11, 2, 10, 15, tzinfo=timezone.utc)),
    ("2026-11-02T10:15:00.000Z", datetime(2026, 11, 2, 10, 15, tzinfo=timezone.utc)),
    ("2026-11-02T10:15:00", datetime(2026, 11, 2, 10, 15, tzinfo=timezone.utc)),
    ("", None), ("yesterday", None), (None, None),
])  # fmt: skip
def test_dates_from_rest_and_outbound_messages_are_read_or_left_out(value, expected):
    from integration.gateway.salesforce.mapping import deal_from_record

    deal = deal_from_record({"Id": OPP, "LastModifiedDate": value, "IsClosed": "true", "CloseDate": "2026-11-0x"})

    assert deal.modified_at == expected and deal.closed and deal.closed_at is None
