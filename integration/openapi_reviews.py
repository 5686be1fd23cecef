"""The review entry paths in the OpenAPI document: the HubSpot app card's backend (signed like
the webhook) and the review page a signed link opens. Added by `integration.openapi.build`."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from integration.review_form import MAX_SUGGESTIONS


class ReviewSubmissionSchema(Schema):
    """What the app card posts: the CRM task, then the form's fields (`form_fields` order)."""

    taskId = fields.String(required=True, metadata={"description": "the review task's CRM id (1-64 characters)"})
    strengths = fields.String(metadata={"description": "peer review: what went well (required, first)"})
    scores = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"description": "criterion key: whole number on the scale"})
    suggestions = fields.List(fields.String(), metadata={"description": f"peer review: at most {MAX_SUGGESTIONS}, one idea each"})
    improvement_area = fields.String(metadata={"description": "self-assessment: exactly one criterion key"})
    improvement_note = fields.String(metadata={"description": "self-assessment: optional"})
    self_assessment = fields.Boolean(metadata={"description": "optional; must agree with the task"})


class ReviewAckSchema(Schema):
    accepted = fields.Integer(required=True, metadata={"description": "1 when stored, 0 for a resubmission of the same content"})
    duplicates = fields.Integer(required=True)
    review_id = fields.String(required=True, metadata={"description": "<call external id>#<kind>#<reviewer id>"})
    weighted_score = fields.String(required=True, metadata={"description": "decimal, 2 places, half-up"})


class ReviewFormSchema(Schema):
    taskId = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "self | peer"})
    open = fields.Boolean(required=True)
    assignee_id = fields.String(required=True)
    call = fields.Dict(required=True, metadata={"description": "external_id, title, recording_url, deal_id, rep_id"})
    fields_ = fields.List(fields.Dict(), data_key="fields", required=True,
                          metadata={"description": "in the order asked: name, label, kind, required, help, min, max, choices"})  # fmt: skip


SCHEMAS = (("ReviewSubmission", ReviewSubmissionSchema), ("ReviewAck", ReviewAckSchema), ("ReviewForm", ReviewFormSchema))
_CARD_QUERY = [
    {"name": name, "in": "query", "required": required, "schema": {"type": "string"}, "description": text}
    for name, required, text in (
        ("userEmail", True, "appended and signed by hubspot.fetch: the submitting user, resolved to an owner"),
        ("portalId", False, "appended by hubspot.fetch: picks the tenant when several share the app"),
        ("userId", False, "appended by hubspot.fetch"), ("appId", False, "appended by hubspot.fetch"),
    )
]
_HTML = {"text/html": {"schema": {"type": "string"}}}


def add_paths(spec: Any, error: Any, common: dict[str, Any]) -> None:
    security: list[dict[str, list[str]]] = [{"HubSpotSignatureV3": [], "HubSpotTimestamp": []}]
    refused = {
        "401": error("missing, malformed, wrong, stale or future signature"),
        "403": error("not the task's reviewer (errors.reviewer), or portalId not connected with this app"),
        "404": error("taskId is not a Game Film review task (errors.taskId)"),
        "409": error("the review task is no longer open (errors.task)"),
    }
    spec.path(path="/hooks/hubspot/reviews", operations={"post": {
        "summary": "A review from the HubSpot app card (hubspot.fetch)", "operationId": "hubspotReview",
        "description": "Verified like the webhook (v3, the app's client secret, over the URI with its query). "
                       "Every problem comes back in `errors` by form field; nothing is stored unless all pass.",
        "security": security, "parameters": _CARD_QUERY,
        "requestBody": {"required": True, "content": {"application/json": {"schema": "ReviewSubmission"}}},
        "responses": {
            "200": {"description": "stored once (a resubmission of the same content is a duplicate)",
                    "content": {"application/json": {"schema": "ReviewAck"}}},
            **common, **refused,
            "503": {**common["503"], "description": "the store did not confirm the write, or HubSpot did not answer the owners "
                                                    "lookup (crm_unavailable): nothing stored, retry"},
            "400": error("a field of the form is invalid (every one named in `errors`), or the body is malformed"),
        },
    }})  # fmt: skip
    spec.path(path="/hooks/hubspot/reviews/form", operations={"get": {
        "summary": "The form to render for a review task, and the call's context", "operationId": "hubspotReviewForm",
        "security": security,
        "parameters": [*_CARD_QUERY, {"name": "taskId", "in": "query", "required": True, "schema": {"type": "string"}}],
        "responses": {
            "200": {"description": "the fields in the order asked", "content": {"application/json": {"schema": "ReviewForm"}}},
            **{k: v for k, v in refused.items() if k != "409"}, "400": error("taskId or portalId missing"),
            "503": common["503"],
        },
    }})  # fmt: skip
    token = [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"},
              "description": "signed, expiring (14 days by default): tenant, call, kind, reviewer"}]  # fmt: skip
    page_refused = {
        "403": {"description": "the link is malformed, not signed by this deployment, or expired", "content": _HTML},
        "404": {"description": "the review task (or review links) no longer exist", "content": _HTML},
        "409": {"description": "the review task is no longer open", "content": _HTML},
    }
    spec.path(path="/review/{token}", operations={
        "get": {"summary": "The review page (portals without app cards)", "operationId": "reviewPage", "parameters": token,
                "responses": {"200": {"description": "the form", "content": _HTML}, **page_refused, "503": common["503"]}},
        "post": {"summary": "Submit the review page", "operationId": "reviewPageSubmit", "parameters": token,
                 "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}},
                 "responses": {"200": {"description": "stored: the thank-you", "content": _HTML},
                               **common, **page_refused,
                               "400": {"description": "the form again, each error at its field; nothing stored", "content": _HTML}}},
    })  # fmt: skip
