"""Connecting to a Salesforce org: JWT bearer, client credentials or a given session id.

simple-salesforce 1.12 has no timeout option: every request (the OAuth token request
included) goes through `session.request(...)` with the caller's keyword arguments, so the
client gets a `requests.Session` whose requests default to the tenant's (connect, read)
timeouts. Secrets are read at each connect, so a rotated secret is picked up on reconnect.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping
from urllib.parse import urlparse

import requests

from integration.gateway import CrmError
from integration.gateway.transport import Timeouts

if TYPE_CHECKING:
    from simple_salesforce import Salesforce

    from integration.config import Tenant


class TimeoutSession(requests.Session):
    """A session whose requests wait at most `timeouts` unless a call sets its own."""

    def __init__(self, timeouts: Timeouts):
        super().__init__()
        self.timeouts = timeouts

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeouts.as_tuple()
        return super().request(method, url, *args, **kwargs)


def connector(tenant: Tenant, environ: Mapping[str, str] | None, timeouts: Timeouts) -> Callable[[], Salesforce]:
    """Build `connect()` for the tenant's auth (a new client and session per connect)."""

    def secret(env_name: str | None, what: str) -> str:
        value = tenant.secret(env_name, environ)
        if not value:
            raise CrmError(f"tenant {tenant.id}: the {what} is missing: set environment variable {env_name or '(not configured)'}")
        return value

    def connect() -> Salesforce:
        from simple_salesforce import Salesforce

        session = TimeoutSession(timeouts)
        if tenant.auth == "jwt":
            return Salesforce(
                username=tenant.username,
                consumer_key=secret(tenant.consumer_key_env, "connected app consumer key"),
                privatekey=secret(tenant.private_key_env, "JWT signing key"),
                domain=tenant.domain or "login",
                version=tenant.api_version,
                session=session,
            )
        if tenant.auth == "client_credentials":
            return Salesforce(
                consumer_key=secret(tenant.consumer_key_env, "connected app consumer key"),
                consumer_secret=secret(tenant.consumer_secret_env, "connected app consumer secret"),
                domain=my_domain(tenant),
                version=tenant.api_version,
                session=session,
            )
        if tenant.auth == "session":
            return Salesforce(
                instance_url=tenant.api_base_url or tenant.instance_url,
                session_id=secret(tenant.session_id_env, "session id"),
                version=tenant.api_version,
                session=session,
            )
        raise CrmError(f"tenant {tenant.id}: unsupported Salesforce auth {tenant.auth!r} (use jwt or client_credentials)")

    return connect


def my_domain(tenant: Tenant) -> str:
    """simple-salesforce wants the My Domain host without `.salesforce.com` (e.g. `acme.my`)."""
    host = tenant.domain or urlparse(tenant.instance_url or "").hostname or ""
    host = host.removeprefix("https://").removesuffix("/").removesuffix(".salesforce.com")
    if host in ("", "login", "test"):
        raise CrmError(f"tenant {tenant.id}: client credentials need the org's My Domain (e.g. acme.my.salesforce.com) in domain or instance_url")
    return host
