"""What a validated config file becomes: tenants (CRM connections), store, worker, intake.

Plain frozen dataclasses; `integration.config` reads and validates the file into them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

HUBSPOT = "hubspot"
SALESFORCE = "salesforce"


class ConfigError(Exception):
    """Raised with `<file>: <key.path>: <reason>` lines, one per problem."""


@dataclass(frozen=True)
class Tenant:
    """One CRM connection: a HubSpot portal or a Salesforce org."""

    id: str
    crm: str
    dry_run: bool
    # HubSpot
    portal_id: str | None = None
    client_secret_env: str | None = None  # webhook signature secret (the app's client secret)
    access_token_env: str | None = None  # private app token, or OAuth access token
    refresh_token_env: str | None = None  # OAuth: refresh token (client id/secret envs below)
    client_id_env: str | None = None
    rate_limit_per_10s: int = 100
    # Salesforce
    org_id: str | None = None
    shared_secret_envs: tuple[str, ...] = ()  # JSON events HMAC secrets (several during rotation)
    instance_url: str | None = None
    auth: str = "session"  # jwt | client_credentials | session
    username: str | None = None  # JWT subject
    consumer_key_env: str | None = None
    consumer_secret_env: str | None = None
    private_key_env: str | None = None  # PEM text of the JWT signing key
    session_id_env: str | None = None  # tests / short-lived sessions only
    domain: str | None = None  # login | test | My Domain host (client credentials)
    api_version: str = "59.0"
    api_limit_share: float = 0.8  # stop non-urgent work above this share of the daily allowance
    team_role: str = "Sales Manager"
    team_access_level: str = "Edit"
    recording_url_field: str = "GameFilm_Recording_URL__c"  # Task URL field holding a call's recording link
    # recording sources (both CRMs): /hooks/recordings and /hooks/zoom
    recorder_secret_envs: tuple[str, ...] = ()  # X-GameFilm-Signature secrets of dialers/recorders (several during rotation)
    zoom_secret_token_env: str | None = None  # the Zoom app's webhook Secret Token (x-zm-signature)
    zoom_account_id: str | None = None  # server-to-server OAuth app: reads past meetings' participants
    zoom_client_id_env: str | None = None
    zoom_client_secret_env: str | None = None
    # both
    connect_timeout_seconds: float = 5.0  # every CRM request: a hanging CRM costs at most these
    read_timeout_seconds: float = 30.0
    api_base_url: str | None = None  # override for sandboxes and tests
    corporate_currency: str = "USD"
    currency_rates: Mapping[str, float] = field(default_factory=dict)  # 1 unit of X = rate corporate
    rules: Mapping[str, Any] = field(default_factory=dict)  # raw; validated by each rule

    def secret(self, env_name: str | None, environ: Mapping[str, str] | None = None) -> str | None:
        """A secret by its variable name, from `environ` or else the one resolver (env + SSM)."""
        if not env_name:
            return None
        if environ is None:
            from integration.secrets import resolver

            environ = resolver()
        return environ.get(env_name) or None


@dataclass(frozen=True)
class StoreConfig:
    backend: str = "sqlite"
    path: str = "var/gamefilm.db"
    table: str = "gamefilm"
    region: str = "us-east-1"
    endpoint_url: str | None = None
    ttl_days: int = 90


@dataclass(frozen=True)
class WorkerConfig:
    mode: str = "thread"  # thread (local: `serve` runs it in a child process) | sqs (Lambda) | none (intake only; `gamefilm worker` drains)
    max_attempts: int = 8
    base_delay_seconds: float = 2.0
    max_delay_seconds: float = 900.0
    poll_seconds: float = 1.0
    lease_seconds: float = 300.0
    batch_size: int = 100
    concurrency: int = 4  # batches in flight at once (per process); one tenant never holds up another
    queue_url: str | None = None


@dataclass(frozen=True)
class IntakeConfig:
    public_base_url: str | None = None  # e.g. https://abc.execute-api.us-east-1.amazonaws.com/prod
    trust_forwarded: bool = True  # rebuild the signed URI from X-Forwarded-Proto/Host + stage
    max_body_bytes: int = 1024 * 1024
    signature_tolerance_seconds: int = 300


@dataclass(frozen=True)
class Config:
    tenants: tuple[Tenant, ...]
    store: StoreConfig = StoreConfig()
    worker: WorkerConfig = WorkerConfig()
    intake: IntakeConfig = IntakeConfig()
    source: str = "<memory>"

    def hubspot_tenant(self, portal_id: str | int) -> Tenant | None:
        return next((t for t in self.tenants if t.crm == HUBSPOT and t.portal_id == str(portal_id)), None)

    def salesforce_tenant(self, org_id: str) -> Tenant | None:
        """Match on the 15-character prefix: outbound messages may carry 15 or 18 chars."""
        prefix = (org_id or "")[:15]
        return next((t for t in self.tenants if t.crm == SALESFORCE and (t.org_id or "")[:15] == prefix), None)

    def tenant(self, tenant_id: str) -> Tenant | None:
        return next((t for t in self.tenants if t.id == tenant_id), None)
