"""Effects exactly once through the real simple-salesforce client, whatever the org answers.

The org (tests/salesforce_org.py) applies a write and then loses the answer (500, dropped
connection, read timeout), or refuses it before applying. Creates are never resent blindly:
they come back ambiguous and `reconcile` finds them; idempotent writes are resent inside the
gateway. `deliver` does what the worker does with the outcomes.
"""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from typing import Sequence
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from integration.commands import AddCollaborators, AddNote, Command, CreateTask, LogCall, UpdateFields
from integration.gateway.salesforce import SalesforceGateway
from integration.gateway.transport import RetryPolicy
from tests.salesforce_org import DATA, INSTANCE, INTEGRATION_USER, USERINFO, FakeOrg, SalesforceHarness

OPP = "006000000000001AAA"
LEADER = "005000000000002AAA"
APPLIED_THEN_LOST = ["apply-500", "apply-drop", "apply-timeout"]


def opp(n: int) -> str:
    return f"006{n:012d}AAA"


def task(n: int = 1, record_id: str = OPP) -> CreateTask:
    return CreateTask(key=f"task#{n}", rule="review", reason="x", record_id=record_id, owner_id=LEADER, subject="Review", body="Rubric", due=date(2026, 12, 1))


def call(n: int = 1, record_id: str = OPP) -> LogCall:
    return LogCall(key=f"call#{n}", rule="recording", reason="x", record_id=record_id, owner_id=LEADER, title="Call",
                   recording_url="https://rec.example/1", occurred_at_ms=1_762_000_000_000, body="Notes")  # fmt: skip


def note(n: int = 1, record_id: str = OPP) -> AddNote:
    return AddNote(key=f"note#{n}", rule="threshold", reason="x", record_id=record_id, body=f"Dana joined ({n}).")


def update(n: int = 1, record_id: str = OPP) -> UpdateFields:
    return UpdateFields(key=f"update#{n}", rule="rubric", reason="x", record_id=record_id, object_type="opportunity", fields={"Score__c": n})


def member(n: int = 1, record_id: str = OPP) -> AddCollaborators:
    return AddCollaborators(key=f"member#{n}", rule="threshold", reason="x", record_id=record_id, user_ids=(LEADER,))


CREATES = {"task": task, "call": call, "note": note}


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def make_gateway(org: FakeOrg, now: datetime | None = None, **kwargs) -> SalesforceGateway:
    from simple_salesforce import Salesforce

    return SalesforceGateway(lambda: Salesforce(instance_url=INSTANCE, session_id="s"), sleep=lambda s: None, now=lambda: now or org.now, **kwargs)


def effects(org: FakeOrg, command: Command) -> list[dict]:
    """The records in the org that carry this command's effect (a create's marker)."""
    return org.by_marker().get(command.marker, [])


def deliver(gateway: SalesforceGateway, commands: Sequence[Command], rounds: int = 20) -> None:
    """The worker's loop: send; a command whose outcome is unknown is looked up, and resent
    only if the CRM certainly does not have it (idempotent ones are simply resent)."""
    pending = list(commands)
    for _ in range(rounds):
        outcomes = gateway.execute(pending)
        unknown = [c for c, o in zip(pending, outcomes) if not o.ok and o.ambiguous]
        found = gateway.reconcile(unknown) if unknown else {}
        pending = [c for c, o in zip(pending, outcomes) if not o.ok and not o.ambiguous] + [c for c in unknown if found[c.key] is None]
        if not pending:
            return
    raise AssertionError(f"still pending after {rounds} rounds: {[c.key for c in pending]}")


# ---- creates: never resent after an ambiguous failure; found exactly once ------------------


@pytest.mark.parametrize("fault", APPLIED_THEN_LOST)
@pytest.mark.parametrize("kind", ["task", "call", "note"])
def test_an_applied_create_whose_answer_is_lost_is_not_resent_and_is_found_once(http, kind, fault):
    org = FakeOrg(http, key_field=False)
    gateway = make_gateway(org)
    command = CREATES[kind]()
    org.faults = [fault]

    [outcome] = gateway.execute([command])

    assert not outcome.ok and outcome.ambiguous and outcome.retryable
    assert org.writes == 1  # not resent
    [record] = effects(org, command)
    assert gateway.reconcile([command]) == {command.key: record["Id"]}  # so the worker marks it done


@pytest.mark.parametrize("fault", APPLIED_THEN_LOST)
@pytest.mark.parametrize("kind", ["task", "call"])
def test_tasks_upserted_on_the_external_id_are_resent_and_exist_once(http, kind, fault):
    org = FakeOrg(http, key_field=True)
    gateway = make_gateway(org)
    command = CREATES[kind]()
    org.faults = [fault]

    [outcome] = gateway.execute([command])

    assert outcome.ok and org.writes == 2  # the upsert is idempotent: sent again at once
    [record] = effects(org, command)
    assert outcome.crm_id == record["Id"]
    assert gateway.reconcile([command]) == {command.key: record["Id"]}


