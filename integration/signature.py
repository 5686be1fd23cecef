"""Webhook signatures, verified on the raw body before anything parses it.

- HubSpot v3: base64(HMAC-SHA256(client secret, METHOD + URI + body + timestamp)), where the
  URI is the one HubSpot called, with only the documented percent-escapes decoded.
- Game Film v1 (every JSON endpoint we own, e.g. Salesforce Flow/Apex callouts):
  header `X-GameFilm-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`;
  several `v1=` values are accepted so a secret can be rotated without downtime.
Both reject timestamps outside the tolerance in either direction (replays and clock games).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Iterable

from integration.limits import MAX_SIGNATURE_HEADER, valid_timestamp

# HubSpot decodes exactly these escapes in the URI before signing (and no others).
_HUBSPOT_DECODED = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
    "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}  # fmt: skip


class SignatureError(Exception):
    """Why a request was not authenticated (safe to return: it names no secret)."""


def hubspot_uri(uri: str) -> str:
    """Decode only HubSpot's listed escapes (case-insensitive hex), leaving others as sent."""
    if "%" not in uri:
        return uri
    out: list[str] = []
    i = 0
    while i < len(uri):
        chunk = uri[i : i + 3].upper()
        if uri[i] == "%" and chunk in _HUBSPOT_DECODED:
            out.append(_HUBSPOT_DECODED[chunk])
            i += 3
        else:
            out.append(uri[i])
            i += 1
    return "".join(out)


def hubspot_v3_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    source = method.upper().encode() + hubspot_uri(uri).encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()


def verify_hubspot_v3(
    *,
    secrets: Iterable[str],
    method: str,
    uri: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now: float,
    tolerance: float = 300.0,
) -> str:
    """Return the secret that signed the request; raise SignatureError unless one did,
    within the tolerance (several HubSpot apps may deliver to one endpoint)."""
    if not signature:
        raise SignatureError("missing X-HubSpot-Signature-v3 header")
    if not timestamp:
        raise SignatureError("missing X-HubSpot-Request-Timestamp header")
    if len(signature) > MAX_SIGNATURE_HEADER:
        raise SignatureError(f"X-HubSpot-Signature-v3 is longer than {MAX_SIGNATURE_HEADER} characters")
    _check_age(timestamp, now, tolerance, millis=True)
    for secret in secrets:
        expected = hubspot_v3_signature(secret, method, uri, body, timestamp)
        if hmac.compare_digest(expected.encode(), signature.strip().encode()):
            return secret
    raise SignatureError("X-HubSpot-Signature-v3 does not match")


def gamefilm_signature(secret: str, body: bytes, timestamp: int) -> str:
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def gamefilm_header(secret: str, body: bytes, timestamp: int) -> str:
    return f"t={timestamp},v1={gamefilm_signature(secret, body, timestamp)}"


def verify_gamefilm(
    *, secrets: Iterable[str], body: bytes, header: str | None, now: float, tolerance: float = 300.0
) -> None:
    """Raise SignatureError unless one `v1=` value matches one of the secrets."""
    if not header:
        raise SignatureError("missing X-GameFilm-Signature header")
    if len(header) > MAX_SIGNATURE_HEADER:
        raise SignatureError(f"X-GameFilm-Signature is longer than {MAX_SIGNATURE_HEADER} characters")
    timestamp: str | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            timestamp = value
        elif name == "v1" and value:
            candidates.append(value.lower())
    if timestamp is None or not candidates:
        raise SignatureError("X-GameFilm-Signature must look like t=<unix seconds>,v1=<hex>")
    _check_age(timestamp, now, tolerance, millis=False)
    for secret in secrets:
        expected = gamefilm_signature(secret, body, int(timestamp)).encode()
        if any(hmac.compare_digest(expected, c.encode()) for c in candidates):
            return
    raise SignatureError("X-GameFilm-Signature does not match")


def _check_age(timestamp: str, now: float, tolerance: float, *, millis: bool) -> None:
    if not valid_timestamp(timestamp):
        raise SignatureError("signature timestamp must be 1 to 16 ASCII digits")
    seconds = int(timestamp) / 1000 if millis else int(timestamp)
    if seconds < now - tolerance:
        raise SignatureError(f"signature timestamp is more than {tolerance:g} seconds old")
    if seconds > now + tolerance:
        raise SignatureError(f"signature timestamp is more than {tolerance:g} seconds in the future")


def zoom_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Zoom's `x-zm-signature`: `v0=` + hex HMAC-SHA256(secret token, `v0:{timestamp}:{body}`)."""
    message = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def zoom_challenge(secret: str, plain_token: str) -> str:
    """The `encryptedToken` answering Zoom's `endpoint.url_validation`: hex HMAC-SHA256(secret, plainToken)."""
    return hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()


def verify_zoom(
    *, secrets: Iterable[str], body: bytes, signature: str | None, timestamp: str | None, now: float, tolerance: float = 300.0
) -> str:
    """Return the secret token that signed the request (it picks the tenant); raise SignatureError
    unless one did within the tolerance. Zoom documents the timestamp in seconds; 13 or more
    digits are read as milliseconds, so either form gets the same window."""
    if not signature:
        raise SignatureError("missing x-zm-signature header")
    if not timestamp:
        raise SignatureError("missing x-zm-request-timestamp header")
    if len(signature) > MAX_SIGNATURE_HEADER:
        raise SignatureError(f"x-zm-signature is longer than {MAX_SIGNATURE_HEADER} characters")
    _check_age(timestamp, now, tolerance, millis=len(timestamp) >= 13)
    given = signature.strip().encode()
    for secret in secrets:
        if hmac.compare_digest(zoom_signature(secret, timestamp, body).encode(), given):
            return secret
    raise SignatureError("x-zm-signature does not match")
