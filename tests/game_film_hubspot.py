"""The review loop on a HubSpot portal: the real app (SQLite store and its ledger), the real
HubSpot adapter and SDK against the loopback fake HubSpot seeded with a small org, and the
ways recordings arrive in their real, signed formats (/hooks/recordings, /hooks/zoom, HubSpot
call and task webhooks), each posted as often as the sender retries.

The org (HubSpot ids are numbers): owners Rep 501, Ana 502, Ben 503, Cy 504, Dee 505
(archived); companies Globex 3001 (globex.com), Initech 3002 (initech.com), Umbrella 3003
(umbrella.com); contacts buyer@globex.com 2001 and cfo@globex.com 2002 (Globex),
it@initech.com 2003 (Initech); open deals 1001 (Rep's, Globex, buyer associated), 1002
(Globex, modified later), 1003 (Initech), 1004 (no company), 1005 (Umbrella).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from integration.app import create_app
from integration.config import parse
from integration.gateway.hubspot import HubSpotGateway
from integration.review_link import LINK_SECRET_ENV
from integration.signature import gamefilm_header
from tests.conftest import ENVIRON, PORTAL_ID, REC_SECRET
from tests.game_film_loop import MONDAY, DrivesWorker, settings
from tests.hubspot_server import HubSpotServer, Request

TENANT = "acme-hubspot"
REP, ANA, BEN, CY, DEE = "501", "502", "503", "504", "505"
GLOBEX, INITECH, UMBRELLA = "3001", "3002", "3003"
BUYER, CFO, IT = "2001", "2002", "2003"
SETTINGS = settings(REP, ANA, BEN, CY, DEE)
LINK_SECRET = "portal-review-link-secret-0123456789"
ZOOM_ENV = {"ZOOM_CLIENT_ID": "zoom-client-id", "ZOOM_CLIENT_SECRET": "zoom-client-secret"}
UPSERT = "/crm/v3/objects/calls/batch/upsert"
CALLS_CREATE = "/crm/v3/objects/calls/batch/create"
TASKS_CREATE = "/crm/v3/objects/tasks/batch/create"
TASKS_UPDATE = "/crm/v3/objects/tasks/batch/update"
CALLS_UPDATE = "/crm/v3/objects/calls/batch/update"


def seed(server: HubSpotServer) -> None:
    old, new = _iso(MONDAY - timedelta(days=30)), _iso(MONDAY - timedelta(days=2))
    for owner_id, name in ((REP, "rep"), (ANA, "ana"), (BEN, "ben"), (CY, "cy")):
        server.add_owner(owner_id, f"{name}@acme.io", name.title())
    server.add_owner(DEE, "dee@acme.io", "Dee", archived=True)
    for company, domain in ((GLOBEX, "globex.com"), (INITECH, "initech.com"), (UMBRELLA, "umbrella.com")):
        server.add_object("companies", company, name=domain.split(".")[0].title(), domain=domain)
    for contact, email, company in ((BUYER, "buyer@globex.com", GLOBEX), (CFO, "cfo@globex.com", GLOBEX), (IT, "it@initech.com", INITECH)):
        server.add_contact(contact, email, associatedcompanyid=company)
        server.associate("contacts", contact, "companies", company)
    for deal, owner, company, modified in (("1001", REP, GLOBEX, old), ("1002", "999", GLOBEX, new), ("1003", "999", INITECH, old),
                                           ("1004", "999", None, old), ("1005", "999", UMBRELLA, old)):  # fmt: skip
        server.add_deal(deal, dealname=f"Deal {deal}", amount="50000", hubspot_owner_id=owner, pipeline="default", dealstage="qualifiedtobuy",
                        hs_is_closed="false", closedate="", hs_lastmodifieddate=modified, hs_all_collaborator_owner_ids="")  # fmt: skip
        if company:
            server.associate("companies", company, "deals", deal)
    server.associate("contacts", BUYER, "deals", "1001")


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Portal(DrivesWorker):
    """The app wired to the fake portal; `run()` is one worker pass, `tick(hours)` the hour tick."""

    client: Any
    services: Any
    server: HubSpotServer
    clock: Any
    gateways: list[HubSpotGateway] = field(default_factory=list)

    # --- the ways recordings and changes arrive (each delivery processed before the next) ---
    def post_recording(self, external: str, *participants: str, times: int = 3, run: bool = True, **over: Any) -> None:
        body = {"id": external, "recording_url": f"https://rec.example.com/{external}.mp3", "title": "Discovery with Globex",
                "started_at": _iso(MONDAY - timedelta(hours=1)), "duration_seconds": 1800, "rep_email": "rep@acme.io",
                "participants": list(participants), "consent": True, **over}  # fmt: skip
        raw = json.dumps(body).encode()
        for _ in range(times):
            headers = {"Content-Type": "application/json", "X-GameFilm-Signature": gamefilm_header(REC_SECRET, raw, int(self.clock()))}
            r = self.client.post("/hooks/recordings", data=raw, headers=headers)
            assert r.status_code == 200, r.get_json()
            if run:
                self.run()

    def complete_task(self, task_id: str) -> None:
        """A person completes the task in HubSpot; HubSpot then sends the property change."""
        self.server.set_property("tasks", task_id, "hs_task_status", "COMPLETED")
        self.server.set_property("tasks", task_id, "hs_task_completion_date", str(int(self.clock() * 1000)))
        self.hubspot("0-27", task_id, "object.propertyChange", propertyName="hs_task_status", propertyValue="COMPLETED")


    # --- what HubSpot holds ---------------------------------------------------------------------
    @property
    def ledger(self) -> Any:
        return self.services.ledger

    def calls(self) -> dict[str, dict[str, str]]:
        return self.server.objects.get("calls", {})

    def tasks(self) -> dict[str, dict[str, str]]:
        return self.server.objects.get("tasks", {})

    def call_of(self, recording_id: str) -> str:
        [call_id] = [i for i, p in self.calls().items() if p.get("gamefilm_recording_id") == recording_id]
        return call_id

    def linked(self, from_type: str, from_id: str, to_type: str) -> list[str]:
        return sorted(self.server.associations.get((from_type, to_type), {}).get(from_id, []))

    def task_id(self, key: str) -> str:
        action = self.services.store.get_action(key)
        assert action is not None and action.crm_id, key
        return str(action.crm_id)

    def review_tasks(self, recording_id: str, kind: str) -> dict[str, str]:
        """reviewer -> HubSpot task id of the recording's review tasks of one kind."""
        found = {}
        for action in self.services.store.list_actions():
            parts = action.key.split("#")
            if parts[0] == "review" and parts[2] == recording_id and parts[3] == kind and action.crm_id:
                found[parts[4] if kind == "peer" else REP] = str(action.crm_id)
        return found

    def peer_owners(self, recording_id: str) -> list[str]:
        return sorted(self.tasks()[t]["hubspot_owner_id"] for t in self.review_tasks(recording_id, "peer").values())

    def sent(self, path: str, method: str = "POST") -> list[Request]:
        return self.server.requests_to(method, path)

    def close(self) -> None:
        for g in self.gateways:
            g.close()


