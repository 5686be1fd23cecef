"""The behaviour every Store backend must have. Subclass `StoreContract`, provide `store`."""
from __future__ import annotations

import threading
from datetime import datetime, timezone

from integration.events import DEAD, DONE, PENDING, PROCESSING, Event
from integration.store import ACTION_DONE, ACTION_FAILED, ACTION_PLANNED, ACTION_SENT, ACTION_UNKNOWN, Action, ActionUpdate, Settlement

T0 = 1_700_000_000.0


def make_event(n: int = 1, tenant: str = "acme-hubspot") -> Event:
    return Event(
        key=f"hubspot#123#sub1#{n}#evt{n}#1700000000000",
        tenant=tenant,
        crm="hubspot",
        object_type="deal",
        object_id=str(1000 + n),
        kind="updated",
        occurred_at=datetime(2026, 11, 1, 12, 0, n % 60, tzinfo=timezone.utc),
        source_id=f"evt{n}",
        changed={"amount": "150000"},
        raw={"eventId": n, "propertyName": "amount"},
    )


def make_action(key: str = "threshold#acme#1001#u1", tenant: str = "acme-hubspot") -> Action:
    return Action(
        key=key,
        tenant=tenant,
        event_key=make_event().key,
        rule="threshold",
        op="AddCollaborators",
        record_id="1001",
        reason="amount 150000 USD >= 100000 USD",
        payload={"user_ids": ["u1"]},
    )


