"""SalesforceGateway reads through the real simple-salesforce client (see tests/salesforce_http.py)."""
from __future__ import annotations

from decimal import Decimal

import pytest
import responses

from integration.gateway import CrmError, RecordDataError
from integration.gateway.salesforce import SalesforceGateway
from tests.salesforce_http import (  # noqa: F401  (fixtures; describe/errors are also used by test_doctor_cli)
    CONTACT, DATA, LEADER, OPP, OWNER, QUERY, VP, connector, describe, errors, gateway, http, opportunity, page, sf_id, sleeps, soql,
)


# ---- reads ----------------------------------------------------------------------------


def test_read_deals_selects_opportunity_fields_and_team_members(http, gateway):
    http.get(QUERY, json=page([opportunity(team=(LEADER, VP))]))

    deals = gateway.read_deals([OPP])

    assert soql(http.calls[0]) == (
        "SELECT Id, Name, Amount, CurrencyIsoCode, OwnerId, StageName, RecordTypeId, IsClosed, LastModifiedDate, "
        f"(SELECT UserId FROM OpportunityTeamMembers) FROM Opportunity WHERE Id IN ('{OPP}')"
    )
    deal = deals[OPP]
    assert deal.amount == Decimal("250000.5")
    assert (deal.currency, deal.owner_id, deal.stage, deal.pipeline, deal.closed) == ("EUR", OWNER, "Negotiation/Review", "012000000000001AAA", False)
    assert deal.collaborators == {LEADER, VP}
    assert "OpportunityTeamMembers" not in deal.fields and deal.fields["Name"] == "Acme - 500 seats"


def test_read_deals_with_no_team_members_has_no_collaborators(http, gateway):
    http.get(QUERY, json=page([opportunity(team=())]))

    assert gateway.read_deals([OPP])[OPP].collaborators == frozenset()


def test_read_deals_follows_next_records_url(http, gateway):
    second = sf_id("006", 2)
    http.get(QUERY, json=page([opportunity()], next_url="/services/data/v59.0/query/01gD0000002HU6KIAW-2000"))
    http.get(f"{DATA}/query/01gD0000002HU6KIAW-2000", json=page([opportunity(second)]))

    assert set(gateway.read_deals([OPP, second])) == {OPP, second}
    assert len(http.calls) == 2


