"""An in-memory `CrmGateway` over a generated `Org` (bench/org.py) that answers the reads
matching uses and counts every call, so tests and benches can check that a batch of recordings
costs one read per kind, never one per recording."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Sequence

from bench.org import Org
from integration.commands import Contact, Deal, User
from integration.gateway import CrmGateway


class OrgCrm(CrmGateway):
    crm = "generated"

    def __init__(self, org: Org):
        self.org = org
        self.calls: Counter[str] = Counter()  # read name -> calls
        self.asked: list[tuple[str, tuple[str, ...]]] = []  # (read name, the ids/emails/domains asked)
        self.closed_since: list[datetime] = []  # what each deals_for_* read was given

    def _count(self, name: str, asked: Sequence[str]) -> None:
        self.calls[name] += 1
        self.asked.append((name, tuple(asked)))

    def read_deals(self, ids: Sequence[str]) -> dict[str, Deal]:
        self._count("read_deals", ids)
        return {i: self.org.deals[i] for i in ids if i in self.org.deals}

    def read_users(self, ids: Sequence[str]) -> dict[str, User]:
        self._count("read_users", ids)
        return {i: self.org.users[i] for i in ids if i in self.org.users}

    def find_users_by_email(self, emails: Sequence[str]) -> dict[str, User]:
        self._count("find_users_by_email", emails)
        return {e.lower(): self.org.users_by_email[e.lower()] for e in emails if e.lower() in self.org.users_by_email}

    def find_contacts(self, emails: Sequence[str]) -> dict[str, Contact]:
        self._count("find_contacts", emails)
        return {e.lower(): self.org.contacts_by_email[e.lower()] for e in emails if e.lower() in self.org.contacts_by_email}

    def find_accounts_by_domain(self, domains: Sequence[str]) -> dict[str, list[str]]:
        self._count("find_accounts_by_domain", domains)
        return {d: list(self.org.domain_accounts[d]) for d in domains if d in self.org.domain_accounts}

    def deals_for_contacts(self, contact_ids: Sequence[str], closed_since: datetime) -> dict[str, list[Deal]]:
        self._count("deals_for_contacts", contact_ids)
        self.closed_since.append(closed_since)
        return self._kept({c: self.org.role_deals.get(c, []) for c in contact_ids}, closed_since)

    def deals_for_accounts(self, account_ids: Sequence[str], closed_since: datetime) -> dict[str, list[Deal]]:
        self._count("deals_for_accounts", account_ids)
        self.closed_since.append(closed_since)
        return self._kept({a: self.org.account_deals.get(a, []) for a in account_ids}, closed_since)

    def open_deals_for_contacts(self, contact_ids: Sequence[str]) -> dict[str, list[Deal]]:
        self._count("open_deals_for_contacts", contact_ids)
        return {c: [self.org.deals[d] for d in self.org.role_deals.get(c, []) if not self.org.deals[d].closed] for c in contact_ids}

    def _kept(self, ids: dict[str, list[str]], closed_since: datetime) -> dict[str, list[Deal]]:
        """Open deals and those closed on/after `closed_since`, as the CRM query filters them."""
        since = closed_since if closed_since.tzinfo else closed_since.replace(tzinfo=timezone.utc)
        out: dict[str, list[Deal]] = {}
        for key, deal_ids in ids.items():
            deals = [self.org.deals[d] for d in deal_ids]
            kept = [d for d in deals if not d.closed or (d.closed_at is not None and d.closed_at >= since)]
            if kept:
                out[key] = kept
        return out
