"""The batched reads that match recordings to opportunities and follow review tasks.

One SOQL query per 200 values (fewer when the values are long: the query travels in a GET
URL), never one per recording:
- users by Email; accounts by Website (LIKE, then the exact host compared here: LIKE
  '%acme.com%' also finds notacme.com and acme.com.au);
- opportunities whose Id is in a semi-join on OpportunityContactRole (their roles and team
  members as subqueries, so one query answers contact -> opportunity -> team) or through
  Opportunity.AccountId (team members as a subquery); open, or closed on/after
  `closed_since`; the team parts are dropped for good in orgs without teams;
- call Tasks and review Tasks by id.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Sequence

from integration.commands import Deal, User
from integration.gateway import CrmError
from integration.gateway.salesforce.calls import RECORDING_ID_FIELD, bare_domain, call_activity_from_record, task_state_from_record, website_host
from integration.gateway.salesforce.mapping import TEAM_RELATIONSHIP, deal_from_record, in_chunks, quoted, user_from_record
from integration.gateway.salesforce.org import OrgShape
from integration.gateway.salesforce.transport import SalesforceCallFailed, SalesforceTransport
from integration.recordings import CallActivity, TaskState

ROLES_RELATIONSHIP = "OpportunityContactRoles"  # Opportunity -> OpportunityContactRole
MATCH_FIELDS = ("AccountId", "CloseDate")  # besides the adapter's deal fields: what matching needs
LIKE_CLAUSE_CHARS = len("Website LIKE '%%' OR ") + 2  # per domain, besides the domain itself
WEBSITE_CHUNK = 200  # clauses per query; the URL budget usually cuts sooner


class RecordingReads:
    """`query_adaptive(build_soql)` runs a query, dropping optional parts the org lacks;
    `deal_fields(prefix)` are the Opportunity fields this org has."""

    def __init__(
        self,
        transport: SalesforceTransport,
        org: OrgShape,
        *,
        query_adaptive: Callable[[Callable[[], str]], list[dict[str, Any]]],
        deal_fields: Callable[[str], list[str]],
        recording_url_field: str,
    ):
        self._transport = transport
        self._org = org
        self._query_adaptive = query_adaptive
        self._deal_fields = deal_fields
        self.recording_url_field = recording_url_field

    def find_users_by_email(self, emails: Sequence[str]) -> dict[str, User]:
        """Several users may share an address (a deactivated one and its successor): the active one wins."""
        users: dict[str, User] = {}
        for chunk in in_chunks(e.strip().lower() for e in emails):
            soql = f"SELECT Id, Name, Email, ManagerId, IsActive FROM User WHERE Email IN {quoted(chunk)}"
            for record in self._transport.query(soql):
                user = user_from_record(record)
                email = (user.email or "").lower()
                if email not in users or (user.active and not users[email].active):
                    users[email] = user
        return users

    def find_accounts_by_domain(self, domains: Sequence[str]) -> dict[str, list[str]]:
        wanted = [bare_domain(d) for d in domains if d and d.strip()]
        found: dict[str, list[str]] = {}
        for chunk in in_chunks(wanted, size=WEBSITE_CHUNK, overhead=LIKE_CLAUSE_CHARS):
            likes = " OR ".join(f"Website LIKE '%{_like(d)}%'" for d in chunk)
            for record in self._transport.query(f"SELECT Id, Website FROM Account WHERE {likes}"):
                host = website_host(record.get("Website"))
                if host in chunk and record["Id"] not in found.get(host, []):
                    found.setdefault(host, []).append(record["Id"])
        return found

    def deals_for_contacts(self, contact_ids: Sequence[str], closed_since: datetime) -> dict[str, list[Deal]]:
        """Opportunities where the contacts have a role, with their teams and roles as
        subqueries: one query per 200 contacts. The closed window is applied here: a
        semi-join may not stand next to an OR (`IsClosed = false OR CloseDate >= ...`)."""
        wanted = set(contact_ids)
        since = _soql_date(closed_since)
        found: dict[str, list[Deal]] = {}
        for chunk in in_chunks(contact_ids):

            def build(chunk: list[str] = chunk) -> str:
                select = [*self._match_fields(""), f"(SELECT ContactId FROM {ROLES_RELATIONSHIP})"]
                if TEAM_RELATIONSHIP not in self._org.absent:
                    select.append(f"(SELECT UserId FROM {TEAM_RELATIONSHIP})")
                return (
                    f"SELECT {', '.join(select)} FROM Opportunity "
                    f"WHERE Id IN (SELECT OpportunityId FROM OpportunityContactRole WHERE ContactId IN {quoted(chunk)})"
                )

            for record in self._query_adaptive(build):
                if record.get("IsClosed") and str(record.get("CloseDate") or "") < since:
                    continue
                team = frozenset(m["UserId"] for m in self._transport.all_records(record.get(TEAM_RELATIONSHIP)))
                deal = deal_from_record({k: v for k, v in record.items() if k != ROLES_RELATIONSHIP}, team)
                contacts = {r["ContactId"] for r in self._transport.all_records(record.get(ROLES_RELATIONSHIP))}
                for contact in sorted(contacts & wanted):
                    if all(d.id != deal.id for d in found.get(contact, [])):
                        found.setdefault(contact, []).append(deal)
        return found

    def deals_for_accounts(self, account_ids: Sequence[str], closed_since: datetime) -> dict[str, list[Deal]]:
        since = _soql_date(closed_since)
        found: dict[str, list[Deal]] = {}
        for chunk in in_chunks(account_ids):

            def build(chunk: list[str] = chunk) -> str:
                select = self._match_fields("")
                if TEAM_RELATIONSHIP not in self._org.absent:
                    select.append(f"(SELECT UserId FROM {TEAM_RELATIONSHIP})")
                return f"SELECT {', '.join(select)} FROM Opportunity WHERE AccountId IN {quoted(chunk)} AND (IsClosed = false OR CloseDate >= {since})"

            for record in self._query_adaptive(build):
                team = frozenset(m["UserId"] for m in self._transport.all_records(record.get(TEAM_RELATIONSHIP)))
                found.setdefault(record["AccountId"], []).append(deal_from_record(record, team))
        return found

    def read_calls(self, ids: Sequence[str]) -> dict[str, CallActivity]:
        """Call Tasks (TaskSubtype 'Call') by id; other Tasks are absent from the answer."""
        url_field = self.recording_url_field
        calls: dict[str, CallActivity] = {}
        for chunk in in_chunks(ids):
            soql = (
                "SELECT Id, Subject, OwnerId, ActivityDate, CreatedDate, CallDurationInSeconds, WhatId, WhoId, TaskSubtype, "
                f"{url_field}, {RECORDING_ID_FIELD} FROM Task WHERE Id IN {quoted(chunk)} AND TaskSubtype = 'Call'"
            )
            for record in self.task_query(soql):
                calls[record["Id"]] = call_activity_from_record(record, url_field)
        return calls

    def read_tasks(self, ids: Sequence[str]) -> dict[str, TaskState]:
        tasks: dict[str, TaskState] = {}
        for chunk in in_chunks(ids):
            soql = f"SELECT Id, IsClosed, Status, OwnerId, ActivityDate, CompletedDateTime FROM Task WHERE Id IN {quoted(chunk)}"
            tasks.update((r["Id"], task_state_from_record(r)) for r in self._transport.query(soql))
        return tasks

    def task_query(self, soql: str) -> list[dict[str, Any]]:
        """A Task query naming the product's Task fields: an org without one gets an error saying which and how to fix it."""
        try:
            return self._transport.query(soql)
        except SalesforceCallFailed as exc:
            raise missing_task_field(exc, self.recording_url_field) or exc from None

    def _match_fields(self, prefix: str) -> list[str]:
        return [*self._deal_fields(prefix), *(prefix + f for f in MATCH_FIELDS)]


