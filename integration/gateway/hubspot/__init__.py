"""HubSpot adapter of the CRM port, on `hubspot-api-client` 12.x (urllib3 underneath).

Split by concern: `session` (token, OAuth, redaction), `transport` (limiter, timeouts,
resends by the shared RetryPolicy, ambiguity), `records` (the batch endpoints and search),
`association_types` (type ids from the labels API), `mapping` (records <-> port data),
`owners` (the owners list behind every read of users), `matching_reads` (what matching
recordings and reviews read), `writes`, `recording_writes` and `collaborators` (command
handlers), `doctor`.
Every operation goes through batch endpoints, 100 records per request. One gateway per
tenant is shared by the worker's threads: limiter, session and ledger are thread-safe.
"""
from __future__ import annotations

import random
import time
from datetime import datetime
from typing import Any, Callable, Mapping, Sequence

from integration.commands import AddCollaborators, AddNote, Command, Contact, CreateTask, Deal, LogCall, Outcome, RemindTask, UpdateFields, UpsertCall, User
from integration.config import Tenant
from integration.gateway import CommandHandler, CrmError, CrmGateway, Finding
from integration.gateway.hubspot import doctor
from integration.gateway.hubspot.association_types import AssociationTypes
from integration.gateway.hubspot.collaborators import Collaborators, Ledger
from integration.gateway.hubspot.mapping import COLLABORATORS, DEAL_PROPERTIES, deal_from_properties, unique
from integration.gateway.hubspot.known_calls import KnownCalls
from integration.gateway.hubspot.matching_reads import MatchingReads
from integration.gateway.hubspot.owners import Owners
from integration.gateway.hubspot.recording_writes import RecordingWrites
from integration.gateway.hubspot.records import Records
from integration.gateway.hubspot.session import OAuthCredentials, Session
from integration.gateway.hubspot.transport import HubSpotError, Transport
from integration.gateway.hubspot.writes import Writes, in_chunks
from integration.gateway.ratelimit import SlidingWindowLimiter
from integration.gateway.transport import RetryPolicy, Timeouts
from integration.recordings import CallActivity, TaskState

SEARCH_RATE_PER_SECOND = 4  # HubSpot's CRM search limit per token, below the general one

__all__ = ["DEAL_PROPERTIES", "HubSpotError", "HubSpotGateway", "OAuthCredentials", "deal_from_properties"]


