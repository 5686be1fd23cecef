"""GET /openapi.json: the OpenAPI 3 document, built once per process on first request."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask import Blueprint, Response, jsonify

bp = Blueprint("docs", __name__)


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    from integration import openapi

    return openapi.build()


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(_document())