def missing_task_field(exc: SalesforceCallFailed, url_field: str, *, upsert: bool = False) -> CrmError | None:
    """The clear error for an org that lacks one of the product's Task fields, or None. An
    upsert URL naming a field Task does not have is answered 404 NOT_FOUND."""
    refused_field = exc.code in ("INVALID_FIELD", "INVALID_FIELD_FOR_INSERT_UPDATE")
    if (refused_field and RECORDING_ID_FIELD in exc.sf_message) or (upsert and exc.code == "NOT_FOUND"):
        return CrmError(
            f"Salesforce Task has no usable {RECORDING_ID_FIELD}: deploy it on Activity as Text(255), External ID, Unique "
            "(the installer does) and grant the integration user edit access to it.",
        )
    if refused_field and url_field in exc.sf_message:
        return CrmError(
            f"Salesforce Task has no usable recording URL field {url_field}: create it on Activity (type URL) and grant "
            "the integration user edit access, or set the tenant's recording_url_field to the field the org uses.",
        )
    return None


def _like(domain: str) -> str:
    """A domain inside a SOQL LIKE literal: quotes escaped, `%` and `_` matched literally."""
    from simple_salesforce.format import format_soql

    return str(format_soql("{:like}", domain))


def _soql_date(moment: datetime) -> str:
    """A SOQL date literal (unquoted): the UTC day of `moment` (CloseDate is a date)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).date().isoformat()
