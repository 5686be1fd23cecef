"""Every HubSpot request: limiter, timeouts, one OAuth refresh, and resends by the one rule
in `integration.gateway.transport` (RetryPolicy.may_resend).

How a failure is classified:
- not sent (connection refused, connect timeout, DNS), 429, 401 before a refresh: HubSpot did
  not apply it; safe to resend whatever the request.
- ambiguous (5xx, connection dropped after sending, read timeout): HubSpot may have applied
  it. Reads and updates are resent; batch creates are not: the error says `ambiguous` and
  the worker looks the records up (`CommandHandler.find`) before anything is sent again.
- other 4xx: final. A 429 on the daily allowance: `CrmLimitReached`.
A 207 answer is a success to the SDK: its `errors` are mapped per command by the handlers.
"""
from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, TypeVar

from integration.gateway import CrmError, CrmLimitReached
from integration.gateway.hubspot.session import Session
from integration.gateway.ratelimit import INTERVAL_HEADER, SlidingWindowLimiter
from integration.gateway.transport import RetryPolicy, Timeouts

T = TypeVar("T")
_NOT_SENT = ("ConnectTimeoutError", "NewConnectionError", "NameResolutionError")


class HubSpotError(CrmError):
    """A HubSpot API call failed as a whole; `status` (0: no HTTP answer) and `category` as
    HubSpot reported them."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        category: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        ambiguous: bool = False,
    ):
        super().__init__(message, retryable=retryable, retry_after=retry_after, ambiguous=ambiguous)
        self.status = status
        self.category = category


@dataclass(frozen=True)
class Failure:
    """A failed request, read once: status, HubSpot's error body and headers, and whether it
    may have reached HubSpot. Its text never includes the URL (token metadata URLs hold the
    token)."""

    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str]
    sent: bool = True

    @classmethod
    def from_exception(cls, exc: Exception) -> "Failure | None":
        """None for exceptions that are neither an SDK ApiException nor a urllib3 error."""
        if type(exc).__module__.startswith("urllib3."):
            cause = getattr(exc, "reason", None) or exc  # MaxRetryError wraps the real error
            sent = not any(c.__name__ in _NOT_SENT for c in type(cause).__mro__)
            return cls(0, {"message": f"HubSpot unreachable ({type(exc).__name__})"}, {}, sent=sent)
        if not any(c.__name__ == "ApiException" and c.__module__.startswith("hubspot.") for c in type(exc).__mro__):
            return None
        raw = getattr(exc, "body", None) or b""
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        return cls(int(getattr(exc, "status", 0) or 0), body if isinstance(body, dict) else {}, getattr(exc, "headers", None) or {})

    @property
    def daily_limit(self) -> bool:
        return self.status == 429 and str(self.body.get("policyName", "")).upper() == "DAILY"

    @property
    def transient(self) -> bool:
        return self.status in (0, 429) or self.status >= 500

    @property
    def ambiguous(self) -> bool:
        return self.status >= 500 or (self.status == 0 and self.sent)

    @property
    def retry_after(self) -> float | None:
        """Retry-After, else on a 429 the server's rate-limit interval."""
        retry_after = _number(self.headers.get("Retry-After"))
        if retry_after is None and self.status == 429:
            interval_ms = _number(self.headers.get(INTERVAL_HEADER))
            retry_after = interval_ms / 1000 if interval_ms is not None else None
        return retry_after

    def message(self) -> str:
        text = self.body.get("message") or f"HTTP {self.status}"
        category = self.body.get("category") or self.body.get("errorType")
        if not self.status:
            return str(text)
        return f"HubSpot {self.status} {category}: {text}" if category else f"HubSpot {self.status}: {text}"


class Transport:
    """Sends SDK calls for one portal; shared by worker threads (limiter and session are)."""

    def __init__(
        self,
        session: Session,
        limiter: SlidingWindowLimiter,
        *,
        retry: RetryPolicy,
        timeouts: Timeouts,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.session = session
        self.limiter = limiter
        self.retry = retry
        self.timeouts = timeouts
        self._sleep = sleep
        self._rng = rng

    def sdk(self, api_path: str, method: str, *args: Any, idempotent: bool = True, **kwargs: Any) -> Any:
        """`<api>.<method>_with_http_info(...)` (for the headers) with the client timeouts."""
        timeout = self.timeouts.as_tuple()
        return self.call(lambda: getattr(self.session.api(api_path), f"{method}_with_http_info")(*args, _request_timeout=timeout, **kwargs), idempotent=idempotent)

    def call(self, send: Callable[[], tuple[T, int, Any]], *, idempotent: bool, may_refresh: bool = True) -> T:
        """One request through the limiter; resent only as `RetryPolicy.may_resend` allows."""
        attempt = 0
        refreshed = False
        while True:
            slot = self.limiter.acquire()
            try:
                data, _status, headers = send()
            except Exception as exc:  # each SDK package has its own ApiException class
                self.limiter.answered(slot)
                failure = Failure.from_exception(exc)
                if failure is None:
                    raise
                self.limiter.observe(failure.headers)
                if failure.status == 401 and self.session.oauth and may_refresh and not refreshed:
                    self.refresh_access_token()
                    refreshed = True
                    continue
                if failure.daily_limit:
                    raise CrmLimitReached(self.session.redact(failure.message())) from None
                attempt += 1
                ambiguous = failure.ambiguous
                if self.retry.may_resend(attempt, transient=failure.transient, ambiguous=ambiguous, idempotent=idempotent):
                    delay = self.retry.delay(attempt, failure.retry_after, self._rng)
                    if failure.status == 429:
                        self.limiter.pause(delay)  # every thread on this portal waits
                    else:
                        self._sleep(delay)
                    continue
                raise HubSpotError(
                    self.session.redact(failure.message()),
                    status=failure.status,
                    category=failure.body.get("category"),
                    retryable=failure.transient,
                    retry_after=self.retry.delay(attempt + 1, failure.retry_after, self._rng) if failure.transient else None,
                    ambiguous=ambiguous,
                ) from None
            self.limiter.answered(slot)
            self.limiter.observe(headers)
            return data

    def refresh_access_token(self) -> None:
        """POST /oauth/v1/token with grant_type=refresh_token; later calls use the new token."""
        oauth = self.session.oauth
        assert oauth is not None
        timeout = self.timeouts.as_tuple()
        try:
            token = self.call(
                lambda: self.session.api("oauth.tokens_api").create_with_http_info(
                    grant_type="refresh_token",
                    refresh_token=oauth.refresh_token,
                    client_id=oauth.client_id,
                    client_secret=oauth.client_secret,
                    _request_timeout=timeout,
                ),
                idempotent=True,
                may_refresh=False,
            )
        except HubSpotError as exc:
            raise HubSpotError(f"HubSpot refused to refresh the OAuth token, reconnect the app: {exc}", status=exc.status, category=exc.category) from None
        self.session.use_token(token.access_token)


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
