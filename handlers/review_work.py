"""What the review routes do (`handlers.reviews` declares them and imports this module on the
first request to one of them, so a cold start that only takes webhooks never loads the review
loop). See `handlers.reviews` for the routes and who calls them.

A submission is checked against the ledger's assignment (right person, task open, every field)
before anything is stored; a rejected one answers every problem by field and stores nothing.
Review text never reaches the log: only error codes and our own field names are noted.
"""
from __future__ import annotations

import functools
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any, Callable, Iterator, Mapping, Sequence
from urllib.parse import parse_qsl

from flask import Response, jsonify, request

from handlers.errors import RETRY_AFTER_SECONDS, InputError, json_error, parse_json, raw_body, require_content_type, services
from handlers.hubspot import hubspot_signed_tenants
from handlers.observe import note
from integration import review_page
from integration.config import Tenant
from integration.ledger import RecordingEntry, ReviewLedger
from integration.review.submitted import FROM_HUBSPOT_CARD, FROM_REVIEW_PAGE
from integration.review_form import ReviewTask, SubmissionError, form_fields
from integration.events import Received
from integration.intake import StoreUnavailable
from integration.review_intake import (
    accept_submission, learn_task_ids, record_received, rubric_of, task_by_assignment, task_by_crm_id,
)  # fmt: skip
from integration.review_record import RecordError
from integration.review_link import LINK_SECRET_ENV, LinkClaim, LinkError, read_token

