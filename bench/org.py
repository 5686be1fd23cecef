"""A generated CRM org for measuring and testing deal matching (seeded: the same seed gives the
same org and the same recordings).

`generate_org()`: the seller's users (owners, deal teams; a few inactive), >= 500 accounts with
email domains (some with two, a few domains shared by two accounts), 2,000 contacts (a few on
free mail; a few of the seller's own people filed as contacts on the seller's own account),
1,000 open deals plus recently and long closed ones, contact roles.

`generate_cases(org, n)`: recordings, each with the one deal the matching rules must pick and
the kind of evidence that decides it (explicit id, role, role + owner on the call, role + most
participants, account, domain, ...). Each case is built from the org's raw records so that the
rules admit exactly one answer; the oracle here never calls `integration.matching`.

`OrgCrm` (bench/org_crm.py) answers the gateway reads over an `Org` and counts them.
"""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from integration.commands import Contact, Deal, User
from integration.recordings import SOURCE_RECORDER, Recording

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)
OWN_DOMAIN = "seller-gamefilm.com"
SELF_ACCOUNT = "001SELF"
WINDOW = timedelta(days=14)  # the rule under test, restated: deals closed this long before a call count
WORDS = "acme globex initech umbrella hooli vehement stark wayne tyrell cyberdyne soylent wonka oscorp nakatomi".split()
FIRST = "ana ben chloe dev eli fay gus hana ivan jo kai lea max nia omar pia quinn rui sam tess".split()
KINDS = (
    "explicit", "explicit-deleted", "role", "role-owner", "role-most-participants",
    "account", "account-owner", "domain", "internal-ignored", "internal-only", "unmatched",
)  # fmt: skip


@dataclass
class Org:
    users: dict[str, User]
    accounts: dict[str, tuple[str, ...]]  # account id -> its email domains
    contacts: dict[str, Contact]
    deals: dict[str, Deal]
    roles: dict[str, set[str]]  # deal id -> contact ids with a role on it
    internal_people: list[str] = field(default_factory=list)  # seller's people who are not CRM users

    def __post_init__(self) -> None:
        self.role_deals: dict[str, list[str]] = defaultdict(list)
        for deal_id in sorted(self.roles):
            for contact_id in self.roles[deal_id]:
                self.role_deals[contact_id].append(deal_id)
        self.account_deals: dict[str, list[str]] = defaultdict(list)
        for deal in self.deals.values():
            if deal.account_id:
                self.account_deals[deal.account_id].append(deal.id)
        self.domain_accounts: dict[str, list[str]] = defaultdict(list)
        for account_id, domains in self.accounts.items():
            for domain in domains:
                self.domain_accounts[domain].append(account_id)
        self.contacts_by_email = {c.email: c for c in self.contacts.values() if c.email}
        self.external_contacts = [c for c in self.contacts.values() if c.account_id != SELF_ACCOUNT]
        self.deal_ids = sorted(self.deals)
        self.users_by_email = {u.email: u for u in self.users.values() if u.email}


@dataclass(frozen=True)
class Case:
    recording: Recording
    expected: str | None  # the one deal the rules admit; None: the rules admit none
    kind: str


