"""The review write-back's commands, from recomputed numbers. Pure: no I/O, no clock.

Keys name the intent and the content they write (a digest of the fields), so a redelivery, a
retry or a second review in the same batch plans each write once, and new numbers are a new
write: `reviewdone#<tenant>#<task key>`, `reviewscore#<tenant>#<Call_Review__c id>#<score>`,
`reviewerror#<tenant>#<Call_Review__c id>#<digest>`, `share#<tenant>#<Call_Review__c id>#<rep>`, `scores#<tenant>#<object>#<id>#<digest>` (a rep's scorecard: `scores#<tenant>#Rep_Scorecard__c#<rep>#<digest>`).
"""
from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any, Mapping

from integration.commands import ShareRecord, UpdateFields, UpsertRecord
from integration.review import fields

RULE = "game_film:scores"


def digest(values: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps({k: str(v) for k, v in values.items()}, sort_keys=True).encode()).hexdigest()[:12]


def complete_task(tenant: str, crm: str, task_key: str, task_id: str, deal_id: str, review_id: str) -> UpdateFields:
    object_type, values = fields.completed_task(crm)
    return UpdateFields(key=f"reviewdone#{tenant}#{task_key}", rule=RULE, reason="The review was submitted: its task is done.",
                        record_id=task_id, evidence={"review": review_id, "deal": deal_id}, object_type=object_type, fields=values)  # fmt: skip


def review_score(tenant: str, crm_review_id: str, score: Decimal, review_id: str) -> UpdateFields:
    return UpdateFields(key=f"reviewscore#{tenant}#{crm_review_id}#{score}", rule=RULE, reason="The review's weighted score, from the rubric's weights.",
                        record_id=crm_review_id, evidence={"review": review_id}, object_type=fields.SF_CALL_REVIEW,
                        fields={fields.SF_WEIGHTED_SCORE: score, fields.SF_REVIEW_ERROR: None})  # fmt: skip


def review_error(tenant: str, crm_review_id: str, reason: str, review_id: str) -> UpdateFields:
    values = {fields.SF_REVIEW_ERROR: f"Not counted: {reason}"[: fields.SF_ERROR_CHARS]}
    return UpdateFields(key=f"reviewerror#{tenant}#{crm_review_id}#{digest(values)}", rule=RULE, reason=f"The review was not counted: {reason}.",
                        record_id=crm_review_id, evidence={"review": review_id}, object_type=fields.SF_CALL_REVIEW, fields=values)  # fmt: skip


def scores(tenant: str, object_type: str, record_id: str, values: Mapping[str, Any], reason: str, evidence: Mapping[str, Any]) -> UpdateFields:
    return UpdateFields(key=f"scores#{tenant}#{object_type}#{record_id}#{digest(values)}", rule=RULE, reason=reason, record_id=record_id,
                        evidence=dict(evidence), object_type=object_type, fields=dict(values))  # fmt: skip


def scorecard(tenant: str, rep_id: str, values: Mapping[str, Any], reason: str, evidence: Mapping[str, Any]) -> UpsertRecord:
    values = {fields.SF_SCORECARD_REP: rep_id, **values}
    return UpsertRecord(key=f"scores#{tenant}#{fields.SF_SCORECARD}#{rep_id}#{digest(values)}", rule=RULE, reason=reason, record_id=rep_id,
                        evidence=dict(evidence), object_type=fields.SF_SCORECARD, id_field=fields.SF_SCORECARD_KEY, id_value=rep_id,
                        fields=values)  # fmt: skip


def share_review(tenant: str, crm_review_id: str, rep_id: str, review_id: str) -> ShareRecord:
    """Call_Review__c is Private and owned by the reviewer: a manual share lets the rep read the review of their call."""
    return ShareRecord(key=f"share#{tenant}#{crm_review_id}#{rep_id}", rule=RULE, reason="The rep reads the review of their own call.",
                       record_id=crm_review_id, evidence={"review": review_id}, share_object=fields.SF_CALL_REVIEW_SHARE,
                       user_id=rep_id, access_level="Read")  # fmt: skip
