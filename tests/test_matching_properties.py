"""Properties of `match` over small random orgs (hypothesis, derandomized): the answer does not
depend on the order of participants or of the CRM's lists, is always one of the candidates and
live at the call, never comes from the seller's own people, and deals closed long before the
call never change it."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from integration.commands import Contact, Deal, User
from integration.matching import CLOSED_WINDOW, OrgFacts, match
from integration.recordings import SOURCE_RECORDER, Recording

AT = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)
USERS = [User(f"u{i}", None, f"u{i}@seller.com") for i in range(3)]
ACCOUNTS = ["a0", "a1", "a2", "a-seller"]
DOMAINS = {"a0.com": ["a0"], "a1.com": ["a1"], "shared.com": ["a1", "a2"], "seller.com": ["a-seller"], "gmail.com": ["a0"]}
STRANGERS = ["new@a0.com", "new@shared.com", "x@gmail.com", "sdr@seller.com", "nobody@nowhere.io"]

PROPERTIES = settings(max_examples=150, derandomize=True, database=None, deadline=None)


@st.composite
def worlds(draw: st.DrawFn) -> tuple[Recording, OrgFacts]:
    deals = []
    for i in range(draw(st.integers(0, 6))):
        closed = draw(st.booleans())
        deals.append(Deal(
            f"d{i}", owner_id=draw(st.sampled_from(["u0", "u1", "u2", "u-away"])),
            collaborators=frozenset(draw(st.sets(st.sampled_from(["u0", "u1", "u2"]), max_size=2))),
            account_id=draw(st.sampled_from(ACCOUNTS)), closed=closed,
            closed_at=AT - timedelta(days=draw(st.integers(-5, 40))) if closed else None,
            modified_at=AT - timedelta(days=draw(st.integers(0, 2))),
        ))  # fmt: skip
    contacts = [
        Contact(f"c{i}", f"c{i}@{draw(st.sampled_from(sorted(DOMAINS)))}", None, draw(st.sampled_from(ACCOUNTS)))
        for i in range(5)
    ]
    roles = {c.id: draw(st.lists(st.sampled_from(deals), unique_by=lambda d: d.id, max_size=3)) if deals else [] for c in contacts}
    by_account: dict[str, list[Deal]] = defaultdict(list)
    for d in deals:
        by_account[d.account_id or ""].append(d)
    pool = [c.email or "" for c in contacts] + STRANGERS + [u.email or "" for u in USERS]
    participants = draw(st.lists(st.sampled_from(pool), unique=True, max_size=6))
    explicit = draw(st.one_of(st.none(), st.just("d-gone"), st.sampled_from([d.id for d in deals] or ["d-gone"])))
    rep = draw(st.sampled_from(USERS))
    recording = Recording("rec:p", SOURCE_RECORDER, "https://rec.example/p", "call", AT, None, rep_email=rep.email,
                          participants=tuple(p for p in participants if p != rep.email), deal_id=explicit)  # fmt: skip
    org = OrgFacts(
        {u.email or "": u for u in USERS}, {c.email or "": c for c in contacts}, roles, dict(by_account), DOMAINS,
        {d.id: d for d in deals},
    )  # fmt: skip
    return recording, org


def _reversed(facts: OrgFacts) -> OrgFacts:
    return replace(
        facts, deals_by_contact={k: list(reversed(v)) for k, v in reversed(list(facts.deals_by_contact.items()))},
        deals_by_account={k: list(reversed(v)) for k, v in reversed(list(facts.deals_by_account.items()))},
    )  # fmt: skip


@PROPERTIES
@given(world=worlds(), data=st.data())
def test_the_answer_ignores_the_order_of_participants_and_of_the_crms_lists(world, data):
    recording, facts = world
    shuffled = replace(recording, participants=tuple(data.draw(st.permutations(recording.participants))))
    assert match(shuffled, _reversed(facts)) == match(recording, facts) == match(recording, facts)


@PROPERTIES
@given(world=worlds())
def test_the_answer_is_one_of_the_candidates_and_live_at_the_call(world):
    recording, facts = world
    m = match(recording, facts)
    if m.deal_id is None:
        assert (m.step, m.candidates) == ("unmatched", ())
        return
    assert m.deal_id in m.candidates and list(m.candidates) == sorted(set(m.candidates))
    if m.step == "explicit":
        assert m.deal_id == recording.deal_id
        return
    assert recording.deal_id not in facts.deals  # an explicit deal the CRM has always wins
    chosen = facts.deals[m.deal_id]
    assert not chosen.closed or (chosen.closed_at is not None and chosen.closed_at >= AT - CLOSED_WINDOW)


@PROPERTIES
@given(world=worlds())
def test_the_sellers_own_people_never_match(world):
    """Staff at the seller's domain who are not CRM users (filed as contacts or not at all)
    change nothing; users change only which deals count as staffed."""
    recording, facts = world
    m = match(recording, facts)
    assert not {c.id for c in facts.contacts_by_email.values() if (c.email or "").endswith("@seller.com")} & set(m.contact_ids)
    users = set(facts.users_by_email)
    without_staff = tuple(p for p in recording.participants if not p.endswith("@seller.com") or p in users)
    assert match(replace(recording, participants=without_staff), facts) == m


@PROPERTIES
@given(world=worlds(), days=st.integers(15, 400))
def test_deals_closed_long_before_the_call_never_change_the_answer(world, days):
    recording, facts = world
    old = Deal("d-old", owner_id="u0", collaborators=frozenset({"u1", "u2"}), account_id="a1", closed=True,
               closed_at=AT - timedelta(days=days), modified_at=AT)  # fmt: skip
    crowded = replace(
        facts, deals_by_contact={k: [*v, old] for k, v in facts.deals_by_contact.items()},
        deals_by_account={**{k: [*v, old] for k, v in facts.deals_by_account.items()}, "a0": [*facts.deals_by_account.get("a0", []), old]},
    )  # fmt: skip
    before, after = match(recording, facts), match(recording, crowded)
    assert (after.deal_id, after.step, after.candidates) == (before.deal_id, before.step, before.candidates)
