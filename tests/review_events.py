"""Submitted reviews as the entry paths store them (`review.submitted`), delivered to a review
loop (tests/game_film_org.py) directly: the worker side is tested from the stored event on."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from integration.commands import UpdateFields
from integration.events import CREATED, Event
from integration.recordings import REVIEW_OBJECT
from integration.review.submitted import FROM_HUBSPOT_CARD, FROM_SALESFORCE_RECORD, Submitted, submitted_to_changed
from integration.review_form import ValidReview
from integration.rubric import DEFAULT_RUBRIC
from integration.scoring import weighted_score
from tests.game_film_org import TENANT, Loop

KEYS = DEFAULT_RUBRIC.keys


def scores(*values: int) -> dict[str, int]:
    return dict(zip(KEYS, values if len(values) == len(KEYS) else values * len(KEYS)))


def submitted(loop: Loop, call: str, reviewer: str, marks: dict[str, int], *, self_assessment: bool = False, strengths: str = "Great discovery questions",
              suggestions: tuple[str, ...] = ("Confirm the next meeting before hanging up",), crm_review_id: str | None = None,
              rep: str | None = None, **extra: Any) -> Submitted:  # fmt: skip
    entry = loop.ledger.get_recordings(TENANT, [call]).get(call)
    review = ValidReview(
        task_id="", call_external_id=call, deal_id=entry.deal_id if entry else None, rep_id=rep or (entry.rep_user_id if entry else "") or "",
        reviewer_id=reviewer, self_assessment=self_assessment, scores=marks, weighted_score=weighted_score(DEFAULT_RUBRIC, marks),
        strengths="" if self_assessment else strengths, suggestions=() if self_assessment else suggestions,
        improvement_area=KEYS[0] if self_assessment else None, **extra,
    )  # fmt: skip
    source = FROM_SALESFORCE_RECORD if crm_review_id else FROM_HUBSPOT_CARD
    return Submitted(review, datetime.fromtimestamp(loop.clock(), tz=timezone.utc), source, crm_review_id)


def event(s: Submitted, copy: int = 0, crm: str = "hubspot") -> Event:
    key = s.delivery_key(TENANT) + (f"#{copy}" if copy else "")
    return Event(key=key, tenant=TENANT, crm=crm, object_type=REVIEW_OBJECT, object_id=s.review_id, kind=CREATED, occurred_at=s.submitted_at,
                 source_id=s.review_id, changed=submitted_to_changed(s))  # fmt: skip


def deliver(loop: Loop, *reviews: Submitted, times: int = 1, crm: str = "hubspot") -> None:
    """All `reviews` in one batch, `times` over (each copy under a new key, processed after the last)."""
    for n in range(times):
        loop.services.intake.accept([event(s, n, crm) for s in reviews])
        loop.run()


def updates(loop: Loop, object_type: str | None = None) -> list[UpdateFields]:
    return [c for c in loop.crm.written if isinstance(c, UpdateFields) and object_type in (None, c.object_type)]
