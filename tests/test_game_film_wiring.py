"""How the review loop plugs into the product: its config table, the hourly tick (once per
hour whoever adds it), the worker's prepare step failing only its own events, and the CLI."""
from __future__ import annotations

from dataclasses import replace

import pytest

from integration import cli
from integration.config import ConfigError, parse
from integration.events import CREATED, Event
from integration.ledger import REC_UNMATCHED, RecordingEntry
from integration.queue import sweep_handler
from integration.recordings import RECORDING_OBJECT, recording_to_changed
from integration.review.settings import DEFAULT_RUBRIC, GameFilmSettings
from integration.worker import Worker
from tests.conftest import PORTAL_ID
from tests.game_film_org import MONDAY, TENANT, make_loop, recording


def _config(settings):
    return parse({"tenants": [{"id": TENANT, "crm": "hubspot", "portal_id": PORTAL_ID, "client_secret_env": "HS_SECRET",
                               "dry_run": True, "rules": {"game_film": settings}}]}, "gamefilm.toml")  # fmt: skip


def test_settings_default_as_documented():
    [tenant] = _config({"pool": ["501", "ana@acme.io"]}).tenants
    from integration.rules.game_film import GameFilmRule

    s = GameFilmRule().load_settings(tenant.rules["game_film"], tenant)
    assert s == GameFilmSettings(pool=("501", "ana@acme.io"))
    assert (s.reviewers_per_call, s.due_business_days, s.grace_hours, s.weekly_cap, s.overdue_skip_days, s.consent) == (2, 3, 48.0, 5, 3, "flag")
    assert s.rubric == DEFAULT_RUBRIC and s.submit_url is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"reviewers_per_call": 0}, "tenants[acme-hubspot].rules.game_film.reviewers_per_call: Must be greater than or equal to 1"),
        ({"consent": "maybe"}, "tenants[acme-hubspot].rules.game_film.consent: Must be one of: flag, assume"),
        ({"pool": ["not an id!"]}, "tenants[acme-hubspot].rules.game_film.pool[0]: not a user id or an email address"),
        ({"pool": ["501", "501"]}, "tenants[acme-hubspot].rules.game_film.pool: each reviewer once"),
        ({"submit_url": "ftp://x"}, "tenants[acme-hubspot].rules.game_film.submit_url: Not a valid URL"),
        ({"grace_hour": 4}, "tenants[acme-hubspot].rules.game_film.grace_hour: unknown key; did you mean grace_hours?"),
    ],
)
def test_bad_settings_name_the_key(settings, message):
    with pytest.raises(ConfigError) as err:
        _config(settings)
    assert f"gamefilm.toml: {message}" in str(err.value)


def test_the_tick_is_added_once_per_hour_however_many_processes_add_it(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock)
    base = loop.services.worker
    other = Worker(store, base.config, base.gateway_for, rules=base.rules, clock=clock, ledger=base.ledger)  # another process
    assert base.insert_ticks() == 1
    assert other.insert_ticks() == 0 and base.insert_ticks() == 0
    [tick] = store.list_events()
    assert tick.key == f"tick#{TENANT}#2026-11-23T15" and tick.event.object_type == "tick"
    clock.advance(3600)
    assert loop.services.worker.insert_ticks() == 1


def test_the_lambda_sweep_adds_the_hour_tick_and_processes_it(tmp_path, store, clock, monkeypatch):
    loop = make_loop(tmp_path, store, clock)
    monkeypatch.setattr("integration.queue._worker", lambda: loop.services.worker)
    assert sweep_handler({}, None)["done"] == 1
    assert [e.status for e in store.list_events()] == ["done"]


def test_no_ledger_fails_only_the_review_loop_events_with_a_clear_error(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock)
    loop.services.worker.ledger = None
    rec = recording("rec:1", "buyer@globex.com")
    event = Event(key="rec#1", tenant=TENANT, crm="hubspot", object_type=RECORDING_OBJECT, object_id=rec.external_id, kind=CREATED,
                  occurred_at=MONDAY, source_id="1", changed={"external_id": "rec:1"})  # fmt: skip
    store.add_events([event], clock())
    report = loop.services.worker.run_due()
    assert report.retrying == ["rec#1"] and loop.crm.written == []
    assert "needs a review ledger" in store.get_event("rec#1").last_error


