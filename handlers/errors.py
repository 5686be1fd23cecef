"""Every error is JSON naming the problem (SOAP faults for Salesforce outbound messages)."""
from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from integration.app import Services


def services() -> Services:
    return current_app.extensions["gamefilm"]


def json_error(status: int, error: str, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify({"error": error, "message": message, **extra}), status


def require_content_type(*allowed: str) -> tuple[Response, int] | None:
    if request.mimetype not in allowed:
        return json_error(
            415,
            "unsupported_media_type",
            f"Content-Type must be {' or '.join(allowed)}, not {request.mimetype or 'missing'}",
            field="Content-Type",
        )
    return None


def raw_body() -> bytes:
    """The exact bytes the sender signed (raises 413 past MAX_CONTENT_LENGTH)."""
    return request.get_data(cache=True)


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        name = (exc.name or "error").lower().replace(" ", "_")
        limit = app.config.get("MAX_CONTENT_LENGTH")
        message = f"body is larger than {limit} bytes" if exc.code == 413 else (exc.description or name)
        return json_error(exc.code or 500, name, message)
