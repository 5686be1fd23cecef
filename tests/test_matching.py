"""Matching a recording to one deal, as the spec reads (issue 9, README "Matching a recording
to a deal"): explicit id, contact role, account, domain; the seller's own people and domains
never match; the 14-day closed window; owner/team on the call; tie-breaks; unmatched reasons."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping, Sequence

import pytest

from integration.commands import Contact, Deal, User
from integration.matching import CLOSED_WINDOW, OrgFacts, match, query_for
from integration.recordings import SOURCE_RECORDER, Recording

AT = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)
REP = User("u-rep", "Rita Rep", "rita@seller.com")
COLLEAGUE = User("u-col", "Colin", "colin@seller.com")
BUYER = Contact("c-buyer", "bea@acme.com", "Bea", "a-acme")
CHAMPION = Contact("c-champ", "chad@acme.com", "Chad", "a-acme")
OTHER = Contact("c-other", "olga@globex.com", "Olga", "a-globex")


def rec(*participants: str, deal_id: str | None = None, rep: str | None = REP.email, rep_user_id: str | None = None,
        contact_ids: Sequence[str] = (), at: datetime = AT) -> Recording:  # fmt: skip
    return Recording(
        "rec:1", SOURCE_RECORDER, "https://rec.example/1", "Discovery call", at, 1_800_000, rep_email=rep,
        rep_user_id=rep_user_id, participants=participants, deal_id=deal_id, contact_ids=tuple(contact_ids),
    )  # fmt: skip


def deal(id: str, *, account: str = "a-acme", owner: str = "u-someone", team: Iterable[str] = (),
         closed_days_before: float | None = None, modified_days_ago: float = 10) -> Deal:  # fmt: skip
    closed_at = None if closed_days_before is None else AT - timedelta(days=closed_days_before)
    return Deal(id, owner_id=owner, collaborators=frozenset(team), account_id=account, closed=closed_at is not None,
                closed_at=closed_at, modified_at=AT - timedelta(days=modified_days_ago))  # fmt: skip


def facts(*, users: Sequence[User] = (REP, COLLEAGUE), contacts: Sequence[Contact] = (BUYER, CHAMPION, OTHER),
          roles: Mapping[str, Sequence[Deal]] | None = None, accounts: Mapping[str, Sequence[Deal]] | None = None,
          domains: Mapping[str, Sequence[str]] | None = None, deals: Sequence[Deal] = ()) -> OrgFacts:  # fmt: skip
    return OrgFacts(
        {u.email or "": u for u in users}, {c.email or "": c for c in contacts}, dict(roles or {}),
        dict(accounts or {}), dict(domains or {"acme.com": ["a-acme"], "globex.com": ["a-globex"]}), {d.id: d for d in deals},
    )  # fmt: skip


# ---- explicit ---------------------------------------------------------------------------


def test_an_explicit_deal_wins_over_every_other_clue():
    named, by_role = deal("d-named", account="a-globex"), deal("d-role")
    m = match(rec("bea@acme.com", deal_id="d-named"), facts(roles={"c-buyer": [by_role]}, deals=[named]))
    assert (m.deal_id, m.step, m.candidates) == ("d-named", "explicit", ("d-named",))
    assert m.reason == "The call named its deal."
    assert (m.rep_user_id, m.contact_ids) == ("u-rep", ("c-buyer",))


def test_an_explicit_deal_wins_even_when_closed_long_ago():
    named = deal("d-named", closed_days_before=200)
    assert match(rec("bea@acme.com", deal_id="d-named"), facts(deals=[named])).deal_id == "d-named"


def test_an_explicit_deal_the_crm_no_longer_has_falls_through_to_matching():
    m = match(rec("bea@acme.com", deal_id="d-deleted"), facts(roles={"c-buyer": [deal("d-role")]}))
    assert (m.deal_id, m.step) == ("d-role", "contact")
    assert m.reason.endswith("The deal it named (d-deleted) was not found.")


def test_an_explicit_deal_gone_and_nothing_else_is_unmatched_saying_so():
    m = match(rec("guest@gmail.com", deal_id="d-deleted"), facts())
    assert (m.deal_id, m.step) == (None, "unmatched")
    assert m.reason == ("No deal found: no participant is a known contact or from a known account's domain. "
                        "The deal it named (d-deleted) was not found.")  # fmt: skip


# ---- the order: contact role, account, domain ---------------------------------------------


def test_a_participants_contact_role_picks_the_deal():
    m = match(rec("bea@acme.com"), facts(roles={"c-buyer": [deal("d-role")]}, accounts={"a-acme": [deal("d-acct", modified_days_ago=0)]}))
    assert (m.deal_id, m.step, m.candidates) == ("d-role", "contact", ("d-role",))
    assert m.reason == "Matched because a participant has a role on it."


def test_contacts_a_person_associated_with_the_crm_call_count_as_participants():
    m = match(rec(contact_ids=["c-buyer"]), facts(roles={"c-buyer": [deal("d-role")]}))
    assert (m.deal_id, m.step, m.contact_ids) == ("d-role", "contact", ("c-buyer",))


def test_without_a_role_the_contacts_account_deals_are_used():
    m = match(rec("bea@acme.com"), facts(accounts={"a-acme": [deal("d-acct")], "a-globex": [deal("d-globex", account="a-globex")]}))
    assert (m.deal_id, m.step) == ("d-acct", "account")
    assert m.reason == "Matched because a participant's account owns it."


def test_without_a_known_contact_the_email_domain_finds_the_account():
    m = match(rec("newcomer@globex.com"), facts(accounts={"a-globex": [deal("d-globex", account="a-globex")]}))
    assert (m.deal_id, m.step, m.contact_ids) == ("d-globex", "domain", ())
    assert m.reason == "Matched because a participant's email domain is its account's."


def test_email_domains_match_case_insensitively():
    m = match(rec("NewComer@GLOBEX.com"), facts(accounts={"a-globex": [deal("d-globex", account="a-globex")]}))
    assert m.deal_id == "d-globex"


def test_free_mail_domains_never_point_at_an_account():
    gmail_account = {"gmail.com": ["a-gmail"], "acme.com": ["a-acme"]}
    m = match(rec("someone@gmail.com"), facts(domains=gmail_account, accounts={"a-gmail": [deal("d-gmail", account="a-gmail")]}))
    assert (m.deal_id, m.step) == (None, "unmatched")
    assert "gmail.com" not in query_for([rec("someone@gmail.com")]).domains


def test_a_known_contact_on_free_mail_still_matches_by_role_and_account():
    private = Contact("c-priv", "bea.private@gmail.com", "Bea", "a-acme")
    m = match(rec("bea.private@gmail.com"), facts(contacts=[private], accounts={"a-acme": [deal("d-acct")]}))
    assert (m.deal_id, m.step) == ("d-acct", "account")


# ---- the seller's own side never matches ---------------------------------------------------


def test_users_on_the_call_are_never_matched_as_contacts():
    colin_as_contact = Contact("c-colin", "colin@seller.com", "Colin", "a-seller")
    m = match(rec("colin@seller.com"), facts(contacts=[colin_as_contact], roles={"c-colin": [deal("d-partner", account="a-seller")]}))
    assert (m.deal_id, m.contact_ids, m.reason) == (None, (), "No deal found: no external participant.")


def test_the_reps_own_domain_never_matches_even_for_people_not_in_the_crm():
    own = {"seller.com": ["a-seller"]}
    staff = Contact("c-se", "sam.se@seller.com", "Sam", "a-seller")
    m = match(rec("sam.se@seller.com", "sdr@seller.com"),
              facts(contacts=[staff], domains=own, roles={"c-se": [deal("d-own", account="a-seller")]},
                    accounts={"a-seller": [deal("d-own", account="a-seller")]}))  # fmt: skip
    assert (m.deal_id, m.step, m.reason) == (None, "unmatched", "No deal found: no external participant.")
    assert query_for([rec("sdr@seller.com", "bea@acme.com")]).domains == ("acme.com",)


def test_a_user_participants_domain_is_internal_when_the_rep_is_known_by_id_only():
    own = {"seller.com": ["a-seller"], "acme.com": ["a-acme"]}
    accounts = {"a-seller": [deal("d-own", account="a-seller")], "a-acme": [deal("d-acct")]}
    m = match(rec("colin@seller.com", "sdr@seller.com", "new@acme.com", rep=None, rep_user_id="u-rep"), facts(domains=own, accounts=accounts))
    assert (m.deal_id, m.step, m.rep_user_id) == ("d-acct", "domain", "u-rep")


def test_the_seller_staff_filed_as_contacts_do_not_pull_the_call_onto_the_sellers_deal():
    staff = Contact("c-se", "sam.se@seller.com", "Sam", "a-seller")
    own_deal = deal("d-own", account="a-seller", owner="u-rep", modified_days_ago=0)
    m = match(rec("sam.se@seller.com", "bea@acme.com"), facts(contacts=[staff, BUYER], roles={"c-se": [own_deal], "c-buyer": [deal("d-role")]}))
    assert (m.deal_id, m.candidates, m.contact_ids) == ("d-role", ("d-role",), ("c-buyer",))


# ---- the window: open at the call, or closed at most 14 days before it --------------------


@pytest.mark.parametrize(
    "closed_days_before, kept",
    [(None, True), (-3, True), (0, True), (13.9, True), (CLOSED_WINDOW.days, True), (14.01, False), (30, False)],
    ids=["open", "closed-after-the-call", "closed-at-the-call", "closed-13.9-days-before", "closed-14-days-before",
         "closed-14.01-days-before", "closed-30-days-before"],
)  # fmt: skip
def test_deals_count_when_open_at_the_call_or_closed_within_14_days_before(closed_days_before, kept):
    m = match(rec("bea@acme.com"), facts(roles={"c-buyer": [deal("d-role", closed_days_before=closed_days_before)]}))
    assert m.deal_id == ("d-role" if kept else None)


def test_a_closed_deal_without_a_close_date_does_not_count():
    undated = Deal("d-undated", account_id="a-acme", closed=True, closed_at=None)
    assert match(rec("bea@acme.com"), facts(roles={"c-buyer": [undated]})).deal_id is None


def test_a_naive_call_time_is_read_as_utc():
    naive = rec("bea@acme.com", at=AT.replace(tzinfo=None))
    assert match(naive, facts(roles={"c-buyer": [deal("d-role", closed_days_before=13)]})).deal_id == "d-role"


def test_a_role_on_only_long_closed_deals_falls_through_to_the_account():
    m = match(rec("bea@acme.com"), facts(roles={"c-buyer": [deal("d-old", closed_days_before=60)]}, accounts={"a-acme": [deal("d-renewal")]}))
    assert (m.deal_id, m.step) == ("d-renewal", "account")


def test_only_long_closed_deals_is_unmatched_saying_why():
    old = deal("d-old", closed_days_before=60)
    m = match(rec("bea@acme.com"), facts(roles={"c-buyer": [old]}, accounts={"a-acme": [old]}))
    assert (m.deal_id, m.reason) == (None, "No deal found: the participants' deals were all closed more than 14 days before the call.")


# ---- several candidates: owner/team on the call, then participants, modified, id -----------


def test_the_deal_owned_by_the_rep_is_preferred():
    mine, theirs = deal("d-mine", owner="u-rep", modified_days_ago=30), deal("d-theirs", modified_days_ago=1)
    m = match(rec("bea@acme.com"), facts(roles={"c-buyer": [theirs, mine]}))
    assert (m.deal_id, m.candidates) == ("d-mine", ("d-mine", "d-theirs"))
    assert m.reason == "Matched because a participant has a role on it; chosen from 2 deals (its owner or team was on the call)."


def test_a_deal_whose_team_member_is_on_the_call_is_preferred():
    staffed, other = deal("d-staffed", team=["u-col"], modified_days_ago=30), deal("d-other", modified_days_ago=1)
    assert match(rec("bea@acme.com", "colin@seller.com"), facts(accounts={"a-acme": [other, staffed]})).deal_id == "d-staffed"


def test_owner_on_the_call_comes_before_the_participant_count():
    both = deal("d-both")
    mine = deal("d-mine", owner="u-rep")
    m = match(rec("bea@acme.com", "chad@acme.com"), facts(roles={"c-buyer": [both, mine], "c-champ": [both]}))
    assert m.deal_id == "d-mine"


def test_ties_go_to_the_deal_most_participants_are_on():
    both, one = deal("d-both", modified_days_ago=50), deal("d-one", modified_days_ago=1)
    m = match(rec("bea@acme.com", "chad@acme.com"), facts(roles={"c-buyer": [one, both], "c-champ": [both]}))
    assert m.deal_id == "d-both"
    assert m.reason == "Matched because a participant has a role on it; chosen from 2 deals."


def test_then_the_latest_modified_deal():
    older, newer = deal("d-a", modified_days_ago=5), deal("d-b", modified_days_ago=2)
    assert match(rec("bea@acme.com"), facts(accounts={"a-acme": [newer, older]})).deal_id == "d-b"


def test_then_the_smallest_id_when_everything_else_is_equal():
    twins = [deal("d-2"), deal("d-10"), deal("d-1")]
    assert match(rec("newcomer@acme.com"), facts(accounts={"a-acme": twins})).deal_id == "d-1"


def test_a_deal_without_a_modified_date_loses_the_modified_tie_break():
    undated = Deal("d-a", account_id="a-acme")
    assert match(rec("bea@acme.com"), facts(accounts={"a-acme": [undated, deal("d-b")]})).deal_id == "d-b"


# ---- unmatched reasons ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "participants, reason",
    [
        ((), "no external participant"),
        (("colin@seller.com",), "no external participant"),
        (("guest@gmail.com", "x@unknown.io"), "no participant is a known contact or from a known account's domain"),
        (("bea@acme.com",), "the participants' contacts and accounts have no deals"),
    ],
    ids=["nobody", "only-colleagues", "strangers", "contacts-without-deals"],
)
def test_unmatched_says_why(participants, reason):
    m = match(rec(*participants), facts())
    assert (m.deal_id, m.step, m.candidates, m.reason) == (None, "unmatched", (), f"No deal found: {reason}.")


# ---- what to read -----------------------------------------------------------------------------


def test_the_query_for_a_batch_collects_each_kind_once():
    recordings = [
        rec("Bea@Acme.com", "guest@gmail.com", "sdr@seller.com", deal_id="d-1"),
        rec("newcomer@globex.com", "bea@acme.com", rep="Rita@Seller.com", contact_ids=["c-9"], deal_id="d-1"),
    ]
    q = query_for(recordings)
    assert q.emails == ("bea@acme.com", "guest@gmail.com", "newcomer@globex.com", "rita@seller.com", "sdr@seller.com")
    assert (q.domains, q.deal_ids, q.contact_ids) == (("acme.com", "globex.com"), ("d-1",), ("c-9",))