def test_a_malformed_recording_event_fails_alone(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock)
    bad = Event(key="rec#bad", tenant=TENANT, crm="hubspot", object_type=RECORDING_OBJECT, object_id="rec:x", kind=CREATED,
                occurred_at=MONDAY, source_id="x", changed={"external_id": "rec:x"})  # fmt: skip
    good = recording("rec:1", "buyer@globex.com")
    store.add_events([bad, replace(bad, key="rec#good", object_id="rec:1", changed=recording_to_changed(good))], clock())
    report = loop.services.worker.run_due()
    assert report.dead == ["rec#bad"] and report.done == ["rec#good"]
    assert "cannot be read: KeyError" in store.get_event("rec#bad").last_error
    assert len(loop.upserts()) == 1


def test_cli_lists_recordings_by_status(tmp_path, store, clock, monkeypatch, capsys):
    loop = make_loop(tmp_path, store, clock)
    loop.deliver(recording("rec:1", "buyer@globex.com"), times=1)
    loop.deliver(recording("rec:2", "x@hooli.com"), times=1)
    monkeypatch.setattr(cli, "_services", lambda args: loop.services)
    assert cli.main(["recordings", "--status", "unmatched"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "unmatched" in out[0] and "rec:2" in out[0] and "next match 2026-11-24T15:00:00Z" in out[0]
    assert cli.main(["recordings", "--tenant", TENANT]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2
    assert cli.main(["recordings", "--status", "lost"]) == 2


def test_cli_without_a_ledger_says_so(tmp_path, store, clock, monkeypatch, capsys):
    loop = make_loop(tmp_path, store, clock)
    loop.services.ledger = None
    monkeypatch.setattr(cli, "_services", lambda args: loop.services)
    assert cli.main(["recordings"]) == 1
    assert "keeps no review ledger yet" in capsys.readouterr().err


def test_unmatched_entries_keep_the_whole_recording_for_the_retry(tmp_path, store, clock):
    loop = make_loop(tmp_path, store, clock)
    loop.deliver(recording("rec:2", "x@hooli.com"), times=1)
    entry: RecordingEntry = loop.ledger.get_recordings(TENANT, ["rec:2"])["rec:2"]
    assert entry.status == REC_UNMATCHED and entry.recording["participants"] == ["x@hooli.com"]


def test_doctor_names_reviewers_who_are_not_active_users():
    from integration.rules.game_film import GameFilmRule
    from tests.game_film_org import org

    rule = GameFilmRule()
    [bad] = rule.check(GameFilmSettings(pool=("ana@acme.io", "503", "505", "nobody@acme.io", "999")), org())
    assert not bad.ok and "no such user: 999, nobody@acme.io" in bad.message and "inactive: 505" in bad.message
    [good] = rule.check(GameFilmSettings(pool=("ana@acme.io", "503")), org())
    assert good.ok


def test_the_in_process_worker_adds_and_processes_the_hourly_tick(tmp_path, store, clock):
    import time as _time

    from integration.app import create_app
    from integration.rules import registry
    from tests.conftest import ENVIRON
    from tests.fake_ledger import FakeLedger
    from tests.game_film_org import SETTINGS, org

    clock.now = MONDAY.timestamp()
    cfg = parse({"tenants": [{"id": TENANT, "crm": "hubspot", "portal_id": PORTAL_ID, "client_secret_env": "HS_SECRET",
                              "access_token_env": "HS_TOKEN", "dry_run": False, "rules": {"game_film": SETTINGS}}],
                 "worker": {"poll_seconds": 0.02}})  # fmt: skip
    crm = org()
    app = create_app({"config": cfg, "store": store, "clock": clock, "environ": {**ENVIRON, "HS_TOKEN": "t"}, "worker_mode": "thread",
                      "gateway_for": lambda t: crm, "ledger": FakeLedger(), "rules": registry()})  # fmt: skip
    background = app.extensions["gamefilm"].background
    try:
        deadline = _time.monotonic() + 10
        while _time.monotonic() < deadline and [e.status for e in store.list_events()] != ["done"]:
            _time.sleep(0.02)
        assert [(e.key, e.status) for e in store.list_events()] == [(f"tick#{TENANT}#2026-11-23T15", "done")]
        assert crm.written == []  # nothing open, nothing due: the tick wrote nothing to the CRM
    finally:
        background.stop()
