"""Signed, expiring links to the review page (`/review/<token>`), for portals without app cards
and Salesforce users who prefer a page. Pure: the secret and the clock are passed in.

The token is the capability: `<payload>.<mac>`, both base64url without padding; the payload is
compact JSON naming tenant, the call's external id, the kind (self/peer), the reviewer and the
expiry (unix seconds); the mac is HMAC-SHA256 over the payload's text with a per-deployment
secret (env/SSM `GAMEFILM_REVIEW_LINK_SECRET`). Anyone holding the link can open the form, but
the submission is still checked against the ledger's assignment (open, this reviewer).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Mapping

from integration.ledger import Assignment

LINK_SECRET_ENV = "GAMEFILM_REVIEW_LINK_SECRET"
DEFAULT_TTL_DAYS = 14
MAX_TOKEN_CHARS = 2048
MIN_SECRET_CHARS = 16


class LinkError(ValueError):
    """Why a review link is not accepted (safe to show: names no secret, no payload value)."""


@dataclass(frozen=True)
class LinkClaim:
    tenant: str
    external_id: str
    kind: str
    reviewer_id: str
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())


def make_token(secret: str, claim: LinkClaim) -> str:
    if len(secret) < MIN_SECRET_CHARS:
        raise LinkError(f"{LINK_SECRET_ENV} must be at least {MIN_SECRET_CHARS} characters")
    body = {"t": claim.tenant, "x": claim.external_id, "k": claim.kind, "r": claim.reviewer_id, "e": claim.expires_at}
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_mac(secret, payload)}"


def read_token(secret: str, token: str, now: float) -> LinkClaim:
    """The claim of a token this deployment signed and that has not expired; LinkError otherwise."""
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise LinkError("this review link is malformed; open it again from your review task")
    payload, mac = token.split(".")
    if not hmac.compare_digest(_mac(secret, payload).encode(), mac.encode()):
        raise LinkError("this review link is not valid; open it again from your review task")
    try:
        body = json.loads(_unb64(payload))
    except (binascii.Error, ValueError):
        raise LinkError("this review link is malformed; open it again from your review task") from None
    if not isinstance(body, Mapping) or not _well_formed(body):
        raise LinkError("this review link is malformed; open it again from your review task")
    claim = LinkClaim(body["t"], body["x"], body["k"], body["r"], body["e"])
    if claim.expires_at < now:
        raise LinkError("this review link has expired; ask for a new one from your review task")
    return claim


def _well_formed(body: Mapping) -> bool:
    return all(isinstance(body.get(k), str) and body[k] for k in "txkr") and type(body.get("e")) is int


def review_link(
    tenant: str, assignment: Assignment, base_url: str, now: float, *, secret: str | None = None, ttl_days: int = DEFAULT_TTL_DAYS
) -> str:
    """The review page's URL for one assignment, valid `ttl_days` from `now` (for task bodies).
    Without `secret`, the deployment's `GAMEFILM_REVIEW_LINK_SECRET` (env, then SSM)."""
    if secret is None:
        from integration.secrets import resolver

        secret = resolver().get(LINK_SECRET_ENV) or ""
    claim = LinkClaim(tenant, assignment.external_id, assignment.kind, assignment.reviewer_id, int(now + ttl_days * 86_400))
    return f"{base_url.rstrip('/')}/review/{make_token(secret, claim)}"
