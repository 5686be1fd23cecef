"""The review ledger on DynamoDB (dynalite): the shared contract with Scan forbidden on the
client and every operation it sends allowed by the Lambda policy, and the roll-forward of an
assign whose worker died between commit and apply."""
from __future__ import annotations

import json
from dataclasses import asdict, replace
import uuid
from pathlib import Path

import pytest

from integration.ledger import PEER, Assignment, ReviewerStats
from integration.store.dynamodb import DynamoStore
from integration.store.dynamodb_ledger import DynamoLedger, _bumped
from tests.dynalite import aws_test_credentials, dynalite_endpoint  # noqa: F401  (fixtures)
from tests.reviews_contract import ReviewsContract
from tests.ledger_contract import T, T0, WEEK, LedgerContract, assign_peers, maker, pick

pytestmark = pytest.mark.usefixtures("aws_test_credentials")
POLICY = json.loads((Path(__file__).resolve().parent.parent / "infra" / "lambda_policy.json").read_text())
POLICY_ACTIONS = {a.removeprefix("dynamodb:") for s in POLICY["Statement"] if s["Sid"] == "StateTable" for a in s["Action"]}


@pytest.fixture
def store(dynalite_endpoint: str):  # noqa: F811
    s = DynamoStore(f"gamefilm-{uuid.uuid4().hex}", region="us-east-1", endpoint_url=dynalite_endpoint)
    s.create_table()

    def no_scans(**kwargs):
        raise AssertionError("the ledger must never Scan the table")

    s._client.scan = no_scans
    calls: set[str] = set()
    s._client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.add(model.name))
    yield s
    s.close()
    test_only = {"DeleteItem"}  # a test deleting an item as TTL would
    assert calls - test_only <= POLICY_ACTIONS, f"the Lambda policy does not allow {calls - test_only - POLICY_ACTIONS}"


@pytest.fixture
def ledger(store):
    return store.ledger()


class TestDynamoLedger(LedgerContract):
    pass


class TestDynamoReviews(ReviewsContract):
    pass


def dead_workers_intent(made: Assignment) -> dict:
    """What `assign` commits for one peer review of zoom:1 by `a` (as `assign` builds it)."""
    bumps = {made.reviewer_id: _bumped(ReviewerStats(made.reviewer_id), T0, WEEK)}
    return {"external_id": "zoom:1", "kind": PEER, "assignments": [asdict(made)], "stats": bumps}


def test_an_intent_committed_by_a_worker_that_died_is_written_by_the_next_assign(ledger: DynamoLedger):
    """The first worker committed (ROTATION version 1) and died before writing anything."""
    made = maker(T, "zoom:1", PEER)("a")
    intent = dead_workers_intent(made)
    assert ledger._commit(T, 0, intent, T0)
    assert ledger.assignments_for(T, ["zoom:1"]) == {}  # nothing written yet
    # A redelivery of the same recording finds the intent, writes it, and answers it.
    assert ledger.assign(T, "zoom:1", PEER, ["b"], pick("b"), maker(T, "zoom:1", PEER), T0 + 5, WEEK) == [made]
    assert ledger.reviewer_stats(T, ["a", "b"])["a"].week_count == 1 and "b" not in ledger.reviewer_stats(T, ["b"])


def test_another_recording_rolls_the_dead_workers_intent_forward_first(ledger: DynamoLedger):
    made = maker(T, "zoom:1", PEER)("a")
    intent = dead_workers_intent(made)
    ledger._commit(T, 0, intent, T0)
    seen = []
    assign_peers(ledger, 2, lambda stats: seen.append(stats["a"].week_count) or ["a"], now=T0 + 5)
    assert seen == [1]  # choose saw the dead worker's assignment
    assert ledger.reviewer_stats(T, ["a"])["a"].week_count == 2
    assert [a.reviewer_id for a in ledger.assignments_for(T, ["zoom:1"])["zoom:1"]] == ["a"]
    rotation = ledger._t._get("ROTATION#" + T)
    assert (rotation["version"]["N"], rotation["applied"]["N"]) == ("2", "2")
    assert json.loads(rotation["intent"]["S"])["external_id"] == "zoom:2"


def test_ledger_items_share_the_store_table(store):
    ledger = store.ledger()
    assign_peers(ledger, 1, pick("a"))
    keys = {"ASGSET#acme#zoom:1#peer", "ASG#acme#zoom:1#peer#a", "REVIEWER#acme#a", "ROTATION#acme"}
    for pk in keys:
        assert "Item" in store._client.get_item(TableName=store.table, Key={"pk": {"S": pk}})


def test_an_assignment_expired_before_its_set_is_left_out_and_updates_refresh_the_ttl(store):
    ledger = store.ledger()
    a, b = assign_peers(ledger, 1, pick("a", "b"))
    store._client.delete_item(TableName=store.table, Key={"pk": {"S": "ASG#acme#zoom:1#peer#b"}})  # as TTL would
    assert ledger.assignments_for(T, ["zoom:1"])["zoom:1"] == [a]
    ledger.update_assignments([replace(a, task_id="00T1")], T0 + 10 * 86_400)
    item = store._client.get_item(TableName=store.table, Key={"pk": {"S": "ASG#acme#zoom:1#peer#a"}})["Item"]
    assert int(item["expires_at"]["N"]) == int(T0) + 10 * 86_400 + 90 * 86_400


def test_an_assign_that_keeps_losing_the_rotation_gives_up_and_writes_nothing(ledger: DynamoLedger, monkeypatch):
    from integration.store import dynamodb_ledger

    monkeypatch.setattr(dynamodb_ledger, "MAX_ATTEMPTS", 3)
    monkeypatch.setattr(dynamodb_ledger, "_BACKOFF_SECONDS", 0.0)
    monkeypatch.setattr(ledger, "_commit", lambda *args: False)  # another worker commits first, every time
    with pytest.raises(dynamodb_ledger.LedgerBusy, match="3 attempts"):
        assign_peers(ledger, 1, pick("a"))
    assert ledger.assignments_for(T, ["zoom:1"]) == {} and ledger.reviewer_stats(T, ["a"]) == {}


def test_a_worker_that_checked_before_another_assigned_the_same_recording_answers_that_set(store):
    """Worker B finds no set; worker A then assigns the recording completely; B must not add a second set."""
    a_worker, b_worker = store.ledger(), store.ledger()
    first_check = b_worker._sets
    checks = []

    def check_then_let_a_run(tenant, wanted):
        found = first_check(tenant, wanted)
        if not checks:
            checks.append(found)
            assign_peers(a_worker, 1, pick("a"))
        return found

    b_worker._sets = check_then_let_a_run
    answer = assign_peers(b_worker, 1, pick("b"))
    assert checks == [{}]
    assert [x.reviewer_id for x in answer] == ["a"]
    assert [x.reviewer_id for x in a_worker.assignments_for(T, ["zoom:1"])["zoom:1"]] == ["a"]
    assert a_worker.reviewer_stats(T, ["a", "b"]).keys() == {"a"}