@pytest.mark.parametrize("kind", ["task", "call", "note"])
def test_a_create_refused_with_a_500_before_applying_is_looked_up_then_sent_once(http, kind):
    org = FakeOrg(http, key_field=False)
    gateway = make_gateway(org)
    command = CREATES[kind]()
    org.faults = ["refuse-500"]

    [outcome] = gateway.execute([command])
    assert outcome.ambiguous and org.writes == 1
    assert gateway.reconcile([command]) == {command.key: None}

    deliver(gateway, [command])
    assert len(effects(org, command)) == 1


def test_a_refused_connection_is_resent_at_once_even_for_a_create(http):
    org = FakeOrg(http)
    gateway = make_gateway(org)
    org.faults = ["refused"]

    [outcome] = gateway.execute([note()])

    assert outcome.ok and org.writes == 2 and len(effects(org, note())) == 1


def test_a_deleted_task_counts_as_found_and_is_not_brought_back(http):
    org = FakeOrg(http, key_field=False)
    gateway = make_gateway(org)
    org.faults = ["apply-500"]
    gateway.execute([task()])
    [record] = effects(org, task())
    org.delete(record["Id"])

    assert gateway.reconcile([task()]) == {task().key: record["Id"]}
    assert urlsplit(http.calls[-1].request.url).path.endswith("/queryAll/")


# ---- idempotent writes: resent inside the gateway -----------------------------------------


@pytest.mark.parametrize("fault", APPLIED_THEN_LOST + ["refuse-500"])
def test_updates_and_team_members_are_resent_after_an_ambiguous_failure(http, fault):
    org = FakeOrg(http)
    gateway = make_gateway(org)
    org.faults = [fault, None, fault]  # the update's first try, then the team member's

    [updated, joined] = gateway.execute([update(7), member()])

    assert updated.ok and joined.ok and org.writes == 4
    assert [u["Score__c"] for u in org.updates] == ([7, 7] if fault != "refuse-500" else [7])
    assert [(r["OpportunityId"], r["UserId"]) for r in org.of_type("OpportunityTeamMember")] == [(OPP, LEADER)]
    assert gateway.reconcile([update(7), member()]) == {update(7).key: None, member().key: None}  # never looked up
    assert not [c for c in http.calls if c.request.method == "GET"]


# ---- collections of 200: a failing chunk keeps the others' outcomes --------------------------


def test_the_second_chunk_failing_keeps_the_first_chunks_outcomes_and_reconcile_finds_the_rest(http):
    org = FakeOrg(http)
    gateway = make_gateway(org)
    notes = [note(n, opp(n % 7)) for n in range(450)]
    org.faults = [None, "apply-drop"]

    outcomes = gateway.execute(notes)

    assert org.writes == 2  # the third chunk is not sent after the second's unknown outcome
    assert all(o.ok for o in outcomes[:200])
    assert all(o.ambiguous for o in outcomes[200:400])
    assert all(o.retryable and not o.ambiguous for o in outcomes[400:])
    found = gateway.reconcile(notes[200:400])
    assert all(found[n.key] == effects(org, n)[0]["Id"] for n in notes[200:400])
    deliver(gateway, notes[400:])  # the worker sends what was certainly not sent
    assert all(len(effects(org, n)) == 1 for n in notes) and len(org.of_type("FeedItem")) == 450


# ---- many commands, 30% faults of every kind ----------------------------------------------------


@pytest.mark.parametrize("key_field", [True, False])
def test_mixed_commands_under_random_faults_take_effect_exactly_once(http, key_field):
    org = FakeOrg(http, key_field=key_field)
    gateway = make_gateway(org, retry=RetryPolicy(attempts=2))
    rng = random.Random(7)
    commands: list[Command] = [make(n, opp(n % 9)) for n in range(30) for make in (task, call, note, update)]
    commands += [member(n, opp(n)) for n in range(9)]
    org.faults = [rng.choice(["apply-500", "apply-drop", "apply-timeout", "refuse-500", "refused"]) if rng.random() < 0.3 else None for _ in range(400)]

    rng.shuffle(commands)
    for start in range(0, len(commands), 6):  # the worker's batches
        deliver(gateway, commands[start : start + 6])

    assert {"apply-500", "apply-drop", "apply-timeout", "refuse-500", "refused"} <= set(org.seen)
    creates = [c for c in commands if not type(c).idempotent]
    assert all(len(effects(org, c)) == 1 for c in creates)
    assert len(org.of_type("Task")) == 60 and len(org.of_type("FeedItem")) == 30
    assert sorted(r["OpportunityId"] for r in org.of_type("OpportunityTeamMember")) == [opp(n) for n in range(9)]
    assert {(u["id"], u["Score__c"]) for u in org.updates} == {(opp(n % 9), n) for n in range(30)}


# ---- the lookups -------------------------------------------------------------------------------


def soqls(http) -> list[tuple[str, str]]:
    return [(urlsplit(c.request.url).path.rsplit("/", 2)[-2], parse_qs(urlsplit(c.request.url).query)["q"][0]) for c in http.calls if "q=" in c.request.url]


