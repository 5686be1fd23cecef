"""Entering a review without leaving the CRM: the HubSpot app card's backend and the review page.

- `POST /hooks/hubspot/reviews` and `GET /hooks/hubspot/reviews/form?taskId=` are called by the
  app card's `hubspot.fetch`, which signs like a webhook (v3, the app's client secret, over the
  URI with the query HubSpot appends: `userId`, `userEmail`, `portalId`, `appId`). The signed
  `userEmail` names the submitter, resolved to an owner (the gateway's hourly owners list).
- `GET/POST /review/<token>`: the page a signed link opens (portals without app cards).

The routes' bodies are in `handlers.review_work`, imported on the first request to one of them:
the review loop's modules (ledger, rubric, scoring, form, page: ~25 ms) stay out of a Lambda
cold start that only takes webhooks.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from flask import Blueprint, Response

if TYPE_CHECKING:
    from integration.config import Tenant
    from integration.events import Received

bp = Blueprint("reviews", __name__)


def _route(name: str) -> Callable[..., Response | tuple[Response, int]]:
    def view(**kwargs: Any) -> Response | tuple[Response, int]:
        import handlers.review_work as review_work

        answer: Response | tuple[Response, int] = getattr(review_work, name)(**kwargs)
        return answer

    view.__name__ = name
    return view


bp.add_url_rule("/hooks/hubspot/reviews", view_func=_route("hubspot_review"), methods=["POST"])
bp.add_url_rule("/hooks/hubspot/reviews/form", view_func=_route("hubspot_review_form"), methods=["GET"])
bp.add_url_rule("/review/<token>", view_func=_route("review_form"), methods=["GET"])
bp.add_url_rule("/review/<token>", endpoint="review_submit", view_func=_route("review_submit"), methods=["POST"])


def salesforce_reviews(tenant: Tenant, records: Sequence[Mapping[str, Any]]) -> tuple[list[Received], dict[int, dict[str, str]]]:
    """`Call_Review__c` records as review events (see `review_work.salesforce_reviews`)."""
    import handlers.review_work as review_work

    return review_work.salesforce_reviews(tenant, records)
