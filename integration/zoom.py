"""Zoom's API, for the one thing the webhook lacks: who was on the call.

Server-to-server OAuth (`POST https://zoom.us/oauth/token?grant_type=account_credentials&
account_id=...`, HTTP basic auth with the app's client id and secret; tokens last an hour and
have no refresh token), then `GET /v2/past_meetings/{uuid}/participants`, paged with
`next_page_token`. A meeting UUID that starts with `/` or contains `//` must be encoded twice.

Zoom returns a participant's email only when it knows it: guests who join without signing in
(or whose account hides it) come back without one, so a recording can lack some participants.
`with_participants` (pure) merges what was found into the `Recording`.
"""
from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import quote

import requests

from integration.config_model import Tenant
from integration.recordings import Recording

TOKEN_URL = "https://zoom.us/oauth/token"
API_URL = "https://api.zoom.us/v2"
PAGE_SIZE = 300  # the endpoint's maximum
MAX_PAGES = 50  # 15,000 participants: a bound on a misbehaving next_page_token
_EARLY = 60.0  # renew a token this many seconds before Zoom says it expires


class ZoomError(Exception):
    """A Zoom call failed; the message names the request and status, never a credential or body."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500


def has_credentials(tenant: Tenant, environ: Mapping[str, str] | None = None) -> bool:
    return bool(
        tenant.zoom_account_id
        and tenant.secret(tenant.zoom_client_id_env, environ)
        and tenant.secret(tenant.zoom_client_secret_env, environ)
    )


def meeting_path(uuid: str) -> str:
    """The UUID as a path segment: encoded once, twice when it starts with `/` or contains `//`."""
    once = quote(uuid, safe="")
    return quote(once, safe="") if uuid.startswith("/") or "//" in uuid else once


class ZoomClient:
    """One Zoom account's API access; keeps its access token until shortly before it expires."""

    def __init__(
        self,
        account_id: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: tuple[float, float] = (5.0, 30.0),
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._account_id = account_id
        self._auth = (client_id, client_secret)
        self._timeout = timeout
        self._session = session or requests.Session()
        self._clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def participant_emails(self, meeting_uuid: str) -> list[str]:
        """Every participant email Zoom reveals, lower-cased, first appearance first."""
        emails: list[str] = []
        url = f"{API_URL}/past_meetings/{meeting_path(meeting_uuid)}/participants"
        params: dict[str, Any] = {"page_size": PAGE_SIZE}
        for _ in range(MAX_PAGES):
            page = self._get(url, params)
            for participant in page.get("participants") or ():
                email = participant.get("user_email") if isinstance(participant, dict) else None
                if isinstance(email, str) and "@" in email:
                    emails.append(email.strip().lower())
            token = page.get("next_page_token")
            if not token:
                break
            params = {"page_size": PAGE_SIZE, "next_page_token": token}
        return list(dict.fromkeys(emails))

    def _get(self, url: str, params: Mapping[str, Any]) -> dict[str, Any]:
        for attempt in (1, 2):
            response = self._request("GET", url, params=params, headers={"Authorization": f"Bearer {self._access_token(renew=attempt == 2)}"})
            if response.status_code == 401 and attempt == 1:
                continue  # revoked or expired early: one new token, one retry
            if response.status_code != 200:
                raise ZoomError(f"Zoom past meeting participants: HTTP {response.status_code}", response.status_code)
            return _json(response, "past meeting participants")
        raise AssertionError("unreachable")

    def _access_token(self, *, renew: bool = False) -> str:
        with self._lock:
            token = self._token
            if renew or token is None or self._clock() >= self._expires:
                params = {"grant_type": "account_credentials", "account_id": self._account_id}
                response = self._request("POST", TOKEN_URL, params=params, auth=self._auth)
                if response.status_code != 200:
                    raise ZoomError(f"Zoom OAuth token: HTTP {response.status_code}", response.status_code)
                body = _json(response, "OAuth token")
                token, lifetime = body.get("access_token"), body.get("expires_in", 3600)
                if not isinstance(token, str) or not token:
                    raise ZoomError("Zoom OAuth token: no access_token in the answer")
                self._token = token
                self._expires = self._clock() + max(float(lifetime) - _EARLY, 0.0) if isinstance(lifetime, (int, float)) else 0.0
            return token

    def _request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self._session.request(method, url, timeout=self._timeout, **kwargs)
        except requests.RequestException as exc:
            raise ZoomError(f"Zoom {method} {url.split('?')[0]}: {type(exc).__name__}") from None


def _json(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ZoomError(f"Zoom {what}: the answer is not a JSON object", response.status_code)
    return body


_clients: dict[str, ZoomClient] = {}
_clients_lock = threading.Lock()


def client_for(tenant: Tenant, environ: Mapping[str, str] | None = None) -> ZoomClient:
    """One client (and token) per tenant for the life of the process."""
    with _clients_lock:
        client = _clients.get(tenant.id)
        if client is None:
            if not has_credentials(tenant, environ):
                raise ZoomError(f"tenant {tenant.id}: zoom_account_id, zoom_client_id_env and zoom_client_secret_env are not all set")
            client = ZoomClient(
                tenant.zoom_account_id or "",
                tenant.secret(tenant.zoom_client_id_env, environ) or "",
                tenant.secret(tenant.zoom_client_secret_env, environ) or "",
                timeout=(tenant.connect_timeout_seconds, tenant.read_timeout_seconds),
            )
            _clients[tenant.id] = client
        return client


def participant_emails(tenant: Tenant, meeting_uuid: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """The participants' emails of a past meeting, for a tenant with Zoom credentials."""
    return client_for(tenant, environ).participant_emails(meeting_uuid)


def with_participants(recording: Recording, emails: Iterable[str]) -> Recording:
    """The recording with `emails` added to its participants: lower-cased, the rep and repeats
    left out, the ones it had kept first."""
    rep = (recording.rep_email or "").lower()
    merged = dict.fromkeys(e for e in (*recording.participants, *(x.strip().lower() for x in emails)) if e and e != rep)
    return replace(recording, participants=tuple(merged))
