"""The rep's read access to a Private Call_Review__c: `Call_Review__Share` inserts through
simple-salesforce on `responses` (one sObject Collections POST, exact body), the answers that
mean "already shared", and HubSpot refusing the command without a request."""
from __future__ import annotations

from urllib.parse import urlsplit

from integration.review import writeback
from tests.hubspot_server import HubSpotServer, hubspot_server  # noqa: F401
from tests.salesforce_http import COLLECTIONS, LEADER, OWNER, body, connector, created, failed, gateway, http, sf_id, sleeps  # noqa: F401
from tests.test_gateway_hubspot import fake_time, make_gateway  # noqa: F401

REVIEW_1, REVIEW_2, REVIEW_3 = sf_id("a0X", 1), sf_id("a0X", 2), sf_id("a0X", 3)


def _share(review: str, rep: str = OWNER):
    return writeback.share_review("t", review, rep, f"rec:1#peer#{review}")


def test_shares_are_inserted_in_one_collection_with_a_manual_read_row(http, gateway) -> None:  # noqa: F811
    http.post(COLLECTIONS, json=created(sf_id("02c", 1), sf_id("02c", 2)))
    commands = [_share(REVIEW_1), _share(REVIEW_2, LEADER)]
    outcomes = gateway.execute(commands)
    [call] = http.calls
    assert call.request.method == "POST" and urlsplit(call.request.url).path == "/services/data/v59.0/composite/sobjects"
    assert body(call) == {"allOrNone": False, "records": [
        {"attributes": {"type": "Call_Review__Share"}, "ParentId": REVIEW_1, "UserOrGroupId": OWNER, "AccessLevel": "Read", "RowCause": "Manual"},
        {"attributes": {"type": "Call_Review__Share"}, "ParentId": REVIEW_2, "UserOrGroupId": LEADER, "AccessLevel": "Read", "RowCause": "Manual"},
    ]}  # fmt: skip
    assert [(o.key, o.ok, o.crm_id) for o in outcomes] == [
        (f"share#t#{REVIEW_1}#{OWNER}", True, sf_id("02c", 1)), (f"share#t#{REVIEW_2}#{LEADER}", True, sf_id("02c", 2))]
    assert type(commands[0]).idempotent and gateway.reconcile(commands) == {c.key: None for c in commands}  # resent, never looked up


def test_access_the_rep_already_has_counts_as_shared_and_a_refusal_fails(http, gateway) -> None:  # noqa: F811
    http.post(COLLECTIONS, json=[
        failed("FIELD_FILTER_VALIDATION_EXCEPTION", "AccessLevel: access level must be higher than the organization-wide default", ["AccessLevel"]),
        failed("DUPLICATE_VALUE", "duplicate value found"),
        failed("INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY", "insufficient access rights on cross-reference id", []),
    ])  # fmt: skip
    outcomes = gateway.execute([_share(REVIEW_1), _share(REVIEW_2), _share(REVIEW_3)])
    assert [o.ok for o in outcomes] == [True, True, False]
    assert outcomes[0].detail == {"already": "FIELD_FILTER_VALIDATION_EXCEPTION"}
    assert outcomes[2].error == "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY: insufficient access rights on cross-reference id"
    assert not outcomes[2].retryable and len(http.calls) == 1


def test_hubspot_answers_not_supported_without_a_request(make_gateway, hubspot_server: HubSpotServer) -> None:  # noqa: F811
    [outcome] = make_gateway().execute([_share("301", "501")])
    assert (outcome.ok, outcome.error, outcome.retryable) == (False, "hubspot cannot carry out ShareRecord", False)
    assert hubspot_server.requests == []
