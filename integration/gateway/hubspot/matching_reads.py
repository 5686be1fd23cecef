"""The batched reads that matching recordings and running reviews need, on HubSpot.

Requests (never one per record; owners by email: see `owners`): contacts by email and deals by id: a batch read up to
100 values, above that the CRM search (IN filters of 100 values, five groups ORed, 200 results a
page: ceil(n / 200) requests instead of ceil(n / 100)); companies by domain: the search likewise;
deals of contacts/companies: associations v4 (100 ids per request) then the deals read (for
matching, one read for the contacts', companies' and explicit deals together); calls: one batch
read + one associations read to deals and one to contacts per 100 calls; tasks: one batch read
per 100 tasks. Searches are paced by the adapter's search limiter (HubSpot allows a few a second);
a query stops at 10,000 results, far above 500 values of a property one record holds.

The trade-off of the search: HubSpot indexes records for search a few seconds after a create or
change, so a contact created seconds before the recording is matched may not be found; that recording stays
`unmatched` and is retried daily. Deals of contacts and companies are searched only among those
open or closed since the window opened (two filter groups per 100 ids: `hs_is_closed` false,
or `closedate` on/after it; as many chunks as HubSpot's five groups allow, the rest unfiltered),
so deals closed long ago (a tenth of those the generated org's contacts have) cost no page.
Deal ids the search does not return are batch read only when a recording NAMED them (a named
deal since deleted, or created seconds ago: the search cannot tell them apart), so an explicit
deal is never missed for lag. The cost: a deal associated with a contact or company seconds
before the match, not indexed yet, is not seen by that match; the recording is still matched
by the next step (the company, the domain) or kept `unmatched` and retried daily.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

from integration.commands import Contact, Deal
from integration.gateway.hubspot.mapping import BATCH_SIZE, CALL_PROPERTIES, MATCH_DEAL_PROPERTIES, TASK_PROPERTIES, call_from_record, chunks, match_deal, task_from_record, unique
from integration.gateway.hubspot.records import SEARCH_PAGE, Records
from integration.recordings import CallActivity, TaskState

CONTACT_PROPERTIES = ("email", "firstname", "lastname", "associatedcompanyid")


class MatchingReads:
    def __init__(self, records: Records) -> None:
        self.records = records

    def accounts_by_domain(self, domains: Sequence[str]) -> dict[str, list[str]]:
        """Company ids by lower-cased domain: `domain` IN, 100 values a group, five groups a search."""
        wanted = unique(_domain(d) for d in domains if d and _domain(d))
        found: dict[str, list[str]] = {}
        wanted_set = set(wanted)
        for company in self.records.search_in("companies", "domain", wanted, ("domain",)) if wanted else ():
            domain = _domain((company.properties or {}).get("domain") or "")
            if domain in wanted_set:
                found.setdefault(domain, []).append(str(company.id))
        return {d: unique(ids) for d, ids in found.items()}

    def contacts_by_email(self, emails: Sequence[str]) -> dict[str, Contact]:
        """Contacts by lower-cased email; `account_id` is the primary company
        (`associatedcompanyid`). Up to 100 emails: a batch read on the `email` idProperty;
        more: the search (`email` IN), half the requests, subject to its indexing lag."""
        wanted = unique(e.strip().lower() for e in emails if e and e.strip())
        if not wanted:
            return {}
        if searching_pays(len(wanted)):
            records = self.records.search_in("contacts", "email", wanted, CONTACT_PROPERTIES)
        else:
            records = self.records.read("contacts", wanted, CONTACT_PROPERTIES, id_property="email")
        wanted_set = set(wanted)
        contacts = {}
        for r in records:
            props = r.properties or {}
            email = (props.get("email") or "").lower()
            if email in wanted_set:
                name = " ".join(p for p in (props.get("firstname"), props.get("lastname")) if p) or None
                contacts[email] = Contact(id=str(r.id), email=email, name=name, account_id=props.get("associatedcompanyid") or None)
        return contacts

    def deals_for(self, from_type: str, ids: Sequence[str], closed_since: datetime) -> dict[str, list[Deal]]:
        """Deals associated with each contact/company: open, or closed on/after `closed_since`.
        Deals listed under a company carry it as `account_id`."""
        deal_ids = self.records.associated_ids(from_type, "deals", unique(ids))
        properties = self._deals((d for ds in deal_ids.values() for d in ds), closed_since)
        return _kept(from_type, deal_ids, properties, closed_since)

    def deals_for_matching(
        self, contact_ids: Sequence[str], account_ids: Sequence[str], deal_ids: Sequence[str], closed_since: datetime
    ) -> tuple[dict[str, list[Deal]], dict[str, list[Deal]], dict[str, Deal]]:
        """`deals_for` contacts and companies and the explicit deals, with ONE deals batch read
        (100 per request) for all of them: a contact's deals are mostly its company's too."""
        by_contact = self.records.associated_ids("contacts", "deals", unique(contact_ids)) if contact_ids else {}
        by_account = self.records.associated_ids("companies", "deals", unique(account_ids)) if account_ids else {}
        properties = self._deals([*(d for ds in by_contact.values() for d in ds), *(d for ds in by_account.values() for d in ds), *deal_ids], closed_since, deal_ids)
        explicit = {d: match_deal(d, properties[d]) or Deal(d) for d in unique(deal_ids) if d in properties}
        return _kept("contacts", by_contact, properties, closed_since), _kept("companies", by_account, properties, closed_since), explicit

    def _deals(self, ids: Iterable[str], closed_since: datetime, named: Sequence[str] = ()) -> dict[str, Mapping[str, Any]]:
        """Deal properties by id: a batch read up to 100 ids; else the search, narrowed to deals
        open or closed on/after `closed_since` (named ids last: left unnarrowed while the groups
        last), then a batch read of the named ids it did not return."""
        wanted = unique(ids)
        if not wanted:
            return {}
        if not searching_pays(len(wanted)):
            return {str(r.id): r.properties or {} for r in self.records.read("deals", wanted, MATCH_DEAL_PROPERTIES)}
        explicit = set(named)
        since_ms = str(int((closed_since if closed_since.tzinfo else closed_since.replace(tzinfo=timezone.utc)).timestamp() * 1000))
        kept = ([{"property_name": "hs_is_closed", "operator": "EQ", "value": "false"}], [{"property_name": "closedate", "operator": "GTE", "value": since_ms}])
        ordered = [d for d in wanted if d not in explicit] + [d for d in wanted if d in explicit]
        found = {str(r.id): r.properties or {} for r in self.records.search_in("deals", "hs_object_id", ordered, MATCH_DEAL_PROPERTIES, narrow=kept)}
        missing = [d for d in wanted if d not in found and d in explicit]
        if missing:
            found.update({str(r.id): r.properties or {} for r in self.records.read("deals", missing, MATCH_DEAL_PROPERTIES)})
        return found

    def calls(self, ids: Sequence[str]) -> dict[str, CallActivity]:
        wanted = unique(ids)
        records = self.records.read("calls", wanted, CALL_PROPERTIES)
        found = [str(r.id) for r in records]
        deals = self.records.associated_ids("calls", "deals", found) if found else {}
        contacts = self.records.associated_ids("calls", "contacts", found) if found else {}
        return {str(r.id): call_from_record(r, deals.get(str(r.id), []), contacts.get(str(r.id), [])) for r in records}

    def tasks(self, ids: Sequence[str]) -> dict[str, TaskState]:
        return {str(r.id): task_from_record(r) for r in self.records.read("tasks", unique(ids), TASK_PROPERTIES)}


def searching_pays(count: int) -> bool:
    """True when the search (200 results a page, at most one hit per value) needs fewer
    requests than batch reads of 100: from 101 values on."""
    return -(-count // SEARCH_PAGE) < -(-count // BATCH_SIZE)


def _kept(from_type: str, deal_ids: Mapping[str, Sequence[str]], properties: Mapping[str, Mapping[str, Any]], closed_since: datetime) -> dict[str, list[Deal]]:
    """Each contact's/company's deals that are open, or closed on/after `closed_since`."""
    since = closed_since if closed_since.tzinfo else closed_since.replace(tzinfo=timezone.utc)
    out: dict[str, list[Deal]] = {}
    for owner_id, linked in deal_ids.items():
        deals = [match_deal(d, properties[d], owner_id if from_type == "companies" else None) for d in linked if d in properties]
        out[owner_id] = [d for d in deals if d is not None and (not d.closed or (d.closed_at is not None and d.closed_at >= since))]
    return out


def _domain(value: str) -> str:
    """HubSpot keeps company domains without scheme or `www.`; compare them lower-cased."""
    text = value.strip().lower().removeprefix("https://").removeprefix("http://").split("/")[0]
    return text.removeprefix("www.")
