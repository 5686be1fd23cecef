"""The review loop on a dry-run tenant: the batched reads go to the real reader when there is
one and answer nothing found without one (never "not supported", so the hourly tick settles
instead of dying), and UpsertCall / RemindTask are recorded as planned, never sent."""
from __future__ import annotations

import json
from datetime import timedelta

from integration.app import create_app
from integration.commands import CreateTask, RemindTask, UpsertCall
from integration.config import parse
from integration.gateway.dry_run import DryRunGateway
from integration.ledger import REC_ATTACHED, REC_UNMATCHED
from integration.recordings import CallActivity, TaskState
from integration.signature import gamefilm_header
from tests.conftest import ENVIRON, PORTAL_ID, REC_SECRET
from tests.fake_ledger import FakeLedger
from tests.game_film_org import ANA, MONDAY, SETTINGS, TENANT, org

SINCE = MONDAY - timedelta(days=30)


def _reads(gateway: DryRunGateway) -> dict:
    return {
        "users": gateway.find_users_by_email(["ana@acme.io"]),
        "accounts": gateway.find_accounts_by_domain(["globex.com"]),
        "contact_deals": {k: [d.id for d in v] for k, v in gateway.deals_for_contacts(["c1"], SINCE).items()},
        "account_deals": {k: sorted(d.id for d in v) for k, v in gateway.deals_for_accounts(["a1"], SINCE).items()},
        "calls": gateway.read_calls(["9001"]),
        "tasks": gateway.read_tasks(["7001"]),
    }


def test_without_a_reader_every_batched_read_answers_nothing_found():
    assert _reads(DryRunGateway("hubspot")) == {k: {} for k in ("users", "accounts", "contact_deals", "account_deals", "calls", "tasks")}


def test_with_a_reader_the_batched_reads_are_the_crms():
    crm = org()
    crm.activities["9001"] = CallActivity("9001", "https://rec.example/1.mp3", "Call", MONDAY, 60_000, "501", contact_ids=("c1",))
    crm.tasks["7001"] = TaskState("7001", completed=True, owner_id=ANA)
    reads = _reads(DryRunGateway("hubspot", reader=crm))
    assert [u.id for u in reads["users"].values()] == [ANA] and reads["accounts"] == {"globex.com": ["a1"]}
    assert reads["contact_deals"] == {"c1": ["d1"]} and reads["account_deals"] == {"a1": ["d1", "d2"]}
    assert reads["calls"]["9001"].contact_ids == ("c1",) and reads["tasks"]["7001"].completed


def test_recording_commands_are_planned_like_the_others_and_never_looked_up():
    gateway = DryRunGateway("salesforce")
    upsert = UpsertCall(key="call#1", rule="game_film", reason="r", record_id="d1", external_id="rec:1", owner_id="501", title="Call",
                        recording_url="https://rec.example/1.mp3", occurred_at_ms=1, contact_ids=("c1",))  # fmt: skip
    remind = RemindTask(key="nudge#1", rule="game_film", reason="r", record_id="d1", task_id="7001", remind_at_ms=1, note="Overdue")
    task = CreateTask(key="review#1", rule="game_film", reason="r", record_id="d1", owner_id="502", subject="Review", body="b",
                      due=MONDAY.date(), call_external_id="rec:1")  # fmt: skip
    outcomes = gateway.execute([upsert, remind, task])
    assert [(o.key, o.ok, o.detail) for o in outcomes] == [(c.key, True, {"dry_run": True}) for c in (upsert, remind, task)]
    assert gateway.reconcile([upsert, remind, task]) == {"call#1": None, "nudge#1": None, "review#1": None}  # nothing was sent: planned again


def _app(store, clock, *, reader=None):
    clock.now = MONDAY.timestamp()
    cfg = parse({"tenants": [{"id": TENANT, "crm": "hubspot", "portal_id": PORTAL_ID, "client_secret_env": "HS_SECRET", "dry_run": True,
                              "recorder_secret_envs": ["REC_SECRET"], "rules": {"game_film": SETTINGS}}]})  # fmt: skip
    overrides = {"config": cfg, "store": store, "clock": clock, "environ": ENVIRON, "worker_mode": "none", "ledger": FakeLedger()}
    if reader is not None:
        overrides["gateway_for"] = lambda tenant: DryRunGateway("hubspot", reader=reader)
    app = create_app(overrides)  # without gateway_for: the app's own choice, a dry run without a reader
    return app.test_client(), app.extensions["gamefilm"]


def _post_recording(client, clock, rec_id: str, *participants: str, **fields):
    body = json.dumps({"id": rec_id, "recording_url": f"https://rec.example.com/{rec_id}.mp3", "title": "Discovery",
                       "started_at": (MONDAY - timedelta(hours=1)).isoformat(), "rep_email": "rep@acme.io",
                       "participants": list(participants), "consent": True, **fields}).encode()  # fmt: skip
    headers = {"Content-Type": "application/json", "X-GameFilm-Signature": gamefilm_header(REC_SECRET, body, int(clock()))}
    r = client.post("/hooks/recordings", data=body, headers=headers)
    assert r.status_code == 200 and r.get_json()["accepted"] + r.get_json()["duplicates"] == 1, r.get_json()


def test_a_dry_run_tenant_without_a_reader_keeps_recordings_and_its_ticks_settle(store, clock):
    client, services = _app(store, clock)
    assert type(services.worker.gateway_for(services.config.tenants[0])) is DryRunGateway
    _post_recording(client, clock, "call-1", "buyer@globex.com")
    assert services.worker.run_due().done == [f"rec#{TENANT}#call-1"]
    assert services.ledger.get_recordings(TENANT, ["rec:call-1"])["rec:call-1"].status == REC_UNMATCHED

    for hours in (1, 24, 25):  # the hourly ticks, and the daily match retry among them
        clock.now = MONDAY.timestamp() + hours * 3600
        assert services.worker.insert_ticks() == 1
        report = services.worker.run_due()
        assert report.done and not report.dead and not report.retrying, [store.get_event(k).last_error for k in report.failed]
    assert [e.status for e in store.list_events()] == ["done"] * 4
    assert store.list_actions() == []


def test_a_dry_run_with_a_reader_plans_the_call_and_self_assessment_and_sends_nothing(store, clock):
    crm = org()
    client, services = _app(store, clock, reader=crm)
    for _ in range(3):  # the recorder retrying: planned once
        _post_recording(client, clock, "call-2", "buyer@globex.com")
        services.worker.run_due()
    actions = store.list_actions()
    assert sorted((a.op, a.record_id, a.dry_run, a.status) for a in actions) == [
        ("CreateTask", "d1", True, "done"), ("UpsertCall", "d1", True, "done")]  # fmt: skip
    assert crm.written == [] and crm.activities == {} and crm.tasks == {}
    assert services.ledger.get_recordings(TENANT, ["rec:call-2"])["rec:call-2"].status == REC_ATTACHED
