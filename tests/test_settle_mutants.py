"""Settling events: when each retries, and the one log line an operator reads per event."""
import logging
from dataclasses import replace

import pytest

from integration import logs
from integration.commands import Deal
from integration.events import StoredEvent
from integration.gateway.transport import RetryPolicy
from integration.rules.demo import NoteOnChangeRule
from integration.rules.base import State
from integration.settle import BatchReport, Settler
from tests.store_contract import make_event

NOW = 1_000.0


def stored(n: int, attempts: int = 0) -> StoredEvent:
    return StoredEvent(make_event(n), "processing", attempts, NOW, NOW, NOW, lease_until=NOW + 60)


class Store:
    def __init__(self):
        self.calls = []

    def settle_events(self, settlements, now, actions):
        self.calls.append((settlements, now, list(actions)))


def settle(policy, *calls, rng=lambda: 0.0):
    report, store = BatchReport(), Store()
    settler = Settler(policy, lambda: NOW, rng, report)
    for method, args, kwargs in calls:
        getattr(settler, method)(*args, **kwargs)
    settler.write(store)
    [(settlements, now, _)] = store.calls
    return report, {s.key: s for s in settlements}


def lines(caplog):
    return [getattr(r, logs._FIELDS) for r in caplog.records if r.name == logs.EVENT_LOGGER]


def test_a_short_backoff_is_kept_when_the_crm_gives_no_retry_after():
    policy = RetryPolicy(attempts=3, base_delay=0.2, max_delay=10)
    report, by_key = settle(policy, ("fail", (stored(1),), {"error": "503"}), rng=lambda: 1.0)
    [s] = by_key.values()
    assert (s.status, s.attempts, s.next_attempt_at, s.last_error) == ("pending", 1, pytest.approx(NOW + 0.2), "503")
    assert report.retrying == [s.key]


def test_the_backoff_uses_the_workers_random_source():
    policy = RetryPolicy(attempts=3, base_delay=8, max_delay=100)
    _, low = settle(policy, ("fail", (stored(1, attempts=1),), {"error": "x"}), rng=lambda: 0.0)
    _, high = settle(policy, ("fail", (stored(1, attempts=1),), {"error": "x"}), rng=lambda: 1.0)
    assert [s.next_attempt_at for s in low.values()] == [NOW + 8]  # attempt 2: ceiling 16, half of it
    assert [s.next_attempt_at for s in high.values()] == [NOW + 16]


def test_each_outcome_logs_its_name_and_attempts_and_a_retry_its_delay(caplog):
    policy = RetryPolicy(attempts=2, base_delay=1.25, max_delay=100)
    with caplog.at_level(logging.INFO, logger=logs.EVENT_LOGGER):
        report, by_key = settle(
            policy,
            ("ignore", (stored(1, attempts=4), "ignored"), {}),
            ("fail", (stored(2),), {"error": "503"}),
            ("fail", (stored(3, attempts=2),), {"error": "503"}),
            ("done", (stored(4, attempts=1),), {}),
            rng=lambda: 0.0,
        )
    got = {f["key"]: (f["outcome"], f["attempts"], f.get("retry_in_s")) for f in lines(caplog)}
    keys = [make_event(n).key for n in (1, 2, 3, 4)]
    assert got == {keys[0]: ("ignored", 4, None), keys[1]: ("retry", 1, 0.6), keys[2]: ("dead", 3, None),
                   keys[3]: ("done", 2, None)}  # fmt: skip
    assert (report.ignored, report.retrying, report.dead, report.done) == ([keys[0]], [keys[1]], [keys[2]], [keys[3]])
    assert by_key[keys[2]].status == "dead" and by_key[keys[0]].attempts == 4


def test_note_on_change_names_only_the_watched_properties_that_changed_with_their_current_values():
    rule = NoteOnChangeRule()
    settings = {"properties": ["amount", "dealstage", "closedate"]}
    event = replace(make_event(1), changed={"amount": "1", "dealstage": "won", "name": "x"})
    deal = Deal(id=event.object_id, amount=None, fields={"amount": "150000"})
    [note] = rule.plan(event, settings, State(deals={event.object_id: deal}), tenant=None)
    assert note.body == "Game Film noticed a change: amount is now 150000, dealstage is now ?."
    assert note.reason == "amount, dealstage changed on deal 1001"
    [from_event] = rule.plan(event, settings, State(), tenant=None)
    assert from_event.body == "Game Film noticed a change: amount is now 1, dealstage is now won."


def test_note_on_change_wants_only_deal_changes_to_a_watched_property():
    rule, settings = NoteOnChangeRule(), {"properties": ["amount"]}
    deal_event = make_event(1)
    assert rule.needs(deal_event, settings).deal_ids == (deal_event.object_id,)
    assert rule.needs(replace(deal_event, object_type="contact"), settings) is None
    assert rule.needs(replace(deal_event, kind="deleted"), settings) is None
    assert rule.needs(replace(deal_event, changed={"dealname": "x"}), settings) is None


def test_reports_of_tenants_run_side_by_side_add_up():
    total, other = BatchReport(done=["a"], commands=2, executed=1), BatchReport(dead=["b"], commands=3, executed=2)
    total.merge(other)
    total.merge(BatchReport(commands=1, executed=1))
    assert (total.done, total.dead, total.failed, total.commands, total.executed) == (["a"], ["b"], ["b"], 6, 4)


def test_the_first_word_on_an_event_wins_and_keeps_its_claim():
    policy = RetryPolicy(attempts=3, base_delay=1, max_delay=10)
    report, by_key = settle(policy, ("fail", (stored(1),), {"error": "503"}), ("done", (stored(1),), {}))
    [s] = by_key.values()
    assert (s.status, s.lease_until, report.done, len(report.retrying)) == ("pending", NOW + 60, [], 1)
