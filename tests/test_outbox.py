"""Execution from the outbox: commands rebuilt from their rows, resumed not re-planned,
unknown creates looked up before any resend, a crash between two writes repaired."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from integration.app import build_services
from integration.commands import (
    Outcome,
    AddCollaborators,
    AddNote,
    Command,
    CreateTask,
    Deal,
    LogCall,
    RemindTask,
    ShareRecord,
    UpsertCall,
    UpsertRecord,
    UpdateFields,
    command_from_row,
    command_payload,
    command_types,
)
from integration.gateway import CrmError
from integration.outbox import to_action, to_command
from integration.store import ACTION_DONE, ACTION_SENT, ACTION_UNKNOWN
from tests.conftest import ENVIRON, make_config, tenants_raw
from tests.engine_fakes import Crash, UnrulyCrm
from tests.store_contract import make_event

EVIDENCE = {"amount": Decimal("150000.50"), "seen": datetime(2026, 11, 1, 12, tzinfo=timezone.utc), "tiers": ("big", "huge"),
            "present": frozenset({"u1"}), "nested": [{"due": date(2026, 12, 1)}], "n": 3, "ok": True, "none": None}  # fmt: skip
COMMON = {"key": "k#1", "rule": "r", "reason": "because", "record_id": "1001", "evidence": EVIDENCE}
EVERY_COMMAND: list[Command] = [
    UpdateFields(**COMMON, object_type="deal", fields={"amount": Decimal("12.30"), "closedate": date(2027, 1, 31), "name": "x"}),
    AddCollaborators(**COMMON, user_ids=("u2", "u1"), role="Executive Sponsor", access_level="Read"),
    CreateTask(**COMMON, owner_id="o1", subject="Call back", body="line 1\nline 2", due=date(2026, 12, 24), priority="HIGH", contact_id="c9", call_external_id="rec:1"),
    LogCall(**COMMON, owner_id=None, title="Discovery", recording_url="https://x/y.mp3", occurred_at_ms=1_795_000_000_123, duration_ms=None),
    AddNote(**COMMON, body="Game Film: <b>why</b> é"),
    UpsertCall(**COMMON, external_id="zoom:abc==", owner_id="o1", title="Discovery", recording_url="https://x/y",
               occurred_at_ms=1_795_000_000_123, duration_ms=60_000, contact_ids=("c1", "c2"), call_id=None, associate_deal=False),
    RemindTask(**COMMON, task_id="t1", remind_at_ms=1_795_000_000_000, note="overdue by 2 business days"),
    UpsertRecord(**COMMON, object_type="Rep_Scorecard__c", id_field="GameFilm_Rep_Key__c", id_value="005x",
                 fields={"GameFilm_Rolling_Avg__c": Decimal("4.25"), "GameFilm_Status_Since__c": date(2026, 11, 2)}),
    ShareRecord(**COMMON, share_object="Call_Review__Share", user_id="005x", access_level="Read"),
]


def test_every_command_type_is_covered_here():
    assert {type(c).__name__ for c in EVERY_COMMAND} == set(command_types())


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=lambda c: c.op)
def test_each_command_round_trips_through_json_and_the_store(command, store):
    payload = json.loads(json.dumps(command_payload(command)))
    assert command_from_row(command.op, key=command.key, rule=command.rule, reason=command.reason, record_id=command.record_id, payload=payload) == command
    [row] = store.plan_actions([to_action("acme", "evt", command, dry_run=False)], 1.0)
    rebuilt = to_command(store.get_action(row.key))
    assert rebuilt == command and type(rebuilt) is type(command)
    assert isinstance(rebuilt.evidence["tiers"], tuple) and isinstance(rebuilt.evidence["amount"], Decimal)


def test_plain_values_stay_readable_in_the_action_log():
    payload = command_payload(EVERY_COMMAND[1])
    assert payload["user_ids"] == ["u2", "u1"] and payload["evidence"]["amount"] == {"$decimal": "150000.50"}
    with pytest.raises(ValueError, match="unknown command op 'Teleport'"):
        command_from_row("Teleport", key="k", rule="r", reason="x", record_id="1", payload={})


# --- the worker on the outbox --------------------------------------------------------------------
TIERS = [{"name": "big", "amount": 100000, "leaders": ["L1"], "note": True}]


@pytest.fixture
def crm():
    return UnrulyCrm(deals={str(1000 + i): Deal(id=str(1000 + i), amount=Decimal("150000"), owner_id="O", fields={"amount": "5"}) for i in range(100)})


@pytest.fixture
def services(tmp_path, store, clock, crm):
    def _make(**cfg):
        cfg.setdefault("tenants", tenants_raw(hubspot={"threshold": TIERS}))
        return build_services({"config": make_config(tmp_path, **cfg), "store": store, "clock": clock, "environ": ENVIRON,
                               "worker_mode": "none", "gateway_for": lambda tenant: crm, "rng": lambda: 0.5})  # fmt: skip

    return _make


def add(store, clock, *events):
    store.add_events(list(events), clock())
    return [e.key for e in events]


def crm_state(crm):
    """What the CRM holds: collaborators per deal (a set: adding twice is adding once) and notes."""
    collaborators = {(c.record_id, u) for c in crm.written if isinstance(c, AddCollaborators) for u in c.user_ids}
    notes = [c.key for c in crm.written if isinstance(c, AddNote)]
    return collaborators, notes


COLLAB, NOTE = "threshold#acme-hubspot#1001#big#L1", "threshold-note#acme-hubspot#1001#big"


def test_an_event_with_an_outbox_resumes_it_and_is_not_planned_again(services, store, clock, crm):
    s = services()
    keys = add(store, clock, make_event(1))
    crm.reject_keys[COLLAB] = Outcome(key=COLLAB, ok=False, error="UNABLE_TO_LOCK_ROW", retryable=True)
    assert s.worker.process(keys).retrying == keys
    assert {a.key: a.status for a in store.list_actions()} == {COLLAB: "failed", NOTE: "done"}
    # The deal dropped below the threshold meanwhile: the rule would plan nothing now, yet the
    # reserved command is finished from its row, without reading the deal again.
    crm.deals["1001"] = Deal(id="1001", amount=Decimal("5"), owner_id="O")
    crm.reject_keys.clear()
    crm.calls.clear()
    clock.advance(60)
    assert s.worker.run_due().done == keys
    assert crm.calls == [("add_collaborators", 1)]
    assert crm_state(crm) == ({("1001", "L1")}, [NOTE])
    assert {(a.key, a.status, a.sends) for a in store.list_actions()} == {(COLLAB, ACTION_DONE, 2), (NOTE, ACTION_DONE, 1)}


def test_an_ambiguous_create_that_the_crm_applied_is_found_not_sent_again(services, store, clock, crm):
    s = services()
    keys = add(store, clock, make_event(1))
    crm.applied_then["add_notes"] = CrmError("502 Bad Gateway after sending", ambiguous=True)
    assert s.worker.process(keys).retrying == keys
    assert store.get_action(NOTE).status == ACTION_UNKNOWN and store.get_action(COLLAB).status == ACTION_DONE
    clock.advance(60)
    assert s.worker.run_due().done == keys
    assert crm.lookups == [[NOTE]]
    assert crm.effects() == {COLLAB: 1, NOTE: 1}
    note = store.get_action(NOTE)
    assert (note.status, note.crm_id, note.sends) == (ACTION_DONE, "crm-2", 1)  # the id the CRM gave it


def test_an_ambiguous_create_the_crm_does_not_have_is_sent_again(services, store, clock, crm):
    s = services()
    keys = add(store, clock, make_event(1))
    crm.reject_keys[NOTE] = Outcome(key=NOTE, ok=False, error="connection dropped", retryable=True, ambiguous=True)
    s.worker.process(keys)
    assert store.get_action(NOTE).status == ACTION_UNKNOWN
    del crm.reject_keys[NOTE]
    clock.advance(60)
    assert s.worker.run_due().done == keys
    assert crm.lookups == [[NOTE]] and crm.effects() == {COLLAB: 1, NOTE: 1}
    assert store.get_action(NOTE).sends == 2


def test_when_the_lookup_cannot_tell_the_create_stays_unknown_and_is_not_sent(services, store, clock, crm):
    s = services(worker={"max_attempts": 3, "base_delay_seconds": 1})
    keys = add(store, clock, make_event(1))
    crm.applied_then["add_notes"] = CrmError("read timeout", ambiguous=True)
    s.worker.process(keys)
    crm.lookup_fails = True
    clock.advance(60)
    report = s.worker.run_due()
    assert report.retrying == keys and crm.effects() == {COLLAB: 1, NOTE: 1}
    assert store.get_action(NOTE).status == ACTION_UNKNOWN
    assert "outcome unknown" in store.get_event(keys[0]).last_error
    crm.lookup_fails = False
    clock.advance(60)
    assert s.worker.run_due().done == keys
    assert crm.effects() == {COLLAB: 1, NOTE: 1} and store.get_action(NOTE).status == ACTION_DONE


def test_an_unknown_idempotent_update_is_simply_sent_again(services, store, clock, crm):
    s = services()
    keys = add(store, clock, make_event(1))
    crm.applied_then["add_collaborators"] = CrmError("504 after sending", ambiguous=True)
    s.worker.process(keys)
    assert store.get_action(COLLAB).status == ACTION_UNKNOWN
    clock.advance(60)
    assert s.worker.run_due().done == keys
    assert crm.lookups == [] and crm.effects() == {COLLAB: 2, NOTE: 1}
    assert crm_state(crm) == ({("1001", "L1")}, [NOTE])
    # the handler is told it is a resend (a cheaper first-time path would take its safe one)
    assert [c.resend for c in crm.written if c.key == COLLAB] == [False, True]
    assert [c.resend for c in crm.written if c.key == NOTE] == [False]


def test_a_bug_in_the_second_operation_keeps_the_first_ones_outcome(services, store, clock, crm):
    s = services()
    keys = add(store, clock, make_event(1), make_event(2))
    crm.applied_then["add_notes"] = RuntimeError("adapter bug after the notes were created")
    report = s.worker.process(keys)
    assert report.retrying == keys
    assert {a.key.split("#")[0]: a.status for a in store.list_actions()} == {"threshold": ACTION_DONE, "threshold-note": ACTION_UNKNOWN}
    clock.advance(60)
    assert sorted(s.worker.run_due().done) == sorted(keys)
    assert set(crm.effects().values()) == {1}  # nothing sent twice: the notes were found
    assert crm_state(crm)[0] == {("1001", "L1"), ("1002", "L1")}


@pytest.mark.parametrize("dies_after", ["add_collaborators", "add_notes"])
def test_a_worker_dying_between_two_writes_is_repaired_after_the_lease(dies_after, services, store, clock, crm, tmp_path):
    s = services(worker={"lease_seconds": 300})
    keys = add(store, clock, make_event(1))
    crm.applied_then[dies_after] = Crash()
    with pytest.raises(Crash):
        s.worker.process(keys)
    assert {a.status for a in store.list_actions()} == {ACTION_SENT}  # the log says: may have happened
    assert store.get_event(keys[0]).status == "processing"
    fresh = services(worker={"lease_seconds": 300})  # a new process
    assert fresh.worker.run_due().done == []  # the dead worker's lease still holds
    clock.advance(301)
    assert fresh.worker.run_due().done == keys
    collaborators, notes = crm_state(crm)
    assert collaborators == {("1001", "L1")} and notes == [NOTE]  # nothing lost, nothing duplicated
    log = {a.key: a for a in store.list_actions()}
    assert {a.status for a in log.values()} == {ACTION_DONE}
    note_id = next(f"crm-{i + 1}" for i, c in enumerate(crm.written) if c.key == NOTE)
    assert log[NOTE].crm_id == note_id  # the action log names the note the CRM holds


def test_the_cli_shows_the_truth_of_the_action_log(services, store, clock, crm, tmp_path, capsys, monkeypatch):
    from integration.cli import main

    s = services()
    keys = add(store, clock, make_event(1))
    crm.applied_then["add_notes"] = CrmError("502 after sending", ambiguous=True)
    s.worker.process(keys)
    config = tmp_path / "cli.toml"
    config.write_text(f'[store]\npath = "{store.path}"\n\n[[tenants]]\nid = "acme-hubspot"\ncrm = "hubspot"\nportal_id = "1"\nclient_secret_env = "HS_SECRET"\ndry_run = true\n')
    monkeypatch.setenv("HS_SECRET", "x")
    assert main(["--config", str(config), "event", keys[0]]) == 0
    lines = {op: line for line in capsys.readouterr().out.splitlines() for op in ("AddCollaborators", "AddNote") if f" {op} on 1001" in line}
    assert " done " in lines["AddCollaborators"]
    assert " unknown " in lines["AddNote"] and "502 after sending" in lines["AddNote"]


def test_an_outbox_row_this_version_cannot_read_parks_its_event_and_stays_as_it_is(services, store, clock, crm):
    from integration.store import Action

    s = services()
    keys = add(store, clock, make_event(1), make_event(2))
    store.plan_actions([Action(key="future#1", tenant="acme-hubspot", event_key=keys[0], rule="r", op="Teleport",
                               record_id="1001", reason="from a newer version")], clock())  # fmt: skip
    report = s.worker.process(keys)
    assert (report.dead, report.done) == ([keys[0]], [keys[1]])
    assert "future#1: cannot rebuild Teleport: unknown command op 'Teleport'" in store.get_event(keys[0]).last_error
    assert store.get_action("future#1").status == "planned"
