"""Reading what matching needs for a batch of recordings: one batched CRM read per kind
(users by email, contacts by email, deals by contact, accounts by domain, deals by account,
explicit deals: asked together, `CrmGateway.deals_for_matching`), never one per recording;
a kind with nothing to ask is not read at all.
The matching itself is pure (`integration.matching`)."""
from __future__ import annotations

from datetime import timezone
from typing import Sequence

from integration.gateway import CrmGateway
from integration.matching import CLOSED_WINDOW, OrgFacts, domain_of, query_for
from integration.recordings import Recording


def read_facts(gateway: CrmGateway, recordings: Sequence[Recording]) -> OrgFacts:
    """Everything `match` may look at for these recordings. The deal windows reach back
    CLOSED_WINDOW before the earliest call, so deals closed since still count."""
    if not recordings:
        return OrgFacts()
    query = query_for(recordings)
    since = min(r.started_at if r.started_at.tzinfo else r.started_at.replace(tzinfo=timezone.utc) for r in recordings) - CLOSED_WINDOW
    users = {k.lower(): v for k, v in gateway.find_users_by_email(query.emails).items()} if query.emails else {}
    external = [e for e in query.emails if e not in users]
    contacts = {k.lower(): v for k, v in gateway.find_contacts(external).items()} if external else {}
    contact_ids = sorted({c.id for c in contacts.values()} | set(query.contact_ids))
    internal = {domain_of(e) for e in users}  # the seller's own domains are never an account's
    domains = [d for d in query.domains if d not in internal]
    accounts_by_domain = gateway.find_accounts_by_domain(domains) if domains else {}
    account_ids = sorted({c.account_id for c in contacts.values() if c.account_id} | {a for ids in accounts_by_domain.values() for a in ids})
    deals_by_contact, deals_by_account, deals = gateway.deals_for_matching(contact_ids, account_ids, list(query.deal_ids), since)
    return OrgFacts(users, contacts, deals_by_contact, deals_by_account, accounts_by_domain, deals)
