"""Which deal a recorded call belongs to. Pure: the facts are read beforehand, in batches
(`integration.match_reads.read_facts`), for a whole batch of recordings at once.

The order, as Salesforce's conversation insights and Gong do it:
1. an explicit deal id (the sender's, or a deal a person associated the CRM call with) wins;
2. the external participants' contacts -> deals where a contact has a role (HubSpot: deals
   associated with the contact);
3. else those contacts' accounts/companies -> their deals;
4. else participants' email domains -> accounts/companies -> their deals.
At each step only deals open at the call, or closed at most `closed_window` before it, count;
among several, those whose owner or team was on the call are kept (when any is); then the one
with the most matched participants wins, then the latest modified. No candidate: unmatched.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping, Sequence

from integration.commands import Contact, Deal, User
from integration.recordings import Recording

CLOSED_WINDOW = timedelta(days=14)

# Mailbox providers: a shared domain says nothing about which company someone works for.
FREE_MAIL_DOMAINS = frozenset(
    "gmail.com googlemail.com yahoo.com yahoo.co.uk hotmail.com outlook.com live.com msn.com "
    "icloud.com me.com mac.com aol.com proton.me protonmail.com gmx.com gmx.de web.de mail.com "
    "yandex.ru qq.com 163.com".split()
)


@dataclass(frozen=True)
class OrgFacts:
    """What the CRM answered for a batch of recordings (every map keyed lower-case)."""

    users_by_email: Mapping[str, User] = field(default_factory=dict)
    contacts_by_email: Mapping[str, Contact] = field(default_factory=dict)
    deals_by_contact: Mapping[str, Sequence[Deal]] = field(default_factory=dict)
    deals_by_account: Mapping[str, Sequence[Deal]] = field(default_factory=dict)
    accounts_by_domain: Mapping[str, Sequence[str]] = field(default_factory=dict)
    deals: Mapping[str, Deal] = field(default_factory=dict)  # explicit ids, read directly


@dataclass(frozen=True)
class FactsQuery:
    """What to read for a batch of recordings: one batched read per kind."""

    emails: tuple[str, ...]  # every participant and rep email (users and contacts)
    domains: tuple[str, ...]  # external, non-free-mail domains
    deal_ids: tuple[str, ...]  # explicit deal ids


@dataclass(frozen=True)
class Match:
    deal_id: str | None
    reason: str  # one sentence a rep can read: how the deal was chosen (or why none)
    step: str  # explicit | contact | account | domain | unmatched
    rep_user_id: str | None = None
    contact_ids: tuple[str, ...] = ()  # external participants found as contacts
    candidates: tuple[str, ...] = ()  # every deal considered at the deciding step


def domain_of(email: str) -> str:
    return email.rpartition("@")[2].strip().lower()


def query_for(recordings: Iterable[Recording]) -> FactsQuery:
    emails: set[str] = set()
    domains: set[str] = set()
    deal_ids: set[str] = set()
    for recording in recordings:
        if recording.deal_id:
            deal_ids.add(recording.deal_id)
        if recording.rep_email:
            emails.add(recording.rep_email.lower())
        for email in recording.participants:
            emails.add(email.lower())
            domain = domain_of(email)
            if domain and domain not in FREE_MAIL_DOMAINS:
                domains.add(domain)
    return FactsQuery(tuple(sorted(emails)), tuple(sorted(domains)), tuple(sorted(deal_ids)))


def rep_of(recording: Recording, facts: OrgFacts) -> str | None:
    if recording.rep_user_id:
        return recording.rep_user_id
    user = facts.users_by_email.get((recording.rep_email or "").lower())
    return user.id if user else None


def match(recording: Recording, facts: OrgFacts) -> Match:
    """The one deal this recording belongs to, or why there is none."""
    rep = rep_of(recording, facts)
    people = [e.lower() for e in recording.participants if e.lower() != (recording.rep_email or "").lower()]
    internal_users = {facts.users_by_email[e].id for e in people if e in facts.users_by_email}
    on_call = internal_users | ({rep} if rep else set())
    external = [e for e in people if e not in facts.users_by_email]
    contacts = [facts.contacts_by_email[e] for e in external if e in facts.contacts_by_email]
    contact_ids = tuple(dict.fromkeys(c.id for c in contacts))

    if recording.deal_id:
        if recording.deal_id in facts.deals:  # read and found: a deleted deal falls through to matching
            return Match(recording.deal_id, "The call named its deal.", "explicit", rep, contact_ids, (recording.deal_id,))

    at = recording.started_at if recording.started_at.tzinfo else recording.started_at.replace(tzinfo=timezone.utc)
    by_contact: dict[str, set[str]] = {}  # deal id -> participants it matched
    deals: dict[str, Deal] = {}
    for contact in contacts:
        for deal in facts.deals_by_contact.get(contact.id, ()):
            if _live(deal, at):
                deals[deal.id] = deal
                by_contact.setdefault(deal.id, set()).add(contact.id)
    if by_contact:
        return _decide(by_contact, deals, on_call, "contact", "a participant has a role on it", rep, contact_ids)

    by_account: dict[str, set[str]] = {}
    for contact in contacts:
        for deal in facts.deals_by_account.get(contact.account_id or "", ()):
            if _live(deal, at):
                deals[deal.id] = deal
                by_account.setdefault(deal.id, set()).add(contact.id)
    if by_account:
        return _decide(by_account, deals, on_call, "account", "a participant's account owns it", rep, contact_ids)

    by_domain: dict[str, set[str]] = {}
    for email in external:
        domain = domain_of(email)
        if domain in FREE_MAIL_DOMAINS:
            continue
        for account in facts.accounts_by_domain.get(domain, ()):
            for deal in facts.deals_by_account.get(account, ()):
                if _live(deal, at):
                    deals[deal.id] = deal
                    by_domain.setdefault(deal.id, set()).add(email)
    if by_domain:
        return _decide(by_domain, deals, on_call, "domain", "a participant's email domain is its account's", rep, contact_ids)

    why = "no participant is a known contact or from a known account's domain" if external else "no external participant"
    return Match(None, f"No open deal found: {why}.", "unmatched", rep, contact_ids)


def _live(deal: Deal, at: datetime) -> bool:
    """Open at the call, or closed no more than CLOSED_WINDOW before it."""
    if not deal.closed:
        return True
    if deal.closed_at is None:
        return False
    closed_at = deal.closed_at if deal.closed_at.tzinfo else deal.closed_at.replace(tzinfo=timezone.utc)
    return closed_at >= at - CLOSED_WINDOW


def _decide(
    hits: Mapping[str, set[str]], deals: Mapping[str, Deal], on_call: set[str], step: str, why: str,
    rep: str | None, contact_ids: tuple[str, ...],
) -> Match:  # fmt: skip
    candidates = sorted(hits)
    staffed = [d for d in candidates if _team(deals[d]) & on_call]
    pool = staffed or candidates
    oldest = datetime.min.replace(tzinfo=timezone.utc)

    def rank(deal_id: str) -> tuple[int, datetime, str]:
        modified = deals[deal_id].modified_at or oldest
        return (len(hits[deal_id]), modified if modified.tzinfo else modified.replace(tzinfo=timezone.utc), deal_id)

    best = max(pool, key=rank)
    reason = f"Matched because {why}"
    if len(candidates) > 1:
        reason += f"; chosen from {len(candidates)} deals" + (" (its owner or team was on the call)" if staffed else "")
    return Match(best, reason + ".", step, rep, contact_ids, tuple(candidates))


def _team(deal: Deal) -> set[str]:
    return ({deal.owner_id} if deal.owner_id else set()) | set(deal.collaborators)
