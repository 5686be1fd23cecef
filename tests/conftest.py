from __future__ import annotations

import time
from typing import Any

import pytest

from integration import config as config_mod
from integration.app import create_app
from integration.store.sqlite import SqliteStore
from tests.fakes import Clock

HUBSPOT_SECRET = "test-hubspot-client-secret"
OTHER_APP_SECRET = "another-apps-client-secret"
SF_SECRET = "test-salesforce-shared-secret"
SF_SECRET_NEXT = "next-salesforce-shared-secret"
REC_SECRET = "test-hubspot-recorder-secret"
SF_REC_SECRET = "test-salesforce-recorder-secret"
ZOOM_TOKEN = "test-zoom-secret-token"
ORG_ID = "00D5e0000001AbcEAA"
PORTAL_ID = "62515"

ENVIRON = {
    "HS_SECRET": HUBSPOT_SECRET,
    "OTHER_SECRET": OTHER_APP_SECRET,
    "SF_SECRET": SF_SECRET,
    "SF_SECRET_NEXT": SF_SECRET_NEXT,
    "REC_SECRET": REC_SECRET,
    "SF_REC_SECRET": SF_REC_SECRET,
    "ZOOM_TOKEN": ZOOM_TOKEN,
}


def tenants_raw(**rules: Any) -> list[dict]:
    return [
        {"id": "acme-hubspot", "crm": "hubspot", "portal_id": PORTAL_ID, "client_secret_env": "HS_SECRET",
         "dry_run": True, "recorder_secret_envs": ["REC_SECRET"], "zoom_secret_token_env": "ZOOM_TOKEN", "rules": rules.get("hubspot", {"note_on_change": {"properties": ["amount"]}})},
        {"id": "other-hubspot", "crm": "hubspot", "portal_id": "777", "client_secret_env": "OTHER_SECRET",
         "dry_run": True, "rules": {"noop": {}}},
        {"id": "acme-salesforce", "crm": "salesforce", "org_id": ORG_ID, "dry_run": True,
         "shared_secret_envs": ["SF_SECRET", "SF_SECRET_NEXT"], "recorder_secret_envs": ["SF_REC_SECRET"],
         "rules": rules.get("salesforce", {"note_on_change": {"properties": ["Amount"]}})},
    ]  # fmt: skip


def make_config(tmp_path, **sections: Any) -> config_mod.Config:
    raw = {"tenants": sections.pop("tenants", None) or tenants_raw(), "store": {"path": str(tmp_path / "g.db")}, **sections}
    return config_mod.parse(raw, "test.toml")


@pytest.fixture
def clock() -> Clock:
    return Clock(time.time())


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "gamefilm.db")
    yield s
    s.close()


@pytest.fixture
def make_app(tmp_path, store, clock):
    """create_app with a temp SQLite store, a movable clock, test secrets, no worker thread."""

    def _make(config=None, **overrides: Any):
        cfg = config or make_config(tmp_path)
        return create_app({"config": cfg, "store": store, "clock": clock, "environ": ENVIRON, "worker_mode": "none", **overrides})

    return _make


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()
