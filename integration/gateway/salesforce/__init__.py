"""Salesforce adapter on simple-salesforce: chunked SOQL reads, sObject Collections writes.

Split by concern: `session` (connecting, timeouts), `transport` (one API call: allowance
guard, the shared retry rule, session refresh), `mapping` (records <-> product records, pure),
`collections` (200-record writes), `handlers` (one per command type; the exactly-once rule
per type is written there), `lookup` (finding what an unknown create made), `doctor`;
for recordings and reviews `recording_reads` (matching reads, calls, tasks), `calls`
(Task records, pure) and `recording_writes` (call upserts, call links, reminders).
Before each call the adapter compares the org's rolling 24-hour API usage (from
`Sforce-Limit-Info`) with the tenant's share and stops with `CrmLimitReached` instead of
spending the org's last calls on non-urgent work.
"""
from __future__ import annotations

import logging
import re
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from integration.commands import AddCollaborators, AddNote, Command, Contact, CreateTask, Deal, LogCall, Outcome, UpdateFields, User
from integration.gateway import CommandHandler, CrmGateway, Finding
from integration.gateway.salesforce import doctor
from integration.gateway.salesforce.calls import DEFAULT_RECORDING_URL_FIELD
from integration.gateway.salesforce.handlers import ENABLE_TEAMS, SalesforceCommands
from integration.gateway.salesforce.lookup import CreatedLookup
from integration.gateway.salesforce.mapping import TEAM_RELATIONSHIP, deal_from_record, in_chunks, quoted, user_from_record
from integration.gateway.salesforce.org import OrgShape
from integration.gateway.salesforce.recording_reads import RecordingReads
from integration.gateway.salesforce.recording_writes import RecordingCommands
from integration.gateway.salesforce.transport import SalesforceCallFailed, SalesforceTransport
from integration.gateway.transport import RetryPolicy, Timeouts
from integration.recordings import CallActivity, TaskState

if TYPE_CHECKING:
    from simple_salesforce import Salesforce

    from integration.config import Tenant

__all__ = ["ENABLE_TEAMS", "SalesforceCallFailed", "SalesforceGateway", "deal_from_record"]

log = logging.getLogger(__name__)

# Parts of the Opportunity query that only some orgs have: multi-currency, record types, teams.
OPTIONAL_PARTS = frozenset({"CurrencyIsoCode", "RecordTypeId", TEAM_RELATIONSHIP})
DEAL_FIELDS = ("Id", "Name", "Amount", "CurrencyIsoCode", "OwnerId", "StageName", "RecordTypeId", "IsClosed", "LastModifiedDate")
RATES_TTL_SECONDS = 3600.0
LOOKBACK = timedelta(days=30)  # how far back an unknown create is looked for when its send time is not known


