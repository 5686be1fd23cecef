"""The threshold rule as a pure function: current deal in, leaders to add out."""
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from integration.commands import AddCollaborators, AddNote, Deal, User
from integration.config import parse
from integration.events import Event
from integration.rules import State
from integration.rules.threshold import MissingRate, ThresholdRule, to_corporate

RULE = ThresholdRule()
TIERS = [
    {"name": "big", "amount": 100000, "leaders": ["L1"], "role": "Sales Manager"},
    {"name": "huge", "amount": 1000000, "leaders": ["VP"], "role": "Executive Sponsor", "access_level": "Read", "note": True},
]


def tenant(tiers=TIERS, **extra):
    raw = {"id": "acme", "crm": "hubspot", "portal_id": "1", "client_secret_env": "S", "dry_run": True,
           "currency_rates": {"EUR": 1.10}, "rules": {"threshold": tiers}, **extra}  # fmt: skip
    t = parse({"tenants": [raw]}).tenants[0]
    return t, RULE.load_settings(t.rules["threshold"], t)


def event(kind="updated", changed=None, crm="hubspot", object_type="deal"):
    return Event(key="hubspot#1#1#42#1#1", tenant="acme", crm=crm, object_type=object_type, object_id="42", kind=kind,
                 occurred_at=datetime(2026, 11, 1, tzinfo=timezone.utc), source_id="1",
                 changed={"amount": "1"} if changed is None else changed)  # fmt: skip


def plan(deal, users=None, rates=None, tiers=TIERS, **extra):
    t, settings = tenant(tiers, **extra)
    return RULE.plan(event(), settings, State(deals={"42": deal}, users=users or {}, rates=rates or {}), t)


def deal(amount, **kw):
    return Deal(id="42", amount=Decimal(amount), owner_id=kw.pop("owner_id", "OWNER"), **kw)


def test_below_threshold_plans_nothing():
    assert plan(deal("99999.99")) == []


def test_crossing_adds_the_tiers_leaders_with_the_reason_and_evidence():
    [cmd] = plan(deal("100000"))
    assert isinstance(cmd, AddCollaborators)
    assert (cmd.record_id, cmd.user_ids, cmd.role, cmd.access_level) == ("42", ("L1",), "Sales Manager", "Edit")
    assert cmd.key == "threshold#acme#42#big#L1"
    assert cmd.rule == "threshold:big"
    assert cmd.reason == "Amount 100,000.00 USD reached the threshold of 'big' (100,000.00 USD): adding L1"
    assert cmd.evidence["amount_corporate"] == "100000" and (cmd.evidence["tier"], cmd.evidence["threshold"]) == ("big", "100000")


def test_higher_tier_adds_each_leader_once_by_its_tier_and_one_note_for_the_noting_tier():
    big, huge, note = plan(deal("2000000"))
    assert (big.key, big.user_ids, big.role, big.rule) == ("threshold#acme#42#big#L1", ("L1",), "Sales Manager", "threshold:big")
    assert (huge.key, huge.user_ids, huge.role, huge.access_level) == ("threshold#acme#42#huge#VP", ("VP",), "Executive Sponsor", "Read")
    assert isinstance(note, AddNote) and note.key == "threshold-note#acme#42#huge"
    assert "reached the threshold of 'huge' (1,000,000.00 USD): adding VP" in note.body


def test_a_leader_named_by_two_crossed_tiers_is_added_once_by_the_higher():
    tiers = [{"name": "big", "amount": 100, "leaders": ["L1", "L2"]}, {"name": "huge", "amount": 1000, "leaders": ["L2"], "role": "Sponsor"}]
    cmds = plan(deal("5000"), tiers=tiers)
    assert [(c.key, c.role) for c in cmds] == [("threshold#acme#42#big#L1", "Sales Manager"), ("threshold#acme#42#huge#L2", "Sponsor")]