def generate_org(
    seed: int = 20261124, *, accounts: int = 520, contacts: int = 2000, open_deals: int = 1000,
    recently_closed: int = 120, long_closed: int = 150, users: int = 40,
) -> Org:  # fmt: skip
    rng = random.Random(seed)
    people = {f"005U{i:04d}": User(f"005U{i:04d}", f"User {i}", f"{FIRST[i % len(FIRST)]}.u{i}@{OWN_DOMAIN}", active=i % 13 != 12) for i in range(users)}
    account_domains: dict[str, tuple[str, ...]] = {SELF_ACCOUNT: (OWN_DOMAIN,)}
    for i in range(accounts):
        domains = [f"{WORDS[i % len(WORDS)]}{i}.com"] + ([f"{WORDS[i % len(WORDS)]}{i}.io"] if i % 20 == 0 else [])
        account_domains[f"001A{i:05d}"] = tuple(domains)
    ids = sorted(a for a in account_domains if a != SELF_ACCOUNT)
    for i in range(0, 40, 4):  # subsidiaries: the same domain on two accounts
        account_domains[ids[i + 1]] += (account_domains[ids[i]][0],)

    people_contacts: dict[str, Contact] = {}
    internal = [f"se{i}@{OWN_DOMAIN}" for i in range(5)]
    for i, email in enumerate(internal):  # the seller's own staff, filed as contacts (partner deals)
        people_contacts[f"003I{i:04d}"] = Contact(f"003I{i:04d}", email, f"Internal {i}", SELF_ACCOUNT)
    for i in range(contacts - len(internal)):
        account = rng.choice(ids)
        first = FIRST[rng.randrange(len(FIRST))]
        email = f"{first}.c{i}@gmail.com" if i % 25 == 0 else f"{first}.c{i}@{account_domains[account][0]}"
        people_contacts[f"003C{i:05d}"] = Contact(f"003C{i:05d}", email, f"{first.title()} {i}", account)
    by_account: dict[str, list[str]] = defaultdict(list)
    for contact in people_contacts.values():
        by_account[contact.account_id or ""].append(contact.id)

    user_ids = sorted(people)
    deals: dict[str, Deal] = {}
    roles: dict[str, set[str]] = {}
    total = open_deals + recently_closed + long_closed
    for i in range(total):
        deal_id = f"006D{i:05d}"
        account = SELF_ACCOUNT if i == 0 else rng.choice(ids[: accounts * 4 // 5])  # a fifth of accounts: no deals
        closed_at = None
        if i >= open_deals + recently_closed:
            closed_at = NOW - timedelta(days=rng.randint(30, 400))
        elif i >= open_deals:
            closed_at = NOW - timedelta(days=rng.randint(0, 11), hours=rng.randint(0, 23))
        team = frozenset(rng.sample(user_ids, rng.randint(0, 2)))
        deals[deal_id] = Deal(
            deal_id, name=f"Deal {i}", owner_id=rng.choice(user_ids), collaborators=team, account_id=account,
            closed=closed_at is not None, closed_at=closed_at, stage="closedwon" if closed_at else "negotiation",
            modified_at=NOW - timedelta(days=rng.randint(0, 90), seconds=rng.randint(0, 86399)),
        )  # fmt: skip
        pool = by_account.get(account, [])
        roles[deal_id] = set(rng.sample(pool, min(len(pool), rng.randint(0, 3)))) if pool else set()
    roles["006D00000"] = set(by_account[SELF_ACCOUNT])  # the seller's own deal: its staff have the roles
    return Org(people, account_domains, people_contacts, deals, roles, internal)


def live(deal: Deal, at: datetime) -> bool:
    return not deal.closed or (deal.closed_at is not None and deal.closed_at >= at - WINDOW)


def generate_cases(org: Org, n: int, seed: int = 7) -> list[Case]:
    """`n` recordings, the kinds in turn; a kind with no fitting records in this org is skipped."""
    rng = random.Random(seed)
    makers = {kind: globals()["_" + kind.replace("-", "_")] for kind in KINDS}
    cases: list[Case] = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        for _ in range(500):  # some kinds need a rarer shape of records: draw until one fits
            at = NOW - timedelta(minutes=rng.randint(0, 2 * 24 * 60))
            made = makers[kind](org, rng, at)
            if made is not None:
                break
        else:
            continue
        expected, rep, participants, deal_id = made
        shuffled = [e for e in dict.fromkeys(participants) if e != org.users[rep].email]
        rng.shuffle(shuffled)
        recording = Recording(
            f"rec:{kind}-{len(cases)}", SOURCE_RECORDER, f"https://recordings.example/{len(cases)}", f"{kind} call",
            at, 1_800_000, rep_email=org.users[rep].email, participants=tuple(shuffled), deal_id=deal_id,
        )  # fmt: skip
        cases.append(Case(recording, expected, kind))
    return cases


_Made = tuple[str | None, str, list[str], str | None] | None  # expected, rep id, participants, explicit deal


def _team(deal: Deal) -> set[str]:
    return {deal.owner_id or ""} | set(deal.collaborators)


def _outsider(org: Org, rng: random.Random, deals: list[str]) -> str:
    """A rep on none of these deals' teams (so owner/team preference leaves them all in)."""
    teams = set().union(*(_team(org.deals[d]) for d in deals)) if deals else set()
    free = [u for u in sorted(org.users) if u not in teams]
    return rng.choice(free or sorted(org.users))


def _live_roles(org: Org, contact_id: str, at: datetime) -> list[str]:
    return [d for d in org.role_deals.get(contact_id, []) if live(org.deals[d], at)]


def _explicit(org: Org, rng: random.Random, at: datetime) -> _Made:
    deal = rng.choice(org.deal_ids)
    other = rng.choice([c for c in org.external_contacts if c.account_id != org.deals[deal].account_id])
    return deal, rng.choice(sorted(org.users)), [other.email or ""], deal


def _explicit_deleted(org: Org, rng: random.Random, at: datetime) -> _Made:
    made = _role(org, rng, at)
    return None if made is None else (made[0], made[1], made[2], f"006GONE{rng.randrange(10**6):06d}")


def _role(org: Org, rng: random.Random, at: datetime) -> _Made:
    contact = rng.choice(org.external_contacts)
    deals = _live_roles(org, contact.id, at)
    if len(deals) != 1:
        return None
    extras = [rng.choice(sorted(org.users_by_email))] if rng.random() < 0.3 else []  # a colleague on the call
    if rng.random() < 0.3:
        extras.append(f"guest{rng.randrange(10**6)}@gmail.com")  # an unknown guest on free mail
    rep = _outsider(org, rng, deals)
    return deals[0], rep, [contact.email or "", *[e for e in extras if e != org.users[rep].email]], None


def _role_owner(org: Org, rng: random.Random, at: datetime) -> _Made:
    contact = rng.choice(org.external_contacts)
    deals = _live_roles(org, contact.id, at)
    return _owned_among(org, rng, deals, contact.email or "")


def _owned_among(org: Org, rng: random.Random, deals: list[str], email: str) -> _Made:
    """One of several live deals and a rep on its team only: the owner tie-break decides."""
    if len(deals) < 2:
        return None
    target = rng.choice(deals)
    others = set().union(*(_team(org.deals[d]) for d in deals if d != target))
    reps = sorted(_team(org.deals[target]) - others - {""})
    return (target, rng.choice(reps), [email], None) if reps else None


def _role_most_participants(org: Org, rng: random.Random, at: datetime) -> _Made:
    deal_id = rng.choice(org.deal_ids)
    if not live(org.deals[deal_id], at) or len(org.roles[deal_id]) < 2:
        return None
    pair = rng.sample(sorted(org.roles[deal_id]), 2)
    counts: dict[str, int] = defaultdict(int)
    for contact_id in pair:
        for d in _live_roles(org, contact_id, at):
            counts[d] += 1
    if any(c >= 2 for d, c in counts.items() if d != deal_id):
        return None
    return deal_id, _outsider(org, rng, list(counts)), [org.contacts[c].email or "" for c in pair], None


def _account_case(org: Org, rng: random.Random, at: datetime, owner: bool) -> _Made:
    contact = rng.choice(org.external_contacts)
    if _live_roles(org, contact.id, at) or not contact.account_id:
        return None
    deals = [d for d in org.account_deals.get(contact.account_id, []) if live(org.deals[d], at)]
    if not owner:
        return (deals[0], _outsider(org, rng, deals), [contact.email or ""], None) if len(deals) == 1 else None
    return _owned_among(org, rng, deals, contact.email or "")


def _account(org: Org, rng: random.Random, at: datetime) -> _Made:
    return _account_case(org, rng, at, owner=False)


def _account_owner(org: Org, rng: random.Random, at: datetime) -> _Made:
    return _account_case(org, rng, at, owner=True)


def _domain(org: Org, rng: random.Random, at: datetime) -> _Made:
    domain = rng.choice(sorted(org.domain_accounts))
    accounts = org.domain_accounts[domain]
    if domain == OWN_DOMAIN or len(accounts) != 1:
        return None
    deals = [d for d in org.account_deals.get(accounts[0], []) if live(org.deals[d], at)]
    if len(deals) != 1:
        return None
    newcomer = f"newcomer{rng.randrange(10**6)}@{domain}"  # not a contact yet
    return deals[0], _outsider(org, rng, deals), [newcomer], None


def _internal_ignored(org: Org, rng: random.Random, at: datetime) -> _Made:
    """The seller's own people on the call, filed as contacts with a role on the seller's own
    deal owned by the rep: they must not pull the call onto it."""
    made = _role(org, rng, at)
    if made is None:
        return None
    own_deal = org.account_deals[SELF_ACCOUNT][0]
    insiders = [c.email or "" for c in org.contacts.values() if c.account_id == SELF_ACCOUNT and c.id in org.roles[own_deal]]
    rep = org.deals[own_deal].owner_id or made[1]
    return made[0], rep, [*made[2], *insiders, f"sdr{rng.randrange(100)}@{OWN_DOMAIN}"], None


def _internal_only(org: Org, rng: random.Random, at: datetime) -> _Made:
    """Only the seller's people (users, staff filed as contacts, people not in the CRM at all):
    the seller's own account and domain never match."""
    own_deal = org.account_deals[SELF_ACCOUNT][0]
    colleague = rng.choice(sorted(org.users_by_email))
    people = [colleague, rng.choice(org.internal_people), f"sdr{rng.randrange(100)}@{OWN_DOMAIN}"]
    return None, org.deals[own_deal].owner_id or "", people, None


def _unmatched(org: Org, rng: random.Random, at: datetime) -> _Made:
    guests = [f"guest{rng.randrange(10**6)}@gmail.com", f"someone{rng.randrange(10**6)}@unknown-{rng.randrange(10**6)}.io"]
    return None, rng.choice(sorted(org.users)), guests[: rng.randint(1, 2)], None
