"""Salesforce adapter on simple-salesforce: chunked SOQL reads, sObject Collections writes.

Every write goes through sObject Collections (200 records per API call, `allOrNone: false`),
so one failing record never fails its neighbours. Before each call the adapter compares
the org's rolling 24-hour API usage (from `Sforce-Limit-Info`) with the tenant's share and
stops with `CrmLimitReached` instead of spending the org's last calls on non-urgent work.
simple-salesforce is imported inside functions: it costs Lambda cold starts otherwise.
"""
from __future__ import annotations

import logging
import random
import re
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence, TypeVar
from urllib.parse import urlparse

from integration.commands import (
    AddCollaborators,
    AddNote,
    Command,
    Contact,
    CreateTask,
    Deal,
    LogCall,
    Outcome,
    UpdateFields,
    User,
)
from integration.gateway import CommandHandler, CrmError, CrmGateway, CrmLimitReached, Finding

if TYPE_CHECKING:
    from simple_salesforce import Salesforce

    from integration.config import Tenant

log = logging.getLogger(__name__)

T = TypeVar("T")

COLLECTION_SIZE = 200  # sObject Collections maximum per request
IN_LIST_SIZE = 200  # values per SOQL `IN (...)`
IN_LIST_CHARS = 6000  # quoted `IN` list budget: keeps the GET URL far below Salesforce's 16 KB
RETRYABLE_CODES = frozenset({"UNABLE_TO_LOCK_ROW"})
ALREADY_MEMBER_CODES = frozenset({"DUPLICATE_VALUE"})
TEAM_RELATIONSHIP = "OpportunityTeamMembers"
# Parts of the Opportunity query that only some orgs have: multi-currency, record types, teams.
OPTIONAL_PARTS = frozenset({"CurrencyIsoCode", "RecordTypeId", TEAM_RELATIONSHIP})
DEAL_FIELDS = ("Id", "Name", "Amount", "CurrencyIsoCode", "OwnerId", "StageName", "RecordTypeId", "IsClosed", "LastModifiedDate")
ENABLE_TEAMS = "Enable Opportunity Teams: Setup → Opportunity Team Settings → Enable Team Selling"
TASK_FIELDS = ("WhatId", "WhoId", "OwnerId", "Subject", "Description", "ActivityDate", "Status", "Priority", "TaskSubtype", "CallDurationInSeconds")
CHECKED_OBJECTS = ("Opportunity", "Task", "FeedItem", "OpportunityTeamMember")
_PRIORITY = {"HIGH": "High", "NORMAL": "Normal", "LOW": "Low"}
RATES_TTL_SECONDS = 3600.0
_BASE_DELAY = 0.5
_MAX_DELAY = 8.0


class SalesforceCallFailed(CrmError):
    """A whole Salesforce API call failed; `code` is Salesforce's errorCode."""

    def __init__(self, code: str, message: str, *, retryable: bool = False):
        super().__init__(f"Salesforce {code}: {message}", retryable=retryable)
        self.code = code
        self.sf_message = message


