"""Zappa's app_function builds the app on the first request with the garbage collector paused,
then freezes what it built (integration.app._LazyApp; measured by bench/cold_start.py)."""
from __future__ import annotations

import gc
import sys
import subprocess
import textwrap

import pytest
from werkzeug.test import Client

from integration.app import _LazyApp


@pytest.fixture
def config(tmp_path, monkeypatch):
    path = tmp_path / "lazy.toml"
    path.write_text(textwrap.dedent("""
        [store]
        backend = "sqlite"
        path = "lazy.db"
        [worker]
        mode = "none"
        [[tenants]]
        id = "lazy-hubspot"
        crm = "hubspot"
        portal_id = "62515"
        dry_run = true
        client_secret_env = "LAZY_SECRET"
    """))
    monkeypatch.setenv("GAMEFILM_CONFIG", str(path))
    monkeypatch.setenv("LAZY_SECRET", "lazy-secret")
    return path


@pytest.fixture
def unfreeze():
    yield
    gc.unfreeze()  # give the rest of the test session its collector back as it was


def test_the_first_request_builds_the_app_with_the_collector_paused_then_frozen(config, unfreeze, monkeypatch):
    app = _LazyApp()
    seen = []
    import integration.app as app_module

    real = app_module.create_app
    monkeypatch.setattr(app_module, "create_app", lambda: seen.append(gc.isenabled()) or real())
    frozen_before = gc.get_freeze_count()
    response = Client(app).get("/healthz")
    assert response.status_code == 200 and response.json["store"] == "sqlite"
    assert seen == [False]  # built without collections
    assert gc.isenabled()  # and the collector is back for requests
    assert gc.get_freeze_count() > frozen_before + 10_000  # flask, marshmallow, config, store: out of its sight
    assert Client(app).get("/healthz").status_code == 200 and seen == [False]  # built once


def test_a_collector_disabled_by_the_host_stays_disabled(config, unfreeze):
    gc.disable()
    try:
        assert Client(_LazyApp()).get("/healthz").status_code == 200
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_failed_build_still_gives_the_collector_back(tmp_path, monkeypatch, unfreeze):
    monkeypatch.setenv("GAMEFILM_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(Exception, match="file not found"):
        Client(_LazyApp()).get("/healthz")
    assert gc.isenabled()


def test_importing_the_app_module_imports_nothing_heavy():
    code = "import sys, integration.app; print(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'marshmallow', 'boto3', 'integration', 'handlers')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['integration', 'integration.app']"  # all of it is built under _LazyApp, GC paused


def test_taking_webhooks_never_loads_the_engine_until_the_worker_is_asked_for(config):
    code = textwrap.dedent("""
        import sys, json
        from werkzeug.test import Client
        from integration.app import app
        from integration import samples
        body = json.dumps(samples.hubspot_events("62515", ["9001"], "250000")).encode()
        headers = samples.hubspot_headers("lazy-secret", "http://localhost/hooks/hubspot", body)
        client = Client(app)
        assert client.get("/healthz").status_code == 200
        assert client.post("/hooks/hubspot", data=body, headers=headers).json["accepted"] == 1
        engine = ("integration.worker", "integration.commands", "integration.gateway", "integration.outbox",
                  "integration.review_intake", "handlers.review_work", "integration.rules.game_film")
        print(sorted(m for m in engine if m in sys.modules))
        services = app._app.extensions["gamefilm"]
        worker = services.worker
        print(type(worker).__name__, worker is services.worker, worker.store is services.store)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == ["[]", "Worker True True"]


def test_a_rule_module_is_imported_only_when_a_tenant_uses_the_rule(tmp_path):
    """The review loop's rule (schemas, rubric, rotation) costs a cold start ~30 ms: a config
    without it never imports it; one with it does, and a misspelt rule still gets its suggestion."""
    code = textwrap.dedent("""
        import sys
        from integration.config import ConfigError, parse
        base = {"tenants": [{"id": "lazy-hubspot", "crm": "hubspot", "portal_id": "1", "dry_run": True, "client_secret_env": "X", "rules": {}}]}
        base["tenants"][0]["rules"] = {"note_on_change": {"properties": ["amount"]}}
        parse(base)
        print("game_film" in str([m for m in sys.modules if m.startswith("integration.rules.")]))
        base["tenants"][0]["rules"] = {"game_flim": {}}
        try:
            parse(base)
        except ConfigError as exc:
            print("did you mean game_film?" in str(exc), "integration.rules.game_film" in sys.modules)
        base["tenants"][0]["rules"] = {"game_film": {}}
        parse(base)
        print("integration.rules.game_film" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == ["False", "True False", "True"]


def test_marshmallow_imported_for_the_lambda_app_defers_only_its_email_domain_pattern_and_still_validates():
    code = textwrap.dedent("""
        import re, sys, time
        from integration.lazy_regex import import_marshmallow
        t = time.perf_counter()
        import_marshmallow()
        took = time.perf_counter() - t
        from marshmallow import ValidationError, fields, validate
        print(type(validate.Email.DOMAIN_REGEX).__name__, isinstance(validate.Email.USER_REGEX, re.Pattern), re.compile is re.__dict__["compile"])
        email = fields.Email()
        print(email.deserialize("rep@Exämple.co.uk"), end=" ")
        try:
            email.deserialize("rep@-bad-.com")
        except ValidationError as exc:
            print(exc.messages)
        print(isinstance(validate.Email.DOMAIN_REGEX._compiled, re.Pattern))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == ["_CompiledOnFirstUse True True", "rep@Exämple.co.uk ['Not a valid email address.']", "True"]