MAX_FORM_FIELDS = 64
_PAGE_HEADERS = {
    # The token in the URL is the capability: never sent on as a Referer, never cached, never framed.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}


class _CrmDown(Exception):
    """The CRM did not answer the owners lookup: 503 with Retry-After, nothing stored."""


def _crm_down() -> tuple[Response, int]:
    response, status = json_error(503, "crm_unavailable", "HubSpot did not answer the owners lookup; nothing was stored, retry",
                                  field="userEmail", retry_after_seconds=RETRY_AFTER_SECONDS)  # fmt: skip
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response, status


def _html(text: str, status: int = 200) -> tuple[Response, int]:
    response = Response(text, status=status, content_type="text/html; charset=utf-8")
    response.headers.update(_PAGE_HEADERS)
    return response, status


class _PageRefused(Exception):
    """The review page answers with an HTML page saying why (a person reads it, not a program)."""

    def __init__(self, title: str, message: str, status: int):
        super().__init__(message)
        self.title, self.message, self.status = title, message, status


def _refused(exc: _PageRefused) -> tuple[Response, int]:
    note(error="review_page_refused")
    return _html(review_page.error_page(exc.title, exc.message), exc.status)


def _answers_refusals(view: Callable[..., Response | tuple[Response, int]]) -> Callable[..., Response | tuple[Response, int]]:
    """The CRM's outage (JSON 503) and the page's refusals (an HTML page) as their answers."""

    @functools.wraps(view)
    def answered(*args: Any, **kwargs: Any) -> Response | tuple[Response, int]:
        try:
            return view(*args, **kwargs)
        except _CrmDown:
            return _crm_down()
        except _PageRefused as exc:
            return _refused(exc)

    return answered


def _review_errors(exc: SubmissionError) -> tuple[Response, int]:
    field = next(iter(exc.errors), "body") or "(empty name)"
    return json_error(exc.status, "invalid_review", "the review was not stored: see errors", field=field, errors=exc.errors)


def _ledger() -> ReviewLedger:
    ledger = services().ledger
    if ledger is None:
        raise InputError(404, "not_found", "this deployment's store keeps no review ledger", "path")
    return ledger


@contextmanager
def _ledger_reads() -> Iterator[None]:
    """A ledger that does not answer is the store's outage (503, retry), never a 500."""
    try:
        yield
    except (SubmissionError, InputError, RecordError):
        raise
    except Exception as exc:
        raise StoreUnavailable(exc) from exc


def _learn(tenant: Tenant) -> Callable[[], int]:
    """A task created since the last tick: its id is in the outbox, not yet on the assignment."""
    s = services()
    return lambda: learn_task_ids(_ledger(), tenant.id, s.store.get_action, s.clock())


def _hubspot_tenant(body: bytes) -> Tenant:
    """The tenant whose app secret signed this request (the signed `portalId` picks among several)."""
    signed = hubspot_signed_tenants(body)
    portal = request.args.get("portalId")
    chosen = [t for t in signed if t.portal_id == portal] if portal else signed
    if len(chosen) != 1:
        raise InputError(403 if portal else 400, "unknown_portal", "portalId does not name one portal connected with this app", "portalId")
    note(tenant=chosen[0].id)
    return chosen[0]


def _submitter(tenant: Tenant) -> str:
    """The owner id of the HubSpot user who submits (the signed `userEmail`)."""
    from integration.gateway import CrmError  # the engine loads only when a review needs the CRM

    email = (request.args.get("userEmail") or "").strip().lower()
    if not email:
        raise InputError(400, "missing_user", "userEmail is missing from the signed query", "userEmail")
    try:
        owner = services().worker.gateway_for(tenant).find_users_by_email([email]).get(email)
    except CrmError:  # nothing stored; hubspot.fetch retries a 5xx once, the reviewer can resubmit
        raise _CrmDown() from None
    if owner is None:
        raise SubmissionError(403, {"reviewer": "your HubSpot user is not an owner in this portal"})
    return owner.id


def _task_id(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip() or len(str(value)) > 64:
        raise SubmissionError(400, {"taskId": "required: the id of the review task (1 to 64 characters)"})
    return str(value).strip()


@_answers_refusals
def hubspot_review() -> Response | tuple[Response, int]:
    require_content_type("application/json")
    body = raw_body()
    tenant = _hubspot_tenant(body)
    s = services()
    try:
        payload = parse_json(body)
        if not isinstance(payload, dict):
            raise SubmissionError(400, {"body": "must be an object: taskId and the form's fields"})
        task_id = _task_id(payload.pop("taskId", None))
        with _ledger_reads():
            task, _ = task_by_crm_id(_ledger(), tenant.id, task_id, learn=_learn(tenant))
        submitter = _submitter(tenant)
        submitted, received = accept_submission(rubric_of(tenant), tenant, task, submitter, payload, s.clock(), FROM_HUBSPOT_CARD)
    except SubmissionError as exc:
        return _review_errors(exc)
    accepted = s.intake.accept([received])  # type: ignore[list-item]  # Received: stored raw, as every ack does
    note(accepted=accepted.new, duplicates=accepted.duplicates)
    return jsonify({"accepted": accepted.new, "duplicates": accepted.duplicates, "review_id": submitted.review_id,
                    "weighted_score": str(submitted.review.weighted_score)})  # fmt: skip


@_answers_refusals
def hubspot_review_form() -> Response | tuple[Response, int]:
    tenant = _hubspot_tenant(b"")
    try:
        with _ledger_reads():
            task, recording = task_by_crm_id(_ledger(), tenant.id, _task_id(request.args.get("taskId")), learn=_learn(tenant))
    except SubmissionError as exc:
        return _review_errors(exc)
    fields = [asdict(f) for f in form_fields(rubric_of(tenant), task.kind)]
    call = {"external_id": task.call_external_id, "title": recording.title, "recording_url": recording.recording_url,
            "deal_id": task.deal_id, "rep_id": task.rep_id}  # fmt: skip
    return jsonify({"taskId": task.task_id, "kind": task.kind, "open": task.open, "assignee_id": task.assignee_id,
                    "call": call, "fields": fields})  # fmt: skip


def salesforce_reviews(tenant: Tenant, records: Sequence[Mapping[str, Any]]) -> tuple[list[Received], dict[int, dict[str, str]]]:
    """`Call_Review__c` records (outbound message or Flow callout) as review events; the refused
    ones by position, {field: problem} (our sentences, never the record's values)."""
    s = services()
    ledger, rubric, events, refused = s.ledger, rubric_of(tenant), [], {}
    for index, values in enumerate(records):
        if ledger is None:
            refused[index] = {"path": "this deployment's store keeps no review ledger"}
            continue
        try:
            with _ledger_reads():  # the ledger did not answer: not acked, Salesforce redelivers
                events.append(record_received(rubric, ledger, tenant, values, s.clock()))
        except (SubmissionError, RecordError) as exc:
            refused[index] = exc.errors
    return events, refused


# --- the review page ----------------------------------------------------------------------------
def _page_task(token: str) -> tuple[Tenant, LinkClaim, ReviewTask, RecordingEntry]:
    s = services()
    secret = s.secret(LINK_SECRET_ENV)
    if not secret:
        raise _PageRefused("Review links are off", "This deployment has no review link secret.", 404)
    try:
        claim = read_token(secret, token, s.clock())
    except LinkError as exc:
        raise _PageRefused("Review link not valid", str(exc), 403) from None
    tenant = s.config.tenant(claim.tenant)
    if tenant is None:
        raise _PageRefused("Review link not valid", "this review link names no connected CRM", 404)
    note(tenant=tenant.id)
    try:
        with _ledger_reads():
            task, recording = task_by_assignment(_ledger(), tenant.id, claim.external_id, claim.kind, claim.reviewer_id)
    except SubmissionError as exc:
        raise _PageRefused("Review not found", next(iter(exc.errors.values())), exc.status) from None
    return tenant, claim, task, recording


@_answers_refusals
def review_form(token: str) -> Response | tuple[Response, int]:
    tenant, _, task, recording = _page_task(token)
    if not task.open:
        return _html(review_page.error_page("Review closed", "This review task is no longer open; nothing to do."), 409)
    fields = form_fields(rubric_of(tenant), task.kind)
    return _html(review_page.form_page(fields, recording, task.kind, request.path))


@_answers_refusals
def review_submit(token: str) -> Response | tuple[Response, int]:
    require_content_type("application/x-www-form-urlencoded")
    body = raw_body()
    tenant, claim, task, recording = _page_task(token)
    s = services()
    rubric = rubric_of(tenant)
    fields = form_fields(rubric, task.kind)
    try:
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise InputError(400, "too_many_fields", f"the form has more than {MAX_FORM_FIELDS} fields", "body") from None
    payload: dict[str, Any] = {}
    for name, value in pairs:
        if name == "suggestions":
            payload.setdefault(name, []).append(value)
        else:
            payload[name] = value
    try:
        submitted, received = accept_submission(rubric, tenant, task, claim.reviewer_id, payload, s.clock(), FROM_REVIEW_PAGE)
    except SubmissionError as exc:
        note(error="invalid_review")
        if exc.status != 400:
            return _html(review_page.error_page("Review not accepted", next(iter(exc.errors.values()))), exc.status)
        return _html(review_page.form_page(fields, recording, task.kind, request.path, payload, exc.errors), 400)
    accepted = s.intake.accept([received])  # type: ignore[list-item]  # Received: stored raw, as every ack does
    note(accepted=accepted.new, duplicates=accepted.duplicates)
    return _html(review_page.thanks_page(submitted.review))