@dataclass(frozen=True)
class _Saved:
    """One record's result in a collection call (or the failure of the call that carried it)."""

    id: str | None
    code: str | None = None  # None: success
    error: str | None = None
    retryable: bool = False

    @property
    def ok(self) -> bool:
        return self.code is None


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
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_retries: int = 4,
    ):
        self._connect = connect
        self._limit_share = limit_share
        self._team_role = team_role
        self._team_access_level = team_access_level
        self._sleep = sleep
        self._clock = clock
        self._max_retries = max_retries
        self._rates: tuple[float, dict[str, Decimal]] | None = None  # (read at, rates)
        self._sf: Salesforce | None = None
        self._usage: tuple[int, int] | None = None
        self._absent: set[str] = set()  # OPTIONAL_PARTS this org turned out not to have
        self._access_level_settable = True

    @classmethod
    def from_tenant(cls, tenant: Tenant, environ: Mapping[str, str] | None = None) -> SalesforceGateway:
        return cls(
            _connector(tenant, environ),
            limit_share=tenant.api_limit_share,
            team_role=tenant.team_role,
            team_access_level=tenant.team_access_level,
        )

    def api_usage(self) -> tuple[int, int] | None:
        """(used, allowed) API requests in the org's rolling 24 hours, as last reported."""
        return self._usage

    # ---- reads -------------------------------------------------------------------------

    def read_deals(self, ids: Sequence[str]) -> dict[str, Deal]:
        deals: dict[str, Deal] = {}
        for chunk in _in_chunks(ids):
            for record in self._query_adaptive(lambda: self._deals_soql(chunk)):
                team = self._all_records(record.get(TEAM_RELATIONSHIP))
                deals[record["Id"]] = deal_from_record(record, frozenset(m["UserId"] for m in team))
        return deals

    def read_pipelines(self) -> dict[str, str]:
        """Active Opportunity record types by id (what threshold tiers scope on)."""
        soql = "SELECT Id, Name FROM RecordType WHERE SobjectType = 'Opportunity' AND IsActive = true"
        return {r["Id"]: r["Name"] for r in self._query(soql)}

    def read_currency_rates(self) -> dict[str, Decimal]:
        """The org's active CurrencyType rates as corporate units per unit, cached for an hour
        (rates change rarely; one query per hour per org). Empty in single-currency orgs.
        Dated rates (Advanced Currency Management) are not applied: the static rate is used."""
        if "CurrencyIsoCode" in self._absent:
            return {}
        if self._rates is not None and self._clock() - self._rates[0] < RATES_TTL_SECONDS:
            return self._rates[1]
        try:
            records = self._query("SELECT IsoCode, ConversionRate FROM CurrencyType WHERE IsActive = true")
        except SalesforceCallFailed as exc:
            if exc.code != "INVALID_TYPE":
                raise
            self._absent.add("CurrencyIsoCode")  # no CurrencyType: not a multi-currency org
            return {}
        # ConversionRate is units of IsoCode per one unit of the corporate currency.
        rates = {r["IsoCode"]: 1 / Decimal(str(r["ConversionRate"])) for r in records if r.get("ConversionRate")}
        self._rates = (self._clock(), rates)
        return rates

    def read_users(self, ids: Sequence[str]) -> dict[str, User]:
        users: dict[str, User] = {}
        for chunk in _in_chunks(ids):
            soql = f"SELECT Id, Name, Email, ManagerId, IsActive FROM User WHERE Id IN {_quoted(chunk)}"
            for r in self._query(soql):
                users[r["Id"]] = User(id=r["Id"], name=r.get("Name"), email=r.get("Email"), manager_id=r.get("ManagerId"), active=bool(r.get("IsActive")))
        return users

    def find_contacts(self, emails: Sequence[str]) -> dict[str, Contact]:
        """Several contacts may share an address: the most recently modified one wins."""
        contacts: dict[str, Contact] = {}
        for chunk in _in_chunks(e.strip().lower() for e in emails):
            soql = f"SELECT Id, Email, Name FROM Contact WHERE Email IN {_quoted(chunk)} ORDER BY LastModifiedDate DESC"
            for r in self._query(soql):
                email = (r.get("Email") or "").lower()
                contacts.setdefault(email, Contact(id=r["Id"], email=email, name=r.get("Name")))
        return contacts

    def open_deals_for_contacts(self, contact_ids: Sequence[str]) -> dict[str, list[Deal]]:
        """Through OpportunityContactRole; team members are not read here (no subquery via a parent)."""
        found: dict[str, dict[str, Deal]] = {}
        for chunk in _in_chunks(contact_ids):
            for r in self._query_adaptive(lambda: self._contact_roles_soql(chunk)):
                deal = deal_from_record(r["Opportunity"])
                found.setdefault(r["ContactId"], {})[deal.id] = deal
        return {contact: list(deals.values()) for contact, deals in found.items()}

    def _deals_soql(self, ids: list[str]) -> str:
        select = self._deal_fields()
        if TEAM_RELATIONSHIP not in self._absent:
            select.append(f"(SELECT UserId FROM {TEAM_RELATIONSHIP})")
        return f"SELECT {', '.join(select)} FROM Opportunity WHERE Id IN {_quoted(ids)}"

    def _contact_roles_soql(self, contact_ids: list[str]) -> str:
        select = ["ContactId", *self._deal_fields("Opportunity.")]
        return (
            f"SELECT {', '.join(select)} FROM OpportunityContactRole "
            f"WHERE ContactId IN {_quoted(contact_ids)} AND Opportunity.IsClosed = false"
        )

    def _deal_fields(self, prefix: str = "") -> list[str]:
        return [prefix + f for f in DEAL_FIELDS if f not in self._absent]

    def _query_adaptive(self, build_soql: Callable[[], str]) -> list[dict[str, Any]]:
        """Run a query; when the org lacks an optional field or relationship, drop it for good and retry."""
        while True:
            try:
                return self._query(build_soql())
            except SalesforceCallFailed as exc:
                missing = _missing_optional_part(exc)
                if missing is None or missing in self._absent:
                    raise
                log.info("Salesforce org has no %s; querying without it from now on", missing)
                self._absent.add(missing)

    def _query(self, soql: str) -> list[dict[str, Any]]:
        return self._all_records(self._call("query", lambda sf: sf.query(soql)))

    def _all_records(self, page: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        """Records of a query result or subquery, following `nextRecordsUrl` page by page."""
        if not page:
            return []
        records = list(page.get("records", []))
        while not page.get("done", True):
            url = page["nextRecordsUrl"]
            page = self._call("query", lambda sf: sf.query_more(url, identifier_is_url=True))
            records.extend(page.get("records", []))
        return records

    # ---- writes ------------------------------------------------------------------------

    def handlers(self) -> Mapping[type[Command], CommandHandler[Any]]:
        return {
            UpdateFields: CommandHandler(self.update_fields),
            AddCollaborators: CommandHandler(self.add_collaborators),
            CreateTask: CommandHandler(self.create_tasks),
            LogCall: CommandHandler(self.log_calls),
            AddNote: CommandHandler(self.add_notes),
        }

    def update_fields(self, commands: Sequence[UpdateFields]) -> list[Outcome]:
        records = [
            {"attributes": {"type": _sobject_type(c.object_type)}, "id": c.record_id, **{k: _json_value(v) for k, v in c.fields.items()}}
            for c in commands
        ]
        # A collection is processed in chunks per object type (at most 10): group types together.
        order = sorted(range(len(records)), key=lambda i: records[i]["attributes"]["type"])
        saved_in_order = self._save("PATCH", [records[i] for i in order])
        saved: list[_Saved] = [_Saved(id=None)] * len(records)
        for position, i in enumerate(order):
            saved[i] = saved_in_order[position]
        return [_outcome(c.key, s, default_id=c.record_id) for c, s in zip(commands, saved)]

    def add_collaborators(self, commands: Sequence[AddCollaborators]) -> list[Outcome]:
        """One OpportunityTeamMember per (command, user); a user already on the team counts as added."""
        if TEAM_RELATIONSHIP in self._absent:
            raise self._teams_disabled()
        members = [(i, user_id) for i, c in enumerate(commands) for user_id in dict.fromkeys(c.user_ids)]
        saved = self._save_team_members([self._team_member(commands[i], user_id) for i, user_id in members])
        per_command: list[dict[str, _Saved]] = [{} for _ in commands]
        for (i, user_id), result in zip(members, saved):
            per_command[i][user_id] = result
        return [_collaborators_outcome(c.key, per_command[i]) for i, c in enumerate(commands)]

    def create_tasks(self, commands: Sequence[CreateTask]) -> list[Outcome]:
        records = []
        for c in commands:
            record = {
                "attributes": {"type": "Task"},
                "WhatId": c.record_id,
                "OwnerId": c.owner_id,
                "Subject": c.subject[:255],
                "Description": c.body[:32000],
                "ActivityDate": c.due.isoformat(),
                "Status": "Not Started",
                "Priority": _PRIORITY.get(c.priority.upper(), "Normal"),
            }
            if c.contact_id:
                record["WhoId"] = c.contact_id
            records.append(record)
        return self._create(commands, records)

    def log_calls(self, commands: Sequence[LogCall]) -> list[Outcome]:
        records = []
        for c in commands:
            record: dict[str, Any] = {
                "attributes": {"type": "Task"},
                "WhatId": c.record_id,
                "Subject": c.title[:255],
                "TaskSubtype": "Call",
                "Status": "Completed",
                "ActivityDate": datetime.fromtimestamp(c.occurred_at_ms / 1000, tz=timezone.utc).date().isoformat(),
                "Description": _call_description(c),
            }
            if c.owner_id:
                record["OwnerId"] = c.owner_id
            if c.duration_ms is not None:
                record["CallDurationInSeconds"] = round(c.duration_ms / 1000)
            records.append(record)
        return self._create(commands, records)

    def add_notes(self, commands: Sequence[AddNote]) -> list[Outcome]:
        """Chatter posts on the record's feed (FeedItem bodies hold up to 10,000 characters)."""
        records = [{"attributes": {"type": "FeedItem"}, "ParentId": c.record_id, "Body": c.body[:10000]} for c in commands]
        return self._create(commands, records)

    def _save_team_members(self, records: list[dict[str, Any]]) -> list[_Saved]:
        """Create team members; where the org's sharing model makes OpportunityAccessLevel
        read-only, resend the rejected members without it (they get the org's default access)."""
        try:
            saved = self._save("POST", records)
        except SalesforceCallFailed as exc:
            if _mentions_team_object(exc.code, exc.sf_message):
                raise self._teams_disabled() from None
            raise
        if any(_mentions_team_object(s.code, s.error) for s in saved):
            raise self._teams_disabled()
        rejected = [i for i, s in enumerate(saved) if s.code == "INVALID_FIELD_FOR_INSERT_UPDATE" and "OpportunityAccessLevel" in (s.error or "")]
        if rejected:
            log.info("OpportunityAccessLevel is read-only in this org; adding team members with the default access")
            self._access_level_settable = False
            for i, result in zip(rejected, self._save("POST", [self._team_member_record(records[i]) for i in rejected])):
                saved[i] = result
        return saved

    def _teams_disabled(self) -> CrmError:
        """Remember the org has no teams (no more team subqueries or writes) and explain the fix."""
        self._absent.add(TEAM_RELATIONSHIP)
        return CrmError(f"This Salesforce org has no Opportunity Teams, so leaders cannot join deals. {ENABLE_TEAMS}.", retryable=False)

    def _team_member(self, command: AddCollaborators, user_id: str) -> dict[str, Any]:
        return self._team_member_record({
            "attributes": {"type": "OpportunityTeamMember"},
            "OpportunityId": command.record_id,
            "UserId": user_id,
            "TeamMemberRole": command.role or self._team_role,
            "OpportunityAccessLevel": command.access_level or self._team_access_level,
        })

    def _team_member_record(self, record: dict[str, Any]) -> dict[str, Any]:
        if self._access_level_settable:
            return record
        return {k: v for k, v in record.items() if k != "OpportunityAccessLevel"}

    def _create(self, commands: Sequence[CreateTask | LogCall | AddNote], records: list[dict[str, Any]]) -> list[Outcome]:
        return [_outcome(c.key, s) for c, s in zip(commands, self._save("POST", records))]

    def _save(self, method: str, records: list[dict[str, Any]]) -> list[_Saved]:
        """Send records in collections of 200, one result per record, in order.

        A failure of the first call raises (nothing was written). A failure of a later call
        must not hide the writes already made, or a retry would repeat them: its records
        (and those after it) come back as failed results carrying the error instead.
        """
        results: list[_Saved] = []
        for start in range(0, len(records), COLLECTION_SIZE):
            chunk = records[start : start + COLLECTION_SIZE]
            body = {"allOrNone": False, "records": chunk}
            try:
                response = self._call("composite/sobjects", lambda sf: sf.restful("composite/sobjects", method=method, json=body))
                if not isinstance(response, list) or len(response) != len(chunk):
                    # Unknown what was written: not retryable, or records could be created twice.
                    raise CrmError(f"Salesforce answered {len(response or [])} results for {len(chunk)} records")
            except CrmError as exc:
                if not results:
                    raise
                failed = _Saved(id=None, code=getattr(exc, "code", "ERROR"), error=str(exc), retryable=exc.retryable)
                return results + [failed] * (len(records) - len(results))
            results.extend(_saved(r) for r in response)
        return results

    # ---- doctor ------------------------------------------------------------------------

    def check(self) -> list[Finding]:
        """Three steps, two API calls: authenticate, read limits, describe the objects in one batch."""
        try:
            self._call("authenticate", lambda sf: sf, guard=False)
        except CrmError as exc:
            return [Finding("auth", False, f"Could not authenticate to Salesforce ({exc}); check the connected app, the integration user and the tenant's secrets.")]
        findings = [Finding("auth", True, "Authenticated to Salesforce as the integration user.")]
        try:
            limits = self._call("limits", lambda sf: sf.limits(), guard=False)
            findings.append(self._usage_finding(limits))
            described = self._describe(CHECKED_OBJECTS)
        except CrmError as exc:
            return findings + [Finding("api", False, f"Salesforce refused the doctor's API calls ({exc}); check that the integration user has 'API Enabled' and 'View Setup and Configuration'.")]
        findings.extend(self._object_findings(described))
        return findings

    def _usage_finding(self, limits: Mapping[str, Any]) -> Finding:
        daily = limits.get("DailyApiRequests") or {}
        total, remaining = int(daily.get("Max", 0)), int(daily.get("Remaining", 0))
        if not total:
            return Finding("api_usage", False, "Salesforce did not report DailyApiRequests; check that the integration user may view org limits.")
        used = total - remaining
        self._usage = (used, total)
        share = used / total
        if share >= self._limit_share:
            return Finding("api_usage", False, f"API usage is {used}/{total} ({share:.0%}), at or above this tenant's pause threshold of {self._limit_share:.0%}: non-urgent work waits until usage drops, or raise api_limit_share.")
        return Finding("api_usage", True, f"API usage is {used}/{total} ({share:.0%}) of the rolling 24-hour allowance; non-urgent work pauses at {self._limit_share:.0%}.")

    def _describe(self, names: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        """Describe several objects in one Composite Batch call; None for objects the user can't see."""

        def batch(sf: Salesforce) -> Any:
            subrequests = [{"method": "GET", "url": f"v{sf.sf_version}/sobjects/{name}/describe"} for name in names]
            return sf.restful("composite/batch", method="POST", json={"batchRequests": subrequests})

        response = self._call("describe", batch, guard=False)
        return {name: r["result"] if r["statusCode"] == 200 else None for name, r in zip(names, response["results"])}

    def _object_findings(self, described: Mapping[str, dict[str, Any] | None]) -> list[Finding]:
        """Findings per object; what the describes show about the org also holds for later queries."""
        opportunity, team = described.get("Opportunity"), described.get("OpportunityTeamMember")
        if opportunity:
            names = {f["name"] for f in opportunity.get("fields", [])}
            self._absent.update(f for f in ("CurrencyIsoCode", "RecordTypeId") if f not in names)
        if team is None:
            self._absent.add(TEAM_RELATIONSHIP)
        return [
            _opportunity_finding(opportunity),
            _task_finding(described.get("Task")),
            _feed_item_finding(described.get("FeedItem")),
            _team_finding(team),
        ]

    # ---- one API call: allowance guard, retries, session refresh -----------------------

    def _call(self, what: str, fn: Callable[[Salesforce], T], *, guard: bool = True) -> T:
        """Run `fn` against the client: backoff on transient errors, reconnect once on an expired session."""
        import requests
        from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError, SalesforceExpiredSession

        attempt, reconnected = 0, False
        while True:
            if guard:
                self._guard_allowance()
            try:
                sf = self._client()
                result = fn(sf)
            except SalesforceAuthenticationFailed as exc:
                # The message is Salesforce's error_description (e.g. invalid_grant); it never holds a secret.
                raise CrmError(f"Salesforce login failed ({exc.code}): {exc.auth_message}") from None
            except SalesforceExpiredSession:
                if reconnected:
                    raise SalesforceCallFailed("INVALID_SESSION_ID", "the session is still invalid after reconnecting; check the integration user and its connected app") from None
                reconnected, self._sf = True, None
                continue
            except SalesforceError as exc:
                code, message = _first_error(exc.content)
                if code == "REQUEST_LIMIT_EXCEEDED":
                    raise CrmLimitReached(f"Salesforce refused {what}: REQUEST_LIMIT_EXCEEDED: {message}") from None
                transient = exc.status >= 500 or exc.status == 429 or code in RETRYABLE_CODES
                if not transient or attempt >= self._max_retries:
                    raise SalesforceCallFailed(code, message, retryable=transient) from None
                log.warning("Salesforce %s: %s (HTTP %s), attempt %d; backing off", what, code, exc.status, attempt + 1)
            except requests.RequestException as exc:
                # The exception text may carry the URL, and with it a SOQL query: name the type only.
                if attempt >= self._max_retries:
                    raise CrmError(f"Salesforce unreachable during {what}: {type(exc).__name__}", retryable=True) from None
                log.warning("Salesforce %s: %s, attempt %d; backing off", what, type(exc).__name__, attempt + 1)
            else:
                self._note_usage(sf)
                return result
            self._sleep(min(_MAX_DELAY, _BASE_DELAY * 2**attempt) * random.uniform(0.5, 1.0))
            attempt += 1

    def _client(self) -> Salesforce:
        if self._sf is None:
            self._sf = self._connect()
        return self._sf

    def _guard_allowance(self) -> None:
        if self._usage is None:
            return
        used, total = self._usage
        if total and used / total >= self._limit_share:
            raise CrmLimitReached(
                f"Salesforce API usage is {used}/{total} ({used / total:.0%}), at or above this tenant's "
                f"api_limit_share of {self._limit_share:.0%}; non-urgent work waits for the rolling 24-hour usage to drop"
            )

    def _note_usage(self, sf: Salesforce) -> None:
        """simple-salesforce parses `Sforce-Limit-Info: api-usage=N/M` into `sf.api_usage` after each response."""
        usage = getattr(sf, "api_usage", {}).get("api-usage")
        if usage:
            self._usage = (usage.used, usage.total)


# ---- connecting ----------------------------------------------------------------------


def _connector(tenant: Tenant, environ: Mapping[str, str] | None) -> Callable[[], Salesforce]:
    """Build `connect()` for the tenant's auth; secrets are read at each connect (rotation-friendly)."""

    def secret(env_name: str | None, what: str) -> str:
        value = tenant.secret(env_name, environ)
        if not value:
            raise CrmError(f"tenant {tenant.id}: the {what} is missing: set environment variable {env_name or '(not configured)'}")
        return value

    def connect() -> Salesforce:
        from simple_salesforce import Salesforce

        if tenant.auth == "jwt":
            return Salesforce(
                username=tenant.username,
                consumer_key=secret(tenant.consumer_key_env, "connected app consumer key"),
                privatekey=secret(tenant.private_key_env, "JWT signing key"),
                domain=tenant.domain or "login",
                version=tenant.api_version,
            )
        if tenant.auth == "client_credentials":
            return Salesforce(
                consumer_key=secret(tenant.consumer_key_env, "connected app consumer key"),
                consumer_secret=secret(tenant.consumer_secret_env, "connected app consumer secret"),
                domain=_my_domain(tenant),
                version=tenant.api_version,
            )
        if tenant.auth == "session":
            return Salesforce(
                instance_url=tenant.api_base_url or tenant.instance_url,
                session_id=secret(tenant.session_id_env, "session id"),
                version=tenant.api_version,
            )
        raise CrmError(f"tenant {tenant.id}: unsupported Salesforce auth {tenant.auth!r} (use jwt or client_credentials)")

    return connect


def _my_domain(tenant: Tenant) -> str:
    """simple-salesforce wants the My Domain host without `.salesforce.com` (e.g. `acme.my`)."""
    host = tenant.domain or urlparse(tenant.instance_url or "").hostname or ""
    host = host.removeprefix("https://").removesuffix("/").removesuffix(".salesforce.com")
    if host in ("", "login", "test"):
        raise CrmError(f"tenant {tenant.id}: client credentials need the org's My Domain (e.g. acme.my.salesforce.com) in domain or instance_url")
    return host


# ---- doctor findings -----------------------------------------------------------------


def _opportunity_finding(describe: Mapping[str, Any] | None) -> Finding:
    if not describe or not describe.get("updateable"):
        return Finding("opportunity", False, "The integration user cannot read and edit Opportunity: grant Read and Edit on Opportunities in its profile or permission set.")
    updateable = [f for f in describe.get("fields", []) if f.get("updateable")]
    custom = sum(1 for f in updateable if f.get("custom"))
    return Finding("opportunity", True, f"Opportunity is readable and updateable: {len(updateable)} fields are updateable ({custom} custom); a custom field missing from that count needs field-level security in the product's permission set.")


def _task_finding(describe: Mapping[str, Any] | None) -> Finding:
    if not describe or not describe.get("createable"):
        return Finding("task", False, "The integration user cannot create Tasks: grant Create on Tasks (the 'Edit Tasks' permission) in its profile or permission set.")
    createable = {f["name"] for f in describe.get("fields", []) if f.get("createable")}
    missing = [f for f in TASK_FIELDS if f not in createable]
    if missing:
        return Finding("task", False, f"The integration user cannot set Task fields {', '.join(missing)}: grant Edit on them in its permission set.")
    return Finding("task", True, "Tasks and call logs can be created.")


def _feed_item_finding(describe: Mapping[str, Any] | None) -> Finding:
    if not describe or not describe.get("createable"):
        return Finding("feed_item", False, "Notes need Chatter: enable it in Setup → Chatter Settings and turn on feed tracking for Opportunity.")
    return Finding("feed_item", True, "Chatter posts (FeedItem) can be created for notes.")


def _team_finding(describe: Mapping[str, Any] | None) -> Finding:
    if describe is None:
        return Finding("opportunity_teams", False, f"{ENABLE_TEAMS}, so leaders can join large deals.")
    if not describe.get("createable"):
        return Finding("opportunity_teams", False, "The integration user cannot add opportunity team members: grant Edit on Opportunities and access to Opportunity Teams.")
    return Finding("opportunity_teams", True, "Opportunity Teams are enabled; leaders can be added to deals.")


# ---- mapping -------------------------------------------------------------------------


def _in_chunks(values: Iterable[str]) -> Iterator[list[str]]:
    """Distinct non-empty values in groups that keep a SOQL `IN` list short enough for a GET URL."""
    chunk: list[str] = []
    chars = 0
    for value in dict.fromkeys(v for v in values if v):
        cost = len(value) + 3  # quotes and comma
        if chunk and (len(chunk) >= IN_LIST_SIZE or chars + cost > IN_LIST_CHARS):
            yield chunk
            chunk, chars = [], 0
        chunk.append(value)
        chars += cost
    if chunk:
        yield chunk


def _quoted(values: list[str]) -> str:
    from simple_salesforce.format import quote_soql_value

    return quote_soql_value(values)


def deal_from_record(record: Mapping[str, Any], collaborators: frozenset[str] = frozenset()) -> Deal:
    """A deal from an Opportunity: REST JSON values, or an outbound message's text ones
    ("false", "" for nil) in a dry run."""
    amount = record.get("Amount")
    return Deal(
        id=record["Id"],
        amount=None if amount in (None, "") else Decimal(str(amount)),
        currency=record.get("CurrencyIsoCode") or None,
        owner_id=record.get("OwnerId") or None,
        stage=record.get("StageName") or None,
        pipeline=record.get("RecordTypeId") or None,
        closed=record.get("IsClosed") in (True, "true"),
        name=record.get("Name") or None,
        collaborators=collaborators,
        fields={k: v for k, v in record.items() if k not in ("attributes", TEAM_RELATIONSHIP)},
    )


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


def _mentions_team_object(code: str | None, message: str | None) -> bool:
    return code in ("INVALID_TYPE", "NOT_FOUND") and "OpportunityTeamMember" in (message or "")


def _first_error(content: Any) -> tuple[str, str]:
    """(errorCode, reason) from a REST error body: `[{"errorCode": ..., "message": ...}]`.

    SOQL errors echo the query (which may hold e-mail addresses) above the reason, which is
    the last line: only that line is kept, so exceptions and logs carry no personal data.
    """
    error = content[0] if isinstance(content, list) and content else content
    if not isinstance(error, Mapping):
        return "UNKNOWN_ERROR", "unreadable error response"
    lines = str(error.get("message") or "").strip().splitlines()
    return str(error.get("errorCode") or "UNKNOWN_ERROR"), lines[-1] if lines else ""


def _saved(result: Mapping[str, Any]) -> _Saved:
    if result.get("success"):
        return _Saved(id=result.get("id"))
    errors = result.get("errors") or [{"statusCode": "UNKNOWN_ERROR", "message": "no error detail"}]
    code = errors[0].get("statusCode", "UNKNOWN_ERROR")
    text = "; ".join(f"{e.get('statusCode')}: {e.get('message')}" for e in errors)
    return _Saved(id=result.get("id"), code=code, error=text, retryable=code in RETRYABLE_CODES)


def _outcome(key: str, saved: _Saved, default_id: str | None = None) -> Outcome:
    if saved.ok:
        return Outcome(key=key, ok=True, crm_id=saved.id or default_id)
    return Outcome(key=key, ok=False, error=saved.error, retryable=saved.retryable)


def _collaborators_outcome(key: str, members: Mapping[str, _Saved]) -> Outcome:
    """Ok only if every user is on the team now (already being a member counts)."""
    failed = {u: s for u, s in members.items() if not s.ok and s.code not in ALREADY_MEMBER_CODES}
    ids = {u: s.id for u, s in members.items()}
    if failed:
        error = "; ".join(f"user {u}: {s.error}" for u, s in failed.items())
        return Outcome(key=key, ok=False, error=error, retryable=all(s.retryable for s in failed.values()), detail={"members": ids})
    only_id = next(iter(ids.values())) if len(ids) == 1 else None
    return Outcome(key=key, ok=True, crm_id=only_id, detail={"members": ids})


def _sobject_type(object_type: str) -> str:
    return "Opportunity" if object_type.lower() in ("opportunity", "deal") else object_type


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _call_description(call: LogCall) -> str:
    recording = f"Recording: {call.recording_url}"
    body = call.body[: 32000 - len(recording) - 2]
    return f"{body}\n\n{recording}" if body else recording
