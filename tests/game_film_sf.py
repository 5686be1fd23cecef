"""The review loop on Salesforce end to end: the real app (temp SQLite store and its real review
ledger, the worker driven with a movable clock), the real SalesforceGateway on simple-salesforce,
and a seeded org behind `responses` (tests/salesforce_records.py).

The org mirrors tests/game_film_org.py's HubSpot one: Rep owns Opp1 (Globex, buyer has a role
on it), Opp2 (Globex, modified later), Opp3 (Initech), Opp4 (no account), Opp5 (Umbrella,
found by its Website only); Hooli has a contact and no opportunity. Deliveries come as a dialer
posts them (`/hooks/recordings`), as signed JSON events (`/hooks/salesforce/events`) and as
outbound messages about Tasks (`/hooks/salesforce/outbound`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import responses

from integration import samples
from integration.app import create_app
from integration.commands import marker_for
from integration.config import parse
from integration.signature import gamefilm_header
from tests.conftest import ENVIRON, ORG_ID, SF_REC_SECRET, SF_SECRET
from tests.game_film_loop import MONDAY, DrivesWorker, settings
from tests.salesforce_records import INSTANCE, SeededOrg, sf_time

TENANT = "acme-sf"
REP, ANA, BEN, CY, DEE, OTHER = (f"005{n:012d}AAA" for n in range(101, 107))
GLOBEX, INITECH, UMBRELLA, HOOLI = (f"001{n:012d}AAA" for n in range(201, 205))
BUYER, CFO, IT, PAT = (f"003{n:012d}AAA" for n in range(301, 305))
OPP1, OPP2, OPP3, OPP4, OPP5 = (f"006{n:012d}AAA" for n in range(401, 406))
SETTINGS = settings(REP, ANA, BEN, CY, DEE)
RECORDING_ID = "GameFilm_Recording_Id__c"
UPSERT_CALLS = f"upsert Task.{RECORDING_ID}"
UPSERT_TASKS = "upsert Task.GameFilm_Key__c"
ZOOM_ENV = {"ZOOM_CLIENT_ID": "zoom-client-id", "ZOOM_CLIENT_SECRET": "zoom-client-secret"}


def seed(org: SeededOrg) -> None:
    old, new = sf_time(MONDAY - timedelta(days=30)), sf_time(MONDAY - timedelta(days=2))
    for user_id, name, email, active in ((REP, "Rep", "rep@acme.io", True), (ANA, "Ana", "ana@acme.io", True), (BEN, "Ben", "ben@acme.io", True),
                                         (CY, "Cy", "cy@acme.io", True), (DEE, "Dee", "dee@acme.io", False), (OTHER, "Olga", "olga@acme.io", True)):  # fmt: skip
        org.add("User", user_id, Name=name, Email=email, IsActive=active, ManagerId=None)
    org.add("Account", GLOBEX, Name="Globex", Website="https://www.globex.com/")
    org.add("Account", INITECH, Name="Initech", Website=None)
    org.add("Account", UMBRELLA, Name="Umbrella", Website="umbrella.com")
    org.add("Account", HOOLI, Name="Hooli", Website="www.hooli.com")
    for contact_id, email, account in ((BUYER, "buyer@globex.com", GLOBEX), (CFO, "cfo@globex.com", GLOBEX), (IT, "it@initech.com", INITECH),
                                       (PAT, "pat@hooli.com", HOOLI)):  # fmt: skip
        org.add("Contact", contact_id, Email=email, Name=email.split("@")[0].title(), AccountId=account)
    for opp_id, owner, account, modified in ((OPP1, REP, GLOBEX, old), (OPP2, OTHER, GLOBEX, new), (OPP3, OTHER, INITECH, old),
                                             (OPP4, OTHER, None, old), (OPP5, OTHER, UMBRELLA, old)):  # fmt: skip
        org.add("Opportunity", opp_id, Name=f"Deal {opp_id[-6:-3]}", Amount=50000.0, OwnerId=owner, StageName="Negotiation/Review",
                IsClosed=False, CloseDate="2026-12-31", AccountId=account)  # fmt: skip
        org.records[opp_id]["LastModifiedDate"] = modified
    org.add("OpportunityContactRole", ContactId=BUYER, OpportunityId=OPP1, Role="Decision Maker")


@dataclass
class SfLoop(DrivesWorker):
    client: Any
    services: Any
    org: SeededOrg
    clock: Any
    store: Any
    make_app: Callable[[], Any]

    def restart(self) -> None:
        """A new process (a cold Lambda): the same store and org, a new app, worker and adapter."""
        app = self.make_app()
        self.client, self.services = app.test_client(), app.extensions["gamefilm"]

    # --- deliveries, each as the sender makes it --------------------------------------------
    def post_recording(self, rec_id: str, *participants: str, times: int = 3, **fields: Any) -> None:
        """A dialer posts the recording `times` (its retries keep the id); the worker runs after each."""
        payload = {"id": rec_id, "recording_url": f"https://rec.example.com/{rec_id}.mp3", "title": "Discovery with Globex",
                   "started_at": (MONDAY - timedelta(hours=1)).isoformat(), "duration_seconds": 1800, "rep_email": "rep@acme.io",
                   "participants": list(participants), "consent": True, **fields}  # fmt: skip
        for n in range(times):
            body = json.dumps(payload).encode()
            headers = {"Content-Type": "application/json", "X-GameFilm-Signature": gamefilm_header(SF_REC_SECRET, body, int(self.clock()))}
            r = self.client.post("/hooks/recordings", data=body, headers=headers)
            assert (r.status_code, r.get_json()["accepted"], r.get_json()["duplicates"]) == (200, int(n == 0), int(n > 0)), r.get_json()
            self.run()

    def json_event(self, task_id: str, fields: dict[str, Any], times: int = 3) -> None:
        """A signed JSON event about a Task (a Flow's HTTP callout), sent `times`."""
        for n in range(times):  # each a new event id, as a Flow firing again sends
            body = samples.salesforce_json(ORG_ID, [{"id": f"{task_id}-{int(self.clock())}-{n}", "object": "Task", "recordId": task_id,
                                                     "kind": "updated", "occurredAt": sf_time(self.now()), "fields": fields}])  # fmt: skip
            headers = {"Content-Type": "application/json", "X-GameFilm-Signature": gamefilm_header(SF_SECRET, body, int(self.clock()))}
            r = self.client.post("/hooks/salesforce/events", data=body, headers=headers)
            assert r.status_code == 200, r.get_json()
            self.run()

    def outbound(self, task_id: str, times: int = 3, **fields: str) -> None:
        """An outbound message on Task (the workflow's field values), retried `times` with the same Notification Id."""
        nid = f"04l5e00000{int(self.clock()) % 10**8:08d}"
        for _ in range(times):
            body = samples.outbound_message(ORG_ID, [(nid, "Task", {"Id": task_id, **fields})])
            r = self.client.post("/hooks/salesforce/outbound", data=body, headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
            assert r.status_code == 200, r.data
            self.run()

    def task_completed(self, task_id: str) -> None:
        """The reviewer completes the task in Salesforce; the outbound message on Task follows."""
        self.org.complete(task_id)
        self.outbound(task_id, Status="Completed", TaskSubtype="Task", IsClosed="true", LastModifiedDate=sf_time(self.now()))


    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), tz=timezone.utc)

    # --- what the org holds ----------------------------------------------------------------
    def calls(self) -> list[dict[str, Any]]:
        return self.org.of_type("Task", TaskSubtype="Call")

    def review_tasks(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Review tasks (upserted on GameFilm_Key__c), `kind` "self" or "peer" by their subject."""
        subject = {"self": "Game film: self-assess", "peer": "Game film: review a teammate"}.get(kind or "", "")
        return [t for t in self.org.of_type("Task") if t.get("GameFilm_Key__c") and t["Subject"].startswith(subject)]

    def task(self, key: str) -> dict[str, Any]:
        """The one Task a review command key made (its marker is the External ID value)."""
        [task] = [t for t in self.org.of_type("Task") if t.get("GameFilm_Key__c") == marker_for(key)]
        return task

    def self_task(self, external_id: str) -> dict[str, Any]:
        return self.task(f"review#{TENANT}#{external_id}#self")

    def peer_owners(self, external_id: str) -> list[str]:
        markers = {marker_for(f"review#{TENANT}#{external_id}#peer#{u}"): u for u in (REP, ANA, BEN, CY, DEE, OTHER)}
        return sorted(markers[t["GameFilm_Key__c"]] for t in self.review_tasks("peer") if t["GameFilm_Key__c"] in markers)


def make_sf_loop(tmp_path, store, clock, http: responses.RequestsMock, *, zoom: bool = False, **settings: Any) -> SfLoop:
    """`zoom`: the tenant has Zoom server-to-server OAuth credentials (participants from Zoom's API)."""
    from simple_salesforce import Salesforce

    from integration.gateway.salesforce import SalesforceGateway

    clock.now = MONDAY.timestamp()
    org = SeededOrg(http, now=lambda: datetime.fromtimestamp(clock(), tz=timezone.utc))
    seed(org)
    tenant = {"id": TENANT, "crm": "salesforce", "org_id": ORG_ID, "shared_secret_envs": ["SF_SECRET"], "instance_url": INSTANCE, "auth": "session",
              "session_id_env": "SF_SESSION", "recorder_secret_envs": ["SF_REC_SECRET"], "zoom_secret_token_env": "ZOOM_TOKEN", "dry_run": False,
              "rules": {"game_film": {**SETTINGS, **settings}}}  # fmt: skip
    if zoom:
        tenant |= {"zoom_account_id": "AAAAAABBBB", "zoom_client_id_env": "ZOOM_CLIENT_ID", "zoom_client_secret_env": "ZOOM_CLIENT_SECRET"}
    cfg = parse({"tenants": [tenant], "store": {"path": str(tmp_path / "unused.db")}})

    def gateway_for(tenant):
        return SalesforceGateway(lambda: Salesforce(instance_url=INSTANCE, session_id="00D!session"), sleep=lambda s: None,
                                 now=lambda: datetime.fromtimestamp(clock(), tz=timezone.utc))  # fmt: skip

    def make_app() -> Any:
        return create_app({"config": cfg, "store": store, "clock": clock, "environ": {**ENVIRON, "SF_SESSION": "sess", **ZOOM_ENV}, "worker_mode": "none",
                           "gateway_for": gateway_for, "rng": lambda: 0.5})  # fmt: skip

    app = make_app()
    return SfLoop(app.test_client(), app.extensions["gamefilm"], org, clock, store, make_app)
