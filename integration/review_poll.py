"""The poll for Salesforce editions without outbound messages (`review_intake = "poll"` in
`[tenants.rules.game_film]`): `Call_Review__c` records changed since the last poll, read with
one SOQL query on SystemModstamp per page, become the same review events an outbound message
makes (same keys: a record seen by both paths, or twice at a page boundary, is stored once).

The caller (a scheduled tick) keeps `since` between polls: the `next_since` of the last result.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from integration.config_model import Tenant
from integration.events import Received
from integration.gateway import CrmGateway
from integration.ledger import ReviewLedger
from integration.recordings import CALL_REVIEW_SOBJECT
from integration.review_form import SubmissionError
from integration.review_intake import record_received
from integration.review_record import RecordError, review_fields
from integration.rubric import Rubric

PAGE = 200


@dataclass
class Polled:
    received: list[Received] = field(default_factory=list)
    refused: dict[str, list[str]] = field(default_factory=dict)  # record id -> fields at fault
    next_since: datetime | None = None
    more: bool = False  # a full page: poll again now


def poll_reviews(gateway: CrmGateway, ledger: ReviewLedger, tenant: Tenant, rubric: Rubric, since: datetime, now: float,
                 limit: int = PAGE) -> Polled:  # fmt: skip
    """One page of `Call_Review__c` changed at or after `since`, checked against the ledger."""
    records = gateway.read_changed_records(CALL_REVIEW_SOBJECT, review_fields(rubric), since, limit)
    out = Polled(next_since=since, more=len(records) >= limit)
    for values in records:
        try:
            out.received.append(record_received(rubric, ledger, tenant, values, now))
        except (SubmissionError, RecordError) as exc:
            out.refused[str(values.get("Id"))] = sorted(exc.errors)
        stamp = _stamp(values.get("SystemModstamp"))
        if stamp is not None and (out.next_since is None or stamp > out.next_since):
            out.next_since = stamp
    return out


def _stamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
