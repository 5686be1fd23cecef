"""`read_facts`: a batch of recordings costs one CRM read per kind, never one per recording; a
kind with nothing to ask is not read; the seller's domains are never searched; and over a
generated org (bench/org.py) the reads plus `match` find the one correct deal every time."""
from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest

from bench.org import NOW, OWN_DOMAIN, generate_cases, generate_org
from bench.org_crm import OrgCrm
from integration.match_reads import read_facts
from integration.matching import CLOSED_WINDOW, OrgFacts, match
from integration.recordings import SOURCE_RECORDER, Recording

KINDS = {"find_users_by_email", "find_contacts", "deals_for_contacts", "find_accounts_by_domain", "deals_for_accounts", "read_deals"}


@pytest.fixture(scope="module")
def org():
    return generate_org(seed=11, accounts=520, contacts=2000, open_deals=1000)


@pytest.fixture(scope="module")
def cases(org):
    return generate_cases(org, 330, seed=5)


def bare(**fields) -> Recording:
    return Recording("rec:x", SOURCE_RECORDER, "https://rec.example/x", "call", NOW, **fields)


def test_a_batch_of_100_recordings_costs_one_read_per_kind(org, cases):
    crm = OrgCrm(org)
    read_facts(crm, [c.recording for c in cases[:100]])
    assert crm.calls == Counter({kind: 1 for kind in KINDS})


@pytest.mark.parametrize("size", [1, 10, 100, 330])
def test_reads_do_not_grow_with_the_batch(org, cases, size):
    crm = OrgCrm(org)
    read_facts(crm, [c.recording for c in cases[:size]])
    assert set(crm.calls) <= KINDS and max(crm.calls.values()) == 1


def test_no_recordings_read_nothing(org):
    crm = OrgCrm(org)
    assert read_facts(crm, []) == OrgFacts()
    assert read_facts(crm, [bare(), bare(rep_user_id="005U0001")]) == OrgFacts()
    assert crm.calls == Counter()


def test_only_kinds_with_something_to_ask_are_read(org):
    crm = OrgCrm(org)
    facts = read_facts(crm, [bare(rep_email="Nobody@Gmail.com", participants=("guest@gmail.com",))])
    assert crm.asked == [("find_users_by_email", ("guest@gmail.com", "nobody@gmail.com")), ("find_contacts", ("guest@gmail.com", "nobody@gmail.com"))]
    assert match(bare(participants=("guest@gmail.com",)), facts).deal_id is None


def test_an_explicit_deal_is_read_by_id_with_the_rest(org):
    crm = OrgCrm(org)
    facts = read_facts(crm, [bare(deal_id="006D00007"), bare(deal_id="006GONE")])
    assert crm.asked == [("read_deals", ("006D00007", "006GONE"))]
    assert set(facts.deals) == {"006D00007"}


def test_contacts_of_a_crm_call_are_read_with_the_participants_contacts(org, cases):
    contact = next(c for c in org.external_contacts if org.role_deals.get(c.id))
    crm = OrgCrm(org)
    read_facts(crm, [bare(contact_ids=(contact.id,)), bare(participants=("x@gmail.com",))])
    assert [a for name, a in crm.asked if name == "deals_for_contacts"] == [(contact.id,)]


def test_the_deal_window_reaches_back_14_days_before_the_earliest_call(org, cases):
    crm = OrgCrm(org)
    batch = [c.recording for c in cases[:50]]
    batch[7] = replace(batch[7], started_at=NOW - timedelta(days=3))
    read_facts(crm, batch)
    assert crm.closed_since == [NOW - timedelta(days=3) - CLOSED_WINDOW] * 2


def test_a_naive_call_time_is_read_as_utc_beside_aware_ones(org, cases):
    crm = OrgCrm(org)
    naive = replace(cases[0].recording, started_at=(NOW - timedelta(days=3)).replace(tzinfo=None))
    read_facts(crm, [naive, cases[1].recording, cases[2].recording])
    assert crm.closed_since[0] == NOW - timedelta(days=3) - CLOSED_WINDOW


def test_the_sellers_own_domain_is_never_searched(org, cases):
    crm = OrgCrm(org)
    read_facts(crm, [c.recording for c in cases])
    searched = [d for name, asked in crm.asked if name == "find_accounts_by_domain" for d in asked]
    assert searched and OWN_DOMAIN not in searched and "gmail.com" not in searched


def test_keys_come_back_lower_case_whatever_the_crm_answers(org):
    class ShoutingCrm(OrgCrm):
        def find_users_by_email(self, emails):
            return {k.upper(): v for k, v in super().find_users_by_email(emails).items()}

    user = org.users["005U0003"]
    facts = read_facts(ShoutingCrm(org), [bare(rep_email=user.email, participants=("guest@gmail.com",))])
    assert facts.users_by_email == {user.email: user}


def test_every_generated_recording_with_one_correct_deal_is_matched_to_it(org, cases):
    """Every kind of evidence, in batches of 100 as the worker reads them."""
    crm = OrgCrm(org)
    misses = []
    for start in range(0, len(cases), 100):
        batch = cases[start : start + 100]
        facts = read_facts(crm, [c.recording for c in batch])
        misses += [(c.kind, c.expected, match(c.recording, facts)) for c in batch if match(c.recording, facts).deal_id != c.expected]
    assert Counter(c.kind for c in cases) == Counter({k: 30 for k in Counter(c.kind for c in cases)})  # every kind drawn
    assert len(Counter(c.kind for c in cases)) == 11
    assert misses == []
    assert sum(crm.calls.values()) <= 6 * 4


def test_the_generated_org_has_the_size_the_bench_claims_and_is_seeded(org):
    open_deals = [d for d in org.deals.values() if not d.closed]
    closed = [d for d in org.deals.values() if d.closed]
    assert (len(org.accounts) >= 500, len(org.contacts), len(open_deals)) == (True, 2000, 1000)
    assert any(d.closed_at and d.closed_at > NOW - CLOSED_WINDOW for d in closed)
    assert any(d.closed_at and d.closed_at < NOW - 2 * CLOSED_WINDOW for d in closed)
    assert any(len(ids) > 1 for ids in org.domain_accounts.values())  # subsidiaries share a domain
    again = generate_org(seed=11)
    assert (again.deals, again.contacts, again.roles) == (org.deals, org.contacts, org.roles)
    assert generate_cases(again, 40, seed=5) == generate_cases(org, 40, seed=5)
