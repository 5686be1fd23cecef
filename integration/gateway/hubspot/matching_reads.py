"""The batched reads that matching recordings and running reviews need, on HubSpot.

Requests (never one per record; owners by email: see `owners`): companies by domain: one search
per 100 domains, paced by the search limiter; deals of contacts/companies: associations v4 (100
ids per request) then one deals batch read per 100 deals (for matching, one read for the
contacts', companies' and explicit deals together); calls: one batch read + one associations
read to deals and one to contacts per 100 calls; tasks: one batch read per 100 tasks.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

from integration.commands import Deal
from integration.gateway.hubspot.mapping import CALL_PROPERTIES, MATCH_DEAL_PROPERTIES, TASK_PROPERTIES, call_from_record, chunks, match_deal, task_from_record, unique
from integration.gateway.hubspot.records import Records
from integration.recordings import CallActivity, TaskState

DOMAINS_PER_SEARCH = 100  # values of one IN filter, kept at the batch size


class MatchingReads:
    def __init__(self, records: Records) -> None:
        self.records = records

    def accounts_by_domain(self, domains: Sequence[str]) -> dict[str, list[str]]:
        """Company ids by lower-cased domain: `domain` IN (up to 100 values) per search."""
        wanted = unique(_domain(d) for d in domains if d and _domain(d))
        found: dict[str, list[str]] = {}
        for chunk in chunks(wanted, DOMAINS_PER_SEARCH):
            for company in self.records.search("companies", [{"property_name": "domain", "operator": "IN", "values": list(chunk)}], ("domain",)):
                domain = _domain((company.properties or {}).get("domain") or "")
                if domain in chunk:
                    found.setdefault(domain, []).append(str(company.id))
        return {d: unique(ids) for d, ids in found.items()}

    def deals_for(self, from_type: str, ids: Sequence[str], closed_since: datetime) -> dict[str, list[Deal]]:
        """Deals associated with each contact/company: open, or closed on/after `closed_since`.
        Deals listed under a company carry it as `account_id`."""
        deal_ids = self.records.associated_ids(from_type, "deals", unique(ids))
        properties = self._deals(d for ds in deal_ids.values() for d in ds)
        return _kept(from_type, deal_ids, properties, closed_since)

    def deals_for_matching(
        self, contact_ids: Sequence[str], account_ids: Sequence[str], deal_ids: Sequence[str], closed_since: datetime
    ) -> tuple[dict[str, list[Deal]], dict[str, list[Deal]], dict[str, Deal]]:
        """`deals_for` contacts and companies and the explicit deals, with ONE deals batch read
        (100 per request) for all of them: a contact's deals are mostly its company's too."""
        by_contact = self.records.associated_ids("contacts", "deals", unique(contact_ids)) if contact_ids else {}
        by_account = self.records.associated_ids("companies", "deals", unique(account_ids)) if account_ids else {}
        properties = self._deals([*(d for ds in by_contact.values() for d in ds), *(d for ds in by_account.values() for d in ds), *deal_ids])
        explicit = {d: match_deal(d, properties[d]) or Deal(d) for d in unique(deal_ids) if d in properties}
        return _kept("contacts", by_contact, properties, closed_since), _kept("companies", by_account, properties, closed_since), explicit

    def _deals(self, ids: Iterable[str]) -> dict[str, Mapping[str, Any]]:
        wanted = unique(ids)
        return {str(r.id): r.properties or {} for r in self.records.read("deals", wanted, MATCH_DEAL_PROPERTIES)} if wanted else {}

    def calls(self, ids: Sequence[str]) -> dict[str, CallActivity]:
        wanted = unique(ids)
        records = self.records.read("calls", wanted, CALL_PROPERTIES)
        found = [str(r.id) for r in records]
        deals = self.records.associated_ids("calls", "deals", found) if found else {}
        contacts = self.records.associated_ids("calls", "contacts", found) if found else {}
        return {str(r.id): call_from_record(r, deals.get(str(r.id), []), contacts.get(str(r.id), [])) for r in records}

    def tasks(self, ids: Sequence[str]) -> dict[str, TaskState]:
        return {str(r.id): task_from_record(r) for r in self.records.read("tasks", unique(ids), TASK_PROPERTIES)}


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
