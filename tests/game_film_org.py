"""A small HubSpot org, an app wired to it, and the ways the review loop's events arrive
(recordings as intake stores them, signed HubSpot call/task webhooks, the hourly tick)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from integration.app import create_app
from integration.commands import Contact, CreateTask, Deal, RemindTask, UpsertCall, User
from integration.config import parse
from integration.events import CREATED, Event
from integration.review_link import LINK_SECRET_ENV
from integration.recordings import RECORDING_OBJECT, SOURCE_RECORDER, Recording, recording_to_changed
from integration.rules import registry
from integration.rules.game_film import GameFilmRule
from tests.conftest import ENVIRON, ORG_ID, PORTAL_ID
from tests.game_film_loop import MONDAY, DrivesWorker, settings
from tests.fake_ledger import FakeLedger
from tests.fakes import FakeCrm

TENANT = "acme-hubspot"
REP, ANA, BEN, CY, DEE = "501", "502", "503", "504", "505"
LINK_SECRET = "loop-review-link-secret-0123456789"
SETTINGS = settings(REP, ANA, BEN, CY, DEE)


def org() -> FakeCrm:
    old, new = MONDAY - timedelta(days=30), MONDAY - timedelta(days=2)
    users = {
        REP: User(REP, "Rep", "rep@acme.io"), ANA: User(ANA, "Ana", "ana@acme.io"), BEN: User(BEN, "Ben", "ben@acme.io"),
        CY: User(CY, "Cy", "cy@acme.io"), DEE: User(DEE, "Dee", "dee@acme.io", active=False),
    }  # fmt: skip
    deals = {
        "d1": Deal("d1", owner_id=REP, account_id="a1", modified_at=old),
        "d2": Deal("d2", owner_id="999", account_id="a1", modified_at=new),
        "d3": Deal("d3", owner_id="999", account_id="a2", modified_at=old),
        "d4": Deal("d4", owner_id="999", modified_at=old),
        "d5": Deal("d5", owner_id="999", account_id="a3", modified_at=old),
    }
    contacts = {
        "c1": Contact("c1", "buyer@globex.com", account_id="a1"),
        "c2": Contact("c2", "cfo@globex.com", account_id="a1"),
        "c3": Contact("c3", "it@initech.com", account_id="a2"),
    }
    return FakeCrm(users=users, deals=deals, contacts=contacts, deal_contacts={"c1": ["d1"]},
                   domains={"globex.com": ["a1"], "umbrella.com": ["a3"]}, id_prefix="")  # fmt: skip


@dataclass
class Loop(DrivesWorker):
    client: Any
    services: Any
    crm: FakeCrm
    ledger: FakeLedger
    clock: Any

    def deliver(self, rec: Recording, times: int = 3) -> None:
        """Deliver the recording `times` (each a new delivery key, as a sender retrying does),
        processing after each, so later copies arrive after the first was acted on."""
        for n in range(times):
            event = Event(key=f"rec#{TENANT}#{rec.external_id}#{n}", tenant=TENANT, crm="hubspot", object_type=RECORDING_OBJECT,
                          object_id=rec.external_id, kind=CREATED, occurred_at=rec.started_at, source_id=rec.external_id,
                          changed=recording_to_changed(rec))  # fmt: skip
            self.services.intake.accept([event])
            self.run()

    def task_completed(self, task_id: str) -> None:
        self.crm.complete_task(task_id, datetime.fromtimestamp(self.clock(), tz=timezone.utc))
        self.hubspot("0-27", task_id, "object.propertyChange", propertyName="hs_task_status", propertyValue="COMPLETED")


    # --- what the CRM received ------------------------------------------------------------------
    def upserts(self) -> list[UpsertCall]:
        return [c for c in self.crm.written if isinstance(c, UpsertCall)]

    def tasks(self, kind: str | None = None) -> list[CreateTask]:
        found = [c for c in self.crm.written if isinstance(c, CreateTask)]
        return [t for t in found if kind is None or t.key.split("#")[3] == kind]

    def reminders(self) -> list[RemindTask]:
        return [c for c in self.crm.written if isinstance(c, RemindTask)]

    def task_id(self, key: str) -> str:
        action = self.services.store.get_action(key)
        assert action is not None and action.crm_id
        return str(action.crm_id)


def make_loop(tmp_path, store, clock, *, zoom=None, crm: FakeCrm | None = None, ledger: FakeLedger | None = None, salesforce: bool = False,
              public_base_url: str | None = None, **settings: Any) -> Loop:  # fmt: skip
    clock.now = MONDAY.timestamp()
    crm = crm or org()
    ledger = ledger or FakeLedger()
    connection = (
        {"crm": "salesforce", "org_id": ORG_ID, "shared_secret_envs": ["SF_SECRET"], "instance_url": "https://acme.my.salesforce.com",
         "auth": "session", "session_id_env": "SF_SESSION"} if salesforce else
        {"crm": "hubspot", "portal_id": PORTAL_ID, "client_secret_env": "HS_SECRET", "access_token_env": "HS_TOKEN"}
    )  # fmt: skip
    cfg = parse({
        "tenants": [{"id": TENANT, **connection, "dry_run": False, "rules": {"game_film": {**SETTINGS, **settings}}}],
        "store": {"path": str(tmp_path / "unused.db")},
        **({"intake": {"public_base_url": public_base_url}} if public_base_url else {}),
    })  # fmt: skip
    rules = {**registry(), "game_film": GameFilmRule(zoom_participants=zoom)}
    app = create_app({"config": cfg, "store": store, "clock": clock, "environ": {**ENVIRON, "HS_TOKEN": "pat", "SF_SESSION": "sess", LINK_SECRET_ENV: LINK_SECRET}, "worker_mode": "none",
                      "gateway_for": lambda tenant: crm, "ledger": ledger, "rules": rules, "rng": lambda: 0.5})  # fmt: skip
    return Loop(app.test_client(), app.extensions["gamefilm"], crm, ledger, clock)


def recording(external_id: str = "rec:1", *participants: str, rep: str = "rep@acme.io", **fields: Any) -> Recording:
    base = Recording(external_id=external_id, source=SOURCE_RECORDER, recording_url=f"https://rec.example.com/{external_id}",
                     title="Discovery with Globex", started_at=MONDAY - timedelta(hours=1), duration_ms=1_800_000,
                     rep_email=rep, participants=tuple(participants), consent=True)  # fmt: skip
    return replace(base, **fields)
