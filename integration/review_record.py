"""A Salesforce `Call_Review__c` record as a review submission. Pure: field values in (as an
outbound message or a Flow callout carries them), the form's payload out.

The record (created from the Opportunity's quick action or the review task's link):
  Opportunity__c (lookup), Call_External_Id__c (the recording's external id, e.g. `zoom:<uuid>`),
  Reviewer__c and Rep__c (User lookups), one Number field per criterion `<Key>__c`
  (`discovery_questions` -> `Discovery_Questions__c`), Weighted_Score__c (written back by us),
  Strengths__c, Suggestions__c (long text: one or two suggestions, separated by a blank line),
  Self_Assessment__c (checkbox), Improvement_Area__c (a criterion key).
Who may submit and whether the task is open are checked as on every entry path, against the
ledger's assignment named by (Call_External_Id__c, kind, Reviewer__c); Rep__c and Opportunity__c
are the record's own view and are not trusted over the ledger's.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from integration.ledger import PEER, SELF
from integration.recordings import CALL_REVIEW_SOBJECT
from integration.rubric import Rubric

CALL_FIELD = "Call_External_Id__c"
REVIEWER_FIELD = "Reviewer__c"
SELF_FIELD = "Self_Assessment__c"
_PARAGRAPHS = re.compile(r"\n\s*\n")
_INTEGRAL = re.compile(r"^\s*(-?\d{1,3})(?:\.0+)?\s*$")  # Salesforce sends Number(2, 0) as "4" or "4.0"


def criterion_field(key: str) -> str:
    """`discovery_questions` -> `Discovery_Questions__c` (keys are lower_snake, <= 30 characters)."""
    return "_".join(part.capitalize() for part in key.split("_")) + "__c"


def review_fields(rubric: Rubric) -> tuple[str, ...]:
    """Every field the record must carry to the notification (the outbound message's field list)."""
    fixed = ("Id", "Opportunity__c", CALL_FIELD, REVIEWER_FIELD, "Rep__c", "Strengths__c", "Suggestions__c", SELF_FIELD,
             "Improvement_Area__c", "LastModifiedDate")  # fmt: skip
    return fixed + tuple(criterion_field(k) for k in rubric.keys)


@dataclass(frozen=True)
class RecordReview:
    """Which assignment the record answers, and the form's payload it amounts to."""

    record_id: str
    call_external_id: str
    reviewer_id: str
    kind: str
    payload: dict[str, Any]
    modified_at: float | None  # LastModifiedDate: a redelivered record keeps it, so it is stored once


class RecordError(ValueError):
    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


def _text(values: Mapping[str, Any], name: str) -> str:
    value = values.get(name)
    return value.strip() if isinstance(value, str) else ""


def _checked(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _score(value: Any) -> Any:
    if isinstance(value, str) and (whole := _INTEGRAL.match(value)):
        return int(whole.group(1))
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value  # left as sent: validation names it


def record_review(rubric: Rubric, values: Mapping[str, Any]) -> RecordReview:
    """The submission a `Call_Review__c` record makes; RecordError naming the record's fields
    when it cannot even name its assignment (the form's own checks come after)."""
    errors = {name: "required" for name in ("Id", CALL_FIELD, REVIEWER_FIELD) if not _text(values, name)}
    if errors:
        raise RecordError(errors)
    is_self = _checked(values.get(SELF_FIELD))
    payload: dict[str, Any] = {"scores": {k: _score(values.get(criterion_field(k))) for k in rubric.keys}}
    payload["scores"] = {k: v for k, v in payload["scores"].items() if v not in (None, "")}
    if is_self:
        payload["improvement_area"] = _text(values, "Improvement_Area__c") or None
    else:
        payload["strengths"] = _text(values, "Strengths__c")
        suggestions = [s.strip() for s in _PARAGRAPHS.split(_text(values, "Suggestions__c")) if s.strip()]
        if suggestions:
            payload["suggestions"] = suggestions
    kind = SELF if is_self else PEER
    return RecordReview(_text(values, "Id"), _text(values, CALL_FIELD), _text(values, REVIEWER_FIELD), kind, payload, _modified(values))


def _modified(values: Mapping[str, Any]) -> float | None:
    text = _text(values, "LastModifiedDate") or _text(values, "SystemModstamp")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp() if parsed else None