class StoreContract:
    # --- events -------------------------------------------------------------------------
    def test_added_event_round_trips(self, store):
        event = make_event()
        assert store.add_events([event], T0) == [True]
        stored = store.get_event(event.key)
        assert stored.event == event
        assert (stored.status, stored.attempts, stored.received_at) == (PENDING, 0, T0)

    def test_redelivered_batch_stores_one_copy(self, store):
        batch = [make_event(i) for i in range(5)]
        assert store.add_events(batch, T0) == [True] * 5
        for _ in range(2):
            assert store.add_events(batch, T0 + 1) == [False] * 5
        assert len(store.list_events(limit=100)) == 5

    def test_redelivery_does_not_reset_a_processed_event(self, store):
        event = make_event()
        store.add_events([event], T0)
        store.complete_event(store.claim_event(event.key, T0), T0)
        store.add_events([event], T0 + 5)
        assert store.get_event(event.key).status == DONE

    def test_unknown_event_is_none(self, store):
        assert store.get_event("nope") is None

    def test_list_filters_and_orders_newest_first(self, store):
        store.add_events([make_event(1)], T0)
        store.add_events([make_event(2, tenant="other")], T0 + 1)
        store.add_events([make_event(3)], T0 + 2)
        assert [s.event.source_id for s in store.list_events()] == ["evt3", "evt2", "evt1"]
        assert [s.event.source_id for s in store.list_events(tenant="acme-hubspot")] == ["evt3", "evt1"]
        store.complete_event(store.claim_event(make_event(1).key, T0 + 3), T0 + 3)
        assert [s.event.source_id for s in store.list_events(status=DONE)] == ["evt1"]
        assert len(store.list_events(limit=2)) == 2

    def test_claim_is_exclusive_until_the_lease_expires(self, store):
        event = make_event()
        store.add_events([event], T0)
        claimed = store.claim_event(event.key, T0, lease_seconds=60)
        assert claimed.status == PROCESSING
        assert store.claim_event(event.key, T0 + 30, lease_seconds=60) is None
        assert store.due_event_keys(T0 + 30) == []
        # The worker died: after the lease the event is due and claimable again.
        assert store.due_event_keys(T0 + 61) == [event.key]
        assert store.claim_event(event.key, T0 + 61, lease_seconds=60) is not None

    def test_two_threads_claim_the_same_event_exactly_one_wins(self, store):
        event = make_event()
        store.add_events([event], T0)
        results: list = []
        barrier = threading.Barrier(2)

        def claim():
            barrier.wait()
            results.append(store.claim_event(event.key, T0, lease_seconds=60))

        threads = [threading.Thread(target=claim) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(r is not None for r in results) == 1

    def test_two_threads_add_the_same_event_exactly_one_inserts(self, store):
        event = make_event()
        results: list = []
        barrier = threading.Barrier(2)

        def add():
            barrier.wait()
            results.extend(store.add_events([event], T0))

        threads = [threading.Thread(target=add) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [False, True]

    def test_failed_event_waits_for_its_retry_time_then_dies(self, store):
        event = make_event()
        store.add_events([event], T0)
        store.fail_event(store.claim_event(event.key, T0), "503 from CRM", T0, retry_at=T0 + 10)
        stored = store.get_event(event.key)
        assert (stored.status, stored.attempts, stored.last_error) == (PENDING, 1, "503 from CRM")
        assert store.due_event_keys(T0 + 5) == []
        assert store.claim_event(event.key, T0 + 5) is None
        assert store.due_event_keys(T0 + 10) == [event.key]
        store.fail_event(store.claim_event(event.key, T0 + 10), "still 503", T0 + 10, retry_at=None)
        stored = store.get_event(event.key)
        assert (stored.status, stored.attempts, stored.last_error) == (DEAD, 2, "still 503")
        assert store.due_event_keys(T0 + 10_000) == []

    def test_replay_makes_a_dead_event_due_again(self, store):
        event = make_event()
        store.add_events([event], T0)
        store.fail_event(store.claim_event(event.key, T0), "boom", T0, retry_at=None)
        assert store.replay_event(event.key, T0 + 1) is True
        stored = store.get_event(event.key)
        assert (stored.status, stored.attempts, stored.last_error) == (PENDING, 0, None)
        assert store.due_event_keys(T0 + 1) == [event.key]
        assert store.replay_event("missing", T0) is False

    def test_due_keys_respect_the_limit_and_oldest_first(self, store):
        store.add_events([make_event(i) for i in range(5)], T0)
        assert len(store.due_event_keys(T0, limit=3)) == 3
        assert set(store.due_event_keys(T0, limit=10)) == {make_event(i).key for i in range(5)}

    def test_due_events_name_their_tenant_and_pass_over_skipped_tenants(self, store):
        busy = [make_event(i, tenant="busy") for i in range(5)]
        store.add_events(busy, T0)
        store.add_events([make_event(9, tenant="quiet")], T0 + 1)
        first = store.due_events(T0 + 2, limit=3)
        assert len(first) == 3 and {tenant for _, tenant in first} == {"busy"} and {k for k, _ in first} <= {e.key for e in busy}
        assert store.due_events(T0 + 2, limit=3, skip_tenants={"busy"}) == [(make_event(9).key, "quiet")]
        assert store.due_events(T0 + 2, skip_tenants={"busy", "quiet"}) == []

    def test_claim_many_takes_only_what_is_due_in_input_order(self, store):
        store.add_events([make_event(i) for i in range(4)], T0)
        store.claim_event(make_event(1).key, T0, lease_seconds=60)
        store.fail_event(store.claim_event(make_event(2).key, T0), "later", T0, retry_at=T0 + 100)
        keys = [make_event(i).key for i in (3, 2, 1, 0)] + ["missing"]
        claimed = store.claim_events(keys, T0 + 1, lease_seconds=60)
        assert [c.key for c in claimed] == [make_event(3).key, make_event(0).key]
        assert all(c.status == PROCESSING for c in claimed)

    def test_settle_many_writes_each_outcome_and_releases_the_claims(self, store):
        store.add_events([make_event(i) for i in range(3)], T0)
        claimed = store.claim_events([make_event(i).key for i in range(3)], T0, lease_seconds=60)
        store.settle_events(
            [
                Settlement(claimed[0].key, DONE, 1),
                Settlement(claimed[1].key, PENDING, 1, T0 + 9, "HubSpot 503"),
                Settlement(claimed[2].key, DEAD, 8, 0.0, "record 1002: field amount: not a number"),
            ],
            T0 + 1,
        )
        states = [store.get_event(make_event(i).key) for i in range(3)]
        assert [(s.status, s.attempts, s.last_error) for s in states] == [
            (DONE, 1, None), (PENDING, 1, "HubSpot 503"), (DEAD, 8, "record 1002: field amount: not a number"),
        ]
        assert store.due_event_keys(T0 + 9) == [make_event(1).key]

    def test_a_worker_whose_lease_ran_out_cannot_overwrite_the_next_holders_outcome(self, store):
        store.add_events([make_event(1)], T0)
        [first] = store.claim_events([make_event(1).key], T0, lease_seconds=60)
        [second] = store.claim_events([make_event(1).key], T0 + 61, lease_seconds=60)  # the first one hung
        store.settle_events([Settlement(second.key, DONE, 1, lease_until=second.lease_until)], T0 + 62)
        store.settle_events([Settlement(first.key, DEAD, 1, 0.0, "late", lease_until=first.lease_until)], T0 + 63)
        stored = store.get_event(first.key)
        assert (stored.status, stored.last_error) == (DONE, None)

    def test_settle_writes_the_outcomes_of_the_actions_with_the_events(self, store):
        store.add_events([make_event(1)], T0)
        [claimed] = store.claim_events([make_event(1).key], T0, lease_seconds=60)
        store.plan_actions([make_action("a1"), make_action("a2")], T0)
        store.update_actions([ActionUpdate("a1", ACTION_SENT), ActionUpdate("a2", ACTION_SENT)], T0)
        outcomes = [ActionUpdate("a1", ACTION_DONE, crm_id="n1"), ActionUpdate("a2", ACTION_UNKNOWN, error="502 after sending")]
        store.settle_events([Settlement(claimed.key, PENDING, 1, T0 + 9, "a2: 502 after sending", claimed.lease_until)], T0 + 1, outcomes)
        assert [(a.status, a.crm_id, a.error, a.sends) for a in (store.get_action("a1"), store.get_action("a2"))] == [
            (ACTION_DONE, "n1", None, 1), (ACTION_UNKNOWN, None, "502 after sending", 1),
        ]
        assert store.get_event(claimed.key).status == PENDING
        store.settle_events([], T0 + 2, [ActionUpdate("a2", ACTION_DONE, crm_id="n2")])  # outcomes alone
        assert store.get_action("a2").crm_id == "n2"

    # --- actions (the outbox) -------------------------------------------------------------
    def test_planned_action_round_trips(self, store):
        [row] = store.plan_actions([make_action()], T0)
        assert (row.status, row.created_at, row.sends, row.payload) == (ACTION_PLANNED, T0, 0, {"user_ids": ["u1"]})
        assert store.get_action(make_action().key) == row

    def test_planning_a_known_key_returns_the_existing_row_unchanged(self, store):
        store.plan_actions([make_action()], T0)
        store.update_actions([ActionUpdate(make_action().key, ACTION_SENT)], T0 + 1)
        store.update_actions([ActionUpdate(make_action().key, ACTION_DONE, crm_id="00q1")], T0 + 2)
        other = make_action()
        [row] = store.plan_actions([Action(**{**other.__dict__, "event_key": "another-event", "reason": "again"})], T0 + 3)
        assert (row.status, row.crm_id, row.event_key, row.reason, row.sends) == (ACTION_DONE, "00q1", make_event().key, other.reason, 1)

    def test_two_workers_planning_one_key_agree_on_a_single_owner(self, store):
        results: dict[str, Action] = {}
        start = threading.Barrier(2)

        def plan(event_key: str) -> None:
            start.wait()
            [row] = store.plan_actions([Action(**{**make_action().__dict__, "event_key": event_key})], T0)
            results[event_key] = row

        threads = [threading.Thread(target=plan, args=(f"event-{i}",)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        owners = {row.event_key for row in results.values()}
        assert len(owners) == 1 and owners <= {"event-0", "event-1"}
        assert store.get_action(make_action().key).event_key in owners

    def test_update_many_tracks_sends_and_errors(self, store):
        store.plan_actions([make_action("a1"), make_action("a2")], T0)
        store.update_actions([ActionUpdate("a1", ACTION_SENT), ActionUpdate("a2", ACTION_SENT)], T0 + 1)
        store.update_actions(
            [ActionUpdate("a1", ACTION_UNKNOWN, error="HubSpot 502 after sending"), ActionUpdate("a2", ACTION_FAILED, error="INVALID_ID")],
            T0 + 2,
        )
        a1, a2 = store.get_action("a1"), store.get_action("a2")
        assert (a1.status, a1.error, a1.sends, a2.status, a2.error) == (ACTION_UNKNOWN, "HubSpot 502 after sending", 1, ACTION_FAILED, "INVALID_ID")
        store.update_actions([ActionUpdate("a1", ACTION_SENT)], T0 + 3)
        store.update_actions([ActionUpdate("a1", ACTION_DONE, crm_id="n-1")], T0 + 4)
        a1 = store.get_action("a1")
        assert (a1.status, a1.error, a1.crm_id, a1.sends, a1.updated_at) == (ACTION_DONE, None, "n-1", 2, T0 + 4)

    def test_outbox_of_each_event_oldest_first(self, store):
        first, second = make_event(1).key, make_event(2).key
        store.plan_actions([Action(**{**make_action("b").__dict__, "event_key": first})], T0)
        store.plan_actions([Action(**{**make_action("a").__dict__, "event_key": first})], T0 + 1)
        store.plan_actions([Action(**{**make_action("c").__dict__, "event_key": second})], T0 + 2)
        outbox = store.actions_for_events([first, second, "no-actions"])
        assert {k: [a.key for a in v] for k, v in outbox.items()} == {first: ["b", "a"], second: ["c"]}

    def test_two_threads_plan_the_same_action_one_row_survives(self, store):
        results: list = []
        barrier = threading.Barrier(2)

        def plan(reason: str):
            barrier.wait()
            results.extend(store.plan_actions([Action(**{**make_action().__dict__, "reason": reason})], T0))

        threads = [threading.Thread(target=plan, args=(r,)) for r in ("first", "second")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results[0] == results[1] == store.get_action(make_action().key)

    def test_actions_list_by_tenant_and_event_newest_first(self, store):
        store.plan_actions([make_action("a1")], T0)
        store.plan_actions([make_action("a2", tenant="other")], T0 + 1)
        store.plan_actions([make_action("a3")], T0 + 2)
        assert [a.key for a in store.list_actions()] == ["a3", "a2", "a1"]
        assert [a.key for a in store.list_actions(tenant="acme-hubspot")] == ["a3", "a1"]
        assert [a.key for a in store.list_actions(event_key=make_event().key, limit=2)] == ["a3", "a2"]
