"""The hourly poll of `Call_Review__c` for Salesforce tenants with `review_intake = "poll"`
(editions without outbound messages): records changed since the last poll become the same
review events an outbound message makes (`review_poll.poll_reviews`, same keys), stored
through the worker's intake, and are scored from there like any other review.

The high-water mark (`since`) is kept in the review ledger as a cursor entry whose
`submitted_at` is the newest SystemModstamp stored; the ledger keeps the later of two writes,
so two workers polling at once never move it back. It moves only after the events are
stored: a crash in between reads the same page again, and its events are duplicates.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Callable, Sequence

from integration.events import Received
from integration.ledger import ReviewEntry, ReviewLedger
from integration.review.flow import DAY, Run
from integration.review_poll import poll_reviews

log = logging.getLogger(__name__)

POLL = "poll"
CURSOR_ID = "~cursor#call-review-poll"  # never a review id (`<call>#<kind>#...`) nor a rep id
CURSOR_STATUS = "cursor"  # not REVIEW_VALID: never counted as a review
FIRST_LOOKBACK = 14 * DAY  # the first poll looks back as long as a review link lives
MAX_PAGES = 5  # per tick; a backlog beyond this continues at the next tick


def polls(run: Run) -> bool:
    return run.tenant.crm == "salesforce" and run.settings.review_intake == POLL


def since(ledger: ReviewLedger, tenant: str, now: float) -> datetime:
    cursor = ledger.get_reviews(tenant, [CURSOR_ID]).get(CURSOR_ID)
    return datetime.fromtimestamp(cursor.submitted_at if cursor else now - FIRST_LOOKBACK, tz=timezone.utc)


def _keep(ledger: ReviewLedger, tenant: str, mark: datetime) -> None:
    ledger.put_reviews([ReviewEntry(tenant, CURSOR_ID, CURSOR_ID, None, mark.timestamp(), CURSOR_STATUS,
                                    {"since": mark.isoformat()})])  # fmt: skip


def poll(run: Run, store: Callable[[Sequence[Received]], int]) -> int:
    """Poll up to MAX_PAGES pages; answers how many new review events were stored. Refused
    records are logged by id and field name only (never their text), at info: the record at
    the mark is read again by the next poll and, once its task is done, refused as closed."""
    tenant, ledger = run.tenant, run.ledger
    mark, new = since(ledger, tenant.id, run.now), 0
    for _ in range(MAX_PAGES):
        polled = poll_reviews(run.gateway, ledger, tenant, run.settings.rubric, mark, run.now)
        if polled.received:
            new += store(polled.received)
        for record_id, fields in sorted(polled.refused.items()):
            log.info("Call_Review__c %s not taken as a review: %s", record_id, ", ".join(fields))
        if polled.next_since is not None and polled.next_since > mark:
            mark = polled.next_since
            _keep(ledger, tenant.id, mark)
        elif polled.more:  # a full page of one instant: the next tick sees it again (keys dedup)
            break
        if not polled.more:
            break
    return new
