"""Which deal a recorded call belongs to. Pure: the facts are read beforehand, in batches
(`integration.match_reads.read_facts`), for a whole batch of recordings at once.

The order, as Salesforce's conversation insights and Gong do it:
1. an explicit deal id (the sender's, or a deal a person associated the CRM call with) wins;
   one the CRM no longer has falls through to the steps below;
2. the external participants' contacts (and contacts a person associated the CRM call with)
   -> deals where a contact has a role (HubSpot: deals associated with the contact);
3. else those contacts' accounts/companies -> their deals;
4. else participants' email domains -> accounts/companies -> their deals.
Internal people never match: participants who are CRM users, and anyone at the rep's or a
user-participant's email domain (free-mail domains aside), are the seller's side.
At each step only deals open at the call, or closed at most `CLOSED_WINDOW` before it, count;
among several, those whose owner or team was on the call are kept (when any is); then the one
with the most matched participants wins, then the latest modified, then the smallest id.
No candidate at any step: unmatched, with the reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
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

_OLDEST = datetime.min.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class OrgFacts:
    """What the CRM answered for a batch of recordings (email and domain keys lower-case)."""

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
    domains: tuple[str, ...]  # participants' domains, minus free mail and the reps' own
    deal_ids: tuple[str, ...]  # explicit deal ids
    contact_ids: tuple[str, ...] = ()  # contacts a person associated a CRM call with


@dataclass(frozen=True)
class Match:
    deal_id: str | None
    reason: str  # one sentence a rep can read: how the deal was chosen (or why none)
    step: str  # explicit | contact | account | domain | unmatched
    rep_user_id: str | None = None
    contact_ids: tuple[str, ...] = ()  # external participants found as contacts, sorted
    candidates: tuple[str, ...] = ()  # every deal considered at the deciding step, sorted


def domain_of(email: str) -> str:
    return email.rpartition("@")[2].strip().lower()


def query_for(recordings: Iterable[Recording]) -> FactsQuery:
    emails: set[str] = set()
    domains: set[str] = set()
    deal_ids: set[str] = set()
    contact_ids: set[str] = set()
    for recording in recordings:
        if recording.deal_id:
            deal_ids.add(recording.deal_id)
        contact_ids.update(recording.contact_ids)
        rep_domain = domain_of(recording.rep_email) if recording.rep_email else None
        if recording.rep_email:
            emails.add(recording.rep_email.lower())
        for email in recording.participants:
            emails.add(email.lower())
            domain = domain_of(email)
            if domain and domain not in FREE_MAIL_DOMAINS and domain != rep_domain:
                domains.add(domain)
    return FactsQuery(tuple(sorted(emails)), tuple(sorted(domains)), tuple(sorted(deal_ids)), tuple(sorted(contact_ids)))


def rep_of(recording: Recording, facts: OrgFacts) -> str | None:
    if recording.rep_user_id:
        return recording.rep_user_id
    user = facts.users_by_email.get((recording.rep_email or "").lower())
    return user.id if user else None


def match(recording: Recording, facts: OrgFacts) -> Match:
    """The one deal this recording belongs to, or why there is none."""
    rep = rep_of(recording, facts)
    rep_email = (recording.rep_email or "").lower()
    people = sorted({e.lower() for e in recording.participants} - {rep_email, ""})
    colleagues = [facts.users_by_email[e] for e in people if e in facts.users_by_email]
    on_call = {u.id for u in colleagues} | ({rep} if rep else set())
    internal = _internal_domains(rep_email, rep, colleagues, facts)
    external = [e for e in people if e not in facts.users_by_email and domain_of(e) not in internal]
    contacts = {c.id: c for c in (facts.contacts_by_email.get(e) for e in external) if c is not None}
    known_ids = set(contacts) | set(recording.contact_ids)
    contact_ids = tuple(sorted(known_ids))

    missing = ""
    if recording.deal_id:
        if recording.deal_id in facts.deals:
            return Match(recording.deal_id, "The call named its deal.", "explicit", rep, contact_ids, (recording.deal_id,))
        missing = f" The deal it named ({recording.deal_id}) was not found."

    at = _utc(recording.started_at)
    seen_deals = False  # some deal was found, whether or not it was live at the call
    deals: dict[str, Deal] = {}

    def collect(hits: dict[str, set[str]], found: Iterable[Deal], who: str) -> None:
        nonlocal seen_deals
        for deal in found:
            seen_deals = True
            if _live(deal, at):
                deals[deal.id] = deal
                hits.setdefault(deal.id, set()).add(who)

    by_contact: dict[str, set[str]] = {}
    for contact_id in sorted(known_ids):
        collect(by_contact, facts.deals_by_contact.get(contact_id, ()), contact_id)
    if by_contact:
        return _noting(missing, _decide(by_contact, deals, on_call, "contact", "a participant has a role on it", rep, contact_ids))

    by_account: dict[str, set[str]] = {}
    for contact in contacts.values():
        if contact.account_id:
            collect(by_account, facts.deals_by_account.get(contact.account_id, ()), contact.id)
    if by_account:
        return _noting(missing, _decide(by_account, deals, on_call, "account", "a participant's account owns it", rep, contact_ids))

    by_domain: dict[str, set[str]] = {}
    for email in external:
        domain = domain_of(email)
        if domain in FREE_MAIL_DOMAINS:
            continue
        for account in facts.accounts_by_domain.get(domain, ()):
            collect(by_domain, facts.deals_by_account.get(account, ()), email)
    if by_domain:
        return _noting(missing, _decide(by_domain, deals, on_call, "domain", "a participant's email domain is its account's", rep, contact_ids))

    if seen_deals:
        why = f"the participants' deals were all closed more than {CLOSED_WINDOW.days} days before the call"
    elif contact_ids:
        why = "the participants' contacts and accounts have no deals"
    elif external:
        why = "no participant is a known contact or from a known account's domain"
    else:
        why = "no external participant"
    return Match(None, f"No deal found: {why}.{missing}", "unmatched", rep, contact_ids)


def _noting(missing: str, found: Match) -> Match:
    return replace(found, reason=found.reason + missing) if missing else found


def _internal_domains(rep_email: str, rep: str | None, colleagues: Sequence[User], facts: OrgFacts) -> set[str]:
    """The seller's own email domains on this call: the rep's and user participants'."""
    emails = [rep_email, *(u.email or "" for u in colleagues)]
    if rep and not rep_email:
        emails += [e for e, u in facts.users_by_email.items() if u.id == rep]
    return {d for d in map(domain_of, emails) if d and d not in FREE_MAIL_DOMAINS}


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _live(deal: Deal, at: datetime) -> bool:
    """Open now, closed after the call (so open at it), or closed no more than CLOSED_WINDOW
    before it. A closed deal without a close date cannot be placed in time: not live."""
    if not deal.closed:
        return True
    if deal.closed_at is None:
        return False
    return _utc(deal.closed_at) >= at - CLOSED_WINDOW


def _decide(
    hits: Mapping[str, set[str]], deals: Mapping[str, Deal], on_call: set[str], step: str, why: str,
    rep: str | None, contact_ids: tuple[str, ...],
) -> Match:  # fmt: skip
    candidates = sorted(hits)
    staffed = [d for d in candidates if _team(deals[d]) & on_call]
    pool = staffed or candidates

    def rank(deal_id: str) -> tuple[int, datetime]:
        return (len(hits[deal_id]), _utc(deals[deal_id].modified_at or _OLDEST))

    top = max(rank(d) for d in pool)
    best = min(d for d in pool if rank(d) == top)  # full tie: the smallest id, so the answer is stable
    reason = f"Matched because {why}"
    if len(candidates) > 1:
        reason += f"; chosen from {len(candidates)} deals" + (" (its owner or team was on the call)" if staffed else "")
    return Match(best, reason + ".", step, rep, contact_ids, tuple(candidates))


def _team(deal: Deal) -> set[str]:
    return ({deal.owner_id} if deal.owner_id else set()) | set(deal.collaborators)
