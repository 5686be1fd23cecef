"""One Salesforce API call: allowance guard, the shared retry rule, session refresh.

Every request goes through `SalesforceTransport.call`, which sorts failures with the rule in
`integration.gateway.transport`:
- nothing reached Salesforce (connection refused, connect timeout, 429, UNABLE_TO_LOCK_ROW,
  an expired session): resent, whatever the request;
- Salesforce may have applied it (5xx, read timeout, connection dropped after sending, a
  truncated answer): resent only when the caller says the request is idempotent (queries,
  updates, team members, upserts on an external id); a create comes back as
  `CrmError(ambiguous=True)` and is looked up before it is ever sent again.
simple-salesforce is imported inside functions: it costs Lambda cold starts otherwise.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping, TypeVar

from integration.gateway import CrmError, CrmLimitReached
from integration.gateway.salesforce.mapping import RETRYABLE_CODES
from integration.gateway.transport import RetryPolicy

if TYPE_CHECKING:
    from simple_salesforce import Salesforce

log = logging.getLogger(__name__)

T = TypeVar("T")


class SalesforceCallFailed(CrmError):
    """A whole Salesforce API call failed; `code` is Salesforce's errorCode."""

    def __init__(self, code: str, message: str, *, retryable: bool = False, ambiguous: bool = False):
        super().__init__(f"Salesforce {code}: {message}", retryable=retryable, ambiguous=ambiguous)
        self.code = code
        self.sf_message = message


class SalesforceTransport:
    """The org's client, its reported API usage and the retry loop around each request."""

    def __init__(
        self,
        connect: Callable[[], Salesforce],
        *,
        limit_share: float,
        retry: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._connect = connect
        self._limit_share = limit_share
        self.retry = retry
        self._sleep = sleep
        self._sf: Salesforce | None = None
        self._lock = threading.Lock()
        self.usage: tuple[int, int] | None = None  # (used, allowed) in the rolling 24 hours

    def call(self, what: str, fn: Callable[[Salesforce], T], *, guard: bool = True, idempotent: bool = True) -> T:
        """Run `fn` against the client; resend only what `RetryPolicy.may_resend` allows."""
        import requests
        from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError, SalesforceExpiredSession

        attempt, reconnected = 0, False
        while True:
            if guard:
                self._guard_allowance()
            failure: CrmError
            sf: Salesforce | None = None
            try:
                sf = self.client()  # may log in: a failure there sent nothing yet
                result = fn(sf)
            except SalesforceAuthenticationFailed as exc:
                # The message is Salesforce's error_description (e.g. invalid_grant); it never holds a secret.
                raise CrmError(f"Salesforce login failed ({exc.code}): {exc.auth_message}") from None
            except SalesforceExpiredSession:
                # Refused before anything was applied: reconnect once and send again.
                if reconnected:
                    raise SalesforceCallFailed("INVALID_SESSION_ID", "the session is still invalid after reconnecting; check the integration user and its connected app") from None
                reconnected = True
                if sf is not None:
                    self._forget(sf)
                continue
            except SalesforceError as exc:
                code, message = first_error(exc.content)
                if code == "REQUEST_LIMIT_EXCEEDED":
                    raise CrmLimitReached(f"Salesforce refused {what}: REQUEST_LIMIT_EXCEEDED: {message}") from None
                ambiguous = exc.status >= 500
                transient = ambiguous or exc.status == 429 or code in RETRYABLE_CODES
                failure = SalesforceCallFailed(code, message, retryable=transient, ambiguous=ambiguous)
                reason = f"{code} (HTTP {exc.status})"
            except requests.RequestException as exc:
                # The exception text may carry the URL, and with it a SOQL query: name the type only.
                ambiguous = sf is not None and not nothing_sent(exc)
                state = "the request may have been applied" if ambiguous else "nothing was sent"
                failure = CrmError(f"Salesforce unreachable during {what}: {type(exc).__name__} ({state})", retryable=True, ambiguous=ambiguous)
                reason = type(exc).__name__
            else:
                self._note_usage(sf)
                return result
            attempt += 1
            if not self.retry.may_resend(attempt, transient=failure.retryable, ambiguous=failure.ambiguous, idempotent=idempotent):
                raise failure
            log.warning("Salesforce %s: %s, resend %d; backing off", what, reason, attempt)
            self._sleep(self.retry.delay(attempt))

    def query(self, soql: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """All records of a SOQL query (`include_deleted`: through queryAll, the recycle bin too)."""
        return self.all_records(self.call("query", lambda sf: sf.query(soql, include_deleted=include_deleted)))

    def all_records(self, page: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        """Records of a query result or subquery, following `nextRecordsUrl` page by page."""
        if not page:
            return []
        records = list(page.get("records", []))
        while not page.get("done", True):
            url = page["nextRecordsUrl"]
            page = self.call("query", lambda sf: sf.query_more(url, identifier_is_url=True))
            records.extend(page.get("records", []))
        return records

    def client(self) -> Salesforce:
        """The org's client, connected on first use; shared by the worker's threads."""
        with self._lock:
            if self._sf is None:
                self._sf = self._connect()
            return self._sf

    def _forget(self, expired: Salesforce) -> None:
        """Reconnect on next use, unless another thread already did. The old client is not
        closed: a request of another thread may still be using its connections."""
        with self._lock:
            if self._sf is expired:
                self._sf = None

    def drop_client(self) -> None:
        """Forget the client and close its pooled connections (when no request is in flight)."""
        with self._lock:
            sf, self._sf = self._sf, None
        if sf is not None:
            sf.session.close()

    def _guard_allowance(self) -> None:
        if self.usage is None:
            return
        used, total = self.usage
        if total and used / total >= self._limit_share:
            raise CrmLimitReached(
                f"Salesforce API usage is {used}/{total} ({used / total:.0%}), at or above this tenant's "
                f"api_limit_share of {self._limit_share:.0%}; non-urgent work waits for the rolling 24-hour usage to drop"
            )

    def _note_usage(self, sf: Salesforce) -> None:
        """simple-salesforce parses `Sforce-Limit-Info: api-usage=N/M` into `sf.api_usage` after each response."""
        usage = getattr(sf, "api_usage", {}).get("api-usage")
        if usage:
            self.usage = (usage.used, usage.total)


def nothing_sent(exc: Exception) -> bool:
    """True when a requests failure happened before the request left: a connect timeout, or a
    connection that could not be opened (refused, unresolvable). Everything else (read
    timeout, connection reset or dropped mid-exchange, broken chunked answer) may have reached
    Salesforce."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if type(exc) is requests.exceptions.ConnectionError and exc.args:
        cause = exc.args[0]
        reason = cause.reason if isinstance(cause, MaxRetryError) else cause
        return isinstance(reason, (NewConnectionError, ConnectTimeoutError))
    return False


def first_error(content: Any) -> tuple[str, str]:
    """(errorCode, reason) from a REST error body: `[{"errorCode": ..., "message": ...}]`.

    SOQL errors echo the query (which may hold e-mail addresses) above the reason, which is
    the last line: only that line is kept, so exceptions and logs carry no personal data.
    """
    error = content[0] if isinstance(content, list) and content else content
    if not isinstance(error, Mapping):
        return "UNKNOWN_ERROR", "unreadable error response"
    lines = str(error.get("message") or "").strip().splitlines()
    return str(error.get("errorCode") or "UNKNOWN_ERROR"), lines[-1] if lines else ""