def test_lookups_ask_one_query_per_type_for_many_commands(http):
    org = FakeOrg(http, key_field=False)
    gateway = make_gateway(org)
    commands = [task(1, opp(1)), task(2, opp(2)), note(1, opp(1)), note(2, opp(1))]
    org.faults = ["apply-500", "apply-500", "apply-500"]  # the upsert probe is not a write
    gateway.execute(commands)

    found = gateway.reconcile(commands)
    gateway.reconcile(commands[2:])

    assert all(found[c.key] == effects(org, c)[0]["Id"] for c in commands)
    since = "2026-11-24T04:55:00Z"  # first sent at 05:00, less five minutes of clock skew
    assert soqls(http) == [
        ("queryAll", f"SELECT Id, Description FROM Task WHERE WhatId IN ('{opp(1)}','{opp(2)}') AND CreatedById = '{INTEGRATION_USER}' AND CreatedDate >= {since}"),
        ("query", f"SELECT Id, Body FROM FeedItem WHERE ParentId IN ('{opp(1)}') AND CreatedById = '{INTEGRATION_USER}' AND CreatedDate >= {since}"),
        ("query", f"SELECT Id, Body FROM FeedItem WHERE ParentId IN ('{opp(1)}') AND CreatedById = '{INTEGRATION_USER}' AND CreatedDate >= {since}"),
    ]
    assert [c.request.url for c in http.calls].count(USERINFO) == 1  # the integration user is asked once


def test_keyed_tasks_are_looked_up_by_the_external_id(http):
    org = FakeOrg(http, key_field=True)
    gateway = make_gateway(org)
    gateway.execute([task(1), call(2)])

    found = gateway.reconcile([task(1), task(3)])

    assert found == {task(1).key: effects(org, task(1))[0]["Id"], task(3).key: None}
    assert soqls(http) == [("queryAll", f"SELECT Id, GameFilm_Key__c FROM Task WHERE GameFilm_Key__c IN ('{task(1).marker}','{task(3).marker}')")]


def test_a_new_process_looks_back_over_the_lookback_window(http):
    org = FakeOrg(http, key_field=False)
    org.faults = ["apply-timeout"]
    make_gateway(org).execute([note()])
    restarted = make_gateway(org, now=org.now + timedelta(hours=6), lookback=timedelta(days=2))

    assert restarted.reconcile([note()]) == {note().key: effects(org, note())[0]["Id"]}
    assert soqls(http)[-1][1].endswith("CreatedDate >= 2026-11-22T11:00:00Z")


def test_a_lookup_that_fails_leaves_its_keys_unknown(http):
    from simple_salesforce import Salesforce

    gateway = SalesforceGateway(lambda: Salesforce(instance_url=INSTANCE, session_id="s"), sleep=lambda s: None, retry=RetryPolicy(attempts=1),
                                now=lambda: datetime(2026, 11, 24, tzinfo=timezone.utc))  # fmt: skip
    http.get(USERINFO, json={"user_id": INTEGRATION_USER})
    http.get(f"{DATA}/query/", status=503, json=[{"errorCode": "SERVER_UNAVAILABLE", "message": "unavailable"}])

    assert gateway.reconcile([note(), update()]) == {update().key: None}  # the note stays unknown
    assert len(http.calls) == 3  # userinfo, then the query and one resend (a read is idempotent)


# ---- faults per command type (the harness the gateway contract will use) ----------------------


def test_one_command_type_failing_never_discards_another_types_outcomes(http):
    harness = SalesforceHarness(http)
    for deal in (OPP, opp(2)):
        harness.deal(deal)
    commands = [update(1), note(1), task(1), member(1), call(1, opp(3))]  # opp(3) is unknown to the org
    harness.fail_next("refused-500", UpdateFields, times=10)
    harness.fail_next("applied-then-drop", AddNote)

    updated, noted, tasked, joined, called = harness.gateway.execute(commands)

    assert not updated.ok and updated.retryable and harness.effects(update(1)) == 0
    assert noted.ambiguous and harness.effects(note(1)) == 1
    assert tasked.ok and joined.ok and harness.effects(task(1)) == harness.effects(member(1)) == 1
    assert not called.ok and not called.retryable and "INVALID_CROSS_REFERENCE_KEY" in called.error
    assert (harness.created(CreateTask), harness.created(LogCall), harness.created(AddNote)) == (1, 0, 1)


def test_send_times_are_kept_for_the_newest_creates_only(http, monkeypatch):
    from integration.gateway.salesforce import lookup

    monkeypatch.setattr(lookup, "REMEMBERED", 2)
    org = FakeOrg(http)
    gateway = make_gateway(org, lookback=timedelta(days=3))
    gateway.execute([note(1), note(2), note(3)])  # note 1 is forgotten

    gateway.reconcile([note(2)])
    gateway.reconcile([note(1)])

    assert [q.rsplit(">= ", 1)[1] for _, q in soqls(http)] == ["2026-11-24T04:55:00Z", "2026-11-21T05:00:00Z"]
