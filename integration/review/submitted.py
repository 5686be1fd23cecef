"""A submitted review as an event: what every entry path (HubSpot app card, the review page,
a Salesforce `Call_Review__c` record) stores at the ack, and what the worker scores and writes
back. Plain data, no I/O.

Events carry object_type `integration.recordings.REVIEW_OBJECT`, object_id the review id, and `changed` =
`submitted_to_changed(...)`. The review id names the assignment (one review per reviewer per
call and kind: `<call external id>#<kind>#<reviewer id>`); an edit is the same review id with
a later `submitted_at`, and scoring keeps the latest version (`scoring.ordered`). The delivery
key adds a digest of the content, so a redelivery is stored once and an edit is a new event.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Mapping

from integration.review_form import ValidReview
from integration.scoring import Review


# Where a review was entered.
FROM_HUBSPOT_CARD = "hubspot-card"
FROM_REVIEW_PAGE = "review-page"
FROM_SALESFORCE_RECORD = "salesforce-record"


@dataclass(frozen=True)
class Submitted:
    review: ValidReview
    submitted_at: datetime  # timezone-aware
    source: str
    crm_review_id: str | None = None  # Salesforce Call_Review__c id (the record the reviewer made)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return "self" if self.review.self_assessment else "peer"

    @property
    def review_id(self) -> str:
        return review_id_for(self.review.call_external_id, self.kind, self.review.reviewer_id)

    def delivery_key(self, tenant: str) -> str:
        digest = hashlib.sha256(json.dumps(submitted_to_changed(self), sort_keys=True).encode()).hexdigest()[:16]
        return f"review#{tenant}#{self.review_id}#{digest}"

    def to_review(self) -> Review:
        return self.review.to_review(self.review_id, self.submitted_at)


def review_id_for(call_external_id: str, kind: str, reviewer_id: str) -> str:
    return f"{call_external_id}#{kind}#{reviewer_id}"


def submitted_to_changed(s: Submitted) -> dict[str, Any]:
    r = s.review
    return {
        "task_id": r.task_id, "call_external_id": r.call_external_id, "deal_id": r.deal_id, "rep_id": r.rep_id,
        "reviewer_id": r.reviewer_id, "self_assessment": r.self_assessment, "scores": dict(r.scores),
        "weighted_score": str(r.weighted_score), "strengths": r.strengths, "suggestions": list(r.suggestions),
        "improvement_area": r.improvement_area, "improvement_note": r.improvement_note,
        "submitted_at": s.submitted_at.isoformat(), "source": s.source, "crm_review_id": s.crm_review_id,
        "extra": dict(s.extra),
    }  # fmt: skip


def submitted_from_changed(changed: Mapping[str, Any]) -> Submitted:
    """Inverse of `submitted_to_changed`; KeyError/ValueError on a malformed mapping."""
    review = ValidReview(
        task_id=changed["task_id"], call_external_id=changed["call_external_id"], deal_id=changed.get("deal_id"),
        rep_id=changed["rep_id"], reviewer_id=changed["reviewer_id"], self_assessment=bool(changed["self_assessment"]),
        scores={str(k): int(v) for k, v in dict(changed["scores"]).items()},
        weighted_score=Decimal(changed["weighted_score"]), strengths=changed.get("strengths") or "",
        suggestions=tuple(changed.get("suggestions") or ()), improvement_area=changed.get("improvement_area"),
        improvement_note=changed.get("improvement_note") or "",
    )  # fmt: skip
    return Submitted(
        review=review, submitted_at=datetime.fromisoformat(changed["submitted_at"]), source=changed["source"],
        crm_review_id=changed.get("crm_review_id"), extra=dict(changed.get("extra") or {}),
    )  # fmt: skip