class SalesforceGateway(CrmGateway):
    """CRM port for one Salesforce org."""

    crm = "salesforce"

    def __init__(
        self,
        connect: Callable[[], Salesforce],
        *,
        limit_share: float = 0.8,
        team_role: str = "Sales Manager",
        team_access_level: str = "Edit",
        retry: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        lookback: timedelta = LOOKBACK,
        recording_url_field: str = DEFAULT_RECORDING_URL_FIELD,
    ):
        self._limit_share = limit_share
        self._clock = clock
        self._rates: tuple[float, dict[str, Decimal]] | None = None  # (read at, rates)
        self._org = OrgShape()
        self._transport = SalesforceTransport(connect, limit_share=limit_share, retry=retry, sleep=sleep)
        lookup = CreatedLookup(self._transport, self._org, now=now, lookback=lookback)
        self._recordings = RecordingReads(
            self._transport, self._org, query_adaptive=self._query_adaptive, deal_fields=self._deal_fields, recording_url_field=recording_url_field,
        )  # fmt: skip
        recordings = RecordingCommands(self._transport, self._recordings)
        self._commands = SalesforceCommands(self._transport, self._org, lookup, recordings, team_role=team_role, team_access_level=team_access_level)

    @classmethod
    def from_tenant(cls, tenant: Tenant, environ: Mapping[str, str] | None = None) -> SalesforceGateway:
        """Every request of this gateway waits at most the tenant's connect/read timeouts."""
        from integration.gateway.salesforce.session import connector

        timeouts = Timeouts(connect=tenant.connect_timeout_seconds, read=tenant.read_timeout_seconds)
        return cls(
            connector(tenant, environ, timeouts),
            limit_share=tenant.api_limit_share,
            team_role=tenant.team_role,
            team_access_level=tenant.team_access_level,
            recording_url_field=tenant.recording_url_field,
        )

    def api_usage(self) -> tuple[int, int] | None:
        """(used, allowed) API requests in the org's rolling 24 hours, as last reported."""
        return self._transport.usage

    def close(self) -> None:
        self._transport.drop_client()

    # ---- reads -------------------------------------------------------------------------

    def read_deals(self, ids: Sequence[str]) -> dict[str, Deal]:
        deals: dict[str, Deal] = {}
        for chunk in in_chunks(ids):
            for record in self._query_adaptive(lambda: self._deals_soql(chunk)):
                team = self._transport.all_records(record.get(TEAM_RELATIONSHIP))
                deals[record["Id"]] = deal_from_record(record, frozenset(m["UserId"] for m in team))
        return deals

    def read_pipelines(self) -> dict[str, str]:
        """Active Opportunity record types by id (what threshold tiers scope on)."""
        soql = "SELECT Id, Name FROM RecordType WHERE SobjectType = 'Opportunity' AND IsActive = true"
        return {r["Id"]: r["Name"] for r in self._transport.query(soql)}

    def read_currency_rates(self) -> dict[str, Decimal]:
        """The org's active CurrencyType rates as corporate units per unit, cached for an hour
        (rates change rarely; one query per hour per org). Empty in single-currency orgs.
        Dated rates (Advanced Currency Management) are not applied: the static rate is used."""
        if "CurrencyIsoCode" in self._org.absent:
            return {}
        if self._rates is not None and self._clock() - self._rates[0] < RATES_TTL_SECONDS:
            return self._rates[1]
        try:
            records = self._transport.query("SELECT IsoCode, ConversionRate FROM CurrencyType WHERE IsActive = true")
        except SalesforceCallFailed as exc:
            if exc.code != "INVALID_TYPE":
                raise
            self._org.absent.add("CurrencyIsoCode")  # no CurrencyType: not a multi-currency org
            return {}
        # ConversionRate is units of IsoCode per one unit of the corporate currency.
        rates = {r["IsoCode"]: 1 / Decimal(str(r["ConversionRate"])) for r in records if r.get("ConversionRate")}
        self._rates = (self._clock(), rates)
        return rates

    def read_users(self, ids: Sequence[str]) -> dict[str, User]:
        users: dict[str, User] = {}
        for chunk in in_chunks(ids):
            soql = f"SELECT Id, Name, Email, ManagerId, IsActive FROM User WHERE Id IN {quoted(chunk)}"
            users.update((r["Id"], user_from_record(r)) for r in self._transport.query(soql))
        return users

    def find_contacts(self, emails: Sequence[str]) -> dict[str, Contact]:
        """Several contacts may share an address: the most recently modified one wins."""
        contacts: dict[str, Contact] = {}
        for chunk in in_chunks(e.strip().lower() for e in emails):
            soql = f"SELECT Id, Email, Name, AccountId FROM Contact WHERE Email IN {quoted(chunk)} ORDER BY LastModifiedDate DESC"
            for r in self._transport.query(soql):
                email = (r.get("Email") or "").lower()
                contacts.setdefault(email, Contact(id=r["Id"], email=email, name=r.get("Name"), account_id=r.get("AccountId") or None))
        return contacts

    def open_deals_for_contacts(self, contact_ids: Sequence[str]) -> dict[str, list[Deal]]:
        """Through OpportunityContactRole; team members are not read here (no subquery via a parent)."""
        found: dict[str, dict[str, Deal]] = {}
        for chunk in in_chunks(contact_ids):
            for r in self._query_adaptive(lambda: self._contact_roles_soql(chunk)):
                deal = deal_from_record(r["Opportunity"])
                found.setdefault(r["ContactId"], {})[deal.id] = deal
        return {contact: list(deals.values()) for contact, deals in found.items()}

    # ---- reads for recordings and reviews (recording_reads.py) ---------------------------

    def find_users_by_email(self, emails: Sequence[str]) -> dict[str, User]:
        return self._recordings.find_users_by_email(emails)

    def find_accounts_by_domain(self, domains: Sequence[str]) -> dict[str, list[str]]:
        return self._recordings.find_accounts_by_domain(domains)

    def deals_for_contacts(self, contact_ids: Sequence[str], closed_since: datetime) -> dict[str, list[Deal]]:
        return self._recordings.deals_for_contacts(contact_ids, closed_since)

    def deals_for_accounts(self, account_ids: Sequence[str], closed_since: datetime) -> dict[str, list[Deal]]:
        return self._recordings.deals_for_accounts(account_ids, closed_since)

    def read_calls(self, ids: Sequence[str]) -> dict[str, CallActivity]:
        return self._recordings.read_calls(ids)

    def read_tasks(self, ids: Sequence[str]) -> dict[str, TaskState]:
        return self._recordings.read_tasks(ids)

    def read_changed_records(self, sobject: str, fields: Sequence[str], since: datetime, limit: int) -> list[dict[str, Any]]:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,79}", sobject) or not all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,79}", f) for f in fields):
            raise ValueError("sObject and field names are API names: letters, digits, underscores")
        stamp = since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # a SOQL dateTime literal: unquoted
        columns = ", ".join(dict.fromkeys([*fields, "SystemModstamp"]))
        soql = f"SELECT {columns} FROM {sobject} WHERE SystemModstamp >= {stamp} ORDER BY SystemModstamp, Id LIMIT {int(limit)}"
        return [{k: v for k, v in r.items() if k != "attributes"} for r in self._transport.query(soql)]

    def _deals_soql(self, ids: list[str]) -> str:
        select = self._deal_fields()
        if TEAM_RELATIONSHIP not in self._org.absent:
            select.append(f"(SELECT UserId FROM {TEAM_RELATIONSHIP})")
        return f"SELECT {', '.join(select)} FROM Opportunity WHERE Id IN {quoted(ids)}"

    def _contact_roles_soql(self, contact_ids: list[str]) -> str:
        select = ["ContactId", *self._deal_fields("Opportunity.")]
        return (
            f"SELECT {', '.join(select)} FROM OpportunityContactRole "
            f"WHERE ContactId IN {quoted(contact_ids)} AND Opportunity.IsClosed = false"
        )

    def _deal_fields(self, prefix: str = "") -> list[str]:
        return [prefix + f for f in DEAL_FIELDS if f not in self._org.absent]

    def _query_adaptive(self, build_soql: Callable[[], str]) -> list[dict[str, Any]]:
        """Run a query; when the org lacks an optional field or relationship, drop it for good and retry."""
        while True:
            try:
                return self._transport.query(build_soql())
            except SalesforceCallFailed as exc:
                missing = _missing_optional_part(exc)
                if missing is None or missing in self._org.absent:
                    raise
                log.info("Salesforce org has no %s; querying without it from now on", missing)
                self._org.absent.add(missing)

    # ---- writes: one handler per command type (handlers.py) --------------------------------

    def handlers(self) -> Mapping[type[Command], CommandHandler[Any]]:
        return self._commands.handlers()

    def update_fields(self, commands: Sequence[UpdateFields]) -> list[Outcome]:
        return self._commands.update_fields(commands)

    def add_collaborators(self, commands: Sequence[AddCollaborators]) -> list[Outcome]:
        return self._commands.add_collaborators(commands)

    def create_tasks(self, commands: Sequence[CreateTask]) -> list[Outcome]:
        return self._commands.create_tasks(commands)

    def log_calls(self, commands: Sequence[LogCall]) -> list[Outcome]:
        return self._commands.log_calls(commands)

    def add_notes(self, commands: Sequence[AddNote]) -> list[Outcome]:
        return self._commands.add_notes(commands)

    # ---- doctor ------------------------------------------------------------------------

    def check(self) -> list[Finding]:
        return doctor.check(self._transport, self._org, self._limit_share, self._recordings.recording_url_field)


def _missing_optional_part(exc: SalesforceCallFailed) -> str | None:
    """The optional field/relationship an INVALID_FIELD / INVALID_TYPE error names, if any:
    "No such column 'CurrencyIsoCode' on entity 'Opportunity'...",
    "Didn't understand relationship 'OpportunityTeamMembers' in FROM part of query call...".
    """
    if exc.code not in ("INVALID_FIELD", "INVALID_TYPE"):
        return None
    for name in re.findall(r"'(?:\w+\.)?(\w+)'", exc.sf_message):
        name = TEAM_RELATIONSHIP if name == "OpportunityTeamMember" else name
        if name in OPTIONAL_PARTS:
            return name
    return None