def test_several_leaders_of_one_tier_get_one_command_each():
    tiers = [{"name": "big", "amount": 100, "leaders": ["L2", "L1"], "note": True}]
    cmds = plan(deal("5000"), tiers=tiers)
    assert [c.key for c in cmds] == ["threshold#acme#42#big#L1", "threshold#acme#42#big#L2", "threshold-note#acme#42#big"]
    assert {c.reason for c in cmds} == {"Amount 5,000.00 USD reached the threshold of 'big' (100.00 USD): adding L1, L2"}


def test_leaders_already_present_are_not_added_again():
    assert plan(deal("150000", collaborators=frozenset({"L1"}))) == []
    [cmd, note] = plan(deal("1500000", collaborators=frozenset({"L1"})))
    assert cmd.user_ids == ("VP",) and note.key == "threshold-note#acme#42#huge"
    assert plan(deal("1500000", collaborators=frozenset({"L1", "VP"}))) == []


def test_the_owner_is_never_their_own_collaborator():
    assert plan(deal("150000", owner_id="L1")) == []


def test_manager_chain_is_walked_and_inactive_users_skipped():
    tiers = [{"name": "big", "amount": 100000, "manager_levels": 2}]
    users = {"OWNER": User("OWNER", manager_id="M1"), "M1": User("M1", manager_id="M2"), "M2": User("M2", manager_id="M3", active=False)}
    [cmd] = plan(deal("100000"), users=users, tiers=tiers)
    assert cmd.user_ids == ("M1",)


def test_scope_by_pipeline_and_stage():
    tiers = [{"name": "ent", "amount": 10, "leaders": ["L1"], "pipelines": ["enterprise"], "stages": ["contract"]}]
    assert plan(deal("50", pipeline="default", stage="contract"), tiers=tiers) == []
    assert plan(deal("50", pipeline="enterprise", stage="qualify"), tiers=tiers) == []
    assert len(plan(deal("50", pipeline="enterprise", stage="contract"), tiers=tiers)) == 1


def test_closed_deleted_and_amountless_deals_are_left_alone():
    assert plan(deal("5000000", closed=True)) == []
    assert plan(Deal(id="42", owner_id="OWNER")) == []
    t, settings = tenant()
    assert RULE.plan(event(), settings, State(), t) == []


def test_currency_is_converted_with_crm_rates_over_configured_ones():
    [cmd] = plan(deal("95000", currency="EUR"))  # config: 1 EUR = 1.10 USD -> 104,500 USD
    assert cmd.reason.startswith("Amount 95,000.00 EUR (104,500.00 USD) reached")
    assert plan(deal("95000", currency="EUR"), rates={"EUR": Decimal("1.00")}) == []  # the CRM's rate wins


def test_unknown_currency_is_an_error_the_admin_can_fix():
    with pytest.raises(MissingRate, match="no exchange rate from JPY to USD"):
        plan(deal("100000000", currency="JPY"))
    assert to_corporate(Decimal("5"), None, "USD", {}) == Decimal("5")


@pytest.mark.parametrize(
    "evt, wanted",
    [
        (event(changed={"amount": "5"}), True),
        (event(kind="created", changed={}), True),
        (event(changed={"dealname": "x"}), False),
        (event(kind="deleted"), False),
        (event(object_type="contact"), False),
        (event(crm="salesforce", object_type="opportunity", changed={"StageName": "x"}), True),
    ],
)
def test_which_events_trigger_a_decision(evt, wanted):
    _, settings = tenant()
    assert (RULE.needs(evt, settings) is not None) is wanted


def test_tier_settings_are_validated():
    with pytest.raises(Exception, match=r"rules.threshold\[0\].leaders: name leaders, or manager_levels"):
        tenant([{"name": "x", "amount": 5}])
    with pytest.raises(Exception, match="tier names must be unique"):
        tenant([{"name": "x", "amount": 5, "leaders": ["a"]}, {"name": "x", "amount": 6, "leaders": ["b"]}])