class HubSpotGateway(CrmGateway):
    """The CRM port on one HubSpot portal, through a private app token or OAuth."""

    crm = "hubspot"

    def __init__(
        self,
        access_token: str | None,
        *,
        host: str | None = None,
        oauth: OAuthCredentials | None = None,
        rate_limit_per_10s: int = 100,
        retry: RetryPolicy = RetryPolicy(),
        timeouts: Timeouts = Timeouts(),
        max_state_age: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if not access_token and oauth is None:
            raise CrmError("HubSpot needs an access token or OAuth refresh credentials")
        self.limiter = SlidingWindowLimiter(rate_limit_per_10s, 10.0, clock=clock, sleep=sleep)
        self.transport = Transport(Session(access_token, host=host, oauth=oauth), self.limiter, retry=retry, timeouts=timeouts, sleep=sleep, rng=rng)
        self.records = Records(self.transport, SlidingWindowLimiter(SEARCH_RATE_PER_SECOND, 1.0, clock=clock, sleep=sleep))
        self.association_types = AssociationTypes(self.transport)
        self.known_calls = KnownCalls(clock)
        self.writes = Writes(self.records, wall_clock, self.association_types, self.known_calls)
        self.recording_writes = RecordingWrites(self.records, self.association_types, self.known_calls)
        self.matching_reads = MatchingReads(self.records)
        self.owners = Owners(self.records, clock)
        self.collaborators = Collaborators(self.records, Ledger(), max_state_age=max_state_age, clock=clock, wall_clock=wall_clock)

    @classmethod
    def from_tenant(cls, tenant: Tenant, environ: Mapping[str, str] | None = None, **options: Any) -> "HubSpotGateway":
        """Build from config; secrets come from the environment variables the tenant names."""
        oauth = None
        if tenant.refresh_token_env:
            envs = (tenant.refresh_token_env, tenant.client_id_env, tenant.client_secret_env)
            refresh_token, client_id, client_secret = (tenant.secret(env, environ) for env in envs)
            if not (refresh_token and client_id and client_secret):
                names = ", ".join(str(env) for env in envs)
                raise CrmError(f"tenant {tenant.id}: OAuth needs the environment variables {names} set")
            oauth = OAuthCredentials(refresh_token, client_id, client_secret)
        token = tenant.secret(tenant.access_token_env, environ)
        if not token and oauth is None:
            raise CrmError(f"tenant {tenant.id}: environment variable {tenant.access_token_env} is not set")
        options.setdefault("timeouts", Timeouts(tenant.connect_timeout_seconds, tenant.read_timeout_seconds))
        return cls(token, host=tenant.api_base_url, oauth=oauth, rate_limit_per_10s=tenant.rate_limit_per_10s, **options)

    def close(self) -> None:
        """Drop pooled connections (tests and short-lived CLI runs)."""
        self.transport.session.close()

    # ---- reads -------------------------------------------------------------------------

    def read_deals(self, ids: Sequence[str]) -> dict[str, Deal]:
        """Deals with the collaborators' history: what our earlier writes dropped is re-added
        here (see `collaborators`), and the deal shows the repaired value. A value that
        cannot be converted raises RecordDataError naming the first such deal and field."""
        records = self.records.read("deals", unique(ids), DEAL_PROPERTIES, history=(COLLABORATORS,))
        deals = {r.id: deal_from_properties(r.id, r.properties or {}) for r in records}
        for deal_id, value in self.collaborators.repair(records).items():
            deals[deal_id] = deal_from_properties(deal_id, {**deals[deal_id].fields, COLLABORATORS: ";".join(value)})
        return deals

    def verify_collaborators(self, older_than_seconds: float = 60.0) -> dict[str, list[str]]:
        """Read back (with history) the deals we wrote collaborators to at least this long ago
        and not verified since; repair drops. One request per 100 deals (+ one per repair)."""
        pending = self.collaborators.ledger.unverified(self.collaborators.now_ms(), int(older_than_seconds * 1000))
        if not pending:
            return {}
        return self.collaborators.repair(self.records.read("deals", pending, (COLLABORATORS,), history=(COLLABORATORS,)))

    def read_users(self, ids: Sequence[str]) -> dict[str, User]:
        """Owners by id, from the owners list read once a day (see `owners`)."""
        return self.owners.by_id(ids)

    def read_pipelines(self) -> dict[str, str]:
        """Deal pipelines by id (for the doctor: threshold tiers scoped to unknown pipelines)."""
        page = self.transport.sdk("crm.pipelines.pipelines_api", "get_all", "deals")
        return {p.id: p.label for p in page.results or []}

    def find_contacts(self, emails: Sequence[str]) -> dict[str, Contact]:
        return self.matching_reads.contacts_by_email(emails)

    def open_deals_for_contacts(self, contact_ids: Sequence[str]) -> dict[str, list[Deal]]:
        deal_ids_by_contact = self.records.associated_ids("contacts", "deals", unique(contact_ids))
        deals = self.read_deals([d for ids in deal_ids_by_contact.values() for d in ids])
        return {contact: [deals[d] for d in ids if d in deals and not deals[d].closed] for contact, ids in deal_ids_by_contact.items()}

    # ---- reads for recordings and reviews (see `matching_reads` for the requests) -------

    def find_users_by_email(self, emails: Sequence[str]) -> dict[str, User]:
        return self.owners.by_email(emails)

    def find_accounts_by_domain(self, domains: Sequence[str]) -> dict[str, list[str]]:
        return self.matching_reads.accounts_by_domain(domains)

    def deals_for_contacts(self, contact_ids: Sequence[str], closed_since: datetime) -> dict[str, list[Deal]]:
        return self.matching_reads.deals_for("contacts", contact_ids, closed_since)

    def deals_for_accounts(self, account_ids: Sequence[str], closed_since: datetime) -> dict[str, list[Deal]]:
        return self.matching_reads.deals_for("companies", account_ids, closed_since)

    def deals_for_matching(
        self, contact_ids: Sequence[str], account_ids: Sequence[str], deal_ids: Sequence[str], closed_since: datetime
    ) -> tuple[dict[str, list[Deal]], dict[str, list[Deal]], dict[str, Deal]]:
        return self.matching_reads.deals_for_matching(contact_ids, account_ids, deal_ids, closed_since)

    def read_calls(self, ids: Sequence[str]) -> dict[str, CallActivity]:
        return self.matching_reads.calls(ids)

    def read_tasks(self, ids: Sequence[str]) -> dict[str, TaskState]:
        return self.matching_reads.tasks(ids)

    # ---- writes ------------------------------------------------------------------------

    def handlers(self) -> Mapping[type[Command], CommandHandler[Any]]:
        return {
            UpdateFields: CommandHandler(self.update_fields),
            AddCollaborators: CommandHandler(self.add_collaborators),
            CreateTask: CommandHandler(self.create_tasks, lambda commands: self.writes.find("tasks", commands)),
            LogCall: CommandHandler(self.log_calls, lambda commands: self.writes.find("calls", commands)),
            AddNote: CommandHandler(self.add_notes, lambda commands: self.writes.find("notes", commands)),
            UpsertCall: CommandHandler(self.recording_writes.upsert_calls),
            RemindTask: CommandHandler(self.recording_writes.remind_tasks),
        }

    def update_fields(self, commands: Sequence[UpdateFields]) -> list[Outcome]:
        return self.writes.update_fields(commands)

    def add_collaborators(self, commands: Sequence[AddCollaborators]) -> list[Outcome]:
        return in_chunks(commands, self.collaborators.add)

    def create_tasks(self, commands: Sequence[CreateTask]) -> list[Outcome]:
        return self.writes.create_tasks(commands)

    def log_calls(self, commands: Sequence[LogCall]) -> list[Outcome]:
        return self.writes.log_calls(commands)

    def add_notes(self, commands: Sequence[AddNote]) -> list[Outcome]:
        return self.writes.add_notes(commands)

    # ---- doctor ------------------------------------------------------------------------

    def check(self) -> list[Finding]:
        return doctor.check(self.transport)
