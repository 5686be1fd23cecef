"""Every error is JSON naming the problem and the field; nothing is stored for a 4xx.

The one 5xx an input can cause is 503 (the store did not confirm the write), with
`Retry-After`, so the CRM redelivers instead of counting the event as delivered.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable, Sequence

import orjson  # several times faster than json on 100-event batches; same errors
from flask import Flask, Request, Response, current_app, g, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from handlers.observe import note
from integration import limits
from integration.services import Services
from integration.intake import StoreUnavailable
from integration.logs import safe_traceback
from integration.signature import SignatureError, verify_gamefilm

if TYPE_CHECKING:
    from integration.config import Tenant

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
_HTTP_ERROR_FIELDS = {404: "path", 405: "method", 413: "body"}  # what to fix for routing errors
_READ_SIZE = 64 * 1024


def services() -> Services:
    return current_app.extensions["gamefilm"]


def json_error(status: int, error: str, message: str, **extra: Any) -> tuple[Response, int]:
    note(error=error, field=extra.get("field"), message=message if status == 401 else None)
    return jsonify({"error": error, "message": message, **extra}), status


def json_response(value: Any, status: int = 200) -> Response:
    """`jsonify` for the hot paths: orjson writes the body in C (the same JSON, keys unsorted)."""
    return Response(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS), status, mimetype="application/json")


class InputError(Exception):
    """Bad input: answered with `status` and a JSON body naming the field; nothing is stored."""

    def __init__(self, status: int, error: str, message: str, field: str):
        super().__init__(message)
        self.status, self.error, self.message, self.field = status, error, message, field


def gamefilm_signed_tenant(body: bytes, secret_envs: Callable[["Tenant"], Sequence[str]], nobody: str) -> "Tenant":
    """The tenant whose secret signed `body` (`X-GameFilm-Signature`, several secrets during a
    rotation): the signature, never the unverified body, decides who is talking. 401 naming the
    header when none does; `nobody` says why when no tenant has a secret configured."""
    s = services()
    header = request.headers.get("X-GameFilm-Signature")
    error = nobody
    for candidate in s.config.tenants:
        secrets = [v for v in (s.secret(n) for n in secret_envs(candidate)) if v]
        if not secrets:
            continue
        try:
            verify_gamefilm(secrets=secrets, body=body, header=header, now=s.clock(), tolerance=s.config.intake.signature_tolerance_seconds)
        except SignatureError as exc:
            error = str(exc)
            continue
        return candidate
    raise InputError(401, "invalid_signature", error, "X-GameFilm-Signature")


def require_content_type(*allowed: str) -> None:
    environ = request.environ
    given = environ.get("CONTENT_TYPE")
    if given not in allowed:  # not verbatim one of them: parse it (parameters, case)
        mimetype = request.mimetype
        if mimetype not in allowed:
            message = f"Content-Type must be {' or '.join(allowed)}, not {mimetype or 'missing'}"
            raise InputError(415, "unsupported_media_type", message, "Content-Type")
    # A compressed body would only fail later as malformed JSON/XML (or a signature mismatch):
    # name the real problem (RFC 9110 15.5.16: 415 for an unsupported content coding).
    if environ.get("HTTP_CONTENT_ENCODING", "identity").strip().lower() not in ("", "identity"):
        raise InputError(415, "unsupported_media_type", "Content-Encoding is not supported: send the body uncompressed", "Content-Encoding")


def parse_json(body: bytes) -> Any:
    """The body's JSON value: 400 naming the body when it is not JSON or nests too deep."""
    value = load_json(body)
    check_depth(value)
    return value


def load_json(body: bytes) -> Any:
    """The body's JSON value, depth unchecked: callers that skip `check_depth` must know the
    value is shallow (e.g. `hubspot_fields.uniform_batch` accepted it)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InputError(400, "malformed_json", f"body is not valid JSON: {exc.msg} at position {exc.pos}", "body") from None


def check_depth(value: Any) -> None:
    if limits.too_deep(value):
        raise InputError(400, "too_deep", f"JSON nests more than {limits.MAX_JSON_DEPTH} levels", "body")


def _too_large(limit: int) -> InputError:
    return InputError(413, "request_entity_too_large", f"body is larger than {limit} bytes", "body")


def raw_body() -> bytes:
    """The exact bytes the sender signed, read with a cap whatever the framing.

    Werkzeug enforces MAX_CONTENT_LENGTH on a chunked body only since 2.3, and only when the
    server decodes the chunks (`wsgi.input_terminated`); without that it hands over an empty
    stream, which would surface as a misleading 401/400. Reading here, capped, gives 413 on
    every version and 411 when the server cannot delimit the body at all.
    """
    cached: bytes | None = g.get("raw_body")
    if cached is not None:
        return cached
    req: Request = request._get_current_object()  # type: ignore[attr-defined]  # one proxy hop
    limit = services().config.intake.max_body_bytes
    length = req.content_length
    if length is not None and length > limit:
        raise _too_large(limit)
    chunked = "chunked" in req.environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    if length is None and chunked and not req.environ.get("wsgi.input_terminated"):
        raise InputError(411, "length_required", "this server cannot read a chunked body: send Content-Length", "Content-Length")
    stream = req.stream  # bounded by Content-Length, or empty when the body is undelimited
    chunks: list[bytes] = []
    total = 0
    while total != length:  # a declared length is read without a last, empty read
        chunk = stream.read(min(_READ_SIZE, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise _too_large(limit)
    g.raw_body = body = b"".join(chunks)
    return body


def register(app: Flask) -> None:
    @app.errorhandler(InputError)
    def _input_error(exc: InputError) -> tuple[Response, int]:
        return json_error(exc.status, exc.error, exc.message, field=exc.field)

    @app.errorhandler(ValidationError)
    def _invalid_batch(exc: ValidationError) -> tuple[Response, int]:
        fields = {str(k) or "(empty name)": v for k, v in exc.normalized_messages().items()}
        message = "; ".join(f"{k}: {v}" for k, v in fields.items())
        return json_error(400, "invalid_batch", message, field=next(iter(fields), "body"))

    @app.errorhandler(StoreUnavailable)
    def _store_unavailable(exc: StoreUnavailable) -> tuple[Response, int]:
        log.error("store did not confirm the write: %s", exc)
        response, status = json_error(
            503, "store_unavailable", "the events were not stored; retry later", retry_after_seconds=RETRY_AFTER_SECONDS
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response, status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        name = (exc.name or "error").lower().replace(" ", "_")
        if exc.code == 413:
            return json_error(413, name, f"body is larger than {services().config.intake.max_body_bytes} bytes", field="body")
        response, status = json_error(exc.code or 500, name, exc.description or name, field=_HTTP_ERROR_FIELDS.get(exc.code or 500, "request"))
        for header, value in exc.get_headers():  # e.g. the Allow a 405 must carry (RFC 9110 15.5.6)
            if header.lower() != "content-type":
                response.headers[header] = value
        return response, status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        # A bug, not an input problem: the log gets the frames but not the exception's
        # message, which may quote payload values.
        log.error("unhandled %s\n%s", type(exc).__name__, safe_traceback(exc))
        return json_error(500, "internal_error", "unexpected error; the events were not acknowledged")
