"""The poll for editions without outbound messages: `Call_Review__c` records changed since the
last poll, read by the real simple-salesforce client (HTTP intercepted), become the same review
events an outbound message makes; `next_since` moves to the newest SystemModstamp seen."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import responses

from integration.config import Tenant
from integration.review.submitted import submitted_from_changed
from integration.review_poll import poll_reviews
from integration.rubric import DEFAULT_RUBRIC
from integration.store.sqlite import SqliteStore
from tests.review_entry import CALL, STRENGTH, seed
from tests.salesforce_http import QUERY, connector, gateway, http, page, sleeps, soql  # noqa: F401  (fixtures)

REVIEWER, REP, OPP = "005000000000011AAA", "005000000000012AAA", "006000000000001AAA"
TENANT = Tenant(id="acme-salesforce", crm="salesforce", dry_run=False, org_id="00D000000000001AAA")


def review_record(n: int, stamp: str, **over) -> dict:
    return {"attributes": {"type": "Call_Review__c", "url": f"/services/data/v59.0/sobjects/Call_Review__c/a0X00000000000{n}AAA"},
            "Id": f"a0X00000000000{n}AAA", "Opportunity__c": OPP, "Call_External_Id__c": CALL, "Reviewer__c": REVIEWER, "Rep__c": REP,
            "Strengths__c": STRENGTH, "Suggestions__c": None, "Self_Assessment__c": False, "Improvement_Area__c": None,
            "LastModifiedDate": stamp, "SystemModstamp": stamp, "Discovery_Questions__c": 4.0, "Objection_Handling__c": 5.0,
            "Closing_Technique__c": 3.0, "Next_Steps_Agreed__c": 4.0, **over}  # fmt: skip


def test_one_poll_reads_one_page_and_moves_the_watermark(http, gateway, tmp_path):
    store = SqliteStore(tmp_path / "g.db")
    ledger = store.ledger()
    seed(ledger, time.time(), tenant=TENANT.id, reviewer=REVIEWER, rep=REP, deal=OPP)
    records = [review_record(1, "2026-11-20T10:00:00.000+0000"), review_record(2, "2026-11-20T11:30:00.000+0000", Strengths__c=None)]
    http.add_callback(responses.GET, QUERY, callback=lambda request: (200, {}, json.dumps(page(records))))
    since = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
    polled = poll_reviews(gateway, ledger, TENANT, DEFAULT_RUBRIC, since, time.time())
    [call] = http.calls
    query = soql(call)
    assert query.startswith("SELECT Id, Opportunity__c, Call_External_Id__c, Reviewer__c, Rep__c, Strengths__c")
    assert "Next_Steps_Agreed__c, SystemModstamp FROM Call_Review__c WHERE SystemModstamp >= 2026-11-20T09:00:00Z" in query
    assert query.endswith("ORDER BY SystemModstamp, Id LIMIT 200")
    [received] = polled.received
    submitted = submitted_from_changed(received.raw)
    assert (submitted.crm_review_id, submitted.review.reviewer_id, str(submitted.review.weighted_score)) == ("a0X000000000001AAA", REVIEWER, "4.00")
    assert polled.refused == {"a0X000000000002AAA": ["strengths"]}
    assert polled.next_since == datetime(2026, 11, 20, 11, 30, tzinfo=timezone.utc) and polled.more is False
    store.close()


def test_a_record_polled_and_one_sent_by_outbound_message_are_the_same_event(tmp_path):
    from integration.review_intake import record_received

    store = SqliteStore(tmp_path / "g.db")
    ledger = store.ledger()
    seed(ledger, time.time(), tenant=TENANT.id, reviewer=REVIEWER, rep=REP, deal=OPP)
    polled = {k: v for k, v in review_record(1, "2026-11-20T10:00:00.000+0000").items() if k != "attributes"}
    outbound = {k: (None if v is None else str(v).lower() if isinstance(v, bool) else str(v)) for k, v in polled.items()}
    outbound["LastModifiedDate"] = "2026-11-20T10:00:00.000Z"  # the SOAP form of the same instant
    keys = {record_received(DEFAULT_RUBRIC, ledger, TENANT, values, time.time()).key for values in (polled, outbound)}
    assert len(keys) == 1
    store.close()