def test_read_deals_chunks_ids_200_per_query(http, gateway):
    ids = [sf_id("006", n) for n in range(450)]
    http.get(QUERY, json=page([]))

    gateway.read_deals(ids + ids[:10])  # duplicates are asked once

    in_lists = [soql(c).split(" IN ")[1] for c in http.calls]
    assert [lst.count("'") // 2 for lst in in_lists] == [200, 200, 50]
    assert all(len(c.request.url) < 16000 for c in http.calls)


def test_missing_currency_iso_code_is_dropped_and_remembered(http, gateway):
    http.get(QUERY, status=400, json=errors(
        "INVALID_FIELD",
        "\nSELECT Id, Name, Amount, CurrencyIsoCode, OwnerId\n                        ^\nERROR at Row:1:Column:26\n"
        "No such column 'CurrencyIsoCode' on entity 'Opportunity'. If you are attempting to use a custom field, "
        "be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
    ))
    record = opportunity()
    del record["CurrencyIsoCode"]
    http.get(QUERY, json=page([record]))

    assert gateway.read_deals([OPP])[OPP].currency is None
    gateway.read_deals([OPP])

    assert [("CurrencyIsoCode" in soql(c)) for c in http.calls] == [True, False, False]


def test_org_without_opportunity_teams_is_read_without_the_team_subquery(http, gateway):
    http.get(QUERY, status=400, json=errors(
        "INVALID_TYPE",
        "\nIsClosed, LastModifiedDate, (SELECT UserId FROM OpportunityTeamMembers)\n                                  ^\n"
        "ERROR at Row:1:Column:120\nDidn't understand relationship 'OpportunityTeamMembers' in FROM part of query call. "
        "If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name.",
    ))
    http.get(QUERY, json=page([opportunity(team=())]))

    assert gateway.read_deals([OPP])[OPP].collaborators == frozenset()
    assert "OpportunityTeamMembers" not in soql(http.calls[1])


def test_unknown_invalid_field_is_an_error_not_a_silent_drop(http, gateway):
    http.get(QUERY, status=400, json=errors("INVALID_FIELD", "No such column 'Score__c' on entity 'Opportunity'."))

    with pytest.raises(CrmError) as raised:
        gateway.read_deals([OPP])

    assert not raised.value.retryable and "INVALID_FIELD" in str(raised.value)
    assert len(http.calls) == 1


def test_query_errors_keep_the_reason_but_not_the_echoed_query(http, gateway):
    http.get(QUERY, status=400, json=errors(
        "MALFORMED_QUERY",
        "\nEmail IN ('pat@buyer.com') ORDER BY\n                 ^\nERROR at Row:1:Column:60\nunexpected token: ORDER",
    ))

    with pytest.raises(CrmError) as raised:
        gateway.find_contacts(["pat@buyer.com"])

    assert str(raised.value) == "Salesforce MALFORMED_QUERY: unexpected token: ORDER"


def test_read_users(http, gateway):
    http.get(QUERY, json=page([{
        "attributes": {"type": "User", "url": f"/services/data/v59.0/sobjects/User/{LEADER}"},
        "Id": LEADER, "Name": "Dana Leader", "Email": "dana@acme.com", "ManagerId": VP, "IsActive": True,
    }]))

    users = gateway.read_users([LEADER])

    assert soql(http.calls[0]) == f"SELECT Id, Name, Email, ManagerId, IsActive FROM User WHERE Id IN ('{LEADER}')"
    assert (users[LEADER].email, users[LEADER].manager_id, users[LEADER].active) == ("dana@acme.com", VP, True)


def test_find_contacts_lower_cases_and_quotes_emails(http, gateway):
    http.get(QUERY, json=page([{
        "attributes": {"type": "Contact", "url": f"/services/data/v59.0/sobjects/Contact/{CONTACT}"},
        "Id": CONTACT, "Email": "Pat.O'Brien@Buyer.com", "Name": "Pat O'Brien", "AccountId": "001000000000001AAA",
    }]))

    contacts = gateway.find_contacts([" Pat.O'Brien@Buyer.com", "pat.o'brien@buyer.com"])

    assert soql(http.calls[0]) == (
        "SELECT Id, Email, Name, AccountId FROM Contact WHERE Email IN ('pat.o\\'brien@buyer.com') ORDER BY LastModifiedDate DESC"
    )
    assert contacts["pat.o'brien@buyer.com"].id == CONTACT
    assert contacts["pat.o'brien@buyer.com"].account_id == "001000000000001AAA"


def test_open_deals_for_contacts_groups_contact_roles_per_contact(http, gateway):
    other_contact, other_opp = sf_id("003", 2), sf_id("006", 2)

    def role(contact_id: str, opp: dict) -> dict:
        del opp["OpportunityTeamMembers"]
        return {"attributes": {"type": "OpportunityContactRole", "url": "/services/data/v59.0/sobjects/OpportunityContactRole/00K000000000001AAA"}, "ContactId": contact_id, "Opportunity": opp}

    http.get(QUERY, json=page([role(CONTACT, opportunity()), role(CONTACT, opportunity(other_opp)), role(other_contact, opportunity())]))

    deals = gateway.open_deals_for_contacts([CONTACT, other_contact])

    assert soql(http.calls[0]).endswith(f"FROM OpportunityContactRole WHERE ContactId IN ('{CONTACT}','{other_contact}') AND Opportunity.IsClosed = false")
    assert soql(http.calls[0]).startswith("SELECT ContactId, Opportunity.Id, Opportunity.Name, Opportunity.Amount, Opportunity.CurrencyIsoCode")
    assert [d.id for d in deals[CONTACT]] == [OPP, other_opp]
    assert [d.id for d in deals[other_contact]] == [OPP]


def test_empty_inputs_send_no_request(http, gateway):
    assert gateway.read_deals([]) == {} and gateway.find_contacts([]) == {}
    assert gateway.create_tasks([]) == [] and gateway.add_collaborators([]) == []
    assert len(http.calls) == 0


# ---- currency rates ---------------------------------------------------------------------------


def currency_type(iso: str, rate: float) -> dict:
    return {"attributes": {"type": "CurrencyType", "url": f"/services/data/v59.0/sobjects/CurrencyType/01L{iso}"}, "IsoCode": iso, "ConversionRate": rate}


def test_currency_rates_come_from_currency_type_and_are_cached_for_an_hour(http, connector, sleeps):
    now = [1000.0]
    gateway = SalesforceGateway(connector, sleep=sleeps.append, clock=lambda: now[0])
    http.add(responses.GET, QUERY, json=page([currency_type("USD", 1.0), currency_type("EUR", 0.8)]))
    rates = gateway.read_currency_rates()
    assert rates == {"USD": Decimal(1), "EUR": Decimal("1.25")}  # 1 USD = 0.8 EUR, so 1 EUR = 1.25 USD
    assert soql(http.calls[0]) == "SELECT IsoCode, ConversionRate FROM CurrencyType WHERE IsActive = true"
    now[0] += 3599
    assert gateway.read_currency_rates() == rates
    assert len(http.calls) == 1
    now[0] += 2
    http.add(responses.GET, QUERY, json=page([currency_type("EUR", 0.9)]))
    assert gateway.read_currency_rates()["EUR"] == 1 / Decimal("0.9")
    assert len(http.calls) == 2


def test_single_currency_org_has_no_rates_and_is_not_asked_again(http, gateway):
    http.add(responses.GET, QUERY, status=400, json=errors("INVALID_TYPE", "sObject type 'CurrencyType' is not supported."))
    assert gateway.read_currency_rates() == {}
    assert gateway.read_currency_rates() == {}
    assert len(http.calls) == 1


# ---- unconvertible record values ------------------------------------------------------------


@pytest.mark.parametrize("amount", ["n/a", "NaN", "Infinity", True])
def test_an_amount_that_is_not_a_number_names_the_record_and_the_field(http, gateway, amount):
    http.get(QUERY, json=page([opportunity(Amount=amount)]))

    with pytest.raises(RecordDataError) as raised:
        gateway.read_deals([OPP])

    assert (raised.value.record_id, raised.value.field_name) == (OPP, "Amount")
    assert not raised.value.retryable and str(raised.value).startswith(f"record {OPP}: field Amount: expected a")
    assert str(amount) not in str(raised.value).split(": ", 2)[2]  # the value itself stays out of logs


def test_text_amounts_from_an_outbound_message_still_convert(http, gateway):
    http.get(QUERY, json=page([opportunity(Amount=" 1250.50 ")]))

    assert gateway.read_deals([OPP])[OPP].amount == Decimal("1250.50")
