"""Who we are to HubSpot: the access token (private app or OAuth), the SDK client built on
it, and redaction of every secret from the text of errors.

The SDK is imported inside methods only, to keep Lambda cold starts short. urllib3 retries
are off (`Transport` retries with the injected sleep, and urllib3 would log retried URLs,
which for token metadata contain the token).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import reduce
from typing import Any


@dataclass(frozen=True)
class OAuthCredentials:
    """What refreshing an OAuth access token takes; `repr` hides the secrets."""

    refresh_token: str = field(repr=False)
    client_id: str
    client_secret: str = field(repr=False)


class Session:
    """The current token and the SDK API objects built on it (cached: their urllib3 pools
    keep connections between calls). Thread-safe: worker threads share one per tenant."""

    def __init__(self, access_token: str | None, *, host: str | None = None, oauth: OAuthCredentials | None = None) -> None:
        self.access_token = access_token
        self.host = host
        self.oauth = oauth
        self._client: Any = None
        self._apis: dict[str, Any] = {}
        self._lock = threading.RLock()

    def api(self, path: str) -> Any:
        """An SDK API object by attribute path, e.g. "crm.objects.batch_api"."""
        with self._lock:
            if path not in self._apis:
                self._apis[path] = reduce(getattr, path.split("."), self._sdk_client())
            return self._apis[path]

    def use_token(self, access_token: str) -> None:
        """A refreshed token: later calls build a new client with it."""
        with self._lock:
            self.close()
            self._client = None
            self.access_token = access_token

    def close(self) -> None:
        with self._lock:
            for api in self._apis.values():
                api.api_client.rest_client.pool_manager.clear()
            self._apis.clear()

    def redact(self, text: str) -> str:
        secrets = [self.access_token] + ([self.oauth.refresh_token, self.oauth.client_secret] if self.oauth else [])
        for secret in secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    def _sdk_client(self) -> Any:
        if self._client is None:
            import hubspot
            import urllib3

            retry = urllib3.Retry(total=0, read=False, redirect=0, respect_retry_after_header=False)
            options = {"host": self.host} if self.host else {}
            self._client = hubspot.HubSpot(access_token=self.access_token, retry=retry, **options)
        return self._client