def make_portal(server: HubSpotServer, store: Any, clock: Any, *, zoom: bool = False, public_base_url: str | None = None,
                **settings: Any) -> Portal:  # fmt: skip
    clock.now = MONDAY.timestamp()
    server.clock = clock
    seed(server)
    environ = {**ENVIRON, "HS_TOKEN": "pat-na1-test", **ZOOM_ENV, LINK_SECRET_ENV: LINK_SECRET}
    tenant: dict[str, Any] = {
        "id": TENANT, "crm": "hubspot", "portal_id": PORTAL_ID, "client_secret_env": "HS_SECRET", "access_token_env": "HS_TOKEN",
        "api_base_url": server.url, "dry_run": False, "recorder_secret_envs": ["REC_SECRET"], "zoom_secret_token_env": "ZOOM_TOKEN",
        "rules": {"game_film": {**SETTINGS, **settings}},
    }  # fmt: skip
    if zoom:
        tenant |= {"zoom_account_id": "AAAAAABBBB", "zoom_client_id_env": "ZOOM_CLIENT_ID", "zoom_client_secret_env": "ZOOM_CLIENT_SECRET"}
    cfg = parse({"tenants": [tenant], "worker": {"base_delay_seconds": 1}, **({"intake": {"public_base_url": public_base_url}} if public_base_url else {})})
    gateways: list[HubSpotGateway] = []

    def gateway_for(t: Any) -> HubSpotGateway:
        gateways.append(HubSpotGateway.from_tenant(t, environ, sleep=lambda s: None, clock=clock))  # caches age in test time
        return gateways[-1]

    app = create_app({"config": cfg, "store": store, "clock": clock, "environ": environ, "worker_mode": "none",
                      "gateway_for": gateway_for, "rng": lambda: 0.5})  # fmt: skip
    return Portal(app.test_client(), app.extensions["gamefilm"], server, clock, gateways)
